"""Intake: every payload the station reads (wedge burst, camera, manual field, paste) becomes a
scan with a ticket and is handed to the worker in arrival order, with the station as it is
at that moment. Scans read before the database has opened wait here, in order."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual._time import get_time

if TYPE_CHECKING:
    from scanstation.domain.model import ScanEvent
    from scanstation.station import StationSetup
    from scanstation.tui.probe import StationHooks
    from scanstation.tui.scan_worker import StationWorker
    from scanstation.tui.station_state import StationState

__all__ = ["ScanIntake", "split_paste"]


def split_paste(text: str) -> list[str]:
    """One scan a pasted line. Only CR/LF end a line: str.splitlines() would also cut at GS,
    RS and FS, which are data in GS1 codes. A lone CR counts, as terminals paste newlines as
    CR. Blank lines are skipped."""
    return [line for line in re.split(r"\r\n|\n|\r", text) if line.strip(" \t")]


class ScanIntake:
    """Tickets scans and hands them to the worker once there is one."""

    def __init__(
        self, state: StationState, hooks: StationHooks, now: Callable[[], datetime]
    ) -> None:
        self._state = state
        self._hooks = hooks
        self._now = now
        self._worker: StationWorker | None = None
        self._ticket = 0
        # Scans read before the worker started, with the station as it was when read.
        self._early: list[tuple[int, ScanEvent, StationSetup]] = []

    def attach(self, worker: StationWorker) -> None:
        """The worker has started: what was read before it goes first, in order."""
        self._worker = worker
        for ticket, event, setup in self._early:
            worker.submit_scan(ticket, event, setup)
        self._early.clear()

    def submit(self, payload: str, source: str, *, key_time: float | None = None) -> int:
        """Queue one scan read now; returns its ticket."""
        from scanstation.domain.model import ScanEvent

        event = ScanEvent(payload, source=source, read_at=self._now())
        return self._queue(event, self._state.setup(), key_time)

    def submit_lines(self, text: str, source: str) -> None:
        """Pasted text: one scan a line."""
        for line in split_paste(text):
            self.submit(line, source)

    def rescan(self, event: ScanEvent, **changes: Any) -> int:
        """The same payload again, read now, with the station changed as given (an override
        adds its reason)."""
        from scanstation.domain.model import ScanEvent

        again = ScanEvent(event.payload, source=event.source, read_at=self._now())
        return self._queue(again, self._state.setup(**changes), None)

    def _queue(self, event: ScanEvent, setup: StationSetup, key_time: float | None) -> int:
        self._ticket += 1
        ticket = self._ticket
        self._hooks.scan_read(ticket, key_time if key_time is not None else get_time())
        if self._worker is None:
            self._early.append((ticket, event, setup))
        else:
            self._worker.submit_scan(ticket, event, setup)
        return ticket
