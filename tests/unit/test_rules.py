"""The decision table a scan's one call applies (domain/rules.py) against decide() itself: every
mode, kind of site, stage, place, role, approver, reason and station document. A row must
give exactly what decide() gives the real serial; a move decide() makes that no row covers
would cost a scan a second round trip, so that fails too."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from scanstation.domain.model import DocumentLineView, DocumentView
from scanstation.domain.rules import MODES_READING_DOCUMENTS, SERIAL_MARK, decision_table
from scanstation.domain.stages import (
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

ROLES = (None, *Role)
DOCUMENT = DocumentView(
    "DC-7", DocumentKind.DC, "DC-0007", None, "P1", "G1", None, "open",
    (DocumentLineView("PUMP", "Pump 1HP", 10, 3),), datetime(2026, 1, 1, tzinfo=UTC),
)  # fmt: skip
# The serial as it may be on record: here, at no site, at another site.
PLACES = {"here": ("P1", "Pune Plant"), "nowhere": (None, None), "away": ("G2", "Nagpur Godown")}


def contexts():
    for mode, kind, role, approver, reason, document in itertools.product(
        [m for m in Mode if m is not Mode.LOOKUP],
        SiteKind,
        ROLES,
        ROLES,
        (None, "water damage"),
        (None, DOCUMENT),
    ):
        if role is None and approver is not None:
            continue  # an open station has nobody to approve
        yield StationContext(
            mode, "P1", kind, document, reason, site_name="Pune Plant",
            site_names={"G1": "Mumbai Godown", "G2": "Nagpur Godown"}, role=role,
            approver_role=approver,
        )  # fmt: skip


def test_every_row_is_what_decide_says_and_every_move_has_a_row() -> None:
    compared = moved = 0
    for station in contexts():
        # The service makes the table without reading the station's document.
        table = decision_table(StationContext(
            station.mode, station.site_code, station.site_kind, None, station.reason,
            site_name=station.site_name, role=station.role,
            approver_role=station.approver_role,
        ))  # fmt: skip
        if station.mode in MODES_READING_DOCUMENTS:
            assert table == ()
            continue
        for rule in table:
            assert rule.message.count(SERIAL_MARK) == 1
        for stage, (place, (site, name)) in itertools.product(Stage, PLACES.items()):
            serial = SerialState("SN0000000042", "PUMP", stage, site, None, name)
            real = decide(serial, station)
            here = {"here": True, "nowhere": False}.get(place)
            rows = [r for r in table if r.from_stage is stage and r.here is here]
            assert len(rows) <= 1
            compared += 1
            if not rows:
                # Nothing the table leaves out is a move decide() would make of a serial here
                # or at no site (a return frees a line: two writes, not one call).
                if here is not None and real.verdict is Verdict.APPLY:
                    assert real.frees_line_on is not None, (station, stage, place)
                continue
            moved += 1
            rule = rows[0]
            assert real.verdict is Verdict.APPLY, (station, stage, place, real.message)
            assert real.to_stage is rule.to_stage
            assert real.message == rule.message_for(serial.serial_no)
            assert real.approved is rule.approved
            assert real.frees_line_on is None
    assert compared > 9_000 and moved > 500  # the loops did run through the table


def test_a_serial_number_like_the_mark_cannot_confuse_the_sentence() -> None:
    """The mark is replaced once, by the serial number, whatever the number holds."""
    station = StationContext(Mode.REGISTER, "P1", SiteKind.PLANT, site_name="Pune Plant")
    (rule,) = [r for r in decision_table(station) if r.here]
    odd = f"A{SERIAL_MARK}B"
    serial = SerialState(odd, "PUMP", Stage.NOT_REGISTERED, "P1", None, "Pune Plant")
    assert rule.message_for(odd) == decide(serial, station).message
