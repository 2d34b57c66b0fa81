"""The offline journal: scans a station accepted while the site database was unreachable.

One small SQLite file on the terminal itself per (station, site database). A scan is appended
and committed (WAL, synchronous=FULL) before the station answers QUEUED, so neither a power cut
nor a SIGKILL after that answer can lose it. Entries are replayed in arrival order and keep their
scan id, so a replay cut off halfway and run again applies nothing twice: the site database
answers a scan id it already recorded with ALREADY. Entries the rules refuse on replay stay in
the file, listed for a supervisor. Nothing is ever deleted from a journal.

The file records which station and which database it belongs to and refuses any other, so a
journal can never be replayed into the wrong site database. Each entry is sealed with a key of
its own journal (journal_files.py), so an entry edited in the file is known for what it is. The
journal also keeps the sites and documents as last seen online, which offline scans are checked
against.

On a database with users an entry also keeps the role of the person signed in (and of a
supervisor who approved it), so that its replay is judged by the same role rules as online.
Those columns are sealed with the rest whenever they hold anything; an entry of an older
journal (no role) is sealed as it always was, and a role written into it breaks its seal.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import peewee

from scanstation.domain.model import DocumentView, ScanEvent, SiteView, utc_now
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import DocumentKind, SiteKind
from scanstation.store.database import StoreError
from scanstation.store.journal_entries import (
    _COLUMNS,
    _ROLE_COLUMNS,
    JournalEntry,
    JournalMark,
    KnownCatalog,
    SetupLike,
    _decoded,
    _entry,
    _iso,
    _sealed,
    _storable,
)
from scanstation.store.journal_files import (
    JournalError,
    database_identity,
    default_journal_dir,
    journal_path,
    key_path,
    load_or_create_key,
    seal,
    seal_matches,
    try_lock,
    unlock,
)

__all__ = [
    "REFUSED_KINDS",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalMark",
    "KnownCatalog",
    "database_identity",
    "default_journal_dir",
    "is_database_failure",
]

JOURNAL_APPLICATION_ID = 0x5C5A_7002  # not the site database's id: the two are never confused
# 2: entries are sealed; the sites and documents last seen are kept. 3: an entry keeps the
# signed-in person's role and any approver (older journals gain the columns, empty).
JOURNAL_FORMAT = 3
BUSY_TIMEOUT_S = 10.0  # another process (`journal show`, `journal replay`) may hold it briefly

# What the rules refuse: these stay listed for a supervisor after a replay.
REFUSED_KINDS = frozenset(
    {OutcomeKind.REJECTED, OutcomeKind.UNKNOWN, OutcomeKind.CONFLICT, OutcomeKind.NOT_GENUINE}
)

REPLAYED, REFUSED = "replayed", "refused"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entry (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    source TEXT NOT NULL,
    read_at TEXT NOT NULL,
    station_id TEXT NOT NULL,
    site_code TEXT NOT NULL,
    mode TEXT NOT NULL,
    operator TEXT NOT NULL,
    document TEXT,
    reason TEXT,
    queued_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'replayed', 'refused')),
    outcome TEXT,
    message TEXT,
    serial_no TEXT,
    replayed_at TEXT,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    mac TEXT,
    role TEXT,
    approved_by TEXT,
    approver_role TEXT
);
CREATE INDEX IF NOT EXISTS entry_state_seq ON entry (state, seq);
CREATE TABLE IF NOT EXISTS known (
    what TEXT NOT NULL CHECK (what IN ('site', 'document')),
    code TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (what, code)
);
"""

# -- errors the station treats as "the site database is unreachable" --------------------------


def is_database_failure(error: BaseException) -> bool:
    """Did the site database fail (unreachable, dropped, locked beyond the retries), so that
    the same request may succeed later (retried, or kept in the journal)?

    The store classes its errors: a *transient* StoreError is the database's failure; a
    permanent one is the request's (a value it cannot hold), never retried and never
    journaled. A driver error that escaped the store counts as an outage; integrity and
    programming errors are bugs, not outages.
    """
    if isinstance(error, StoreError):
        return bool(getattr(error, "transient", True))
    if isinstance(error, peewee.OperationalError | peewee.InterfaceError):
        return True
    if isinstance(error, sqlite3.OperationalError):
        return True
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - psycopg2 is a dependency
        return False
    return isinstance(error, psycopg2.OperationalError | psycopg2.InterfaceError)


# -- the journal -------------------------------------------------------------------------------


class Journal:
    """One station's journal for one site database. Safe to share between threads (one lock);
    other processes may read it or replay it at the same time (SQLite WAL)."""

    def __init__(self, path: Path, station_id: str, database: str) -> None:
        self.path = path
        self.station_id = station_id
        self.database = database
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as error:
            raise JournalError(f"Cannot open the journal {path}: {error}") from error
        try:
            self._key, key_is_new = load_or_create_key(key_path(path))
        except (OSError, ValueError) as error:
            self._conn.close()
            raise JournalError(f"Cannot read the key of the journal {path}: {error}") from error
        try:
            self._setup(seal_unsealed=key_is_new)
        except sqlite3.DatabaseError as error:
            self._conn.close()
            raise JournalError(f"{path} is not a scanstation journal ({error})") from error
        except JournalError:
            self._conn.close()
            raise

    @classmethod
    def for_station(
        cls, station_id: str, database_url: str, directory: Path | None = None
    ) -> Journal:
        """Open (creating it if needed) the journal of this station on this database."""
        return cls(
            journal_path(station_id, database_url, directory),
            station_id,
            database_identity(database_url),
        )

    @classmethod
    def existing(
        cls, station_id: str, database_url: str, directory: Path | None = None
    ) -> Journal | None:
        """The journal if this station ever kept one for this database; None otherwise."""
        path = journal_path(station_id, database_url, directory)
        if not path.exists():
            return None
        return cls(path, station_id, database_identity(database_url))

    def _setup(self, *, seal_unsealed: bool) -> None:
        conn = self._conn
        # WAL + FULL: a committed append is on disk before the station says QUEUED.
        conn.execute("PRAGMA journal_mode = wal")
        conn.execute("PRAGMA synchronous = full")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
        if tables[0] and app_id != JOURNAL_APPLICATION_ID:
            raise JournalError(f"{self.path} is not a scanstation journal")
        with self._transaction():
            if not tables[0]:
                conn.execute(f"PRAGMA application_id = {JOURNAL_APPLICATION_ID}")
            # Statement by statement: executescript() would COMMIT our transaction.
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                conn.execute(statement)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(entry)")}
            if "mac" not in columns:  # a format 1 journal
                conn.execute("ALTER TABLE entry ADD COLUMN mac TEXT")
            for column in _ROLE_COLUMNS:  # a format 1 or 2 journal: its entries keep no role
                if column not in columns:
                    conn.execute(f"ALTER TABLE entry ADD COLUMN {column} TEXT")
            if seal_unsealed:
                # The key is new, so entries without a seal were written before seals existed
                # (format 1): sealed now, as written. Once a key exists, an unsealed entry is
                # one that was tampered with, and stays unsealed.
                for row in conn.execute(f"SELECT {_COLUMNS} FROM entry WHERE mac IS NULL"):
                    conn.execute(
                        "UPDATE entry SET mac = ? WHERE seq = ?",
                        (seal(self._key, _sealed(_decoded(row))), row[0]),
                    )
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if not meta:
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("format", str(JOURNAL_FORMAT)),
                        ("station_id", self.station_id),
                        ("database", self.database),
                        ("created_at", _iso(utc_now())),
                    ],
                )
                return
        if meta.get("station_id") != self.station_id or meta.get("database") != self.database:
            raise JournalError(
                f"{self.path} is the journal of station {meta.get('station_id')!r} on "
                f"{meta.get('database')}, not of station {self.station_id!r} on {self.database}:"
                " refusing to mix them"
            )
        if int(meta.get("format", "0")) > JOURNAL_FORMAT:
            raise JournalError(f"{self.path} was written by a newer scanstation: upgrade")
        if int(meta.get("format", "0")) < JOURNAL_FORMAT:
            # It has format 3's columns now: an older scanstation must not take its entries
            # with roles for edited ones.
            with self._transaction() as conn:
                conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'format'", (str(JOURNAL_FORMAT),)
                )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE: take the write lock first, so a second process waits instead of failing
        # half-way through a read-then-write.
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise JournalError(f"The journal {self.path} is not writable: {error}") from error
            try:
                yield conn
            except BaseException:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise JournalError(
                    f"The journal {self.path} could not be saved: {error}"
                ) from error

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise JournalError(f"The journal {self.path} cannot be read: {error}") from error

    # -- writing ------------------------------------------------------------------------------

    def append(self, event: ScanEvent, setup: SetupLike) -> JournalEntry:
        """Save one scan durably; returns it once committed. Appending a scan id that is already
        in the journal (a retried append) returns the entry already there."""
        if setup.station_id != self.station_id:
            raise JournalError(
                f"Station {setup.station_id!r} cannot write to the journal of {self.station_id!r}"
            )
        fields = (
            event.scan_id,
            event.payload,
            event.source,
            _iso(event.read_at),
            setup.station_id,
            setup.site_code,
            setup.mode.value,
            setup.operator,
            setup.document,
            setup.reason,
            _iso(utc_now()),
        )
        people = (
            setup.role.value if setup.role else None,
            setup.approved_by,
            setup.approver_role.value if setup.approver_role else None,
        )
        sealed = fields + (people if any(v is not None for v in people) else ())
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO entry (scan_id, payload, source, read_at, station_id, "
                "site_code, mode, operator, document, reason, queued_at, role, approved_by, "
                "approver_role, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *(_storable(f) for f in fields),
                    *(_storable(p) for p in people),
                    seal(self._key, sealed),
                ),
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM entry WHERE scan_id = ?", (event.scan_id,)
            ).fetchone()
        return self._entry(row)

    def mark(self, marks: Sequence[JournalMark]) -> None:
        """Record what replay made of these entries, in one transaction. Only a pending entry
        is marked: if another process replayed it first, its record stands."""
        if not marks:
            return
        now = _iso(utc_now())
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE entry SET state = ?, outcome = ?, message = ?, serial_no = ?, "
                "replayed_at = ? WHERE seq = ? AND state = 'pending'",
                [
                    (
                        REFUSED if m.refused else REPLAYED,
                        m.outcome.value,
                        m.message,
                        m.serial_no,
                        now,
                        m.seq,
                    )
                    for m in marks
                ],
            )

    def acknowledge(self, seqs: Sequence[int], by: str) -> int:
        """A supervisor has seen these refused entries: they leave the list, never the file."""
        now = _iso(utc_now())
        with self._transaction() as conn:
            changed = 0
            for seq in seqs:
                changed += conn.execute(
                    "UPDATE entry SET acknowledged_at = ?, acknowledged_by = ? "
                    "WHERE seq = ? AND state = 'refused' AND acknowledged_at IS NULL",
                    (now, by, seq),
                ).rowcount
        return changed

    def remember(self, sites: Sequence[SiteView], documents: Sequence[DocumentView]) -> None:
        """What the site database holds now, replacing what was known."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM known")
            conn.executemany(
                "INSERT INTO known (what, code, detail) VALUES ('site', ?, ?)",
                [(s.code, json.dumps([s.name, s.kind.value])) for s in sites],
            )
            conn.executemany(
                "INSERT INTO known (what, code, detail) VALUES ('document', ?, ?)",
                [
                    (d.reference_no, json.dumps([d.kind.value, d.from_site, d.state]))
                    for d in documents
                ],
            )
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('known_at', ?)",
                (_iso(utc_now()),),
            )

    # -- reading ------------------------------------------------------------------------------

    def _entry(self, stored: Sequence[Any]) -> JournalEntry:
        row = _decoded(stored)
        return _entry(row, seal_matches(self._key, _sealed(row), row[19]))

    def known(self) -> KnownCatalog | None:
        """The sites and documents last seen online; None if this journal never saw them."""
        at = self._query("SELECT value FROM meta WHERE key = 'known_at'")
        if not at:
            return None
        sites: dict[str, SiteView] = {}
        documents: dict[str, tuple[DocumentKind, str, str]] = {}
        try:
            for what, code, detail in self._query("SELECT what, code, detail FROM known"):
                values = json.loads(detail)
                if what == "site":
                    sites[code] = SiteView(code, values[0], SiteKind(values[1]))
                else:
                    documents[code] = (DocumentKind(values[0]), values[1], values[2])
        except (ValueError, IndexError, TypeError) as error:
            raise JournalError(f"The journal {self.path} cannot be read: {error}") from error
        return KnownCatalog(sites, documents, datetime.fromisoformat(at[0][0]))

    def pending(self, limit: int | None = None, *, after: int = 0) -> list[JournalEntry]:
        """Entries not yet replayed, oldest first (the order they were scanned in); `after`
        skips those up to that seq."""
        sql = f"SELECT {_COLUMNS} FROM entry WHERE state = 'pending' AND seq > ? ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [self._entry(row) for row in self._query(sql, (after,))]

    def pending_count(self) -> int:
        return int(self._query("SELECT count(*) FROM entry WHERE state = 'pending'")[0][0])

    def has_pending(self) -> bool:
        return bool(self._query("SELECT 1 FROM entry WHERE state = 'pending' LIMIT 1"))

    def refused(self, *, include_acknowledged: bool = False) -> list[JournalEntry]:
        """Replayed scans the rules refused, oldest first: for a supervisor to follow up."""
        sql = f"SELECT {_COLUMNS} FROM entry WHERE state = 'refused'"
        if not include_acknowledged:
            sql += " AND acknowledged_at IS NULL"
        return [self._entry(row) for row in self._query(sql + " ORDER BY seq")]

    def entries(self) -> list[JournalEntry]:
        return [
            self._entry(row) for row in self._query(f"SELECT {_COLUMNS} FROM entry ORDER BY seq")
        ]

    def entry(self, scan_id: str) -> JournalEntry | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM entry WHERE scan_id = ?", (scan_id,))
        return self._entry(rows[0]) if rows else None

    # -- replay lock ---------------------------------------------------------------------------

    @contextmanager
    def replay_lock(self) -> Iterator[bool]:
        """Yields True when this process may replay now; False while another process replays.

        Two replayers of one journal would both be safe for the site database (scan ids), but
        the one that lost the race would see ALREADY for scans the other one decided, so only
        one replays at a time. An OS file lock, so a killed replayer never leaves it held.
        """
        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = open(lock_path, "a+b")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            acquired = try_lock(handle)
            try:
                yield acquired
            finally:
                if acquired:
                    unlock(handle)
        finally:
            handle.close()

    def close(self) -> None:
        with self._lock, suppress(sqlite3.Error):
            self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
