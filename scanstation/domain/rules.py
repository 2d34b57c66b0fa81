"""decide()'s answers for one station, as a table the database can apply without asking again.

A scan's usual path on PostgreSQL is one round trip: the database finds the serial, and if a
row of this table matches it, moves it and records the event in the same call
(store/scan_function.py). The table is not a second copy of the rules: it is made by asking
`decide()` itself, once for every stage a serial can be in, on record here or nowhere, with a
mark where the serial number goes. Only moves `decide()` APPLYs become rows; whatever else a
serial may be (elsewhere, in a stage this mode does not move, a return) matches no row, and the
service asks `decide()` about the serial as read, as before.

That is exact only where `decide()` looks at nothing of the serial but its stage, where it is
on record and its number: modes that read the serial's or the station's document (dispatch,
receive) get no table. tests/unit/test_rules.py runs every stage, place, role, approval and
reason through both and compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from scanstation.domain.stages import SerialState, StationContext, Verdict, decide
from scanstation.domain.terms import Mode, Stage

__all__ = ["MODES_READING_DOCUMENTS", "SERIAL_MARK", "Rule", "decision_table"]

# Where the serial number goes in a row's sentence. A sentence that holds the mark more than
# once (a site named with it, say) makes no row, so replacing the mark is always exact.
SERIAL_MARK: Final = "\x1fSERIAL\x1f"
_SKU_MARK: Final = "\x1fSKU\x1f"

# Modes whose decision reads a document (the serial's, or the station's): no table for them.
MODES_READING_DOCUMENTS: Final = frozenset({Mode.DISPATCH, Mode.RECEIVE})


@dataclass(frozen=True, slots=True)
class Rule:
    """A serial in `from_stage`, on record at this station's site (`here`) or at no site, is
    moved to `to_stage` with `decide()`'s sentence; `approved`: the event names the approver."""

    from_stage: Stage
    here: bool
    to_stage: Stage
    message: str  # SERIAL_MARK where the serial number goes
    approved: bool

    def message_for(self, serial_no: str) -> str:
        return self.message.replace(SERIAL_MARK, serial_no)


def decision_table(station: StationContext) -> tuple[Rule, ...]:
    """The moves `decide()` makes at this station, by stage and place (empty for a mode whose
    decision reads a document, or a lookup)."""
    if station.mode is Mode.LOOKUP or station.mode in MODES_READING_DOCUMENTS:
        return ()
    rules: list[Rule] = []
    for stage in Stage:
        for here in (True, False):
            serial = SerialState(
                SERIAL_MARK,
                _SKU_MARK,
                stage,
                station.site_code if here else None,
                None,
                station.site_name if here else None,
            )
            decision = decide(serial, station)
            if (
                decision.verdict is Verdict.APPLY
                and decision.transition is not None
                and decision.frees_line_on is None
                and decision.message.count(SERIAL_MARK) == 1
                and _SKU_MARK not in decision.message
            ):
                rules.append(
                    Rule(
                        stage, here, decision.transition.to_stage, decision.message,
                        decision.approved,
                    )
                )  # fmt: skip
    return tuple(rules)
