"""Live refresh: a background thread that notices what other stations commit.

It waits on the repository's ChangeWatcher (PostgreSQL LISTEN/NOTIFY; on SQLite a poll of
`PRAGMA data_version`), asks `changes_since` which serials and documents got events, and posts
them as one SiteChanged. The app decides whether any of them is on screen and, if so, reloads
the portlets through the reader thread as usual: this thread never touches a widget.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scanstation.tui.messages import SiteChanged

if TYPE_CHECKING:
    from textual.message import Message

    from scanstation.service import StationService
    from scanstation.store.repository import ChangeWatcher

__all__ = ["LiveRefresh"]

_log = logging.getLogger(__name__)

WAIT_S = 0.5  # one wait; also how long stopping may take
OFFLINE_PAUSE_S = 0.5  # while the station has no working database

CurrentService = Callable[[], "StationService | None"]


class LiveRefresh:
    """Started after the database opened; `stop()` ends it (the app calls it on exit)."""

    def __init__(
        self,
        current: CurrentService,
        post: Callable[[Message], Any],
        ready: threading.Event,
        *,
        wait_s: float = WAIT_S,
    ) -> None:
        self._current = current  # the worker's service; None while the database is away
        self._post = post
        self._ready = ready
        self._wait_s = wait_s
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
        service: StationService | None = None
        watcher: ChangeWatcher | None = None
        last: int | None = None
        try:
            while not self._stop.is_set():
                current = self._current()
                if current is not service:
                    # A new service after an outage (or none): start over on it, and let go of
                    # this thread's connection to the old one.
                    if watcher is not None:
                        watcher.close()
                    _close_quietly(service)
                    # `last` is kept: it is the same database, so what changed meanwhile is
                    # still found once the new service answers.
                    service, watcher = current, None
                if service is None or _file_missing(service):
                    self._stop.wait(OFFLINE_PAUSE_S)
                    continue
                try:
                    if watcher is None:
                        watcher = service.repo.watcher()
                    if last is None:
                        last = service.repo.last_event_id()
                    if not watcher.wait(self._wait_s) or self._stop.is_set():
                        continue
                    last, serials, documents = service.repo.changes_since(last)
                except Exception as error:
                    # The database went away under us: the writer finds out on its own; here
                    # we only wait and start over on whatever service there is then.
                    _log.debug("live refresh: %s", error)
                    if watcher is not None:
                        watcher.close()
                    watcher = None
                    self._stop.wait(OFFLINE_PAUSE_S)
                    continue
                if serials or documents:
                    self._post(SiteChanged(serials, documents))
        finally:
            if watcher is not None:
                watcher.close()
            _close_quietly(service)


def _file_missing(service: StationService) -> bool:
    """A SQLite file that is not there (moved, unmounted): the watcher must not connect, as
    connecting would create an empty file in its place."""
    path = service.repo.target.path
    return path is not None and not path.exists()


def _close_quietly(service: StationService | None) -> None:
    """Close this thread's connection (Peewee keeps one per thread; a pool gets it back)."""
    if service is None:
        return
    try:
        service.close()
    except Exception:  # leaving must not raise
        _log.debug("closing the live refresh connection", exc_info=True)
