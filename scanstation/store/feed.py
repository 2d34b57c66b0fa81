"""Live refresh: what wakes a station when another station commits. The feed itself (which
serials and documents changed, in commit order) is the dialect's `feed_since`; this module
owns the wake-up, which runs on its own connection in the caller's background thread."""

from __future__ import annotations

import select
import sqlite3
import time
from contextlib import suppress
from typing import Any

from scanstation.store.postgresql_dialect import NOTIFY_CHANNEL, PostgresDialect

__all__ = ["ChangeWatcher"]


class ChangeWatcher:
    """PostgreSQL LISTEN/NOTIFY, or on SQLite a poll of `PRAGMA data_version` (it changes when
    another connection commits; one cheap read)."""

    def __init__(
        self,
        backend: str,
        *,
        path: str | None = None,
        pg: PostgresDialect | None = None,
        poll_interval: float = 0.25,
    ) -> None:
        self.backend = backend
        self.path = path
        self.pg = pg
        self.poll_interval = poll_interval
        self._conn: Any = None
        self._version: int | None = None

    def _connect(self) -> None:
        if self.pg is None:
            assert self.path is not None
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=1.0)
            self._version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            return
        import psycopg2  # only a PostgreSQL site needs it

        self._conn = psycopg2.connect(**self.pg.connect_params())
        self._conn.autocommit = True
        self._conn.cursor().execute(f"LISTEN {NOTIFY_CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """True when something changed within `timeout` seconds (or the connection came back:
        the caller should look, as notifications sent meanwhile were not heard)."""
        try:
            if self._conn is None:
                self._connect()
                return True
            if self.pg is None:
                return self._poll(timeout)
            if not self._conn.notifies:
                ready, _, _ = select.select([self._conn], [], [], timeout)
                if ready:
                    self._conn.poll()
            changed = bool(self._conn.notifies)
            self._conn.notifies.clear()
            return changed
        except Exception:  # a lost connection is retried on the next call
            self.close()
            time.sleep(min(timeout, 1.0))
            return False

    def _poll(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._version = version
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        if self._conn is not None:
            with suppress(Exception):
                self._conn.close()
        self._conn = None
