"""What the detail portlets show, read through the worker's reader thread.

The banner and the scanned list are what a worker reads mid-burst; redrawing four portlets
costs several times more than a scan, so after a scan the portlets follow once scanning
pauses (QUIET_S), or at the latest every STALE_S. A row picked by hand is read at once. One
read is in flight at a time; the newest request wins, and an answer to an older one is
dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual._time import get_time

if TYPE_CHECKING:
    from textual.timer import Timer
    from textual.widget import Widget

    from scanstation.tui.messages import DetailsLoaded, DetailsUnavailable
    from scanstation.tui.scan_worker import StationWorker

__all__ = ["DetailReads"]

TICK_S = 0.03
# After a scan, the portlets follow once no scan came for this long: longer than a USB
# scanner's ~110 ms a scan, whose every scan redrew them (~10 ms of the main thread, landing
# on the next scan's answer) though nobody reads them at that pace.
QUIET_S = 0.25
STALE_S = 2.0  # ... or at the latest this long after they were last read


class DetailReads:
    """Which serial the portlets show, and the reads that keep them up to date."""

    def __init__(self, owner: Widget, document: Callable[[], str | None]) -> None:
        self._owner = owner  # for the timer
        self._document = document  # the station's document, shown with the serial
        self._worker: StationWorker | None = None
        self._timer: Timer | None = None
        self.serial_no: str | None = None  # the serial the portlets show (or are to show)
        self._request = 0
        self._in_flight = False
        self._wanted = 0  # how many times the portlets were asked to change
        self._sent = 0
        self._sent_at = 0.0
        self.last_scan_at = 0.0  # when a scan was last shown
        # A document opened from the Documents screen, shown instead of the station's until
        # the next scan.
        self.picked_document: str | None = None

    def start(self, worker: StationWorker) -> None:
        self._worker = worker
        self._timer = self._owner.set_interval(TICK_S, self._tick, pause=True)

    def show(self, serial_no: str | None, *, soon: bool = False) -> None:
        """Show a serial (None: only the station's document) in the portlets: at once, or
        `soon` (once scanning pauses, at the latest STALE_S after the last read)."""
        self.serial_no = serial_no
        self._wanted += 1  # even the same serial: what it shows may have changed
        if not soon:
            self._send()
        elif self._timer is not None:
            self._timer.resume()

    def scan_shown(self, serial_no: str | None) -> None:
        """A scan was answered: the portlets follow its serial (or, for a payload that is
        none, keep to the station's document) once scanning pauses."""
        self.last_scan_at = get_time()
        self.picked_document = None
        if serial_no is not None or self._document():
            self.show(serial_no, soon=True)

    def again(self) -> None:
        """What is shown changed (or may have): read it again, soon."""
        self.show(self.serial_no, soon=True)

    def accept(self, message: DetailsLoaded | DetailsUnavailable) -> bool:
        """An answer arrived; True when it is the one to show (the newest request)."""
        if message.request != self._request:
            return False  # a newer request is on its way
        self._in_flight = False
        if self._wanted != self._sent and self._timer is not None:
            self._timer.resume()
        return True

    def _send(self) -> None:
        if self._worker is None or self._in_flight:
            return
        self._in_flight = True
        self._sent = self._wanted
        self._sent_at = get_time()
        document = self.picked_document or self._document()
        self._request = self._worker.request_details(self.serial_no, document)

    def _tick(self) -> None:
        if self._sent == self._wanted:
            if self._timer is not None:
                self._timer.pause()
            return
        now = get_time()
        quiet = now - self.last_scan_at >= QUIET_S
        stale = now - self._sent_at >= STALE_S
        if quiet or stale:
            self._send()
