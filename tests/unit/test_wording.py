"""Every sentence decide() can say, read the way a dock worker reads it.

The test walks every stage × mode × kind of site, with the unit here, elsewhere or nowhere
known, with and without a document, a reason, users and an approval, and holds each sentence
to the same plain rules: it opens with the serial or a capital, ends on a word, names sites
by name and code, never uses a stage name as an adjective ("is Dispatch from Plant"), and
never leaks a template or a None."""

from __future__ import annotations

import itertools
import re

import pytest

from scanstation.domain.model import DocumentView
from scanstation.domain.stages import (
    Decision,
    DocumentKind,
    Mode,
    Role,
    SerialState,
    SiteKind,
    Stage,
    StationContext,
    Verdict,
    decide,
)
from scanstation.domain.wording import join_words, site_label, stage_state
from tests.unit.test_stages import AWAY, HOME, NAMES, document

SN = "SN0000000421"

# A stage name read as an adjective or a noun after a verb: "is Dispatch from Plant",
# "already Received at Godown". "is Scrapped for good" is the one stage said as a word.
ADJECTIVE = re.compile(
    r"\b(?:is|was|were|be|been|already|now is)\s+(?:"
    + "|".join(re.escape(stage.value) for stage in Stage if stage is not Stage.SCRAPPED)
    + r")\b"
)
CODE = re.compile(r"\b[PG][12]\b")


def doc(ref: str, kind: DocumentKind, from_site: str, to_site: str | None) -> DocumentView:
    return document(ref, kind, from_site, to_site, lines=(("SKU-1", 10, 3),))


def units(stage: Stage, kind: SiteKind) -> list[SerialState]:
    """The unit here, on record at another site of the same kind, or with no site known;
    a dispatched unit carries the document it left on (addressed here or elsewhere)."""
    found = []
    for site in (HOME[kind], AWAY[kind], None):
        sent_on: list[DocumentView | None] = [None]
        if stage is Stage.DISPATCHED_FROM_PLANT:
            sent_on = [doc("DC-7", DocumentKind.DC, site or "P1", to) for to in ("G1", "G2")]
        elif stage is Stage.DISPATCHED_FROM_GODOWN:
            sent_on = [doc("INV-7", DocumentKind.INVOICE, site or "G1", to) for to in (None, "G1")]
        for left_on in sent_on:
            name = NAMES[site] if site else None
            found.append(SerialState(SN, "SKU-1", stage, site, left_on, name))
    return found


def station_documents(mode: Mode, kind: SiteKind, unit: SerialState) -> list[DocumentView | None]:
    here = HOME[kind]
    if mode is Mode.DISPATCH:
        return [
            None,
            doc("DC-1", DocumentKind.DC, here, "G2"),
            doc("INV-1", DocumentKind.INVOICE, here, None),
        ]
    if mode is Mode.RECEIVE:
        return [None, unit.document, doc("INV-9", DocumentKind.INVOICE, "G1", None)]
    return [None]


PEOPLE = [(None, None), (Role.OPERATOR, None), (Role.OPERATOR, Role.SUPERVISOR)]


def every_decision() -> list[tuple[str, Decision]]:
    """(what was asked, the decision) for every combination."""
    said = []
    for kind, stage, mode in itertools.product(SiteKind, Stage, Mode):
        for unit in units(stage, kind):
            for open_document, reason, (role, approver) in itertools.product(
                station_documents(mode, kind, unit), (None, "water damage"), PEOPLE
            ):
                station = StationContext(
                    mode,
                    HOME[kind],
                    kind,
                    document=open_document,
                    reason=reason,
                    site_name=NAMES[HOME[kind]],
                    site_names=NAMES,
                    role=role,
                    approver_role=approver,
                )
                asked = (
                    f"{kind}/{stage.name}/{mode} unit at {unit.site} "
                    f"on {unit.document.reference_no if unit.document else None} "
                    f"station doc {open_document.reference_no if open_document else None} "
                    f"reason {reason} role {role} approver {approver}"
                )
                said.append((asked, decide(unit, station)))
    return said


DECISIONS = every_decision()


def test_the_walk_covers_every_stage_mode_and_kind_of_site() -> None:
    assert len(DECISIONS) > 2000
    seen = {asked.split(" ")[0] for asked, _ in DECISIONS}
    assert len(seen) == len(SiteKind) * len(Stage) * len(Mode)


def test_every_sentence_reads_as_a_sentence() -> None:
    problems = []
    for asked, decision in DECISIONS:
        message = decision.message
        if not message or not (message.startswith(SN) or message[0].isupper()):
            problems.append((asked, message, "does not open with the serial or a capital"))
        if message.rstrip() != message or message.rstrip(".").endswith(("—", "-", ":", ";", ",")):
            problems.append((asked, message, "ends on a dash or a mark"))
        if ADJECTIVE.search(message):
            problems.append((asked, message, "a stage name used as an adjective"))
        if any(leak in message for leak in ("None", "{", "}", "  ", "..")):
            problems.append((asked, message, "a template or a None leaks"))
    assert not problems, "\n".join(map(str, problems[:20]))


def test_every_site_is_named_beside_its_code() -> None:
    problems = []
    for asked, decision in DECISIONS:
        message = decision.message
        for match in CODE.finditer(message):
            code = match.group()
            named = f"{NAMES[code]} ({code})"
            start = match.start() - len(NAMES[code]) - 2
            if message[start : match.end() + 1] != named:
                problems.append((asked, message, code))
    assert not problems, "\n".join(map(str, problems[:20]))


def test_a_refusal_for_want_of_a_role_says_which_and_what_to_do() -> None:
    gated = [d for _, d in DECISIONS if d.needs_role is not None]
    assert gated
    for decision in gated:
        assert decision.verdict is Verdict.REJECTED
        assert "needs a supervisor" in decision.message
        assert "badge and PIN" in decision.message


def test_every_applied_move_says_the_stage_it_is_in_now() -> None:
    applied = [d for _, d in DECISIONS if d.verdict is Verdict.APPLY]
    assert applied
    for decision in applied:
        assert decision.message.endswith(f"— now {decision.to_stage}")


def test_the_issues_dispatch_example_says_what_comes_first() -> None:
    unit = SerialState(SN, "SKU-1", Stage.DISPATCHED_FROM_PLANT, "P1", None, "Pune Plant")
    station = StationContext(Mode.DISPATCH, "G1", SiteKind.GODOWN)
    assert decide(unit, station).message == (
        f"{SN} was dispatched from Pune Plant (P1); receive it at a godown first"
    )


@pytest.mark.parametrize(
    ("code", "name", "label"),
    [
        ("G2", "Nagpur Godown", "Nagpur Godown (G2)"),
        ("G2", None, "G2"),
        ("G2", "  ", "G2"),
        ("G2", "G2", "G2"),
    ],
)
def test_site_label(code: str, name: str | None, label: str) -> None:
    assert site_label(code, name) == label


def test_small_words() -> None:
    assert join_words([]) == ""
    assert join_words(["a"]) == "a"
    assert join_words(["a", "b"]) == "a and b"
    assert join_words(["a", "b", "c"]) == "a, b and c"
    assert stage_state(Stage.RECEIVED_AT_GODOWN, None) == "was received at a godown"
    assert stage_state(Stage.RECEIVED_AT_GODOWN, "G1") == "was received at G1"
