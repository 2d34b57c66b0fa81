"""The SQLite dialect: the embedded default, one file in WAL mode with synchronous=FULL, one
writer at a time (BEGIN IMMEDIATE), errors classed by SQLite's result codes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import peewee

from scanstation.store.dialect import (
    APPEND_ONLY,
    SERIAL_FIXED_COLUMNS,
    SERIAL_ROW_COLUMNS,
    Dialect,
    driver_error,
    first_line,
)
from scanstation.store.errors import StoreBusy, StoreError
from scanstation.store.tally import TALLY_TABLE, sqlite_tally_triggers

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "SqliteDialect", "bulk_cache_kib", "connection_of"]

# A short busy timeout and a bounded retry in the repository: a long timeout let one writer
# starve for seconds while others kept winning the lock.
SQLITE_BUSY_TIMEOUT_MS = 250
CACHE_KIB = 8_000  # a connection's page cache: a kiosk has little memory
# A generation run or an import: each random secondary-QR token lands on a page of its index
# anywhere, so once the index outgrows the cache nearly every row reads a page back and writes
# one out to the WAL (1M tokens into 5M serials with 64 MB: 600k reads, 700k page writes).
# The bulk transaction gets a cache to hold that index (about 23 bytes a serial: 139 MB at
# 6M) and the run's new pages, given back when it ends: at least BULK_CACHE_KIB, at most
# BULK_CACHE_MAX_KIB, the most a run or an import adds to the process's memory (a 10M-serial
# index, ~270 MB, then mostly fits).
BULK_CACHE_KIB = 64_000
BULK_CACHE_MAX_KIB = 256_000
BULK_CACHE_BYTES_A_SERIAL = 32  # the index, with room for what the run adds
# Rows a bulk INSERT: SQLite keeps a statement journal for each of them (the first copy of
# every page it changes, so that the statement alone can be undone), and random tokens change
# a page of the QR index a row: in 20,000-row statements 1M tokens into 5M serials journaled
# 866k pages (3.5 GB written to a temporary file), in 250,000-row ones ~120k. A chunk's JSON
# text is ~8 MB.
BULK_INSERT_CHUNK = 250_000
# The secondary-QR index is built again from the table (a sort) rather than taking a run's
# random tokens one by one, when the table holds at most this many times the run's rows.
# 1,000,000 tokens (raw SQL, wall/CPU) into 1M serials: 16.5/8.0 s one by one, 10.4/5.8 s built
# again; into 3M: 19.8/12.5 s, 8.5/8.1 s; into 8M: 32/17 s, 44/17 s (the sort's reads).
REBUILD_RATIO = 4
RANDOM_INDEX = "serial_secondary_qr"

# Primary result codes (sqlite3.h) that mean the database, not the request, failed.
_SQLITE_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_SQLITE_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_SQLITE_DATABASE_FAILED = {7, 8, 10, 13, 14, 15}  # NOMEM READONLY IOERR FULL CANTOPEN PROTOCOL
_SQLITE_CONSTRAINT = 19
# The unique index on event.scan_id refusing a second event: a scan (or request) recorded.
_DUPLICATE_SCAN = "UNIQUE constraint failed: event.scan_id"


def bulk_cache_kib(serials: int) -> int:
    """The page cache a bulk write gets on a table of `serials` rows: its QR index, bounded."""
    wanted = serials * BULK_CACHE_BYTES_A_SERIAL // 1024
    return max(BULK_CACHE_KIB, min(BULK_CACHE_MAX_KIB, wanted))


def connection_of(db: peewee.Database) -> sqlite3.Connection:
    """This thread's sqlite3 connection, opened if it is not (what Peewee's `cursor()` checks
    first, read from its state without the three calls around it: every scan's statements
    and its transaction come here)."""
    state = db._state
    return state.conn if not state.closed else db.connection()


class _ImmediateTransaction:
    """What db.atomic("IMMEDIATE") does when no transaction is open, in one object instead of
    Peewee's three (every scan that writes is one of these: 11 -> 6.5 µs here): BEGIN IMMEDIATE,
    then Peewee's COMMIT, or its ROLLBACK when the work raised or the commit failed. It stands
    on Peewee's transaction stack meanwhile, so in_transaction() holds and a nested atomic() is
    a savepoint, as under atomic(). BEGIN goes to the sqlite3 connection itself and the stack
    is Peewee's list itself, without Peewee's cursor(), push_transaction() and
    pop_transaction() around them (a sqlite3 error is classed the same, wrapped or not)."""

    __slots__ = ("_db", "_state")

    def __init__(self, db: peewee.Database) -> None:
        self._db = db
        self._state = db._state  # Peewee's per-thread state (a threading.local)

    def __enter__(self) -> None:
        connection_of(self._db).execute("BEGIN IMMEDIATE")
        self._state.transactions.append(self)

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        db = self._db
        try:
            if kind is not None:
                db.rollback()
                return
            try:
                db.commit()
            except BaseException:
                db.rollback()
                raise
        finally:
            self._state.transactions.pop()


class SqliteDialect(Dialect):
    backend = "sqlite"
    param = "?"
    lock_clause = ""
    scan_function = False
    pooled = False
    insert_chunk = BULK_INSERT_CHUNK

    def __init__(self, display: str, path: str) -> None:
        super().__init__(display)
        self.path = path
        self._immediate: _ImmediateTransaction | None = None

    def connect(self) -> peewee.Database:
        return peewee.SqliteDatabase(
            self.path,
            pragmas={
                "journal_mode": "wal",
                "synchronous": "full",  # a green OK is on disk, power cut or not
                "foreign_keys": 1,
                "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
                "cache_size": -CACHE_KIB,
            },
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            autoconnect=True,
        )

    def connect_error(self, error: BaseException) -> StoreError:
        root = driver_error(error)
        text = first_line(root)
        lowered = text.lower()
        if "not a database" in lowered or "malformed" in lowered or "encrypted" in lowered:
            return StoreError(f"{self.display} is not a scanstation database (SQLite says: {text})")
        classified = self.classify(error)
        return StoreError(
            f"Cannot open the database {self.display}: {text}", transient=classified.transient
        )

    def write_transaction(
        self, db: peewee.Database, remaining_s: float
    ) -> AbstractContextManager[object]:
        # BEGIN IMMEDIATE takes the write lock before the first read, so what the transaction
        # reads cannot change before it writes; each statement waits SQLITE_BUSY_TIMEOUT_MS.
        if db.transaction_depth():
            return db.atomic("IMMEDIATE")  # inside another: a savepoint
        # It keeps nothing but the database (the connection is the thread's): one will do.
        made = self._immediate
        if made is None or made._db is not db:
            made = self._immediate = _ImmediateTransaction(db)
        return made

    @contextmanager
    def schema_transaction(self, db: peewee.Database) -> Iterator[None]:
        with db.atomic("IMMEDIATE"):
            yield

    def execute_hot(self, db: peewee.Database, name: str, sql: str, params: Sequence[Any]) -> Any:
        # sqlite3 keeps its own statement cache
        return connection_of(db).execute(sql, params)

    def inserted_id(self, cursor: Any) -> int:
        return int(cursor.lastrowid)

    def insert_serials(self, cursor: Any, columns: Sequence[Any], fixed: tuple[Any, ...]) -> None:
        # One statement: SQLite reads the rows from one JSON text in C (executemany bound
        # twelve parameters a row in Python, 2.4x the time). json_each yields the array in
        # order, so the ids follow the rows. Only the columns that vary are JSON (a run's
        # rows carry two values each, an import's often one): a column alone is an array of
        # its values, read as they are; several make an array a row.
        varying = [i for i, column in enumerate(columns) if isinstance(column, list)]
        picks, params = [], []
        for i, column in enumerate(columns):
            if i not in varying:
                picks.append("?")
                params.append(column)
            elif len(varying) == 1:
                picks.append("value")
            else:
                picks.append(f"json_extract(value, '$[{varying.index(i)}]')")
        by_row = (
            columns[varying[0]]
            if len(varying) == 1
            else list(zip(*(columns[i] for i in varying), strict=True))
        )
        names = ", ".join(SERIAL_ROW_COLUMNS + SERIAL_FIXED_COLUMNS)
        cursor.execute(
            f"INSERT INTO serial ({names}) SELECT {', '.join(picks)}, "
            f"{', '.join('?' * len(fixed))} FROM json_each(?)",
            (*params, *fixed, json.dumps(by_row)),
        )

    def any_of(
        self, column: str, values: Sequence[str] | Sequence[int], *more_columns: str
    ) -> tuple[str, list[Any]]:
        listed = json.dumps(list(values))
        columns = (column, *more_columns)
        where = " OR ".join(f"{c} IN (SELECT value FROM json_each(?))" for c in columns)
        return where, [listed] * len(columns)

    def any_in_range(self, column: str, codes: list[str]) -> tuple[str, list[Any]]:
        # BINARY compares UTF-8 bytes, in code point order as Python sorts: the ends are
        # the first and the last code.
        sql = f"SELECT EXISTS (SELECT 1 FROM serial WHERE {column} BETWEEN ? AND ?)"
        return sql, [codes[0], codes[-1]]

    @contextmanager
    def bulk_write(self, db: peewee.Database) -> Iterator[None]:
        (serials,) = db.execute_sql("SELECT coalesce(max(id), 0) FROM serial").fetchone()
        db.execute_sql(f"PRAGMA cache_size = {-bulk_cache_kib(serials)}")
        try:
            yield
        finally:
            db.execute_sql(f"PRAGMA cache_size = {-CACHE_KIB}")

    @contextmanager
    def random_index_set_aside(self, db: peewee.Database, new_rows: int) -> Iterator[None]:
        # All in the one transaction: a failure or a crash before COMMIT leaves the index as
        # it was (the rollback, or the WAL's uncommitted frames, undo the DROP), and other
        # connections read the committed schema meanwhile. The codes were checked before, and
        # the index, being UNIQUE still, refuses a repeated token when it is built again.
        (rows,) = db.execute_sql("SELECT coalesce(max(id), 0) FROM serial").fetchone()
        found = db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (RANDOM_INDEX,)
        ).fetchone()
        if found is None or not new_rows or rows > REBUILD_RATIO * new_rows:
            yield
            return
        db.execute_sql(f'DROP INDEX "{RANDOM_INDEX}"')
        yield
        db.execute_sql(found[0])

    def is_duplicate_scan(self, error: BaseException) -> bool:
        root = driver_error(error)
        return isinstance(root, sqlite3.IntegrityError) and str(root) == _DUPLICATE_SCAN

    def classify(self, error: BaseException) -> StoreError:
        if isinstance(error, StoreError):
            return error
        root = driver_error(error)
        code = getattr(root, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        text = first_line(root)
        lowered = text.lower()
        where = self.display
        if primary in _SQLITE_BUSY or "locked" in lowered or "busy" in lowered:
            return StoreBusy(f"{where} is busy: another program holds its lock ({text})")
        if primary in _SQLITE_DAMAGED or "malformed" in lowered or "not a database" in lowered:
            return StoreError(
                f"{where} is damaged ({text}): restore it from a backup; "
                "scans wait in the offline journal, if it is on",
                transient=True,
            )
        if primary in _SQLITE_DATABASE_FAILED or "disk" in lowered or "readonly" in lowered:
            return StoreError(f"{where} cannot be written: {text}", transient=True)
        if primary == _SQLITE_CONSTRAINT or isinstance(root, sqlite3.IntegrityError):
            return StoreError(f"{where} refused the change, nothing was written: {text}")
        if isinstance(root, UnicodeEncodeError):
            return StoreError(f"{where}: a text is not valid UTF-8, nothing was written")
        return StoreError(f"{where}: {text}")

    def refresh_statistics(self, db: peewee.Database) -> None:
        # An index made after ANALYZE has no statistics of its own, and SQLite then guesses
        # ten rows a key: with (item, id) unmeasured, Find by stage walked every SKU through it
        # and sorted (4 → 63 ms on 100k serials). A database never analyzed stays so.
        if db.execute_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
        ).fetchone():
            db.execute_sql("ANALYZE serial")

    def schema_extras(self) -> tuple[str, ...]:
        # The tally (store/tally.py), and the history nobody can rewrite: a correction is a
        # new event, never an edit.
        return (
            TALLY_TABLE,
            *sqlite_tally_triggers(),
            *(
                f"CREATE TRIGGER IF NOT EXISTS event_no_{verb.lower()} BEFORE {verb} ON event "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
                for verb in ("UPDATE", "DELETE")
            ),
        )

    def migration_3(self) -> tuple[str, ...]:
        return (
            "ALTER TABLE event ADD COLUMN generation_id INTEGER",
            "ALTER TABLE event ADD COLUMN count INTEGER",
            "ALTER TABLE event ADD COLUMN txid INTEGER",
            "UPDATE event SET recorded_at = at WHERE recorded_at IS NULL",
        )

    @contextmanager
    def relaxed_durability(self, db: peewee.Database) -> Iterator[None]:
        """No fsync per commit, then FULL again and a checkpoint, so what was built is on
        disk when this returns."""
        db.execute_sql("PRAGMA synchronous = OFF")
        try:
            yield
        finally:
            db.execute_sql("PRAGMA synchronous = FULL")
            db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def feed_position(self, db: peewee.Database) -> Any:
        row = db.cursor().execute("SELECT max(id) FROM event").fetchone()
        return int(row[0] or 0)

    def feed_since(self, db: peewee.Database, position: Any) -> tuple[Any, list[tuple[Any, ...]]]:
        rows = (
            db.cursor()
            .execute(
                "SELECT e.id, s.serial_no, d.reference_no FROM event e "
                "LEFT JOIN serial s ON s.id = e.serial_id "
                "LEFT JOIN document d ON d.id = e.document_id WHERE e.id > ? ORDER BY e.id",
                (int(position),),
            )
            .fetchall()
        )
        last = max((row[0] for row in rows), default=int(position))
        return last, [(row[1], row[2]) for row in rows]
