"""The transition table (as data) and `decide()`: may this station move this serial?

`decide()` is the one place that says whether a scan may move a serial: every face reaches it
through `StationService`. It is pure: it sees frozen views, never the database. Its rules:
each row of TRANSITIONS names the mode that makes it, the kind of site, the role and what
else it needs; a mode acts only on serials on record at this station's site (register,
validate, reject and dispatch where the unit is; receive by its document's address; scrap
elsewhere only as a supervisor's override); a serial already in the target stage is ALREADY
here and REJECTED when on record at another site. Every answer carries one sentence that says
what happened and what to do next (built from `wording`), and a refusal for want of a role
says which role (`Decision.needs_role`) so a face can ask for an approval on the spot.

The stages and modes live in `terms`, the roles in `roles`; both are re-exported here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from scanstation.domain.roles import Action, Authority, Role, authorise, authorise_role
from scanstation.domain.roles import required_role as _required_role
from scanstation.domain.terms import (
    STAGE_ABBREVIATIONS,
    DocumentKind,
    Mode,
    SiteKind,
    Stage,
    stage_label,
    transition_label,
)
from scanstation.domain.wording import (
    CITE_HOW,
    MODE_GERUNDS,
    MODE_VERBS,
    OVERRIDE_HOW,
    REASON_HOW,
    STEP_PAIRS,
    already_words,
    article,
    join_words,
    mode_there,
    site_label,
    stage_state,
    step_words,
)

if TYPE_CHECKING:
    from scanstation.domain.model import DocumentView

__all__ = [
    "BY_OVERRIDE",
    "MODE_VERBS",
    "STAGE_ABBREVIATIONS",
    "TRANSITIONS",
    "Decision",
    "DocumentKind",
    "Mode",
    "Needs",
    "Role",
    "SerialState",
    "SiteKind",
    "Stage",
    "StationContext",
    "Transition",
    "Verdict",
    "decide",
    "modes_needing_reason",
    "stage_label",
    "target_stages",
    "transition_label",
    "transition_row",
]


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
_PLANT, _GODOWN, _OPERATOR = SiteKind.PLANT, SiteKind.GODOWN, Role.OPERATOR

# In the sentence of every scan applied by override (the exceptions report finds them by it).
BY_OVERRIDE: Final = "by override"

TRANSITIONS: Final[tuple[Transition, ...]] = (
    Transition(
        Stage.NOT_REGISTERED, Stage.REGISTERED, Mode.REGISTER, _PLANT, _OPERATOR, Needs.NOTHING
    ),
    Transition(Stage.REGISTERED, Stage.VALIDATED, Mode.VALIDATE, _PLANT, _OPERATOR, Needs.NOTHING),
    Transition(Stage.REGISTERED, Stage.NOT_VALIDATED, Mode.REJECT, _PLANT, _OPERATOR, Needs.REASON),
    Transition(
        Stage.NOT_VALIDATED, Stage.VALIDATED, Mode.VALIDATE, _PLANT, _OPERATOR, Needs.NOTHING
    ),
    Transition(
        Stage.VALIDATED,
        Stage.DISPATCHED_FROM_PLANT,
        Mode.DISPATCH,
        _PLANT,
        _OPERATOR,
        Needs.DOCUMENT,
        DocumentKind.DC,
    ),
    Transition(
        Stage.DISPATCHED_FROM_PLANT,
        Stage.RECEIVED_AT_GODOWN,
        Mode.RECEIVE,
        _GODOWN,
        _OPERATOR,
        Needs.DESTINATION,
    ),
    Transition(
        Stage.RECEIVED_AT_GODOWN,
        Stage.DISPATCHED_FROM_GODOWN,
        Mode.DISPATCH,
        _GODOWN,
        _OPERATOR,
        Needs.DOCUMENT,
        DocumentKind.INVOICE,
    ),
    Transition(
        Stage.DISPATCHED_FROM_GODOWN,
        Stage.RECEIVED_AT_GODOWN,
        Mode.RECEIVE,
        _GODOWN,
        _OPERATOR,
        Needs.ORIGINAL_DOCUMENT,
    ),
    *(
        Transition(
            stage, Stage.SCRAPPED, Mode.SCRAP, None, _required_role(Action.SCRAP), Needs.REASON
        )
        for stage in _ALL_BUT_SCRAPPED
    ),
)


def target_stages(mode: Mode, site_kind: SiteKind) -> frozenset[Stage]:
    """The stages a scan in this mode at this kind of site moves serials into."""
    return frozenset(
        row.to_stage
        for row in TRANSITIONS
        if row.mode is mode and row.site_kind in (None, site_kind)
    )


def modes_needing_reason() -> frozenset[Mode]:
    return frozenset(row.mode for row in TRANSITIONS if row.needs is Needs.REASON)


def transition_row(from_stage: Stage, to_stage: Stage) -> Transition | None:
    """The row that moves a serial from one stage to the other (the first, if several)."""
    return next(
        (r for r in TRANSITIONS if r.from_stage is from_stage and r.to_stage is to_stage), None
    )


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
    site: str | None  # where the unit is on record (when dispatched: where it left from)
    document: DocumentView | None  # the document the serial was last dispatched on
    site_name: str | None = None  # the name of `site`; None: sentences show the code


@dataclass(frozen=True, slots=True)
class StationContext:
    mode: Mode
    site_code: str
    site_kind: SiteKind
    document: DocumentView | None = None  # the station's open document, if any
    reason: str | None = None
    site_name: str | None = None  # this site's name; None: sentences show the code
    # Names of other sites a sentence may mention (documents' from/to sites), by code.
    site_names: Mapping[str, str] = field(default_factory=dict)
    # The signed-in person's role; None: a database with no users (nothing is gated, and
    # no supervisor's override exists).
    role: Role | None = None
    # The role of a person who approved this scan on the spot, if one did.
    approver_role: Role | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    message: str
    transition: Transition | None = None
    override: bool = False  # applied away from the rule's normal place, on a reason
    # REJECTED for want of a role: the role an approval on the spot must have.
    needs_role: Role | None = None
    # APPLY thanks to the approver's role: the event records the approver.
    approved: bool = False
    # A return: the reference no of the document whose line for this SKU drops by one.
    frees_line_on: str | None = None

    @property
    def to_stage(self) -> Stage | None:
        return self.transition.to_stage if self.transition else None


def _rejected(message: str, needs_role: Role | None = None) -> Decision:
    return Decision(Verdict.REJECTED, message, needs_role=needs_role)


@dataclass(frozen=True, slots=True)
class _Scan:
    """One scan being decided, with the sentences' names for its sites."""

    serial: SerialState
    station: StationContext

    @property
    def sn(self) -> str:
        return self.serial.serial_no

    @property
    def reason(self) -> str:
        return (self.station.reason or "").strip()

    def site(self, code: str) -> str:
        station, serial = self.station, self.serial
        if code == station.site_code and station.site_name:
            return site_label(code, station.site_name)
        if code == serial.site and serial.site_name:
            return site_label(code, serial.site_name)
        return site_label(code, station.site_names.get(code))

    @property
    def here(self) -> str:
        return self.site(self.station.site_code)

    @property
    def there(self) -> str:
        return self.site(self.serial.site) if self.serial.site else "another site"

    @property
    def elsewhere(self) -> bool:
        """Is the unit on record at another site? (Unknown counts as here.)"""
        return self.serial.site is not None and self.serial.site != self.station.site_code

    @property
    def state(self) -> str:
        serial = self.serial
        return stage_state(serial.stage, self.site(serial.site) if serial.site else None)

    def destination(self, document: DocumentView) -> str:
        if document.to_site:
            return self.site(document.to_site)
        return document.to_name or "a customer"

    def authorise(self, *actions: Action) -> Authority:
        return authorise(*actions, actor=self.station.role, approver=self.station.approver_role)

    def authorise_row(self, row: Transition) -> Authority:
        station = self.station
        return authorise_role(
            row.role,
            actor=station.role,
            approver=station.approver_role,
            words=MODE_GERUNDS[row.mode],
        )

    def unchanged(self, why: str) -> Decision:
        return _rejected(f"{self.sn} is unchanged: {why}")


@dataclass(frozen=True, slots=True)
class _Plan:
    """A move the rules allow, once the role allows it too."""

    row: Transition
    done: str  # "dispatched on REF-1 (3/10)"
    authority: Authority
    override: bool = False
    frees_line_on: str | None = None


def decide(serial: SerialState, station: StationContext) -> Decision:
    """May this station move this serial? The answer carries a sentence a dock worker reads."""
    scan = _Scan(serial, station)
    mode, sn = station.mode, serial.serial_no
    if mode is Mode.LOOKUP:
        where = f", on record at {scan.there}" if serial.site else ""
        return Decision(Verdict.ALREADY, f"{sn}: {serial.stage}{where}")
    if serial.stage is Stage.SCRAPPED and mode is not Mode.SCRAP:
        return _rejected(f"{sn} is Scrapped for good: it can never be {MODE_VERBS[mode]}")
    row = next(
        (
            r
            for r in TRANSITIONS
            if r.mode is mode
            and r.from_stage is serial.stage
            and r.site_kind in (None, station.site_kind)
        ),
        None,
    )
    if row is None:
        return _no_row(scan)
    if row.mode is Mode.SCRAP:
        found: _Plan | Decision = _scrap(row, scan)
    elif row.needs in (Needs.DESTINATION, Needs.ORIGINAL_DOCUMENT):
        found = _receive(row, scan)
    elif scan.elsewhere:
        found = _rejected(
            f"{sn} is on record at {scan.there}, not here at {scan.here}; {mode_there(mode)}"
        )
    elif row.needs is Needs.REASON and not scan.reason:
        found = scan.unchanged(f"{MODE_GERUNDS[mode]} needs a reason {REASON_HOW}")
    elif row.needs is Needs.DOCUMENT:
        found = _dispatch(row, scan)
    else:
        found = _Plan(row, MODE_VERBS[mode], scan.authorise_row(row))
    return found if isinstance(found, Decision) else _finish(scan, found)


def _finish(scan: _Scan, plan: _Plan) -> Decision:
    """The move, if the role allows it: with the approval named, or refused naming the role."""
    authority = plan.authority
    if not authority.allowed:
        return _rejected(f"{scan.sn} is unchanged: {authority.refusal}", authority.needs_role)
    approval = f" with {authority.role.with_article}'s approval" if authority.approved else ""
    return Decision(
        Verdict.APPLY,
        f"{scan.sn} {plan.done}{approval} — now {plan.row.to_stage}",
        plan.row,
        override=plan.override,
        approved=authority.approved,
        frees_line_on=plan.frees_line_on,
    )


def _no_row(scan: _Scan) -> Decision:
    """No row moves this stage in this mode at this kind of site: say why, and what next."""
    serial, station = scan.serial, scan.station
    mode, sn, verb = station.mode, scan.sn, MODE_VERBS[station.mode]
    if serial.stage in target_stages(mode, station.site_kind):
        return _already(scan)
    rows = [r for r in TRANSITIONS if r.mode is mode]
    from_here = [r for r in rows if r.from_stage is serial.stage]
    # Done at the other kind of site: where the unit is, if that is the place.
    if from_here and scan.elsewhere and mode is not Mode.RECEIVE:
        return _rejected(
            f"{sn} is on record at {scan.there}, not here at {scan.here}; {mode_there(mode)}"
        )
    kind = station.site_kind
    if not any(r.site_kind in (None, kind) for r in rows):  # never done at this kind of site
        other = rows[0].site_kind or kind
        return _rejected(
            f"{sn} cannot be {verb} here: {scan.here} is a {kind}, and "
            f"{MODE_GERUNDS[mode]} is done at a {other}"
        )
    if from_here:  # done here in other stages, and in this one at the other kind of site
        other = from_here[0].site_kind or kind
        return _rejected(
            f"{sn} {scan.state}; a unit in that stage is {verb} from a {other}, and "
            f"{scan.here} is a {kind}"
        )
    steps = _steps_before(serial.stage, mode, station.site_kind)
    if steps is None:
        return _rejected(f"{sn} {scan.state}, so it cannot be {verb} now")
    if len(steps) == 1:
        return _rejected(f"{sn} {scan.state}; {step_words(steps[0])[0]} first")
    done = join_words([step_words(step)[1] for step in steps])
    return _rejected(f"{sn} {scan.state}; it needs to be {done} before it can be {verb}")


# The ordinary steps, in the order of the stages they lead to (so the search is stable).
_FLOW: Final = sorted(STEP_PAIRS, key=lambda step: list(Stage).index(step[1]))


def _steps_before(
    stage: Stage, mode: Mode, site_kind: SiteKind
) -> list[tuple[Stage, Stage]] | None:
    """The ordinary steps from `stage` to one this mode acts on (preferably at this kind of
    site), shortest first; None when the ordinary flow never gets there."""
    rows = [r for r in TRANSITIONS if r.mode is mode]
    goals = {r.from_stage for r in rows if r.site_kind in (None, site_kind)}
    for targets in (goals, {r.from_stage for r in rows}):
        paths: deque[list[tuple[Stage, Stage]]] = deque([[]])
        seen = {stage}
        while paths:
            path = paths.popleft()
            at = path[-1][1] if path else stage
            if path and at in targets:
                return path
            for step in _FLOW:
                if step[0] is at and step[1] not in seen:
                    seen.add(step[1])
                    paths.append([*path, step])
    return None


def _already(scan: _Scan) -> Decision:
    """In the target stage already: ALREADY here, REJECTED when on record at another site."""
    serial, station, sn = scan.serial, scan.station, scan.sn
    if scan.elsewhere:
        return _rejected(f"{sn} {scan.state}, not here at {scan.here} — tell your supervisor")
    sent_on = serial.document.reference_no if serial.document is not None else None
    dispatching = station.mode is Mode.DISPATCH
    other = station.document.reference_no if station.document is not None else None
    if dispatching and sent_on and other and other != sent_on:
        return _rejected(f"{sn} was dispatched on {sent_on} already, not on {other}")
    words = already_words(serial.stage, sent_on if dispatching else None)
    return Decision(Verdict.ALREADY, f"{sn} {words}")


def _scrap(row: Transition, scan: _Scan) -> _Plan | Decision:
    sn = scan.sn
    if not scan.reason:
        return scan.unchanged(f"scrapping needs a reason {REASON_HOW}")
    if not scan.elsewhere:
        return _Plan(row, "scrapped", scan.authorise(Action.SCRAP))
    # The unit is here and the record says another site: only a supervisor may say so.
    authority = scan.authorise(Action.SCRAP, Action.SCRAP_AWAY)
    where = f"{sn} is on record at {scan.there}, not here at {scan.here}"
    if authority.allowed:
        return _Plan(row, f"scrapped here {BY_OVERRIDE}", authority, override=True)
    if authority.needs_role is None:
        return _rejected(
            f"{where}; scrap it there (scrapping it here is a supervisor's override, and this "
            "database has no users)"
        )
    return _rejected(
        f"{where}; scrapping it here is an override that needs "
        f"{authority.needs_role.with_article} — ask one to approve with their badge and PIN",
        authority.needs_role,
    )


def _receive(row: Transition, scan: _Scan) -> _Plan | Decision:
    """Receive by the document's rule: where it was addressed, a return citing the document
    it left on, or elsewhere an override with a reason."""
    sn, station = scan.sn, scan.station
    sent_on, cited = scan.serial.document, station.document
    as_usual = scan.authorise_row(row)
    if sent_on is not None and sent_on.to_site == station.site_code:
        return _Plan(row, "received", as_usual)
    is_return = row.needs is Needs.ORIGINAL_DOCUMENT
    if is_return and sent_on and cited and cited.reference_no == sent_on.reference_no:
        return _Plan(
            row,
            f"returned on {cited.reference_no}",
            as_usual,
            frees_line_on=cited.reference_no,
        )
    # A unit sold to a customer coming back is a return; one sent to another site is not.
    customer_return = is_return and (sent_on is None or sent_on.to_site is None)
    action = Action.RETURN_WITHOUT_DOCUMENT if customer_return else Action.RECEIVE_BY_OVERRIDE
    if scan.reason:
        return _Plan(
            row,
            f"received here {BY_OVERRIDE}",
            scan.authorise(action),
            override=True,
            frees_line_on=sent_on.reference_no if customer_return and sent_on else None,
        )
    needs = OVERRIDE_HOW
    if not authorise(action, actor=station.role).allowed and station.role is not None:
        needs += " and a supervisor's approval"
    if sent_on is None:
        return _rejected(
            f"{sn} {scan.state}, and the document it left on is not known; receiving it here "
            f"needs {needs}"
        )
    sent = f"{sn} was sent to {scan.destination(sent_on)} on {sent_on.reference_no}"
    if not is_return:
        return _rejected(f"{sent}, not to {scan.here}; receiving it here needs {needs}")
    if cited is not None:
        sent += f", not on {cited.reference_no}"
    return _rejected(
        f"{sent}; if it came back, pick {sent_on.reference_no} as the document {CITE_HOW}, "
        f"otherwise receiving it here needs {needs}"
    )


def _dispatch(row: Transition, scan: _Scan) -> _Plan | Decision:
    sn, station, doc = scan.sn, scan.station, scan.station.document
    kind = row.document_kind or DocumentKind.DC
    label = article(kind)
    if doc is None:
        return _rejected(f"{sn} was not dispatched: open {label} first {CITE_HOW}")
    ref = doc.reference_no
    if not doc.is_open:
        return _rejected(f"{sn} was not dispatched: {ref} is closed; pick an open one {CITE_HOW}")
    if doc.kind is not kind:
        return _rejected(
            f"{sn} was not dispatched: {ref} is {article(doc.kind)}, and a "
            f"{station.site_kind} dispatches on {label}"
        )
    if doc.from_site != station.site_code:
        return _rejected(
            f"{sn} was not dispatched: {ref} is from {scan.site(doc.from_site)}, not from "
            f"here at {scan.here}"
        )
    sku = scan.serial.sku
    line = doc.line_for(sku)
    if line is None:
        return _rejected(f"{sn} was not dispatched: {sku} is not on {ref}")
    if line.is_full:
        return _rejected(
            f"{sn} was not dispatched: {ref} already has {line.scanned}/{line.quantity} of {sku}"
        )
    done = f"dispatched on {ref} ({line.scanned + 1}/{line.quantity})"
    return _Plan(row, done, scan.authorise_row(row))
