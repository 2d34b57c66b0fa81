"""The decision table a scan's one call applies (domain/rules.py) against decide() itself: every
mode, kind of site, stage, place, role, approver, reason, station document and, for the modes
that read documents, every item, document the serial left on and state of the station's
document (open with room, its line full, closed). A row must give exactly what decide() gives
the real serial whenever the database would make its move; a move decide() makes that no row
covers would cost a scan more round trips, so that fails too (returns and overrides aside)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

from scanstation.domain.model import DocumentLineView, DocumentView
from scanstation.domain.rules import (
    COUNT_MARK,
    MODES_READING_DOCUMENTS,
    QUANTITY_MARK,
    SERIAL_MARK,
    already_table,
    decision_table,
    first_already,
    first_rule,
)
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
_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _document(reference: str, kind: DocumentKind, source: str, to: str | None) -> DocumentView:
    return DocumentView(
        reference, kind, reference if kind is DocumentKind.DC else None,
        reference if kind is DocumentKind.INVOICE else None, source, to,
        None if to else "Sharma Traders", "open",
        (DocumentLineView("PUMP", "Pump 1HP", 10, 3),), _AT,
    )  # fmt: skip


DOCUMENT = _document("DC-7", DocumentKind.DC, "P1", "G1")  # from here
# A station's document: none, a DC and an invoice from here, a DC from another site.
STATION_DOCUMENTS = (
    None,
    DOCUMENT,
    _document("INV-7", DocumentKind.INVOICE, "P1", None),
    _document("DC-8", DocumentKind.DC, "G2", "P1"),
)
# The document a serial left on: none, addressed elsewhere, to a customer, addressed here (a
# DC and an invoice), and the station's own.
SERIAL_DOCUMENTS = (
    None,
    _document("DC-9", DocumentKind.DC, "P1", "G2"),
    STATION_DOCUMENTS[2],
    STATION_DOCUMENTS[3],
    _document("INV-5", DocumentKind.INVOICE, "G2", "P1"),
    DOCUMENT,
)
# The serial as it may be on record: here (True), at no site (False), at another site (None).
PLACES = {True: ("P1", "Pune Plant"), False: (None, None), None: ("G2", "Nagpur Godown")}


def contexts():
    for mode, kind, role, approver, reason, document in itertools.product(
        [m for m in Mode if m is not Mode.LOOKUP],
        SiteKind,
        ROLES,
        ROLES,
        (None, "water damage"),
        STATION_DOCUMENTS,
    ):
        if role is None and approver is not None:
            continue  # an open station has nobody to approve
        yield StationContext(
            mode, "P1", kind, document, reason, site_name="Pune Plant",
            site_names={"G1": "Mumbai Godown", "G2": "Nagpur Godown"}, role=role,
            approver_role=approver,
        )  # fmt: skip


def at_scan(document: DocumentView | None, state: str) -> DocumentView | None:
    """The station's document as it is when the serial is scanned: as read, its line full,
    or closed."""
    if document is None or state == "as read":
        return document
    if state == "closed":
        return replace(document, state="closed")
    return replace(
        document, lines=tuple(replace(line, scanned=line.quantity) for line in document.lines)
    )


def test_every_row_is_what_decide_says_and_every_move_has_a_row() -> None:
    compared = moved = filled = received = 0
    for station in contexts():
        reads = station.mode in MODES_READING_DOCUMENTS
        # The service reads the station's document for the table only in a mode that reads
        # documents; the table must not depend on its state or its lines' counts.
        table = decision_table(station if reads else replace(station, document=None))
        if reads:
            for state in ("full", "closed"):
                assert (
                    decision_table(replace(station, document=at_scan(station.document, state)))
                    == table
                )
        for rule in table:
            assert rule.message.count(SERIAL_MARK) == 1
            marks = (rule.message.count(COUNT_MARK), rule.message.count(QUANTITY_MARK))
            assert marks == ((1, 1) if rule.fills_line else (0, 0))
            assert rule.fills_line is (rule.sku is not None) is (station.mode is Mode.DISPATCH)
            assert rule.addressed_here is (rule.here is None) is (station.mode is Mode.RECEIVE)
        serial_documents = SERIAL_DOCUMENTS if reads else (None,)
        states = ("as read", "full", "closed") if reads else ("as read",)
        for stage, place, sku, sent_on, state in itertools.product(
            Stage, PLACES, ("PUMP", "FAN"), serial_documents, states
        ):
            site, name = PLACES[place]
            serial = SerialState("SN0000000042", sku, stage, site, sent_on, name)
            now = replace(station, document=at_scan(station.document, state))
            real = decide(serial, now)
            addressed = sent_on is not None and sent_on.to_site == station.site_code
            number = first_rule(table, stage, place, sku, addressed)
            compared += 1
            if number is None:
                # Nothing the table leaves out is a move decide() makes by the rules' plain
                # road: a return frees a line (two writes), an override is the exception.
                if real.verdict is Verdict.APPLY:
                    assert real.frees_line_on is not None or real.override, (now, serial)
                continue
            rule = table[number]
            line = None
            if rule.fills_line:
                # The database counts the unit on the line only while the document is open
                # and the line has room; else it writes nothing, and decide() refuses too.
                document = now.document
                assert document is not None
                found = document.line_for(sku)
                assert found is not None
                if not document.is_open or found.is_full:
                    assert real.verdict is Verdict.REJECTED, (now, serial, real.message)
                    continue
                line = (found.scanned + 1, found.quantity)
                filled += 1
            received += rule.addressed_here
            moved += 1
            assert real.verdict is Verdict.APPLY, (now, serial, real.message)
            assert real.to_stage is rule.to_stage
            assert real.message == rule.message_for(serial.serial_no, line)
            assert real.approved is rule.approved
            assert real.frees_line_on is None and not real.override
    # The loops did run through the table, document rows too.
    assert compared > 200_000 and moved > 3_000 and filled > 100 and received > 100


def test_a_serial_number_like_the_mark_cannot_confuse_the_sentence() -> None:
    """The mark is replaced once, by the serial number, whatever the number holds."""
    station = StationContext(Mode.REGISTER, "P1", SiteKind.PLANT, site_name="Pune Plant")
    (rule,) = [r for r in decision_table(station) if r.here]
    odd = f"A{SERIAL_MARK}B"
    serial = SerialState(odd, "PUMP", Stage.NOT_REGISTERED, "P1", None, "Pune Plant")
    assert rule.message_for(odd) == decide(serial, station).message


def test_a_dispatch_row_counts_the_unit_on_its_line() -> None:
    """The sentence of a dispatch row says the line's count with this unit, as decide() does
    for the document as it is."""
    station = StationContext(Mode.DISPATCH, "P1", SiteKind.PLANT, DOCUMENT, site_name="Pune")
    (rule,) = [r for r in decision_table(station) if r.here]
    assert (rule.sku, rule.fills_line, rule.to_stage) == ("PUMP", True, Stage.DISPATCHED_FROM_PLANT)
    serial = SerialState("SN1", "PUMP", Stage.VALIDATED, "P1", None, "Pune")
    assert rule.message_for("SN1", (4, 10)) == decide(serial, station).message
    assert "(4/10)" in rule.message_for("SN1", (4, 10))


def test_every_already_row_is_what_decide_says() -> None:
    """The ALREADY rows (told from the serial as read, no document read) against decide() for
    every station, stage, place, item, document the serial left on and state of the station's
    document: a row answers exactly what decide() answers; every ALREADY of a serial on the
    station's document (or, in a mode that reads none, of any serial) has a row."""
    compared = answered = 0
    for station in contexts():
        reads = station.mode in MODES_READING_DOCUMENTS
        table = already_table(station if reads else replace(station, document=None))
        if reads:
            for state in ("full", "closed"):
                now = replace(station, document=at_scan(station.document, state))
                assert already_table(now) == table
        for row in table:
            assert row.message.count(SERIAL_MARK) == 1
            assert not row.on_document or (reads and station.document is not None)
        serial_documents = SERIAL_DOCUMENTS if reads else (None,)
        states = ("as read", "full", "closed") if reads else ("as read",)
        for stage, place, sku, sent_on, state in itertools.product(
            Stage, PLACES, ("PUMP", "FAN"), serial_documents, states
        ):
            site, name = PLACES[place]
            now = replace(station, document=at_scan(station.document, state))
            own = (
                now.document is not None
                and sent_on is not None
                and sent_on.reference_no == now.document.reference_no
            )
            # On the station's document, the serial's document is the station's as it is now.
            serial = SerialState(
                "SN0000000042", sku, stage, site, now.document if own else sent_on, name
            )
            real = decide(serial, now)
            number = first_already(table, stage, place, own)
            compared += 1
            if number is None:
                if real.verdict is Verdict.ALREADY and place is not None:
                    assert reads and not own, (now, serial)
                continue
            answered += 1
            assert real.verdict is Verdict.ALREADY, (now, serial, real.message)
            assert real.message == table[number].message.replace(SERIAL_MARK, serial.serial_no)
    assert compared > 200_000 and answered > 10_000, (compared, answered)
