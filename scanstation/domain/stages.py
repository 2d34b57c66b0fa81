"""The stages a serial goes through, the transition table (as data) and `decide()`.

`decide()` is the one place that says whether a scan may move a serial: every face reaches it
through `StationService`. It is pure: it sees frozen views, never the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanstation.domain.model import DocumentView


class Stage(StrEnum):
    NOT_REGISTERED = "Not Registered at Plant"
    REGISTERED = "Registered at Plant"
    NOT_VALIDATED = "Not Validated at Plant"
    VALIDATED = "Validated at Plant"
    DISPATCHED_FROM_PLANT = "Dispatch from Plant"
    RECEIVED_AT_GODOWN = "Received at Godown"
    DISPATCHED_FROM_GODOWN = "Dispatch from Godown"
    SCRAPPED = "Scrapped"


# Short forms for narrow timelines ("VP→DFP").
STAGE_ABBREVIATIONS: dict[Stage, str] = {
    Stage.NOT_REGISTERED: "NRP",
    Stage.REGISTERED: "RP",
    Stage.NOT_VALIDATED: "NVP",
    Stage.VALIDATED: "VP",
    Stage.DISPATCHED_FROM_PLANT: "DFP",
    Stage.RECEIVED_AT_GODOWN: "RAG",
    Stage.DISPATCHED_FROM_GODOWN: "DFG",
    Stage.SCRAPPED: "SCR",
}


class Mode(StrEnum):
    LOOKUP = "lookup"
    REGISTER = "register"
    VALIDATE = "validate"
    REJECT = "reject"
    DISPATCH = "dispatch"
    RECEIVE = "receive"
    SCRAP = "scrap"


class SiteKind(StrEnum):
    PLANT = "plant"
    GODOWN = "godown"


class DocumentKind(StrEnum):
    DC = "dc"
    INVOICE = "invoice"


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"


class Needs(StrEnum):
    """What a transition needs beyond the serial being in its `from` stage."""

    NOTHING = "nothing"
    REASON = "reason"
    # An open document of the row's kind from this site, listing the SKU, line not yet full.
    DOCUMENT = "document"
    # At the site the serial's dispatch document names; elsewhere an override with a reason.
    DESTINATION = "destination"
    # A return or transfer: the document the serial left on is cited, or it was addressed here.
    ORIGINAL_DOCUMENT = "original document"


@dataclass(frozen=True, slots=True)
class Transition:
    from_stage: Stage
    to_stage: Stage
    mode: Mode
    site_kind: SiteKind | None  # None: any site
    role: Role
    needs: Needs
    document_kind: DocumentKind | None = None


_ALL_BUT_SCRAPPED = tuple(stage for stage in Stage if stage is not Stage.SCRAPPED)

TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        Stage.NOT_REGISTERED,
        Stage.REGISTERED,
        Mode.REGISTER,
        SiteKind.PLANT,
        Role.OPERATOR,
        Needs.NOTHING,
    ),
    Transition(
        Stage.REGISTERED,
        Stage.VALIDATED,
        Mode.VALIDATE,
        SiteKind.PLANT,
        Role.OPERATOR,
        Needs.NOTHING,
    ),
    Transition(
        Stage.REGISTERED,
        Stage.NOT_VALIDATED,
        Mode.REJECT,
        SiteKind.PLANT,
        Role.OPERATOR,
        Needs.REASON,
    ),
    Transition(
        Stage.NOT_VALIDATED,
        Stage.VALIDATED,
        Mode.VALIDATE,
        SiteKind.PLANT,
        Role.OPERATOR,
        Needs.NOTHING,
    ),
    Transition(
        Stage.VALIDATED,
        Stage.DISPATCHED_FROM_PLANT,
        Mode.DISPATCH,
        SiteKind.PLANT,
        Role.OPERATOR,
        Needs.DOCUMENT,
        DocumentKind.DC,
    ),
    Transition(
        Stage.DISPATCHED_FROM_PLANT,
        Stage.RECEIVED_AT_GODOWN,
        Mode.RECEIVE,
        SiteKind.GODOWN,
        Role.OPERATOR,
        Needs.DESTINATION,
    ),
    Transition(
        Stage.RECEIVED_AT_GODOWN,
        Stage.DISPATCHED_FROM_GODOWN,
        Mode.DISPATCH,
        SiteKind.GODOWN,
        Role.OPERATOR,
        Needs.DOCUMENT,
        DocumentKind.INVOICE,
    ),
    Transition(
        Stage.DISPATCHED_FROM_GODOWN,
        Stage.RECEIVED_AT_GODOWN,
        Mode.RECEIVE,
        SiteKind.GODOWN,
        Role.OPERATOR,
        Needs.ORIGINAL_DOCUMENT,
    ),
    *(
        Transition(stage, Stage.SCRAPPED, Mode.SCRAP, None, Role.SUPERVISOR, Needs.REASON)
        for stage in _ALL_BUT_SCRAPPED
    ),
)

MODE_VERBS: dict[Mode, str] = {
    Mode.LOOKUP: "looked up",
    Mode.REGISTER: "registered",
    Mode.VALIDATE: "validated",
    Mode.REJECT: "marked not validated",
    Mode.DISPATCH: "dispatched",
    Mode.RECEIVE: "received",
    Mode.SCRAP: "scrapped",
}


def target_stages(mode: Mode, site_kind: SiteKind) -> frozenset[Stage]:
    """The stages a scan in this mode at this kind of site moves serials into."""
    return frozenset(
        row.to_stage
        for row in TRANSITIONS
        if row.mode is mode and row.site_kind in (None, site_kind)
    )


def modes_needing_reason() -> frozenset[Mode]:
    return frozenset(row.mode for row in TRANSITIONS if row.needs is Needs.REASON)


class Verdict(StrEnum):
    APPLY = "apply"
    ALREADY = "already"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class SerialState:
    """What decide() needs to know of a serial."""

    serial_no: str
    sku: str
    stage: Stage
    site: str | None  # where the unit is now (or, when dispatched, where it left from)
    document: DocumentView | None  # the document the serial was last dispatched on


@dataclass(frozen=True, slots=True)
class StationContext:
    mode: Mode
    site_code: str
    site_kind: SiteKind
    document: DocumentView | None = None  # the station's open document, if any
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    message: str
    transition: Transition | None = None
    override: bool = False  # applied away from the rule's normal place, on a reason

    @property
    def to_stage(self) -> Stage | None:
        return self.transition.to_stage if self.transition else None


def _rejected(message: str) -> Decision:
    return Decision(Verdict.REJECTED, message)


def decide(serial: SerialState, station: StationContext) -> Decision:
    """May this station move this serial? The answer carries a sentence a dock worker reads."""
    mode, sn = station.mode, serial.serial_no
    if mode is Mode.LOOKUP:
        return Decision(Verdict.ALREADY, f"{sn} is {serial.stage}")
    if serial.stage is Stage.SCRAPPED:
        if mode is Mode.SCRAP:
            return Decision(Verdict.ALREADY, f"{sn} is already Scrapped")
        return _rejected(f"{sn} is Scrapped — it can never be {MODE_VERBS[mode]}")

    targets = target_stages(mode, station.site_kind)
    rows = [
        row
        for row in TRANSITIONS
        if row.mode is mode
        and row.from_stage is serial.stage
        and row.site_kind in (None, station.site_kind)
    ]
    if not rows:
        if serial.stage in targets:
            return _already(serial, station)
        wrong_site = [
            row for row in TRANSITIONS if row.mode is mode and row.from_stage is serial.stage
        ]
        if wrong_site and wrong_site[0].site_kind is not None:
            return _rejected(
                f"{sn} cannot be {MODE_VERBS[mode]} here: that is done at a "
                f"{wrong_site[0].site_kind}, and {station.site_code} is a {station.site_kind}"
            )
        return _rejected(f"{sn} is {serial.stage} — it cannot be {MODE_VERBS[mode]}")
    row = rows[0]
    return _check_needs(row, serial, station)


def _already(serial: SerialState, station: StationContext) -> Decision:
    sn = serial.serial_no
    if station.mode is Mode.DISPATCH and serial.document is not None:
        doc = station.document
        if doc is not None and doc.reference_no != serial.document.reference_no:
            return _rejected(
                f"{sn} was already dispatched on {serial.document.reference_no}, "
                f"not on {doc.reference_no}"
            )
    return Decision(Verdict.ALREADY, f"{sn} is already {serial.stage}")


def _check_needs(row: Transition, serial: SerialState, station: StationContext) -> Decision:
    sn, verb = serial.serial_no, MODE_VERBS[row.mode]
    ok = Decision(Verdict.APPLY, f"{sn} {verb} — now {row.to_stage}", row)
    reason = (station.reason or "").strip()

    if row.needs is Needs.REASON:
        if not reason:
            return _rejected(f"{sn} was not {verb}: a reason is needed")
        return ok

    if row.mode is Mode.REGISTER and serial.site not in (None, station.site_code):
        return _rejected(
            f"{sn} was generated for plant {serial.site} — it cannot be registered at "
            f"{station.site_code}"
        )

    if row.needs is Needs.DOCUMENT:
        return _check_dispatch_document(row, serial, station, ok)

    if row.needs in (Needs.DESTINATION, Needs.ORIGINAL_DOCUMENT):
        sent_on = serial.document
        if sent_on is not None and sent_on.to_site == station.site_code:
            return ok
        cited = station.document
        if (
            row.needs is Needs.ORIGINAL_DOCUMENT
            and sent_on is not None
            and cited is not None
            and cited.reference_no == sent_on.reference_no
        ):
            return Decision(
                Verdict.APPLY, f"{sn} returned on {cited.reference_no} — now {row.to_stage}", row
            )
        if reason:
            return Decision(
                Verdict.APPLY,
                f"{sn} received here by override — now {row.to_stage}",
                row,
                override=True,
            )
        where = sent_on.destination if sent_on is not None else "another site"
        if row.needs is Needs.ORIGINAL_DOCUMENT:
            original = f" {sent_on.reference_no}" if sent_on is not None else ""
            return _rejected(
                f"{sn} was sent to {where} — a return needs its original document{original} "
                "cited, or an override with a reason"
            )
        return _rejected(
            f"{sn} was sent to {where}, not {station.site_code} — receiving it here needs an "
            "override with a reason"
        )
    return ok


def _article(kind: DocumentKind) -> str:
    return "a DC" if kind is DocumentKind.DC else "an invoice"


def _check_dispatch_document(
    row: Transition, serial: SerialState, station: StationContext, ok: Decision
) -> Decision:
    sn, doc = serial.serial_no, station.document
    kind = row.document_kind or DocumentKind.DC
    label = _article(kind)
    if doc is None:
        return _rejected(f"{sn} was not dispatched: open {label} first")
    if not doc.is_open:
        return _rejected(f"{sn} was not dispatched: {doc.reference_no} is closed")
    if doc.kind is not kind:
        return _rejected(
            f"{sn} was not dispatched: {doc.reference_no} is {_article(doc.kind)}, "
            f"a {station.site_kind} dispatches on {label}"
        )
    if doc.from_site != station.site_code:
        return _rejected(
            f"{sn} was not dispatched: {doc.reference_no} is from {doc.from_site}, "
            f"not {station.site_code}"
        )
    if serial.site not in (None, station.site_code):
        return _rejected(f"{sn} is at {serial.site}, not {station.site_code}")
    line = doc.line_for(serial.sku)
    if line is None:
        return _rejected(f"{sn} ({serial.sku}) is not on {doc.reference_no}")
    if line.is_full:
        return _rejected(
            f"{sn} was not dispatched: {doc.reference_no} already has "
            f"{line.scanned}/{line.quantity} of {serial.sku}"
        )
    return Decision(
        Verdict.APPLY,
        f"{sn} dispatched on {doc.reference_no} ({line.scanned + 1}/{line.quantity}) — "
        f"now {row.to_stage}",
        row,
    )
