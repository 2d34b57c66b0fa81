"""A scan's transition applied in one call (store/scan_function.py): decide() still chooses it,
the database only checks that nothing changed since the serial was read. Every row of the
transition table goes through both paths (the one call, and the transaction that locks and
decides again) on both databases, and they must write the same thing."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from scanstation.domain.model import ScanEvent, utc_now
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import TRANSITIONS, DocumentKind, Mode, Needs, SiteKind, Stage
from scanstation.domain.text import visible
from scanstation.service import StationService, StationSetup
from scanstation.store.scan_function import ScanWrite

# How a serial reaches each stage a transition starts from: (site, mode, document, reason).
_REGISTER = ("P1", Mode.REGISTER, None, None)
_VALIDATE = ("P1", Mode.VALIDATE, None, None)
_DISPATCH_DC = ("P1", Mode.DISPATCH, "DC-9", None)
_RECEIVE = ("G1", Mode.RECEIVE, None, None)
PATHS: dict[Stage, tuple[tuple[str, Mode, str | None, str | None], ...]] = {
    Stage.NOT_REGISTERED: (),
    Stage.REGISTERED: (_REGISTER,),
    Stage.NOT_VALIDATED: (_REGISTER, ("P1", Mode.REJECT, None, "QC fail")),
    Stage.VALIDATED: (_REGISTER, _VALIDATE),
    Stage.DISPATCHED_FROM_PLANT: (_REGISTER, _VALIDATE, _DISPATCH_DC),
    Stage.RECEIVED_AT_GODOWN: (_REGISTER, _VALIDATE, _DISPATCH_DC, _RECEIVE),
    Stage.DISPATCHED_FROM_GODOWN: (
        _REGISTER,
        _VALIDATE,
        _DISPATCH_DC,
        _RECEIVE,
        ("G1", Mode.DISPATCH, "INV-9", None),
    ),
}
AT_GODOWN = {Stage.RECEIVED_AT_GODOWN, Stage.DISPATCHED_FROM_GODOWN}


def row_station(row: Any) -> StationSetup:
    """The station that makes this row's transition, with what the row needs."""
    if row.site_kind is None:  # scrap: where the unit is
        site = "G1" if row.from_stage in AT_GODOWN else "P1"
    else:
        site = "P1" if row.site_kind is SiteKind.PLANT else "G1"
    document = None
    if row.needs is Needs.DOCUMENT:
        document = "DC-9" if row.document_kind is DocumentKind.DC else "INV-9"
    if row.needs is Needs.ORIGINAL_DOCUMENT:
        document = "INV-9"  # a return cites the invoice it left on
    reason = "water damage" if row.needs is Needs.REASON else None
    return StationSetup("T-9", site, row.mode, operator="op-9", document=document, reason=reason)


def scan(service: StationService, serial: str, setup: StationSetup):
    return service.scan(ScanEvent(serial, source="test"), setup)


def bring(service: StationService, serial: str, stage: Stage) -> None:
    for site, mode, document, reason in PATHS[stage]:
        setup = StationSetup("T-1", site, mode, operator="op-1", document=document, reason=reason)
        outcome = scan(service, serial, setup)
        assert outcome.kind is OutcomeKind.OK, outcome.message


def plain(text: str | None, serial: str) -> str | None:
    """A text with the serial number and a line's running count (3/10) taken out: the two
    paths scan two serials, one after the other, on the same line."""
    return re.sub(r"\(\d+/", "(#/", text.replace(serial, "<SN>")) if text else text


def written(service: StationService, serial: str) -> tuple[Any, ...]:
    """What a scan left behind, with the serial number taken out so two serials compare."""
    view = service.serial(serial)
    assert view is not None
    last = service.events(serial)[-1]

    return (
        view.stage,
        view.site,
        view.document,
        view.updated_by,
        view.version,
        last.outcome,
        last.from_stage,
        last.to_stage,
        last.document,
        last.comment,
        plain(last.payload, serial),
        last.mode,
        plain(last.message, serial),
        last.station,
        last.site,
        last.by,
    )


@pytest.fixture
def wide(service: StationService) -> tuple[StationService, list[str]]:
    """The small site, with documents long enough for every row, twice; its new serials."""
    _, serials = service.generate("PUMP", 2 * len(TRANSITIONS), "P1", prefix="TX", by="planner")
    # Labelled: each serial's print count and time are not a new serial's defaults.
    service.record_prints(serials, station="T-0", by="planner")
    service.add_document(
        kind=DocumentKind.DC,
        reference_no="DC-9",
        from_site="P1",
        to="G1",
        lines=[("PUMP", 100)],
        dc_no="DC-0009",
    )
    service.add_document(
        kind=DocumentKind.INVOICE,
        reference_no="INV-9",
        from_site="G1",
        to="Sharma Traders",
        lines=[("PUMP", 100)],
        invoice_no="INV-0009",
    )
    return service, serials


def test_every_transition_writes_the_same_through_both_paths(
    wide: tuple[StationService, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row of the table, three ways where it has them: the station's decision table in
    one call (store/scan_rules.py), decide() then the one call that applies its transition
    (dispatch: the document is read first), and the transaction that locks and decides."""
    service, serials = wide
    repo = service.repo
    by_table, one_call = service._scan_by_rules, service._scan_in_one_call
    settled: list[str] = []
    real_apply, real_rules = repo.apply_scan, repo.scan_by_rules

    def applied(write: ScanWrite):
        result = real_apply(write)
        settled.append(f"apply {result.status}")
        return result

    def ruled(scan: Any):
        monkeypatch.setattr(repo, "apply_scan", real_apply)  # SQLite's steps are its own
        result = real_rules(scan)
        monkeypatch.setattr(repo, "apply_scan", applied)
        settled.append(f"table {result.status}")
        return result

    monkeypatch.setattr(repo, "apply_scan", applied)
    monkeypatch.setattr(repo, "scan_by_rules", ruled)
    for number, row in enumerate(TRANSITIONS):
        fast, slow = serials[2 * number], serials[2 * number + 1]
        bring(service, fast, row.from_stage)
        bring(service, slow, row.from_stage)
        setup = row_station(row)
        lines_before = _scanned(service, setup.document)

        settled.clear()
        monkeypatch.setattr(service, "_scan_by_rules", by_table)
        monkeypatch.setattr(service, "_scan_in_one_call", one_call)
        by_call = scan(service, fast, setup)
        # A return also frees a line of the document it left on: two writes, so no row
        # makes it and it takes the transactional path. Every other row is settled by the
        # table, a dispatch counting its unit on the station's document's line and a receive
        # of a serial whose document is addressed here included.
        returning = row.needs is Needs.ORIGINAL_DOCUMENT
        if returning:
            assert settled == ["table read"], (row, by_call.message)
        else:
            assert settled == ["table ok"], (row, by_call.message)

        settled.clear()
        monkeypatch.setattr(service, "_scan_by_rules", lambda *a: None)
        monkeypatch.setattr(service, "_scan_in_one_call", lambda *a: None)
        by_transaction = scan(service, slow, setup)
        assert settled == []  # the transactional path used neither

        for outcome in (by_call, by_transaction):
            assert outcome.kind is OutcomeKind.OK, (row, outcome.message)
            assert (outcome.stage_before, outcome.stage_after) == (row.from_stage, row.to_stage)
            assert outcome.event_id == service.events(outcome.serial.serial_no)[-1].event_id
            # The answer shows the serial as the database now holds it, every field.
            assert outcome.serial == service.serial(outcome.serial.serial_no), row
        assert plain(by_call.message, fast) == plain(by_transaction.message, slow)
        assert replace(by_call.serial, serial_no="", secondary_qr="", updated_at=None) == replace(
            by_transaction.serial, serial_no="", secondary_qr="", updated_at=None
        )
        assert written(service, fast) == written(service, slow), row
        assert written(service, fast)[:2] == (row.to_stage, by_call.serial.site)
        if row.needs is Needs.DOCUMENT:  # each path counted its unit on the line
            assert _scanned(service, setup.document) == lines_before + 2
        if returning:  # each return freed its unit on the invoice it cites
            assert _scanned(service, setup.document) == lines_before - 2


def _scanned(service: StationService, reference: str | None) -> int:
    if reference is None:
        return 0
    document = service.document(reference)
    assert document is not None
    return sum(line.scanned for line in document.lines)


def test_the_database_applies_only_what_still_fits(
    wide: tuple[StationService, list[str]],
) -> None:
    """The store refuses a transition whose serial is no longer as decide() saw it: another
    stage or another version is `changed`, a full line is `line`, a recorded scan id is
    `recorded`; none of them writes anything."""
    service, serials = wide
    repo, serial_no = service.repo, serials[0]
    bring(service, serial_no, Stage.VALIDATED)
    read = repo.read_for_scan(serial_no, "probe-1")
    assert read is not None
    serial = read.current
    events = service.info()["events"]
    write = ScanWrite(
        serial_id=serial.id,
        version=serial.view.version,
        from_stage=Stage.VALIDATED,
        to_stage=Stage.DISPATCHED_FROM_PLANT,
        site_id=serial.site_id,
        document_id=repo.document_id("DC-1"),
        fill_document_id=repo.document_id("DC-1"),
        item_id=serial.item_id,
        scan_id="scan-x",
        mode="dispatch",
        station="T-9",
        site="P1",
        operator="op-9",
        at=utc_now(),
        recorded_at=utc_now(),
        event_document_id=repo.document_id("DC-1"),
        source="test",
        payload=serial_no,
        comment=None,
        message=f"{serial_no} dispatched",
    )
    for stage in Stage:
        if stage is not Stage.VALIDATED:
            assert repo.apply_scan(replace(write, from_stage=stage)).status == "changed"
    assert repo.apply_scan(replace(write, version=serial.view.version - 1)).status == "changed"
    repo._cursor("UPDATE document_line SET scanned = quantity")
    assert repo.apply_scan(write).status == "line"
    before = service.events(serial_no)[-1]
    assert service.info()["events"] == events  # nothing written by any of them
    assert service.serial(serial_no).stage is Stage.VALIDATED  # type: ignore[union-attr]
    repo._cursor("UPDATE document_line SET scanned = 0")
    done = repo.apply_scan(write)
    assert done.status == "ok" and done.event_id is not None
    assert repo.apply_scan(write) == replace(done, status="recorded", event_id=None, earlier="ok")
    assert service.events(serial_no)[-1].event_id == done.event_id != before.event_id


class _Counting:
    """A cursor that notes every statement it sends."""

    def __init__(self, cursor: Any, sent: list[str]) -> None:
        self._cursor, self._sent = cursor, sent

    def execute(self, sql: Any, params: Any = None) -> Any:
        self._sent.append(str(sql))
        return self._cursor.execute(sql, params)

    def __iter__(self) -> Any:
        return iter(self._cursor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


@pytest.mark.postgres
def test_a_scan_on_postgresql_is_one_round_trip(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statement the connection sends is counted: a scan that moves a serial by the
    station's table, one answered ALREADY, one found by its secondary QR code and one a
    label's GTIN names are each one statement, and no transaction is begun."""
    import time

    from tests.conftest import build_small

    service = StationService.open(pg_url, create=True)
    build_small(service)
    repo = service.repo
    qr = service.serial("SN0000000005").secondary_qr  # type: ignore[union-attr]
    register = StationSetup("T-1", "P1", Mode.REGISTER, operator="op-1")
    validate = StationSetup("T-1", "P1", Mode.VALIDATE, operator="op-1")
    reject = StationSetup("T-1", "P1", Mode.REJECT, operator="op-1", reason="scratched")
    scrap = StationSetup("T-1", "P1", Mode.SCRAP, operator="op-1", reason="dropped")
    for setup in (register, validate, reject, scrap):  # the connection and its statements warm
        scan(service, "NOT-A-SERIAL", setup)
    # The periodic check for a first user (every 2 s, not every scan) is not this test's.
    service._users_checked_at = time.monotonic() + 3600
    sent: list[str] = []
    real_cursor = repo._db.cursor
    monkeypatch.setattr(repo._db, "cursor", lambda *a, **k: _Counting(real_cursor(*a, **k), sent))
    cases = [
        ("SN0000000002", register, OutcomeKind.OK, Stage.REGISTERED),
        ("SN0000000002", validate, OutcomeKind.OK, Stage.VALIDATED),
        ("SN0000000002", validate, OutcomeKind.ALREADY, Stage.VALIDATED),
        ("SN0000000003", register, OutcomeKind.OK, Stage.REGISTERED),
        ("SN0000000003", reject, OutcomeKind.OK, Stage.NOT_VALIDATED),
        ("SN0000000003", scrap, OutcomeKind.OK, Stage.SCRAPPED),
        (qr, register, OutcomeKind.OK, Stage.REGISTERED),
        ("]d2010890123450001921SN0000000004", register, OutcomeKind.OK, Stage.REGISTERED),
    ]
    for payload, setup, kind, stage in cases:
        sent.clear()
        outcome = scan(service, payload, setup)
        assert (outcome.kind, outcome.stage_after) == (kind, stage), outcome.message
        assert len(sent) == 1, (payload, setup.mode, sent)
        assert "BEGIN" not in sent[0].upper()
    monkeypatch.undo()
    # What the one call wrote is what a user reads back.
    events = service.events("SN0000000003")
    assert [e.to_stage for e in events] == [
        Stage.REGISTERED, Stage.NOT_VALIDATED, Stage.SCRAPPED
    ]  # fmt: skip
    assert events[-1].comment == "dropped" and events[-1].outcome == "ok"
    # A refusal is decided on the serial the call read and logged by a second statement that
    # holds while the serial is as read: two, and no transaction.
    sent.clear()
    monkeypatch.setattr(repo._db, "cursor", lambda *a, **k: _Counting(real_cursor(*a, **k), sent))
    refused = scan(service, "SN0000000006", validate)
    assert refused.kind is OutcomeKind.REJECTED and refused.event_id is not None
    executed = [s for s in sent if not s.startswith("PREPARE")]  # a first use prepares
    assert len(executed) == 2 and not any("BEGIN" in s.upper() for s in sent), sent
    monkeypatch.undo()
    assert service.events("SN0000000006")[-1].outcome == "rejected"
    # A code no serial matches is logged by one statement after the call, no transaction; a
    # second delivery of that scan is told by the scan id's unique index, nothing written.
    sent.clear()
    monkeypatch.setattr(repo._db, "cursor", lambda *a, **k: _Counting(real_cursor(*a, **k), sent))
    unknown = ScanEvent("NOPE-42", source="test")
    first = service.scan(unknown, validate)
    executed = [s for s in sent if not s.startswith("PREPARE")]
    assert len(executed) == 2 and not any("BEGIN" in s.upper() for s in sent), sent
    monkeypatch.undo()
    assert first.kind is OutcomeKind.UNKNOWN and first.event_id is not None
    events = service.info()["events"]
    again = service.scan(unknown, validate)
    assert again.kind is OutcomeKind.ALREADY, again.message
    assert again.message == "This scan was already recorded (unknown)"
    assert service.info()["events"] == events
    # A product's own barcode (a plain EAN of a known item): its item read once, to say so.
    sent.clear()
    monkeypatch.setattr(repo._db, "cursor", lambda *a, **k: _Counting(real_cursor(*a, **k), sent))
    product = scan(service, "8901234500019", validate)
    executed = [s for s in sent if not s.startswith("PREPARE")]
    assert len(executed) == 3 and not any("BEGIN" in s.upper() for s in sent), sent
    monkeypatch.undo()
    assert product.kind is OutcomeKind.REJECTED and "product barcode" in product.message
    assert "(GTIN 08901234500019, Pump 1HP)" in product.message
    service.close()


@pytest.mark.postgres
def test_a_scan_that_lost_the_race_is_already_without_a_transaction(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another station registers the serial and holds its row while this one registers it:
    the one call waits for the row, finds it changed, and the serial read again is ALREADY,
    the answer the locked path gives, without the locked path's transaction; nothing is
    written for this scan."""
    import threading
    import time

    import psycopg2

    from tests.conftest import build_small

    service = StationService.open(pg_url, create=True)
    build_small(service)
    register = StationSetup("T-1", "P1", Mode.REGISTER, operator="op-1")
    scan(service, "NOT-A-SERIAL", register)  # the connection and its statements warm
    service._users_checked_at = time.monotonic() + 3600
    other = psycopg2.connect(pg_url)
    other.cursor().execute(
        "UPDATE serial SET stage = 'Registered at Plant', updated_by = 'op-2', "
        "site_id = (SELECT id FROM site WHERE code = 'P1'), version = version + 1 "
        "WHERE serial_no = 'SN0000000007'"
    )
    sent: list[str] = []
    real_cursor = service.repo._db.cursor
    monkeypatch.setattr(
        service.repo._db, "cursor", lambda *a, **k: _Counting(real_cursor(*a, **k), sent)
    )
    committer = threading.Timer(0.5, other.commit)
    committer.start()
    outcome = scan(service, "SN0000000007", register)
    committer.join()
    other.close()
    monkeypatch.undo()
    assert outcome.kind is OutcomeKind.ALREADY, outcome.message
    assert outcome.stage_after is Stage.REGISTERED and "already" in outcome.message
    executed = [s for s in sent if not s.startswith("PREPARE")]  # a first use prepares
    assert len(executed) == 2 and not any("BEGIN" in s.upper() for s in sent), sent
    assert service.events("SN0000000007") == []  # the other station's change wrote none
    assert service.serial("SN0000000007").updated_by == "op-2"  # type: ignore[union-attr]
    service.close()


@pytest.mark.postgres
def test_a_dispatch_that_lost_the_race_is_already_in_two_statements(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two gates dispatch the same unit on the same DC: the other holds the serial's row
    (dispatched on DC-1, its unit counted) while this one dispatches it. The one call waits,
    finds the serial changed and counts nothing; the serial read again is ALREADY on DC-1,
    from the station's table, no document read: two statements, no transaction, nothing
    written, the line counted once."""
    import threading
    import time

    import psycopg2

    from tests.conftest import build_small

    service = StationService.open(pg_url, create=True)
    build_small(service)
    bring(service, "SN0000000008", Stage.VALIDATED)
    dispatch = StationSetup("T-1", "P1", Mode.DISPATCH, operator="op-1", document="DC-1")
    scan(service, "NOT-A-SERIAL", dispatch)  # the connection, statements and table warm
    service._users_checked_at = time.monotonic() + 3600
    events = service.info()["events"]
    other = psycopg2.connect(pg_url)
    other.cursor().execute(
        "UPDATE serial SET stage = 'Dispatch from Plant', updated_by = 'op-2', "
        "document_id = (SELECT id FROM document WHERE reference_no = 'DC-1'), "
        "version = version + 1 WHERE serial_no = 'SN0000000008'; "
        "UPDATE document_line SET scanned = scanned + 1"
    )
    sent: list[str] = []
    real_cursor = service.repo._db.cursor
    monkeypatch.setattr(
        service.repo._db, "cursor", lambda *a, **k: _Counting(real_cursor(*a, **k), sent)
    )
    committer = threading.Timer(0.5, other.commit)
    committer.start()
    outcome = scan(service, "SN0000000008", dispatch)
    committer.join()
    other.close()
    monkeypatch.undo()
    assert outcome.kind is OutcomeKind.ALREADY, outcome.message
    assert "SN0000000008 was dispatched on DC-1 already" in outcome.message
    executed = [s for s in sent if not s.startswith("PREPARE")]  # a first use prepares
    assert len(executed) == 2 and not any("BEGIN" in s.upper() for s in sent), sent
    assert service.info()["events"] == events  # nothing written for this scan
    assert _scanned(service, "DC-1") == 1  # counted by the other gate only
    service.close()


@pytest.mark.postgres
def test_a_scan_against_a_document_on_postgresql_is_one_round_trip(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statement the connection sends is counted: a dispatch on the station's DC (its
    unit counted on the line, the count in the sentence), a receive of a serial whose DC is
    addressed here and a dispatch on an invoice are each one statement, and no transaction is
    begun. A full line, an item not on the document and a closed document are still refused
    as before, with nothing written on the line."""
    import time

    from tests.conftest import build_small

    service = StationService.open(pg_url, create=True)
    build_small(service)
    dispatch = StationSetup("T-1", "P1", Mode.DISPATCH, operator="op-1", document="DC-1")
    receive = StationSetup("T-2", "G1", Mode.RECEIVE, operator="op-2")
    sell = StationSetup("T-2", "G1", Mode.DISPATCH, operator="op-2", document="INV-1")
    for serial in ("SN0000000001", "SN0000000002", "SN0000000003", "SN0000000004"):
        bring(service, serial, Stage.VALIDATED)
    bring(service, "FN0000000021", Stage.VALIDATED)
    for setup in (dispatch, receive, sell):  # the connection, statements and tables warm
        scan(service, "NOT-A-SERIAL", setup)
    service._users_checked_at = time.monotonic() + 3600  # the periodic check is not this one's
    sent: list[str] = []
    repo = service.repo
    real_cursor = repo._db.cursor
    monkeypatch.setattr(repo._db, "cursor", lambda *a, **k: _Counting(real_cursor(*a, **k), sent))
    cases = [
        ("SN0000000001", dispatch, Stage.DISPATCHED_FROM_PLANT, "dispatched on DC-1 (1/3)"),
        ("SN0000000002", dispatch, Stage.DISPATCHED_FROM_PLANT, "dispatched on DC-1 (2/3)"),
        ("SN0000000001", receive, Stage.RECEIVED_AT_GODOWN, "SN0000000001 received"),
        ("SN0000000001", sell, Stage.DISPATCHED_FROM_GODOWN, "dispatched on INV-1 (1/2)"),
        ("SN0000000003", dispatch, Stage.DISPATCHED_FROM_PLANT, "dispatched on DC-1 (3/3)"),
    ]
    for payload, setup, stage, said in cases:
        sent.clear()
        outcome = scan(service, payload, setup)
        assert (outcome.kind, outcome.stage_after) == (OutcomeKind.OK, stage), outcome.message
        assert said in outcome.message
        assert len(sent) == 1, (payload, setup.mode, sent)
        assert "BEGIN" not in sent[0].upper()
    # A double read is ALREADY in the same one statement, nothing written: on the station's
    # DC (its line full now, which ALREADY does not look at), on an invoice, and a receive's.
    assert scan(service, "SN0000000002", receive).kind is OutcomeKind.OK
    events = service.info()["events"]
    already = [
        ("SN0000000003", dispatch, "SN0000000003 was dispatched on DC-1 already"),
        ("SN0000000002", receive, "SN0000000002 was received here already"),
        ("SN0000000001", sell, "SN0000000001 was dispatched on INV-1 already"),
    ]
    for payload, setup, said in already:
        sent.clear()
        outcome = scan(service, payload, setup)
        assert outcome.kind is OutcomeKind.ALREADY and said in outcome.message, outcome.message
        assert len(sent) == 1, (payload, setup.mode, sent)
    assert service.info()["events"] == events
    monkeypatch.undo()
    # What the one call wrote is what a user reads back: the serials on their documents, the
    # events naming them, with the answers' sentences, the lines counted.
    events = service.events("SN0000000001")
    assert [(e.to_stage, e.document) for e in events[-3:]] == [
        (Stage.DISPATCHED_FROM_PLANT, "DC-1"),
        (Stage.RECEIVED_AT_GODOWN, None),
        (Stage.DISPATCHED_FROM_GODOWN, "INV-1"),
    ]
    assert "dispatched on DC-1 (1/3)" in events[-3].message
    assert service.serial("SN0000000001").document == "INV-1"  # type: ignore[union-attr]
    assert service.serial("SN0000000003").document == "DC-1"  # type: ignore[union-attr]
    assert _scanned(service, "DC-1") == 3 and _scanned(service, "INV-1") == 1
    # Refusals: the line full, an item not on the DC, the DC closed. Nothing more counted. A
    # dispatch's refusal reads the station's document as it is now, with its lines (one
    # statement), to say why, then logs it as a register's does: three, and no transaction.
    sent.clear()
    monkeypatch.setattr(repo._db, "cursor", lambda *a, **k: _Counting(real_cursor(*a, **k), sent))
    full = scan(service, "SN0000000004", dispatch)
    executed = [s for s in sent if not s.startswith("PREPARE")]
    assert len(executed) == 3 and not any("BEGIN" in s.upper() for s in sent), sent
    monkeypatch.undo()
    assert full.kind is OutcomeKind.REJECTED and "already has 3/3 of PUMP" in full.message
    not_on = scan(service, "FN0000000021", dispatch)
    assert not_on.kind is OutcomeKind.REJECTED and "FAN is not on DC-1" in not_on.message
    service.add_document(
        kind=DocumentKind.DC, reference_no="DC-2", from_site="P1", to="G1",
        lines=[("PUMP", 5)], dc_no="DC-0002",
    )  # fmt: skip
    on_two = replace(dispatch, document="DC-2")
    scan(service, "NOT-A-SERIAL", on_two)  # its table made while DC-2 is open
    service.close_document("DC-2", reason="truck left")
    closed = scan(service, "SN0000000004", on_two)
    assert closed.kind is OutcomeKind.REJECTED and "DC-2 is closed" in closed.message
    assert _scanned(service, "DC-1") == 3 and _scanned(service, "DC-2") == 0
    assert service.serial("SN0000000004").stage is Stage.VALIDATED  # type: ignore[union-attr]
    service.close()


def _refusal(service: StationService, serial: str) -> tuple[Any, ...]:
    """The refusal event a scan left, as a supervisor reads it."""
    last = service.events(serial)[-1]
    return (
        last.outcome, last.from_stage, last.to_stage, last.document, last.comment, last.payload,
        last.mode, last.message, last.station, last.site, last.by, last.approved_by,
    )  # fmt: skip


def test_a_refusal_is_logged_the_same_by_its_one_call(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each refusal twice, on the same serial (a refusal changes nothing): logged by the one
    call that holds while the serial is as read, then by the locked path. The answer (kind,
    sentence, whether an override would apply, the role asked for) and the event logged are
    the same; the serial is untouched."""
    for serial in ("SN0000000001", "SN0000000002"):
        bring(service, serial, Stage.VALIDATED)
    scan(service, "SN0000000001", StationSetup("T-1", "P1", Mode.DISPATCH, "op-1", "DC-1"))
    bring(service, "FN0000000021", Stage.VALIDATED)
    dispatch = StationSetup("T-9", "P1", Mode.DISPATCH, operator="op-9", document="DC-1")
    cases = [
        ("SN0000000003", StationSetup("T-9", "P1", Mode.VALIDATE, operator="op-9")),
        ("SN0000000003", dispatch),  # not registered yet
        ("FN0000000021", dispatch),  # not on DC-1
        ("SN0000000002", StationSetup("T-9", "G1", Mode.SCRAP, "op-9", reason="")),
        ("SN0000000002", StationSetup("T-9", "G2", Mode.VALIDATE, operator="op-9")),
        ("SN0000000001", StationSetup("T-9", "G2", Mode.RECEIVE, operator="op-9")),  # not to G2
        ("SN0000000001", replace(dispatch, document="INV-1")),  # on DC-1 already
    ]
    one_call, repo = service._refuse_unchanged, service.repo
    real, written = repo.append_refusal_if_unchanged, []
    monkeypatch.setattr(
        repo, "append_refusal_if_unchanged", lambda **v: written.append(real(**v)) or written[-1]
    )
    for serial, setup in cases:
        before = service.serial(serial)
        written.clear()
        monkeypatch.setattr(service, "_refuse_unchanged", one_call)
        fast = scan(service, serial, setup)
        by_call = _refusal(service, serial)
        assert written == [fast.event_id], (serial, setup.mode, fast.message)  # the one call's
        monkeypatch.setattr(service, "_refuse_unchanged", lambda *a: None)
        slow = scan(service, serial, setup)
        by_lock = _refusal(service, serial)
        assert written == [fast.event_id]  # not used by the locked path
        assert fast.kind is OutcomeKind.REJECTED, (serial, setup.mode, fast.message)
        assert (fast.kind, fast.message, fast.override_allowed, fast.needs_role) == (
            slow.kind, slow.message, slow.override_allowed, slow.needs_role
        )  # fmt: skip
        assert (fast.serial, fast.stage_before, fast.stage_after) == (
            slow.serial, slow.stage_before, slow.stage_after
        )  # fmt: skip
        assert by_call == by_lock and by_call[0] == "rejected", (serial, setup.mode)
        assert fast.event_id != slow.event_id
        assert fast.event_id == service.events(serial)[-2].event_id
        assert service.serial(serial) == before
    # The receive away from its DC's destination could pass by override: said by both.
    assert fast.override_allowed is False  # the last case is a dispatch
    receive = scan(service, "SN0000000001", cases[-2][1])
    assert receive.kind is OutcomeKind.REJECTED and receive.override_allowed


def test_a_refusal_that_lost_the_race_is_decided_again_under_the_lock(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dispatch refuses a serial that is not validated; another station validates it between
    this scan's read and its refusal's write: the refusal is not written (the serial is no
    longer as read), and the locked path decides on the serial as it is now: dispatched, one
    event for this scan."""
    bring(service, "SN0000000004", Stage.REGISTERED)
    dispatch = StationSetup("T-9", "P1", Mode.DISPATCH, operator="op-9", document="DC-1")
    validate = StationSetup("T-2", "P1", Mode.VALIDATE, operator="op-2")
    repo = service.repo
    real = repo.append_refusal_if_unchanged
    written: list[int | None] = []

    def validated_meanwhile(**values: Any) -> int | None:
        monkeypatch.setattr(repo, "append_refusal_if_unchanged", real)
        assert scan(service, "SN0000000004", validate).kind is OutcomeKind.OK
        written.append(real(**values))
        return written[-1]

    monkeypatch.setattr(repo, "append_refusal_if_unchanged", validated_meanwhile)
    event = ScanEvent("SN0000000004", source="test")
    outcome = service.scan(event, dispatch)
    assert written == [None]
    assert outcome.kind is OutcomeKind.OK and outcome.stage_after is Stage.DISPATCHED_FROM_PLANT
    assert outcome.stage_before is Stage.VALIDATED, outcome.message
    mine = [e for e in service.events("SN0000000004") if e.station == "T-9"]
    assert [(e.outcome, e.to_stage) for e in mine] == [("ok", Stage.DISPATCHED_FROM_PLANT)]


@pytest.mark.postgres
def test_what_a_scan_shows_of_rows_another_terminal_made_is_read_not_guessed(
    pg_url: str,
) -> None:
    """Since schema 13 the one call returns the ids of the serial's generation run, site and
    document, and the store names them from what it has read before. A site, a run and a DC
    another terminal made after this station's first scans are not known here yet: each is
    read, and every answer shows exactly what a full read of the serial shows."""
    from tests.conftest import build_small

    service = StationService.open(pg_url, create=True)
    build_small(service)
    assert scan(service, "SN0000000001", StationSetup("T-1", "P1", Mode.REGISTER)).kind is (
        OutcomeKind.OK
    )
    other = StationService.open(pg_url)
    other.add_site("P9", "Chennai Plant", SiteKind.PLANT)
    run, made = other.generate("FAN", 2, "P9", prefix="NEW", by="op-2")
    other.add_document(
        kind=DocumentKind.DC,
        reference_no="DC-9",
        from_site="P9",
        to="G1",
        lines=[("FAN", 2)],
        dc_no="DC-0009",
    )
    at_p9 = {
        mode: StationSetup("T-1", "P9", mode, operator="op-1", document=document)
        for mode, document in (
            (Mode.REGISTER, None),
            (Mode.VALIDATE, None),
            (Mode.DISPATCH, "DC-9"),
        )
    }
    for mode in (Mode.REGISTER, Mode.VALIDATE, Mode.DISPATCH):
        moved = scan(service, made[0], at_p9[mode])
        assert moved.kind is OutcomeKind.OK, moved.message
        assert moved.serial == other.serial(made[0])
        again = scan(service, made[0], at_p9[mode])  # the serial as the call read it
        assert again.kind is OutcomeKind.ALREADY, again.message
        assert again.serial == other.serial(made[0])
    shown = again.serial
    assert shown is not None
    assert (shown.site, shown.generation_no, shown.document) == ("P9", run, "DC-9")
    registered = scan(service, made[1], at_p9[Mode.REGISTER])
    assert registered.kind is OutcomeKind.OK
    assert scan(service, made[1], at_p9[Mode.REGISTER]).serial == other.serial(made[1])
    assert other.serial(made[1]).site == "P9"  # type: ignore[union-attr]
    other.close()
    service.close()


@pytest.mark.postgres
def test_a_scan_whose_run_cannot_be_named_after_it_committed_is_still_ok_once(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call commits the move; the run's number is read after it, from a database that may
    drop the connection at that moment. The scan must answer OK (it is recorded), not call the
    function again and answer "already recorded" of its own first scan, nor say nothing was
    saved."""
    from scanstation.store.errors import StoreBusy
    from tests.conftest import build_small

    service = StationService.open(pg_url, create=True)
    build_small(service)
    register = StationSetup("T-1", "P1", Mode.REGISTER, operator="op-1")
    assert scan(service, "SN0000000001", register).kind is OutcomeKind.OK  # names loaded
    other = StationService.open(pg_url)
    _run, made = other.generate("FAN", 1, "P1", prefix="NEW", by="op-2")  # not known here
    repo = service.repo
    real_run = repo._run
    failed: list[str] = []

    def connection_lost_once(what: str, params: Any) -> Any:
        if what == "generation_no" and not failed:
            failed.append(what)
            raise StoreBusy("server closed the connection unexpectedly")
        return real_run(what, params)

    monkeypatch.setattr(repo, "_run", connection_lost_once)
    answered = scan(service, made[0], register)
    assert failed == ["generation_no"]
    assert answered.kind is OutcomeKind.OK, answered.message
    assert answered.serial is not None and answered.serial.stage is Stage.REGISTERED
    events = [(e.outcome, e.to_stage) for e in other.events(made[0])]
    assert events == [("ok", Stage.REGISTERED)]
    other.close()
    service.close()


@pytest.mark.postgres
def test_a_station_running_while_another_upgrades_the_schema_is_told_to_restart(
    pg_url: str,
) -> None:
    """A terminal on a newer scanstation migrates the site database while this one runs; when
    the scan function's result changes, this station's prepared call no longer fits. It must
    say so in words an operator can act on, and write nothing."""
    import psycopg2

    from scanstation.store.errors import StoreError
    from tests.conftest import build_small

    service = StationService.open(pg_url, create=True)
    build_small(service)
    register = StationSetup("T-1", "P1", Mode.REGISTER, operator="op-1")
    assert scan(service, "SN0000000001", register).kind is OutcomeKind.OK  # call prepared
    upgrader = psycopg2.connect(service.repo.target.url)
    upgrader.autocommit = True
    cursor = upgrader.cursor()
    cursor.execute(
        "SELECT oid::regprocedure, pg_get_functiondef(oid) FROM pg_proc "
        "WHERE proname = 'scanstation_scan'"
    )
    signature, definition = cursor.fetchone()
    # The same function with one more result column, as a later schema might make it.
    last = "OUT answer text)"
    newer = definition.replace(last, last[:-1] + ", OUT o_new integer)")
    newer = newer.replace(" RETURNS text", " RETURNS record")  # two results: a record
    assert newer != definition
    cursor.execute(f"DROP FUNCTION {signature}")
    cursor.execute(newer)
    upgrader.close()
    with pytest.raises(StoreError, match=r"upgraded .* Restart this station") as raised:
        scan(service, "SN0000000002", register)
    assert "Traceback" not in str(raised.value)
    assert service.serial("SN0000000002").stage is Stage.NOT_REGISTERED  # type: ignore[union-attr]
    assert service.events("SN0000000002") == []
    service.close()


@pytest.mark.postgres
def test_a_scan_shows_the_serials_texts_exactly_as_stored_and_as_they_are_now(
    pg_url: str,
) -> None:
    """Since schema 14 the call answers in one JSON array, not in columns: a text with quotes,
    a backslash, control characters, non-ASCII letters or characters outside the BMP comes
    back exactly as stored, and the item's name as it is now, renamed by another terminal
    after this station's first scans (nothing of the serial or its item is kept between
    scans). Every answer equals a full read of the serial."""
    import psycopg2

    from tests.conftest import build_small

    service = StationService.open(pg_url, create=True)
    build_small(service)
    operator = 'Dév "op" \\ ✓'
    register = StationSetup("T-1", "P1", Mode.REGISTER, operator=operator)
    assert scan(service, "SN0000000001", register).kind is OutcomeKind.OK  # call prepared
    odd = 'Pump "1HP" \\ 2\t½ — ✓ 𝄞\n,(x),"" \\u0041 {"a": [1]}'
    admin = psycopg2.connect(service.repo.target.url)
    admin.autocommit = True
    admin.cursor().execute("UPDATE item SET name = %s WHERE sku = 'PUMP'", (odd,))
    admin.close()
    moved = scan(service, "SN0000000002", register)
    assert moved.kind is OutcomeKind.OK, moved.message
    assert moved.serial is not None and moved.serial.item_name == odd
    assert moved.serial == service.serial("SN0000000002")
    again = scan(service, "SN0000000001", register)
    assert again.kind is OutcomeKind.ALREADY
    assert again.serial is not None
    assert (again.serial.item_name, again.serial.updated_by) == (odd, operator)
    assert again.serial == service.serial("SN0000000001")
    service.close()


def test_a_scans_texts_and_times_reach_the_database_exactly(service: StationService) -> None:
    """What a scan sends the one call (on PostgreSQL one JSON text, its times as microseconds
    the server writes as text) is recorded as the station had it: the moment it was read, to
    the microsecond and from another time zone, the payload with its escapes, quotes and
    non-ASCII, and a key of such characters looked up as itself."""
    serial = "SN0000000001"
    read_at = datetime(2026, 3, 1, 7, 8, 9, 123457, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    payload = "\ufeff" + serial + "\t"  # a byte-order mark and a tab, shown as non-ASCII signs
    before = utc_now()
    outcome = service.scan(ScanEvent(payload, source="test", read_at=read_at), _register())
    after = utc_now()
    assert outcome.kind is OutcomeKind.OK, outcome.message
    event = service.events(serial)[-1]
    assert event.at == read_at and event.at.utcoffset() == timedelta(0)
    assert event.recorded_at is not None and before <= event.recorded_at <= after
    assert service.serial(serial).updated_at == read_at
    assert event.payload == visible(payload) and not event.payload.isascii()
    # A JSON-hostile key, unknown: looked up as itself, refused as unknown, not an error.
    hostile = "NO\"PE\\É'}{"
    refused = service.scan(ScanEvent(hostile, source="test"), _register())
    assert refused.kind is OutcomeKind.UNKNOWN, refused.message
    assert visible(hostile.upper()) in refused.message


def _register() -> StationSetup:
    return StationSetup("T-8", "P1", Mode.REGISTER, operator="op-8")
