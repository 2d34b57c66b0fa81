"""Intake: every payload the station reads (wedge burst, camera, manual field, paste) becomes a
scan with a ticket (its number in the session) and is handed to the worker in arrival order,
with the station as it is at that moment.

Scans read before the database has opened wait here, in order. So do scans read while the
worker is changing the mode (a mode picker, a document picker or a document form is open,
`hold`): they are applied once it is done (`release`), in order, in the mode and document
then chosen — never in the mode being left.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
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
    """Tickets scans and hands them to the worker once there is one (and nothing holds them).

    `divert(payload)` may take a payload before it is a scan (a document picker picks the
    document it names); `on_sent(ticket, payload)` hears of each scan handed to the worker,
    `on_held(count)` of the number held."""

    def __init__(
        self,
        state: StationState,
        hooks: StationHooks,
        now: Callable[[], datetime],
        *,
        on_sent: Callable[[int, str], None] = lambda ticket, payload: None,
        on_held: Callable[[int], None] = lambda count: None,
        divert: Callable[[str], bool] = lambda payload: False,
    ) -> None:
        self._state = state
        self._hooks = hooks
        self._now = now
        self._on_sent = on_sent
        self._on_held = on_held
        self._divert = divert
        self._worker: StationWorker | None = None
        self._ticket = 0
        # Scans read before the worker started, with the station as it was when read.
        self._early: list[tuple[int, ScanEvent, StationSetup]] = []
        self._holds = 0
        self._held: list[tuple[int, ScanEvent]] = []
        self._sent: dict[int, StationSetup] = {}  # the station each unanswered scan was sent as

    @property
    def held(self) -> int:
        """Scans waiting for a mode change to end."""
        return len(self._held)

    def attach(self, worker: StationWorker) -> None:
        """The worker has started: what was read before it goes first, in order."""
        self._worker = worker
        for ticket, event, setup in self._early:
            worker.submit_scan(ticket, event, setup)
        self._early.clear()

    def submit(self, payload: str, source: str, *, key_time: float | None = None) -> int | None:
        """Queue one scan read now; returns its ticket (None: it named a document instead)."""
        from scanstation.domain.model import ScanEvent

        if self._divert(payload):
            return None
        event = ScanEvent(payload, source=source, read_at=self._now())
        self._ticket += 1
        ticket = self._ticket
        self._hooks.scan_read(ticket, key_time if key_time is not None else get_time())
        if self._holds:
            self._held.append((ticket, event))
            self._on_held(len(self._held))
        else:
            self._send(ticket, event, self._state.setup())
        return ticket

    def submit_lines(self, text: str, source: str) -> None:
        """Pasted text: one scan a line."""
        for line in split_paste(text):
            self.submit(line, source)

    def rescan(self, event: ScanEvent, setup: StationSetup | None = None, **changes: Any) -> int:
        """The same payload again, read now, as `setup` (default: the station now) changed as
        given (an override adds its reason, an approval its approver)."""
        from scanstation.domain.model import ScanEvent

        again = ScanEvent(event.payload, source=event.source, read_at=self._now())
        self._ticket += 1
        self._hooks.scan_read(self._ticket, get_time())
        base = setup or self._state.setup()
        self._send(self._ticket, again, replace(base, **changes) if changes else base)
        return self._ticket

    def hold(self) -> None:
        """The mode is being changed: scans wait until `release`."""
        self._holds += 1

    def release(self) -> None:
        """The change is over: what waited goes now, in order, with the station as it is."""
        self._holds = max(0, self._holds - 1)
        if self._holds or not self._held:
            return
        held, self._held = self._held, []
        setup = self._state.setup()
        for ticket, event in held:
            self._send(ticket, event, setup)
        self._on_held(0)

    def discard_held(self) -> list[str]:
        """The person who signed in chose not to apply what was held: the payloads dropped
        (nothing of them was recorded)."""
        held, self._held = self._held, []
        if held:
            self._on_held(0)
        return [event.payload for _, event in held]

    def answered(self, ticket: int) -> StationSetup | None:
        """The station as the answered scan was made (its mode, document, reason, person)."""
        return self._sent.pop(ticket, None)

    def _send(self, ticket: int, event: ScanEvent, setup: StationSetup) -> None:
        self._sent[ticket] = setup
        self._on_sent(ticket, event.payload)
        if self._worker is None:
            self._early.append((ticket, event, setup))
        else:
            self._worker.submit_scan(ticket, event, setup)
