"""Stations racing for the same serials, as separate processes: exactly one transition per
change, one event per transition; the losers get ALREADY, never an error or a duplicate."""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter

import pytest

from scanstation.service import StationService
from tests.conftest import build_small

SERIALS = [f"SN{n:010d}" for n in range(1, 21)]
STATIONS = 4


def _race(
    url: str,
    station_no: int,
    mode: str,
    start: mp.synchronize.Event,
    results: mp.Queue,
    document: str | None = None,
) -> None:
    from scanstation.domain.model import ScanEvent
    from scanstation.domain.stages import Mode
    from scanstation.service import StationSetup

    service = StationService.open(url)
    setup = StationSetup(
        f"RACE-{station_no}", "P1", Mode(mode), operator=f"op-{station_no}", document=document
    )
    start.wait()
    outcomes = []
    # Each station walks the list from a different end, so they collide in the middle too.
    order = SERIALS if station_no % 2 else list(reversed(SERIALS))
    for serial in order:
        try:
            outcomes.append(service.scan(ScanEvent(serial, source="test"), setup).kind.value)
        except Exception as error:
            outcomes.append(f"error: {error}")
    service.close()
    results.put(outcomes)


def run_race(url: str, mode: str, document: str | None = None) -> Counter[str]:
    ctx = mp.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(url, n, mode, start, results, document))
        for n in range(STATIONS)
    ]
    for proc in procs:
        proc.start()
    start.set()
    counts: Counter[str] = Counter()
    for _ in procs:
        counts.update(results.get(timeout=120))
    for proc in procs:
        proc.join(timeout=30)
    return counts


def check_race(url: str) -> None:
    service = StationService.open(url, create=True)
    build_small(service)
    service.close()
    for mode in ("register", "validate"):
        counts = run_race(url, mode)
        assert counts == {"ok": len(SERIALS), "already": len(SERIALS) * (STATIONS - 1)}, counts
    service = StationService.open(url)
    for serial in SERIALS:
        events = service.events(serial)
        assert [e.to_stage.value for e in events if e.to_stage] == [
            "Registered at Plant",
            "Validated at Plant",
        ]
    service.close()


def test_racing_stations_on_one_sqlite_file(db_url: str) -> None:
    check_race(db_url)


@pytest.mark.postgres
def test_racing_stations_on_postgresql(pg_url: str) -> None:
    check_race(pg_url)


def check_dispatch_race(url: str) -> None:
    """Stations dispatching the same 20 validated serials on one DC whose line takes 3: the
    line is counted exactly 3 times, 3 serials are dispatched once each, and every other scan
    is ALREADY (that serial went on DC-1), or refused (the line full, or filled at that very
    moment): never an error, never a fourth unit on the line."""
    check_race(url)  # registered, then validated
    counts = run_race(url, "dispatch", "DC-1")
    assert counts["ok"] == 3, counts
    assert set(counts) <= {"ok", "already", "rejected", "conflict"}, counts
    assert counts["already"] == 3 * (STATIONS - 1), counts
    service = StationService.open(url)
    document = service.document("DC-1")
    assert document is not None and [line.scanned for line in document.lines] == [3]
    dispatched = []
    for serial in SERIALS:
        moves = [e for e in service.events(serial) if e.to_stage and e.outcome == "ok"]
        if len(moves) == 3:
            assert moves[-1].document == "DC-1"
            dispatched.append(serial)
        else:
            assert len(moves) == 2, moves
    assert len(dispatched) == 3
    service.close()


def test_racing_dispatches_on_one_sqlite_file(db_url: str) -> None:
    check_dispatch_race(db_url)


@pytest.mark.postgres
def test_racing_dispatches_on_postgresql(pg_url: str) -> None:
    check_dispatch_race(pg_url)
