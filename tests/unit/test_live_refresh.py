"""A station sees what another station changed, within a second, on both backends."""

from __future__ import annotations

import threading
import time

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode
from scanstation.service import StationService
from tests.conftest import station


def test_another_station_change_wakes_the_watcher(service: StationService) -> None:
    other = StationService.open(service.repo.target.url)
    watcher = service.repo.watcher()
    try:
        assert watcher.wait(0.1)  # the first call connects and says "look now"
        last = service.repo.last_event_id()
        assert not watcher.wait(0.3)  # nothing happened: no wake-up

        woke: list[float] = []

        def watch() -> None:
            started = time.monotonic()
            if watcher.wait(5.0):
                woke.append(time.monotonic() - started)

        thread = threading.Thread(target=watch)
        thread.start()
        time.sleep(0.2)
        outcome = other.scan(ScanEvent("SN0000000003", source="test"), station(mode=Mode.REGISTER))
        assert outcome.kind is OutcomeKind.OK
        thread.join(timeout=6)
        assert woke and woke[0] < 1.0
        new_last, serials, documents = service.repo.changes_since(last)
        assert serials == {"SN0000000003"} and new_last != last and documents == set()
    finally:
        watcher.close()
        other.close()
