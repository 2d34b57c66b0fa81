"""`db info` reads counts kept as rows are written (store/tally.py), never a count of the
tables: after generation runs, imports, scans, refusals and a change made by hand, on both
databases, its figures equal a true COUNT; a database from schema 5 gets its counts at
migration."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode, Stage
from scanstation.service import StationService
from scanstation.store.database import SCHEMA_VERSION
from tests.conftest import build_small, station
from tests.unit.test_store import _as_schema_6


def true_counts(service: StationService) -> tuple[dict[str, int], int]:
    """Serials per stage and events, counted the slow way."""
    repo = service.repo
    by_stage = dict(repo._cursor("SELECT stage, count(*) FROM serial GROUP BY stage").fetchall())
    events = repo._cursor("SELECT count(*) FROM event").fetchone()[0]
    return {stage.value: by_stage.get(stage.value, 0) for stage in Stage}, events


def assert_info_is_true(service: StationService) -> dict[str, object]:
    info = service.info()
    by_stage, events = true_counts(service)
    assert info["serials_by_stage"] == by_stage
    assert info["serials"] == sum(by_stage.values())
    assert info["events"] == events
    return info


def test_db_info_counts_what_every_kind_of_write_did(
    service: StationService, tmp_path: Path
) -> None:
    assert_info_is_true(service)
    service.generate("PUMP", 30, "P1", prefix="TL")
    csv = tmp_path / "units.csv"
    csv.write_text(
        "serial_no,sku,generation_no,secondary_qr\nIMP-1,PUMP,,\nIMP-2,FAN,,\n", encoding="utf-8"
    )
    assert service.import_csv(csv).written
    bad = tmp_path / "bad.csv"
    bad.write_text("serial_no,sku,generation_no,secondary_qr\nIMP-3,NOSUCH,,\n")
    assert not service.import_csv(bad).written  # all or nothing: nothing counted either
    info = assert_info_is_true(service)
    assert info["serials"] == 20 + 5 + 30 + 2

    for serial in ("SN0000000001", "SN0000000002", "IMP-1"):
        assert service.scan(ScanEvent(serial), station()).kind is OutcomeKind.OK
        assert service.scan(ScanEvent(serial), station(mode=Mode.VALIDATE)).kind is OutcomeKind.OK
    assert service.scan(ScanEvent("SN0000000001"), station()).kind is OutcomeKind.REJECTED
    assert service.scan(ScanEvent("NOPE-1"), station()).kind is OutcomeKind.UNKNOWN
    rejected = station(mode=Mode.REJECT, reason="QC fail")
    assert service.scan(ScanEvent("SN0000000003"), station()).kind is OutcomeKind.OK
    assert service.scan(ScanEvent("SN0000000003"), rejected).kind is OutcomeKind.OK
    info = assert_info_is_true(service)
    assert info["serials_by_stage"][Stage.VALIDATED.value] == 3
    assert info["serials_by_stage"][Stage.NOT_VALIDATED.value] == 1

    # A change made by hand (a correction, a repair) counts too: the triggers see every write.
    repo = service.repo
    repo._cursor("UPDATE serial SET stage = 'Scrapped' WHERE serial_no = 'SN0000000004'")
    repo._cursor("UPDATE serial SET updated_by = 'fixer' WHERE serial_no = 'SN0000000005'")
    repo._cursor(
        "DELETE FROM serial WHERE serial_no = 'FN0000000025' "
        "AND NOT EXISTS (SELECT 1 FROM event WHERE serial_id = serial.id)"
    )
    info = assert_info_is_true(service)
    assert info["serials_by_stage"][Stage.SCRAPPED.value] == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_version_5_database_gets_its_counts_at_migration(
    backend: str, db_url: str, request: pytest.FixtureRequest
) -> None:
    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    service = StationService.open(url, create=True)
    build_small(service)
    service.scan(ScanEvent("SN0000000001"), station())
    repo = service.repo
    _as_schema_6(repo)  # what schema 7 added goes first
    for trigger in ("tally_serial_stage", "tally_serial_delete"):
        repo._cursor(f"DROP TRIGGER {trigger}" + (" ON serial" if backend != "sqlite" else ""))
    repo._cursor("DROP TRIGGER tally_event_insert" + (" ON event" if backend != "sqlite" else ""))
    repo._cursor("DROP TABLE tally")
    repo._cursor("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    service.close()

    service = StationService.open(url)
    info = assert_info_is_true(service)
    assert info["schema_version"] == SCHEMA_VERSION
    assert info["serials"] == 25 and info["serials_by_stage"][Stage.REGISTERED.value] == 1
    assert service.scan(ScanEvent("SN0000000002"), station()).kind is OutcomeKind.OK
    assert assert_info_is_true(service)["serials_by_stage"][Stage.REGISTERED.value] == 2
    service.close()


@pytest.mark.postgres
def test_postgresql_stations_count_in_slots_of_their_own(pg_url: str) -> None:
    """Two stations scanning at once do not update one shared count row (they would wait on
    each other); a generation run counts in the bulk slot, which no scan uses."""
    first = StationService.open(pg_url, create=True)
    build_small(first)
    second = StationService.open(pg_url)
    for service, serial in ((first, "SN0000000001"), (second, "SN0000000002")):
        assert service.scan(ScanEvent(serial), station()).kind is OutcomeKind.OK
    pids = {
        service.repo._cursor("SELECT pg_backend_pid()").fetchone()[0] for service in (first, second)
    }
    slots = {
        slot
        for (slot,) in first.repo._cursor(
            "SELECT slot FROM tally WHERE name = ?", (Stage.REGISTERED.value,)
        ).fetchall()
    }
    assert slots == {1 + pid % 63 for pid in pids}
    bulk = first.repo._cursor(
        "SELECT n FROM tally WHERE name = ? AND slot = 0", (Stage.NOT_REGISTERED.value,)
    ).fetchone()
    assert bulk == (25,)  # build_small's two runs
    assert_info_is_true(first)
    first.close()
    second.close()
