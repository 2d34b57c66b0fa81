"""A station sees what another station changed, within a second, on both backends."""

from __future__ import annotations

import threading
import time

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode
from scanstation.service import StationService
from tests.conftest import build_small, station


def test_another_station_change_wakes_the_watcher(service: StationService) -> None:
    other = StationService.open(service.repo.target.url)
    watcher = service.repo.watcher()
    try:
        assert watcher.wait(0.1)  # the first call connects and says "look now"
        last = service.repo.last_event_id()
        assert not watcher.wait(0.3)  # nothing happened: no wake-up

        woke: list[float] = []

        def watch() -> None:
            if watcher.wait(5.0):
                woke.append(time.monotonic())

        thread = threading.Thread(target=watch)
        thread.start()
        time.sleep(0.2)
        outcome = other.scan(ScanEvent("SN0000000003", source="test"), station(mode=Mode.REGISTER))
        committed = time.monotonic()
        assert outcome.kind is OutcomeKind.OK
        thread.join(timeout=6)
        # Within a second of the commit: the scan's own time (slow on a loaded machine) and
        # the thread's start are not the watcher's to answer for.
        assert woke and woke[0] - committed < 1.0
        new_last, serials, documents = service.repo.changes_since(last)
        assert serials == {"SN0000000003"} and new_last != last and documents == set()
    finally:
        watcher.close()
        other.close()


# -- finding 5: the feed follows commit order --------------------------------------------------


def _slow_writer(service: StationService, serial_no: str):
    """Writer A: inserts an event (taking the lower id) and holds its transaction open."""
    import psycopg2

    conn = psycopg2.connect(service.repo.target.url)
    cursor = conn.cursor()
    cursor.execute(
        "INSERT INTO event (kind, serial_id, station, operator, at, recorded_at, outcome) "
        "SELECT 'comment', id, 'A', 'op-a', %s, %s, 'ok' FROM serial WHERE serial_no = %s "
        "RETURNING id",
        ("2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00", serial_no),
    )
    return conn, cursor.fetchone()[0]


@pytest.mark.postgres
def test_a_lower_event_id_committed_later_is_not_missed(pg_url: str) -> None:
    """Ids are handed out at insert, not at commit: A takes id n and commits after B took n+1
    and committed. Reading `id > last` after B's commit skips A's event for good."""
    service = StationService.open(pg_url, create=True)
    build_small(service)
    start = service.change_cursor()
    slow, low_id = _slow_writer(service, "SN0000000007")
    try:
        fast = service.scan(ScanEvent("SN0000000008", source="test"), station())
        assert fast.event_id is not None and fast.event_id > low_id
        after_b, serials, _ = service.changes_since(start)
        assert serials == {"SN0000000008"}
        slow.commit()
    finally:
        slow.close()
    after_a, serials, _ = service.changes_since(after_b)
    assert serials == {"SN0000000007"}
    assert service.changes_since(after_a)[1] == set()  # each change is seen once
    service.close()


@pytest.mark.postgres
def test_writers_committing_in_any_order_are_each_seen_exactly_once(pg_url: str) -> None:
    import random

    import psycopg2

    service = StationService.open(pg_url, create=True)
    build_small(service)
    serials = [f"SN{n:010d}" for n in range(1, 21)]
    position = service.change_cursor()

    def writer(mine: list[str], seed: int) -> None:
        rng = random.Random(seed)
        conn = psycopg2.connect(pg_url)
        cursor = conn.cursor()
        for serial_no in mine:
            cursor.execute(
                "INSERT INTO event (kind, serial_id, station, operator, at, recorded_at, "
                "outcome) SELECT 'comment', id, 'W', 'op', '', '', 'ok' FROM serial "
                "WHERE serial_no = %s",
                (serial_no,),
            )
            time.sleep(rng.uniform(0, 0.05))  # commits land in another order than ids
            conn.commit()
        conn.close()

    threads = [threading.Thread(target=writer, args=(serials[i::4], i)) for i in range(4)]
    for thread in threads:
        thread.start()
    seen: list[str] = []

    def poll() -> None:
        nonlocal position
        position, rows = service.repo.dialect.feed_since(service.repo._db, position)
        seen.extend(serial for serial, _ in rows if serial)

    while any(thread.is_alive() for thread in threads):
        poll()
        time.sleep(0.005)
    poll()
    assert sorted(seen) == serials  # every event once: none missed, none twice
    service.close()
