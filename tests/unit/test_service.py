"""StationService on a real SQLite file: what a dock worker and a supervisor would notice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode, Stage
from scanstation.service import ServiceError, StationService, StationSetup
from tests.conftest import station

GS = "\x1d"


def scan(service: StationService, payload: str, setup=None, **kw):
    return service.scan(ScanEvent(payload, source="test", **kw), setup or station())


def event_count(service: StationService) -> int:
    return service.info()["events"]  # type: ignore[return-value]


def move(service: StationService, serial: str, *steps: tuple[str, Mode, dict]) -> None:
    for site, mode, extra in steps:
        outcome = scan(service, serial, station(site, mode, **extra))
        assert outcome.kind is OutcomeKind.OK, outcome.message


TO_VALIDATED = (("P1", Mode.REGISTER, {}), ("P1", Mode.VALIDATE, {}))
TO_GODOWN = (*TO_VALIDATED, ("P1", Mode.DISPATCH, {"document": "DC-1"}), ("G1", Mode.RECEIVE, {}))


def test_register_then_again_is_already_and_writes_no_event(service: StationService) -> None:
    first = scan(service, "SN0000000001")
    assert first.kind is OutcomeKind.OK
    assert (first.stage_before, first.stage_after) == (Stage.NOT_REGISTERED, Stage.REGISTERED)
    events = event_count(service)
    again = scan(service, "SN0000000001")
    assert again.kind is OutcomeKind.ALREADY
    assert "already" in again.message
    assert event_count(service) == events
    history = service.events("SN0000000001")
    assert [(e.from_stage, e.to_stage) for e in history] == [
        (Stage.NOT_REGISTERED, Stage.REGISTERED)
    ]
    assert history[0].station == "T-1" and history[0].by == "op-1"


def test_the_whole_life_of_a_serial(service: StationService) -> None:
    move(
        service,
        "SN0000000002",
        *TO_GODOWN,
        ("G1", Mode.DISPATCH, {"document": "INV-1"}),
        ("G1", Mode.RECEIVE, {"document": "INV-1"}),  # a customer return, invoice cited
        ("G1", Mode.SCRAP, {"reason": "water damage"}),
    )
    view = service.serial("SN0000000002")
    assert view is not None and view.stage is Stage.SCRAPPED
    stages = [e.to_stage for e in service.events("SN0000000002")]
    assert stages == [
        Stage.REGISTERED,
        Stage.VALIDATED,
        Stage.DISPATCHED_FROM_PLANT,
        Stage.RECEIVED_AT_GODOWN,
        Stage.DISPATCHED_FROM_GODOWN,
        Stage.RECEIVED_AT_GODOWN,
        Stage.SCRAPPED,
    ]
    refused = scan(service, "SN0000000002", station("G1", Mode.RECEIVE))
    assert refused.kind is OutcomeKind.REJECTED and "Scrapped" in refused.message


def test_reject_needs_a_reason_and_the_refusal_is_logged(service: StationService) -> None:
    move(service, "SN0000000003", ("P1", Mode.REGISTER, {}))
    refused = scan(service, "SN0000000003", station(mode=Mode.REJECT))
    assert refused.kind is OutcomeKind.REJECTED and "reason" in refused.message
    assert service.serial("SN0000000003").stage is Stage.REGISTERED  # type: ignore[union-attr]
    last = service.events("SN0000000003")[-1]
    assert last.outcome == "rejected" and last.to_stage is None
    ok = scan(service, "SN0000000003", station(mode=Mode.REJECT, reason="dent on casing"))
    assert ok.kind is OutcomeKind.OK and ok.stage_after is Stage.NOT_VALIDATED
    assert service.events("SN0000000003")[-1].comment == "dent on casing"


def test_dispatch_needs_a_document_that_fits(service: StationService) -> None:
    move(service, "SN0000000004", *TO_VALIDATED)
    no_doc = scan(service, "SN0000000004", station(mode=Mode.DISPATCH))
    assert no_doc.kind is OutcomeKind.REJECTED and "open a DC" in no_doc.message
    move(service, "FN0000000021", *TO_VALIDATED)
    not_on = scan(service, "FN0000000021", station(mode=Mode.DISPATCH, document="DC-1"))
    assert not_on.kind is OutcomeKind.REJECTED and "not on DC-1" in not_on.message
    for serial in ("SN0000000005", "SN0000000006", "SN0000000007", "SN0000000008"):
        move(service, serial, *TO_VALIDATED)
    results = [
        scan(service, sn, station(mode=Mode.DISPATCH, document="DC-1")).kind
        for sn in ("SN0000000004", "SN0000000005", "SN0000000006", "SN0000000007")
    ]
    assert results == [OutcomeKind.OK] * 3 + [OutcomeKind.REJECTED]
    document = service.document("DC-1")
    assert document is not None and document.lines[0].scanned == 3


def test_receive_elsewhere_needs_an_override(service: StationService) -> None:
    move(service, "SN0000000009", *TO_VALIDATED, ("P1", Mode.DISPATCH, {"document": "DC-1"}))
    wrong = scan(service, "SN0000000009", station("G2", Mode.RECEIVE))
    assert wrong.kind is OutcomeKind.REJECTED and "G1" in wrong.message
    override = scan(service, "SN0000000009", station("G2", Mode.RECEIVE, reason="rerouted"))
    assert override.kind is OutcomeKind.OK
    assert service.serial("SN0000000009").site == "G2"  # type: ignore[union-attr]


def test_unknown_and_hostile_payloads_are_logged_escaped_and_change_nothing(
    service: StationService,
) -> None:
    before = [v.stage for v in service.export()]
    hostile = [
        "NOPE-1",
        "[red]x[/]",
        "[@click=app.quit]Q[/]",
        "\x1b[2J\x1b[31mX",
        "",
        "   ",
        "A" * 5000,
        "]",
        "]Yx",
        "]C1",
        "\x11\x11",
        "SN0000000001\x00",
    ]
    for payload in hostile:
        outcome = scan(service, payload)
        assert outcome.kind in (OutcomeKind.UNKNOWN, OutcomeKind.REJECTED), payload
        assert outcome.message
    assert [v.stage for v in service.export()] == before
    rows = [(e.payload, e.outcome) for _id, e in reversed(service.repo.recent_events())]
    assert len(rows) == len(hostile)
    assert all(not any(ord(c) < 32 for c in payload or "") for payload, _ in rows)
    assert rows[3][0].startswith("␛[2J")


def test_secondary_qr_and_gs1_resolve_to_the_serial(service: StationService) -> None:
    view = service.serial("SN0000000010")
    assert view is not None and view.secondary_qr
    by_qr = scan(service, view.secondary_qr)
    assert by_qr.kind is OutcomeKind.OK and by_qr.serial_no == "SN0000000010"
    gs1 = f"]d2010890123450001921SN0000000011{GS}10LOT7"
    by_gs1 = scan(service, gs1)
    assert by_gs1.kind is OutcomeKind.OK and by_gs1.serial_no == "SN0000000011"
    wrong_gtin = scan(service, "]d2010890123450004021SN0000000012")
    assert wrong_gtin.kind is OutcomeKind.REJECTED and "GTIN" in wrong_gtin.message
    product_only = scan(service, "]E08901234500019")
    assert product_only.kind is OutcomeKind.REJECTED and "product barcode" in product_only.message


def test_serials_are_unique_after_normalisation(service: StationService) -> None:
    typed = scan(service, "  sn0000000013 \r\n")
    assert typed.kind is OutcomeKind.OK and typed.serial_no == "SN0000000013"


def test_lookup_changes_nothing_and_writes_no_event(service: StationService) -> None:
    events = event_count(service)
    found = scan(service, "SN0000000014", station(mode=Mode.LOOKUP))
    assert found.kind is OutcomeKind.OK and found.serial is not None
    assert found.serial.item_name == "Pump 1HP"
    missing = scan(service, "NOPE", station(mode=Mode.LOOKUP))
    assert missing.kind is OutcomeKind.UNKNOWN
    assert event_count(service) == events


def test_a_retried_scan_applies_once(service: StationService) -> None:
    event = ScanEvent("SN0000000015", source="test")
    first = service.scan(event, station())
    again = service.scan(event, station(mode=Mode.VALIDATE))
    assert first.kind is OutcomeKind.OK
    assert again.kind is OutcomeKind.ALREADY and "already recorded" in again.message
    assert service.serial("SN0000000015").stage is Stage.REGISTERED  # type: ignore[union-attr]
    assert len(service.events("SN0000000015")) == 1


def test_a_second_delivery_recorded_between_the_read_and_the_write_is_answered_once(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same scan (one scan id) delivered twice at once, the other delivery refused and
    logged after this one read the serial and before it writes: this one moves nothing and
    answers with what the other recorded; the scan id keeps its one event. (SQLite's usual
    scan checks this by the event's unique scan id, not by a SELECT under its lock.)"""
    event = ScanEvent("SN0000000019", source="test")
    other = StationService.open(service.repo.target.url)  # another terminal's connection
    real_write = service.repo.write

    def write_after_the_other(work, **kw):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(service.repo, "write", real_write)
        refused = other.scan(event, station(mode=Mode.VALIDATE))  # not registered yet
        assert refused.kind is OutcomeKind.REJECTED, refused.message
        return real_write(work, **kw)

    monkeypatch.setattr(service.repo, "write", write_after_the_other)
    outcome = service.scan(event, station())
    other.close()
    assert outcome.kind is OutcomeKind.ALREADY, outcome.message
    assert outcome.message == "This scan was already recorded (rejected)"
    assert service.serial("SN0000000019").stage is Stage.NOT_REGISTERED  # type: ignore[union-attr]
    assert [e.outcome for e in service.events("SN0000000019")] == ["rejected"]


def scan_while_another_station_changes(
    service: StationService, serial_no: str, set_sql: str, setup: StationSetup
):
    """Another station's transaction changes the serial and holds it (PostgreSQL: the row
    lock; SQLite: the write lock) while this scan arrives, and commits half a second later."""
    if service.backend == "sqlite":
        import sqlite3

        other = sqlite3.connect(service.database_path, isolation_level=None, timeout=5)
        other.execute("BEGIN IMMEDIATE")
    else:
        import psycopg2

        other = psycopg2.connect(service.repo.target.url)
    other.cursor().execute(f"UPDATE serial SET {set_sql} WHERE serial_no = '{serial_no}'")
    results: list = []
    thread = threading.Thread(target=lambda: results.append(scan(service, serial_no, setup)))
    thread.start()
    time.sleep(0.5)
    other.execute("COMMIT") if service.backend == "sqlite" else other.commit()
    other.close()
    thread.join(timeout=10)
    return results[0]


def test_a_change_under_the_station_is_a_conflict(service: StationService) -> None:
    """Another station scraps the serial at the very moment this one validates it: the same
    CONFLICT on both databases (finding 14), not a plain REJECTED."""
    move(service, "SN0000000016", ("P1", Mode.REGISTER, {}))
    outcome = scan_while_another_station_changes(
        service,
        "SN0000000016",
        "stage = 'Scrapped', updated_by = 'sup-9', version = version + 1",
        station(mode=Mode.VALIDATE),
    )
    assert outcome.kind is OutcomeKind.CONFLICT, outcome.message
    assert "changed at this moment" in outcome.message and "Scrapped" in outcome.message
    assert service.serial("SN0000000016").stage is Stage.SCRAPPED  # type: ignore[union-attr]
    assert service.events("SN0000000016")[-1].outcome == "conflict"


def test_a_refusal_while_another_station_changed_nothing_that_matters_is_rejected(
    service: StationService,
) -> None:
    """Finding 14: CONFLICT only when the scan would have applied to the serial as first
    read. Another station's change to a serial this scan could never move is REJECTED."""
    outcome = scan_while_another_station_changes(
        service,
        "SN0000000017",
        "updated_by = 'sup-9', version = version + 1",
        station(mode=Mode.VALIDATE),
    )
    assert outcome.kind is OutcomeKind.REJECTED, outcome.message


def test_closing_a_short_document_needs_a_reason(service: StationService) -> None:
    with pytest.raises(ServiceError, match="short"):
        service.close_document("DC-1")
    closed = service.close_document("DC-1", reason="truck full")
    assert closed.state == "closed" and closed.closed_reason == "truck full"
    move(service, "SN0000000017", *TO_VALIDATED)
    late = scan(service, "SN0000000017", station(mode=Mode.DISPATCH, document="DC-1"))
    assert late.kind is OutcomeKind.REJECTED and "closed" in late.message


def test_comment_is_an_event(service: StationService) -> None:
    event = service.comment("SN0000000018", "[b]fragile[/b]", station())
    assert event.comment == "[b]fragile[/b]"
    with pytest.raises(ServiceError):
        service.comment("SN0000000018", "   ", station())


def test_generate_makes_gs1_sized_serials_with_unique_secondary_qr(
    service: StationService,
) -> None:
    run, serials = service.generate("FAN", 500, "P1", prefix="abc")
    assert run.startswith("G-") and len(serials) == 500 and len(set(serials)) == 500
    assert all(len(sn) <= 20 and sn.startswith("ABC") for sn in serials)
    views = [service.serial(sn) for sn in serials[:50]]
    assert all(v is not None and v.stage is Stage.NOT_REGISTERED for v in views)
    assert len({v.secondary_qr for v in views if v}) == 50
    with pytest.raises(ServiceError, match="too long"):
        service.generate("FAN", 1, "P1", prefix="ABCDEFGHIJK")
    with pytest.raises(ServiceError, match="AI 82"):
        service.generate("FAN", 1, "P1", prefix="A B")
    with pytest.raises(ServiceError, match="plant"):
        service.generate("FAN", 1, "G1")


def test_import_is_all_or_nothing_with_line_numbers(
    service: StationService, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "serial_no,sku,generation_no,secondary_qr\n"
        "IMP-1,PUMP,GX-1,QR-IMP-1\n"
        "imp-1,PUMP,,\n"  # duplicate after normalisation
        "IMP-2,NOSUCH,,\n"  # unknown SKU
        "SN0000000001,PUMP,,\n"  # already in the database
        "IMP-3,PUMP\n",  # bad row
        encoding="utf-8",
    )
    serials_before = service.info()["serials"]
    report = service.import_csv(bad)
    assert not report.written
    assert [p.line for p in report.problems] == [3, 4, 5, 6]
    assert "repeats line 2" in report.problems[0].message
    assert service.info()["serials"] == serials_before
    good = tmp_path / "good.csv"
    good.write_text(
        "serial_no,sku,generation_no,secondary_qr\nIMP-1,PUMP,GX-1,QR-IMP-1\nIMP-2,FAN,,\n",
        encoding="utf-8",
    )
    assert not service.import_csv(good, dry_run=True).written
    assert service.info()["serials"] == serials_before
    assert service.import_csv(good).written
    assert scan(service, "qr-imp-1").serial_no == "IMP-1"
    assert service.serial("IMP-1").generation_no == "GX-1"  # type: ignore[union-attr]


# -- what the faces get back from a scan (issue 11) -------------------------------------------


def test_a_scan_answers_the_id_of_the_event_it_wrote(service: StationService) -> None:
    ok = scan(service, "SN0000000019")
    newest_id, newest = service.recent_events(limit=1)[0]
    assert ok.event_id == newest_id and newest.serial_no == "SN0000000019"
    assert scan(service, "SN0000000019").event_id is None  # already: nothing written
    refused = scan(service, "SN0000000019", station(mode=Mode.REJECT))  # no reason
    assert refused.kind is OutcomeKind.REJECTED
    assert refused.event_id == service.recent_events(limit=1)[0][0] > newest_id
    unknown = scan(service, "NOPE-42")
    assert unknown.kind is OutcomeKind.UNKNOWN and unknown.event_id is not None
    assert scan(service, "SN0000000019", station(mode=Mode.LOOKUP)).event_id is None


def test_a_refusal_says_when_an_override_would_apply(service: StationService) -> None:
    move(service, "SN0000000009", *TO_VALIDATED, ("P1", Mode.DISPATCH, {"document": "DC-1"}))
    elsewhere = scan(service, "SN0000000009", station("G2", Mode.RECEIVE))
    assert elsewhere.kind is OutcomeKind.REJECTED and elsewhere.override_allowed
    no_reason = scan(service, "SN0000000009", station("P1", Mode.REGISTER))
    assert no_reason.kind is OutcomeKind.REJECTED and not no_reason.override_allowed
    assert not scan(service, "SN0000000010", station(mode=Mode.REJECT)).override_allowed


def test_a_duplicate_delivery_of_a_rejected_scan_says_rejected(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two deliveries of one scan race: the loser's check inside the transaction saw nothing
    yet, its insert hits the scan id's unique index, and it must report what the winner
    recorded (finding 14: it said "already recorded (ok)")."""
    event = ScanEvent("SN0000000011", source="test")
    first = service.scan(event, station(mode=Mode.VALIDATE))  # Not Registered: refused
    assert first.kind is OutcomeKind.REJECTED
    from dataclasses import replace

    repo = service.repo
    real_lock = repo.lock_for_scan
    monkeypatch.setattr(repo, "lock_for_scan", lambda *a: replace(real_lock(*a), earlier=None))
    again = service.scan(event, station(mode=Mode.VALIDATE))
    assert again.kind is OutcomeKind.ALREADY
    assert again.message == "This scan was already recorded (rejected)"
    assert again.event_id is None


def test_a_replayed_offline_scan_does_not_undo_a_newer_decision(
    service: StationService,
) -> None:
    """Finding 4: B registers X; A, offline, validates X (kept in its journal); B rejects X
    for a failed QC; A's scan replayed later must not make X Validated, and the history reads
    in the order things were recorded."""
    move(service, "SN0000000012", ("P1", Mode.REGISTER, {}))
    offline = ScanEvent("SN0000000012", source="test")  # read now, on terminal A, offline
    time.sleep(0.01)
    qc = StationSetup("B-QC", "P1", Mode.REJECT, operator="qc-7", reason="QC fail")
    assert service.scan(ScanEvent("SN0000000012", source="test"), qc).kind is OutcomeKind.OK
    replayed = service.scan(offline, StationSetup("A-1", "P1", Mode.VALIDATE), replay=True)
    assert replayed.kind is OutcomeKind.CONFLICT, replayed.message
    assert "changed since this scan was read offline" in replayed.message
    assert (
        "Not Validated at Plant by qc-7" in replayed.message and "not applied" in replayed.message
    )
    assert service.serial("SN0000000012").stage is Stage.NOT_VALIDATED  # type: ignore[union-attr]
    history = service.events("SN0000000012")
    assert [(e.station, e.outcome) for e in history] == [
        ("T-1", "ok"),
        ("B-QC", "ok"),
        ("A-1", "conflict"),
    ]
    assert history[-1].at < history[1].recorded_at < history[-1].recorded_at  # type: ignore[operator]
    assert replayed.event_id == history[-1].event_id
    assert service.recorded_outcome(offline.scan_id) == "conflict"


def test_a_replayed_scan_nobody_else_touched_applies(service: StationService) -> None:
    move(service, "SN0000000013", ("P1", Mode.REGISTER, {}))
    offline = ScanEvent("SN0000000013", source="test")
    # The same station's own later scans do not count against it.
    scan(service, "SN0000000013", station(mode=Mode.LOOKUP))
    replayed = service.scan(offline, station(mode=Mode.VALIDATE), replay=True)
    assert replayed.kind is OutcomeKind.OK
