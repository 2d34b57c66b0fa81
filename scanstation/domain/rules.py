"""decide()'s answers for one station, as a table the database can apply without asking again.

A scan's usual path on PostgreSQL is one round trip: the database finds the serial, and if a
row of this table matches it, moves it and records the event in the same call
(store/scan_rules.py). The table is not a second copy of the rules: it is made by asking
`decide()` itself, once for every situation a row stands for, with marks where the serial
number (and a line's running count) go. Only moves `decide()` APPLYs become rows; whatever
else a serial may be (elsewhere, in a stage this mode does not move, a return, an override)
matches no row, and the service asks `decide()` about the serial as read, as before.

A row says what it looks at, and nothing else may change decide()'s answer:

- every row: the serial's stage, and where it is on record (`here`: at this station's site,
  at no site, or anywhere when decide() gives the same answer for all three);
- a dispatch row (`sku`, `fills_line`): the serial's item is on a line of the station's
  document; the station's document as read when the table was made, taken as open with room
  on the line, which the database checks as it counts the unit on the line (else it writes
  nothing and the service decides on the document as it is now). Its sentence carries the
  line's count after this unit and the line's quantity as marks;
- a receive row (`addressed_here`): the document the serial left on is addressed to this
  station's site.

tests/unit/test_rules.py runs every stage, place, item, document (addressed where, open,
closed, full), role, approval and reason through both and compares.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from scanstation.domain.model import DocumentView
from scanstation.domain.stages import (
    Decision,
    DocumentKind,
    SerialState,
    StationContext,
    Verdict,
    decide,
)
from scanstation.domain.terms import Mode, Stage

__all__ = [
    "COUNT_MARK",
    "MODES_READING_DOCUMENTS",
    "QUANTITY_MARK",
    "SERIAL_MARK",
    "Already",
    "Rule",
    "already_table",
    "decision_table",
    "first_already",
    "first_rule",
]

# Where the serial number goes in a row's sentence. A sentence that holds the mark more than
# once (a site named with it, say) makes no row, so replacing the mark is always exact.
SERIAL_MARK: Final = "\x1fSERIAL\x1f"
# A dispatch row's sentence: the line's count with this unit, and its quantity.
COUNT_MARK: Final = "\x1fCOUNT\x1f"
QUANTITY_MARK: Final = "\x1fQUANTITY\x1f"
_SKU_MARK: Final = "\x1fSKU\x1f"
# Modes whose decision reads a document (the serial's, or the station's).
MODES_READING_DOCUMENTS: Final = frozenset({Mode.DISPATCH, Mode.RECEIVE})
_DOCUMENT_MARK: Final = "\x1fDOCUMENT\x1f"
_AWAY_MARK: Final = "\x1fAWAY\x1f"  # another site, for a row that holds wherever the serial is
# A line's count and quantity while decide() is asked: numbers no sentence holds otherwise
# (a sentence holding either twice makes no row).
_COUNT: Final = 918_273_645
_QUANTITY: Final = 987_654_321


@dataclass(frozen=True, slots=True)
class Rule:
    """A serial in `from_stage`, on record at this station's site (`here` True), at no site
    (False) or anywhere (None), is moved to `to_stage` with `decide()`'s sentence;
    `approved`: the event names the approver. `sku`: only a serial of this item (a line of
    the station's document); `fills_line`: the move counts the unit on that line and puts the
    serial on the station's document; `addressed_here`: only a serial whose document is
    addressed to this station's site."""

    from_stage: Stage
    here: bool | None
    to_stage: Stage
    message: str  # SERIAL_MARK where the serial number goes (COUNT_MARK, QUANTITY_MARK)
    approved: bool
    sku: str | None = None
    fills_line: bool = False
    addressed_here: bool = False

    def message_for(self, serial_no: str, line: tuple[int, int] | None = None) -> str:
        """The sentence for this serial; `line`: the line's count with this unit, and its
        quantity (a row that fills a line)."""
        text = self.message
        if line is not None:
            text = text.replace(COUNT_MARK, str(line[0])).replace(QUANTITY_MARK, str(line[1]))
        return text.replace(SERIAL_MARK, serial_no)

    def matches(self, stage: Stage, place: bool | None, sku: str, addressed_here: bool) -> bool:
        """Does this row stand for a serial in `stage`, on record here (True), at no site
        (False) or at another site (None), of `sku`, whose document is addressed here or not?"""
        return (
            self.from_stage is stage
            and (self.here is None or self.here is place)
            and (self.sku is None or self.sku == sku)
            and (addressed_here or not self.addressed_here)
        )


def first_rule(
    rules: tuple[Rule, ...], stage: Stage, place: bool | None, sku: str, addressed_here: bool
) -> int | None:
    """The number of the first row that stands for this serial (the database's order)."""
    for n, rule in enumerate(rules):  # a loop, not next() of a generator: every scan asks
        if rule.matches(stage, place, sku, addressed_here):
            return n
    return None


@dataclass(frozen=True, slots=True)
class Already:
    """A serial in `stage`, on record at this station's site (`here` True) or at no site
    (False), is answered ALREADY with `decide()`'s sentence, nothing written; `on_document`:
    only a serial whose document is the station's (else whatever its document is)."""

    stage: Stage
    here: bool
    message: str  # SERIAL_MARK where the serial number goes
    on_document: bool = False

    def matches(self, stage: Stage, place: bool | None, on_document: bool) -> bool:
        return self.stage is stage and self.here is place and (on_document or not self.on_document)


def first_already(
    answers: tuple[Already, ...], stage: Stage, place: bool | None, on_document: bool
) -> int | None:
    """The number of the first row that answers this serial ALREADY (`place` as in Rule;
    `on_document`: the serial's document is the station's)."""
    return next(
        (n for n, row in enumerate(answers) if row.matches(stage, place, on_document)), None
    )


def already_table(station: StationContext) -> tuple[Already, ...]:
    """The serials decide() answers ALREADY at this station, by stage and place, and with a
    document, by whether the serial's document is the station's. A row holds only where
    decide() gives the same sentence whatever else the serial's document is (addressed here,
    elsewhere, to a customer, none) and whatever the station's document is now (open, its
    lines full, closed): the answer needs nothing read but the serial. A lookup has none."""
    if station.mode is Mode.LOOKUP:
        return ()
    reads = station.mode in MODES_READING_DOCUMENTS
    own = station.document
    nows = [station]
    if own is not None:
        full = tuple(replace(line, scanned=line.quantity) for line in own.lines)
        nows += [
            replace(station, document=replace(own, state="closed")),
            replace(station, document=replace(own, lines=full)),
        ]
    others: list[DocumentView | None] = [None]
    if reads:
        others += [_addressed(station, kind) for kind in DocumentKind]
        others += [replace(_addressed(station, kind), to_site=_AWAY_MARK) for kind in DocumentKind]
        others += [replace(_addressed(station, kind), to_site=None) for kind in DocumentKind]
    rows: list[Already] = []
    for stage in Stage:
        for here in (True, False):

            def answer(
                sent_on: list[DocumentView | None], stage: Stage = stage, here: bool = here
            ) -> Decision | None:
                """decide()'s one answer for every station document state and every
                document the serial may be on; None when they differ."""
                decisions = {
                    decide(_serial(now, stage, here, _SKU_MARK, document), now)
                    for now in nows
                    for document in [now.document if d is own else d for d in sent_on]
                }
                return decisions.pop() if len(decisions) == 1 else None

            on_own: list[DocumentView | None] = [own] if reads and own is not None else []
            anywhere = answer(others + on_own)
            if anywhere is not None and _already(anywhere):
                rows.append(Already(stage, here, anywhere.message))
            elif on_own and (on := answer(on_own)) is not None and _already(on):
                rows.append(Already(stage, here, on.message, on_document=True))
    return tuple(rows)


def _already(decision: Decision) -> bool:
    """ALREADY, its sentence built of the serial number only."""
    message = decision.message
    return (
        decision.verdict is Verdict.ALREADY
        and message.count(SERIAL_MARK) == 1
        and not any(mark in message for mark in (_SKU_MARK, _DOCUMENT_MARK, _AWAY_MARK))
    )


def decision_table(station: StationContext) -> tuple[Rule, ...]:
    """The moves `decide()` makes at this station, by stage and place (and, with a document,
    by item or by where the serial's document is addressed). `station.document`: the
    station's document as read, or None. A lookup has none."""
    if station.mode is Mode.LOOKUP:
        return ()
    if station.mode is Mode.DISPATCH:
        return _dispatch_rows(station)
    if station.mode is Mode.RECEIVE:
        return _receive_rows(station)
    rules: list[Rule] = []
    for stage in Stage:
        for here in (True, False):
            decision = decide(_serial(station, stage, here, _SKU_MARK, None), station)
            if _exact(decision):
                rules.append(_rule(stage, here, decision))
    return tuple(rules)


def _dispatch_rows(station: StationContext) -> tuple[Rule, ...]:
    """For each line of the station's document: the moves decide() makes of a serial of its
    item while the document is open and the line has room (the database checks both)."""
    document = station.document
    if document is None:
        return ()
    counted = replace(
        document,
        state="open",
        lines=tuple(
            replace(line, quantity=_QUANTITY, scanned=_COUNT - 1) for line in document.lines
        ),
    )
    asked = replace(station, document=counted)
    rules: list[Rule] = []
    for line in document.lines:
        for stage in Stage:
            for here in (True, False):
                decision = decide(_serial(asked, stage, here, line.sku, None), asked)
                if not _exact(decision, counted=True):
                    continue
                message = decision.message.replace(str(_COUNT), COUNT_MARK).replace(
                    str(_QUANTITY), QUANTITY_MARK
                )
                rules.append(
                    replace(
                        _rule(stage, here, decision), message=message, sku=line.sku,
                        fills_line=True,
                    )
                )  # fmt: skip
    return tuple(rules)


def _receive_rows(station: StationContext) -> tuple[Rule, ...]:
    """The moves decide() makes of a serial whose document is addressed here, the same
    wherever it is on record and whatever kind the document is."""
    rules: list[Rule] = []
    for stage in Stage:
        decisions = [
            decide(_serial(station, stage, place, _SKU_MARK, _addressed(station, kind)), station)
            for place in (True, False, None)
            for kind in DocumentKind
        ]
        first = decisions[0]
        if _exact(first) and all(d == first for d in decisions):
            rules.append(replace(_rule(stage, None, first), addressed_here=True))
    return tuple(rules)


def _serial(
    station: StationContext,
    stage: Stage,
    place: bool | None,
    sku: str,
    document: DocumentView | None,
) -> SerialState:
    """A serial as decide() sees it: on record here (True), at no site (False) or at another
    site (None)."""
    if place is None:
        return SerialState(SERIAL_MARK, sku, stage, _AWAY_MARK, document, _AWAY_MARK)
    return SerialState(
        SERIAL_MARK,
        sku,
        stage,
        station.site_code if place else None,
        document,
        station.site_name if place else None,
    )


def _addressed(station: StationContext, kind: DocumentKind) -> DocumentView:
    """A document the serial left on, addressed to this station's site, known by no more."""
    return DocumentView(
        _DOCUMENT_MARK, kind, None, None, _AWAY_MARK, station.site_code, None, "open", (),
        datetime(2000, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def _exact(decision: Decision, *, counted: bool = False) -> bool:
    """A move one row can make: applied, freeing no line, its sentence built of the marks
    only where the row fills them in (and, with `counted`, the line's count once each)."""
    message = decision.message
    return (
        decision.verdict is Verdict.APPLY
        and decision.transition is not None
        and decision.frees_line_on is None
        and message.count(SERIAL_MARK) == 1
        and not any(mark in message for mark in (_SKU_MARK, _DOCUMENT_MARK, _AWAY_MARK))
        and (
            message.count(str(_COUNT)) == 1 and message.count(str(_QUANTITY)) == 1
            if counted
            else str(_COUNT) not in message and str(_QUANTITY) not in message
        )
    )


def _rule(stage: Stage, here: bool | None, decision: Decision) -> Rule:
    assert decision.transition is not None
    return Rule(stage, here, decision.transition.to_stage, decision.message, decision.approved)
