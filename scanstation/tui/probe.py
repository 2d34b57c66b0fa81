"""What tests, benchmarks and the screenshot script watch the station through.

The station calls a few `StationHooks` at the moments that matter to a measurement (first
paint, a scan read, scans shown, a bell); in production they do nothing. `StationProbe`
records them: the outcomes in the order shown, the replays, the bells rung, and each scan's
latency from its last key to the paint that shows it. Nothing in the station reads them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from textual._time import get_time

if TYPE_CHECKING:
    from textual.app import App

    from scanstation.domain.outcome import ScanOutcome

__all__ = ["KEEP_OUTCOMES", "StationHooks", "StationProbe"]

KEEP_OUTCOMES = 1000  # the latest outcomes kept by a probe
KEEP_LATENCIES = 100_000


class StationHooks:
    """The station's measurement points; each does nothing here."""

    def attach(self, app: App[Any]) -> None:
        """The app these hooks watch (called once, as it is made)."""

    def first_paint(self) -> None:
        """The station was painted for the first time (the database opens next)."""

    def scan_read(self, ticket: int, key_time: float) -> None:
        """A scan was read (`key_time`: its last key, in Textual's clock) and queued."""

    def scans_shown(self, tickets: Sequence[int], outcomes: Sequence[ScanOutcome]) -> None:
        """The banner and the scanned list now show these scans (painted at the next
        refresh)."""

    def scans_replayed(self, outcomes: Sequence[ScanOutcome]) -> None:
        """Scans saved offline were decided on replay."""

    def bell(self) -> None:
        """The terminal bell was rung once."""


class StationProbe(StationHooks):
    """Records what the station showed, for a test or a benchmark that attaches it."""

    def __init__(self) -> None:
        self.app: App[Any] | None = None
        self.outcomes: deque[ScanOutcome] = deque(maxlen=KEEP_OUTCOMES)
        self.replayed: deque[ScanOutcome] = deque(maxlen=KEEP_OUTCOMES)
        self.latencies: list[float] = []  # seconds: a burst's last key → its row on screen
        self.first_painted: float | None = None  # perf_counter() at the first refresh
        self.bells_rung = 0
        self._key_times: dict[int, float] = {}

    def attach(self, app: App[Any]) -> None:
        self.app = app

    def first_paint(self) -> None:
        self.first_painted = time.perf_counter()

    def scan_read(self, ticket: int, key_time: float) -> None:
        self._key_times[ticket] = key_time

    def scans_shown(self, tickets: Sequence[int], outcomes: Sequence[ScanOutcome]) -> None:
        self.outcomes.extend(outcomes)
        shown = [self._key_times.pop(ticket) for ticket in tickets if ticket in self._key_times]
        if shown and self.app is not None:
            self.app.call_after_refresh(self._painted, shown)

    def _painted(self, key_times: list[float]) -> None:
        now = get_time()
        if len(self.latencies) < KEEP_LATENCIES:
            self.latencies.extend(now - key_time for key_time in key_times)

    def scans_replayed(self, outcomes: Sequence[ScanOutcome]) -> None:
        self.replayed.extend(outcomes)

    def bell(self) -> None:
        self.bells_rung += 1
