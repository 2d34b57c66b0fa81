"""Live refresh: a background thread that notices what other stations commit.

It waits on the station's change feed (PostgreSQL LISTEN/NOTIFY; on SQLite a poll of
`PRAGMA data_version`), which says which serials and documents got events, and posts them as
one SiteChanged. The app decides whether any of them is on screen and, if so, reloads the
portlets through the reader thread as usual: this thread never touches a widget.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scanstation.tui.messages import SiteChanged

if TYPE_CHECKING:
    from textual.message import Message

    from scanstation.station import ChangeFeed, Station

__all__ = ["LiveRefresh"]

_log = logging.getLogger(__name__)

WAIT_S = 0.5  # one wait; also how long stopping may take
OFFLINE_PAUSE_S = 0.5  # while the station has no working database

CurrentStation = Callable[[], "Station | None"]


class LiveRefresh:
    """Started with the worker; `stop()` ends it (the app calls it on exit)."""

    def __init__(
        self,
        current: CurrentStation,
        post: Callable[[Message], Any],
        ready: threading.Event,
        *,
        wait_s: float | None = None,
    ) -> None:
        self._current = current  # the worker's station, once opened
        self._post = post
        self._ready = ready
        # WAIT_S as it is now: a test lengthens it to show that the change itself, not the
        # end of a wait, wakes the station.
        self._wait_s = WAIT_S if wait_s is None else wait_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-refresh", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        self._ready.wait()
        station = self._current()
        if station is None:
            return  # the station did not open
        feed: ChangeFeed = station.change_feed()
        try:
            while not self._stop.is_set():
                if not station.online:
                    self._stop.wait(OFFLINE_PAUSE_S)
                    continue
                try:
                    serials, documents = feed.wait(self._wait_s)
                except Exception as error:
                    # The database went away under us: the writer finds out on its own; here
                    # we only wait, and the feed starts over on whatever service there is then.
                    _log.debug("live refresh: %s", error)
                    self._stop.wait(OFFLINE_PAUSE_S)
                    continue
                if (serials or documents) and not self._stop.is_set():
                    self._post(SiteChanged(serials, documents))
        finally:
            feed.close()
