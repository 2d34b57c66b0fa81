"""What differs between SQLite and PostgreSQL, in one object per database: how to connect and
bound every wait, the placeholder and the row lock, how hot statements are prepared, how a
driver error is classed (transient or permanent, with a sentence), the extra DDL, how the
serial namespace is locked for a generation run or an import, and the change feed in commit
order. The repository asks its dialect; nothing above the store branches on the backend.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import peewee
from playhouse.pool import PooledPostgresqlDatabase

from scanstation.store.errors import StoreBusy, StoreError

__all__ = ["Dialect", "PgPosition", "PostgresDialect", "SqliteDialect", "dialect_for"]

# A short busy timeout and a bounded retry in the repository: a long timeout let one writer
# starve for seconds while others kept winning the lock.
SQLITE_BUSY_TIMEOUT_MS = 250

# PostgreSQL: every wait has a bound. A row another station holds is waited for at most
# LOCK_TIMEOUT_MS a try (the repository retries within its budget, then NOT SAVED / the
# journal); one statement at most STATEMENT_TIMEOUT_MS; a connection attempt CONNECT_TIMEOUT_S;
# a dead server or network is noticed by TCP within about TCP_USER_TIMEOUT_MS. Server side, a
# station that vanished in a transaction loses its locks after IDLE_IN_TRANSACTION_MS.
LOCK_TIMEOUT_MS = 1500
STATEMENT_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 2
TCP_USER_TIMEOUT_MS = 4000
IDLE_IN_TRANSACTION_MS = 60_000
NOTIFY_CHANNEL = "scanstation_events"
# pg_advisory_xact_lock key: generation runs and imports create serials one at a time, so the
# serial/secondary-QR namespace check and the inserts cannot interleave between two of them.
SERIAL_NAMESPACE_LOCK = 0x5C5A_7003
SCHEMA_LOCK = 0x5C5A_7004  # while the schema is created or migrated


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def driver_error(error: BaseException) -> BaseException:
    """The driver's own exception under Peewee's wrapper (which keeps it as `orig`)."""
    inner = getattr(error, "orig", None) if isinstance(error, peewee.PeeweeException) else None
    return inner if isinstance(inner, BaseException) else error


@dataclass(frozen=True, slots=True)
class PgPosition:
    """Where a PostgreSQL change feed stands: every transaction below `xmax` that is not in
    `running` had finished when the feed last looked, and was seen if it committed."""

    xmax: int
    running: tuple[int, ...]


class Dialect:
    """The SQLite/PostgreSQL differences the repository needs (see the module docstring)."""

    backend: str
    param: str  # the driver's placeholder in SQL text
    lock_clause: str  # appended to a read that locks the serial row
    # A scan reads its serial before the write transaction (SQLite: in-process and cheap, and
    # the only way to notice another station's change made while waiting for the database's
    # write lock); otherwise the transaction finds and locks it in one round trip.
    probe_before_write: bool
    pooled: bool  # connections come from a pool; a broken one is closed for good

    def connection_lost(self, error: BaseException) -> bool:
        """Did `error` break the connection (so it must not be used again)?"""
        return False

    def forget_connection(self, connection: Any) -> None:
        """A connection is gone: forget what was prepared on it."""

    def __init__(self, display: str) -> None:
        self.display = display

    # -- connecting ---------------------------------------------------------------------------

    def connect(self) -> peewee.Database:
        raise NotImplementedError

    def connect_error(self, error: BaseException) -> StoreError:
        """Why connecting failed, as a sentence (transient when trying later may help)."""
        raise NotImplementedError

    def sql(self, text: str) -> str:
        """SQL written with `?` placeholders, in this driver's style."""
        return text if self.param == "?" else text.replace("?", self.param)

    # -- the write transaction ----------------------------------------------------------------

    @contextmanager
    def write_transaction(self, db: peewee.Database, remaining_s: float) -> Iterator[None]:
        raise NotImplementedError
        yield

    def lock_serial_namespace(self, db: peewee.Database) -> None:
        """Inside a write transaction: no other generation run or import until it ends."""

    @contextmanager
    def schema_transaction(self, db: peewee.Database) -> Iterator[None]:
        """Creating or migrating the schema: one at a time, however many terminals open an
        old database at once."""
        raise NotImplementedError
        yield

    # -- statements ---------------------------------------------------------------------------

    def execute_hot(self, db: peewee.Database, name: str, sql: str, params: Sequence[Any]) -> Any:
        raise NotImplementedError

    def inserted_id(self, cursor: Any) -> int:
        raise NotImplementedError

    def returning_id(self) -> str:
        """Appended to the event INSERT: how its id comes back in the same round trip."""
        return ""

    def any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """`column` is one of `values`: one parameter for the whole list."""
        raise NotImplementedError

    # -- errors -------------------------------------------------------------------------------

    def classify(self, error: BaseException) -> StoreError:
        """The driver error as a StoreError: transient (retry, journal) or permanent."""
        raise NotImplementedError

    def is_integrity_error(self, error: BaseException) -> bool:
        raise NotImplementedError

    # -- schema -------------------------------------------------------------------------------

    def schema_extras(self) -> tuple[str, ...]:
        """DDL run after the tables are created (and after every migration)."""
        return ()

    def migration_3(self) -> tuple[str, ...]:
        """Schema 2 → 3 in this dialect."""
        raise NotImplementedError

    @contextmanager
    def relaxed_durability(self, db: peewee.Database) -> Iterator[None]:
        yield

    # -- change feed --------------------------------------------------------------------------

    def feed_position(self, db: peewee.Database) -> Any:
        raise NotImplementedError

    def feed_since(self, db: peewee.Database, position: Any) -> tuple[Any, list[tuple[Any, ...]]]:
        """(new position, rows of (serial_no, reference_no)) committed after `position`."""
        raise NotImplementedError


# -- SQLite ------------------------------------------------------------------------------------

# Primary result codes (sqlite3.h) that mean the database, not the request, failed.
_SQLITE_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_SQLITE_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_SQLITE_DATABASE_FAILED = {7, 8, 10, 13, 14, 15}  # NOMEM READONLY IOERR FULL CANTOPEN PROTOCOL
_SQLITE_CONSTRAINT = 19


class SqliteDialect(Dialect):
    backend = "sqlite"
    param = "?"
    lock_clause = ""
    probe_before_write = True
    pooled = False

    def __init__(self, display: str, path: str) -> None:
        super().__init__(display)
        self.path = path

    def connect(self) -> peewee.Database:
        return peewee.SqliteDatabase(
            self.path,
            pragmas={
                "journal_mode": "wal",
                "synchronous": "full",  # a green OK is on disk, power cut or not
                "foreign_keys": 1,
                "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
                "cache_size": -8_000,  # 8 MB a connection: a kiosk has little memory
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

    @contextmanager
    def write_transaction(self, db: peewee.Database, remaining_s: float) -> Iterator[None]:
        # BEGIN IMMEDIATE takes the write lock before the first read, so what the transaction
        # reads cannot change before it writes; each statement waits SQLITE_BUSY_TIMEOUT_MS.
        with db.atomic("IMMEDIATE"):
            yield

    @contextmanager
    def schema_transaction(self, db: peewee.Database) -> Iterator[None]:
        with db.atomic("IMMEDIATE"):
            yield

    def execute_hot(self, db: peewee.Database, name: str, sql: str, params: Sequence[Any]) -> Any:
        cursor = db.cursor()  # sqlite3 keeps its own statement cache
        cursor.execute(sql, params)
        return cursor

    def inserted_id(self, cursor: Any) -> int:
        return int(cursor.lastrowid)

    def any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(list(values))]

    def is_integrity_error(self, error: BaseException) -> bool:
        root = driver_error(error)
        return isinstance(root, sqlite3.IntegrityError) or isinstance(error, peewee.IntegrityError)

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

    def schema_extras(self) -> tuple[str, ...]:
        return ()

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


# -- PostgreSQL --------------------------------------------------------------------------------

_PG_RETRY_NOW = {"40001", "40P01"}  # serialization failure, deadlock: try again at once
_PG_BUSY = {"55P03", "57014"}  # lock_not_available (lock_timeout), query_canceled (timeout)
_PG_GONE = {"57P01", "57P02", "57P03"}  # the server shut down or is starting
_PG_DATABASE_FAILED = {"XX001", "XX002", "25006"}  # data/index corrupted, read-only standby


_PERMANENT_CONNECT_ERRORS = (
    "authentication failed",
    "does not exist",
    "no password supplied",
    "invalid dsn",
    "invalid connection option",
    "invalid integer value",
    "permission denied",
    "could not translate host name",
)


def _dollar_params(sql: str) -> str:
    """`%s` placeholders → PostgreSQL's `$1, $2, …` for PREPARE."""
    parts = sql.split("%s")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


class _BoundedPostgresqlDatabase(PooledPostgresqlDatabase):  # type: ignore[misc]
    """BEGIN sets this transaction's lock and statement timeouts from what is left of the
    caller's budget, in the same round trip as the BEGIN itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bounds = threading.local()

    def begin(self, isolation_level: str | None = None) -> None:
        if self.is_closed():
            self.connect()
        lock_ms, statement_ms = getattr(
            self.bounds, "value", (LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS)
        )
        self.cursor().execute(
            f"BEGIN; SET LOCAL lock_timeout = {int(lock_ms)}; "
            f"SET LOCAL statement_timeout = {int(statement_ms)}"
        )


class PostgresDialect(Dialect):
    backend = "postgresql"
    param = "%s"
    lock_clause = " FOR UPDATE OF s"
    probe_before_write = False
    pooled = True

    def __init__(self, display: str, url: str) -> None:
        super().__init__(display)
        self.url = url
        self._prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()

    def connect_params(self) -> dict[str, Any]:
        """libpq parameters besides the URL's own: every wait bounded (module constants)."""
        options = " ".join(
            (
                f"-c lock_timeout={LOCK_TIMEOUT_MS}",
                f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}",
                # The server notices a vanished station (and frees its row locks) in ~25 s.
                "-c tcp_keepalives_idle=10",
                "-c tcp_keepalives_interval=5",
                "-c tcp_keepalives_count=3",
            )
        )
        return {
            "dsn": self.url,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "keepalives": 1,
            "keepalives_idle": 2,
            "keepalives_interval": 1,
            "keepalives_count": 3,
            "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
            "application_name": "scanstation",
            "options": options,
        }

    def connect_error(self, error: BaseException) -> StoreError:
        """A server that does not answer may answer later (transient: a journal keeps
        scanning); a wrong password or database name will not (permanent: fix the
        configuration)."""
        text = first_line(driver_error(error))
        message = f"Cannot reach the database at {self.display}: {text}"
        if any(marker in text.lower() for marker in _PERMANENT_CONNECT_ERRORS):
            return StoreError(message)
        return StoreBusy(message)

    def connect(self) -> peewee.Database:
        name = unquote(urlsplit(self.url).path.lstrip("/")) or "scanstation"
        return _BoundedPostgresqlDatabase(
            name,
            max_connections=32,
            stale_timeout=300,
            autoconnect=True,
            **self.connect_params(),
        )

    @contextmanager
    def write_transaction(self, db: peewee.Database, remaining_s: float) -> Iterator[None]:
        # The row lock is taken with FOR UPDATE by the transaction's reads; the waits of this
        # try are bounded by what is left of the budget, so retries included a scan ends
        # within it (a held row: lock_timeout; a stalled server: statement_timeout).
        remaining_ms = max(50, int(remaining_s * 1000))
        lock_ms = min(LOCK_TIMEOUT_MS, remaining_ms)
        # A statement that waits on a lock ends by lock_timeout (the sentence names the held
        # row), a little before its own statement_timeout would.
        statement_ms = min(STATEMENT_TIMEOUT_MS, max(remaining_ms, lock_ms + 250))
        bounds = db.bounds  # type: ignore[attr-defined]
        bounds.value = (lock_ms, statement_ms)
        try:
            with db.atomic():
                yield
        finally:
            del bounds.value

    def lock_serial_namespace(self, db: peewee.Database) -> None:
        db.cursor().execute("SELECT pg_advisory_xact_lock(%s)", (SERIAL_NAMESPACE_LOCK,))

    @contextmanager
    def schema_transaction(self, db: peewee.Database) -> Iterator[None]:
        with db.atomic():
            # DDL on a big table may take longer than a scan's statement bound.
            db.execute_sql("SET LOCAL statement_timeout = 0")
            db.execute_sql("SET LOCAL lock_timeout = 10000")
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            yield

    def execute_hot(self, db: peewee.Database, name: str, sql: str, params: Sequence[Any]) -> Any:
        """Prepared once per connection: planning the four-join read cost more than running
        it."""
        connection = db.connection()
        prepared = self._prepared.setdefault(connection, set())
        cursor = db.cursor()
        if name not in prepared:
            cursor.execute(f"PREPARE {name} AS {_dollar_params(sql)}")
            prepared.add(name)
        placeholders = ", ".join(["%s"] * len(params))
        cursor.execute(f"EXECUTE {name} ({placeholders})" if params else f"EXECUTE {name}", params)
        return cursor

    def forget_connection(self, connection: Any) -> None:
        self._prepared.pop(connection, None)

    def connection_lost(self, error: BaseException) -> bool:
        import psycopg2

        root = driver_error(error)
        code = getattr(root, "pgcode", None) or ""
        if code.startswith("08") or code in _PG_GONE:
            return True
        return not code and isinstance(root, psycopg2.OperationalError | psycopg2.InterfaceError)

    def inserted_id(self, cursor: Any) -> int:
        return int(cursor.fetchone()[0])

    def returning_id(self) -> str:
        return " RETURNING id"

    def any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(%s)", [list(values)]

    def is_integrity_error(self, error: BaseException) -> bool:
        import psycopg2

        root = driver_error(error)
        return isinstance(root, psycopg2.IntegrityError) or isinstance(error, peewee.IntegrityError)

    def classify(self, error: BaseException) -> StoreError:
        import psycopg2

        if isinstance(error, StoreError):
            return error
        root = driver_error(error)
        code = getattr(root, "pgcode", None) or ""
        text = first_line(root)
        where = self.display
        if code in _PG_RETRY_NOW:
            return StoreBusy(f"{where}: another station's change came first ({text})")
        if code == "55P03":
            return StoreBusy(f"{where}: another station holds this row ({text})")
        if code in _PG_BUSY:
            return StoreBusy(f"{where} did not answer in time ({text})")
        if code.startswith("08") or code in _PG_GONE:
            return StoreBusy(f"{where} is unreachable ({text})")
        if code.startswith(("53", "58")) or code in _PG_DATABASE_FAILED:
            return StoreError(f"{where} cannot be written: {text}", transient=True)
        if code.startswith("23"):
            return StoreError(f"{where} refused the change, nothing was written: {text}")
        if code.startswith("22"):
            return StoreError(f"{where} refused a value, nothing was written: {text}")
        if not code and isinstance(root, psycopg2.OperationalError | psycopg2.InterfaceError):
            return StoreBusy(f"{where} is unreachable ({text})")
        if isinstance(root, UnicodeEncodeError):
            return StoreError(f"{where}: a text is not valid UTF-8, nothing was written")
        if isinstance(root, ValueError) and "NUL" in text:
            return StoreError(f"{where}: a text contains a NUL character, nothing was written")
        return StoreError(f"{where}: {text}")

    def schema_extras(self) -> tuple[str, ...]:
        return (
            # Every committed event wakes the stations LISTENing (live refresh), with no extra
            # round trip on the scan path: a statement-level trigger sends the NOTIFY.
            "CREATE OR REPLACE FUNCTION scanstation_notify() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$",
            "DROP TRIGGER IF EXISTS event_notify ON event",
            "CREATE TRIGGER event_notify AFTER INSERT ON event "
            "FOR EACH STATEMENT EXECUTE FUNCTION scanstation_notify()",
            # The change feed: each event knows its transaction. A BRIN index costs an insert
            # next to nothing (events are appended), yet finds the newest few pages at once.
            "ALTER TABLE event ALTER COLUMN txid SET DEFAULT txid_current()",
            "CREATE INDEX IF NOT EXISTS event_txid ON event USING brin (txid)",
        )

    def migration_3(self) -> tuple[str, ...]:
        return (
            # No default while adding: older events keep NULL (committed long ago) and the
            # table is not rewritten.
            "ALTER TABLE event ADD COLUMN IF NOT EXISTS generation_id INTEGER",
            "ALTER TABLE event ADD COLUMN IF NOT EXISTS count INTEGER",
            "ALTER TABLE event ADD COLUMN IF NOT EXISTS txid BIGINT",
            "UPDATE event SET recorded_at = at WHERE recorded_at IS NULL",
        )

    def feed_position(self, db: peewee.Database) -> Any:
        cursor = db.cursor()
        cursor.execute(
            "SELECT txid_snapshot_xmax(q.s), ARRAY(SELECT txid_snapshot_xip(q.s)) "
            "FROM (SELECT txid_current_snapshot() AS s) q"
        )
        xmax, running = cursor.fetchone()
        return PgPosition(int(xmax), tuple(int(x) for x in running or ()))

    def feed_since(self, db: peewee.Database, position: Any) -> tuple[Any, list[tuple[Any, ...]]]:
        """Events are numbered when inserted, not when committed: a lower id may commit later,
        so `id > last` misses it. Instead: one statement (one snapshot) returns the events of
        every transaction that was running or had not started at the last look and has
        committed since, with the snapshot it saw. No event is missed or delivered twice."""
        assert isinstance(position, PgPosition)
        cursor = db.cursor()
        cursor.execute(
            "SELECT txid_snapshot_xmax(q.s), ARRAY(SELECT txid_snapshot_xip(q.s)), "
            "s.serial_no, d.reference_no "
            "FROM (SELECT txid_current_snapshot() AS s) q "
            "LEFT JOIN event e ON (e.txid >= %s OR e.txid = ANY(%s)) "
            "LEFT JOIN serial s ON s.id = e.serial_id "
            "LEFT JOIN document d ON d.id = e.document_id",
            (position.xmax, list(position.running)),
        )
        rows = cursor.fetchall()
        xmax, running = rows[0][0], rows[0][1]
        changed = [(row[2], row[3]) for row in rows if row[2] is not None or row[3] is not None]
        return PgPosition(int(xmax), tuple(int(x) for x in running or ())), changed


def dialect_for(backend: str, display: str, *, url: str, path: str | None) -> Dialect:
    if backend == "sqlite":
        assert path is not None
        return SqliteDialect(display, path)
    return PostgresDialect(display, url)
