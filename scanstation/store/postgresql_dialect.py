"""The PostgreSQL dialect: a site's shared server. Every wait is bounded (session settings, and
each write transaction's timeouts taken from what is left of its budget), hot statements are
prepared once per connection, errors are classed by SQLSTATE, and the change feed follows
commit order (each event knows its transaction)."""

from __future__ import annotations

import functools
import io
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import peewee
from playhouse.pool import PooledPostgresqlDatabase

from scanstation.store.dialect import (
    APPEND_ONLY,
    SERIAL_FIXED_COLUMNS,
    SERIAL_ROW_COLUMNS,
    Dialect,
    driver_error,
    first_line,
)
from scanstation.store.errors import StoreBusy, StoreError
from scanstation.store.scan_function import APPLY_SCAN_FUNCTION, APPLY_SCAN_FUNCTION_4
from scanstation.store.scan_rules import (
    SCAN_FUNCTION,
    SCAN_FUNCTION_11,
    SCAN_FUNCTION_12,
    SCAN_FUNCTION_13,
)
from scanstation.store.schema import SCHEMA_VERSION
from scanstation.store.tally import BULK_SLOT_SETTING, TALLY_TABLE, postgresql_tally_triggers

__all__ = [
    "LOCK_TIMEOUT_MS",
    "NOTIFY_CHANNEL",
    "STATEMENT_TIMEOUT_MS",
    "PgPosition",
    "PostgresDialect",
    "prepare_statement",
]

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
SCAN_ID_INDEX = "event_scan_id"  # the unique index Peewee names for event.scan_id
# pg_advisory_xact_lock key: generation runs and imports create serials one at a time, so the
# serial/secondary-QR namespace check and the inserts cannot interleave between two of them.
SERIAL_NAMESPACE_LOCK = 0x5C5A_7003
SCHEMA_LOCK = 0x5C5A_7004  # while the schema is created or migrated
# Rows a COPY in a bulk insert: each COPY stays well inside STATEMENT_TIMEOUT_MS (every row
# also checks three foreign keys) and its text is a few MB.
COPY_ROWS = 10_000
# COPY's text format: a backslash, tab or line break in a value is written escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def _text_array(values: Sequence[str]) -> str:
    """Texts as one array literal ('{"a","b"}'), cast to text[] in SQL: parsed as one value
    (psycopg2 sends a list as ARRAY['a', 'b', ...], a constant an element: 20,000 codes took
    115 ms a statement to parse and plan, this 25-35 ms)."""
    if not values:
        return "{}"
    joined = '","'.join(values)
    # Escaped only when a code has '"' (GS1 AI 82 allows it) or '\\': the separators hold
    # 2 a gap, and escaping every code cost 1.6 s a million.
    if "\\" in joined or joined.count('"') != 2 * (len(values) - 1):
        joined = '","'.join(v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + joined + '"}'


def _copy_cells(values: Sequence[Any]) -> Sequence[str]:
    """A column's values as COPY text cells, checked a column at a time (a Python call a
    value took 11 s of a 300,000-serial run's 13 s in Python; this 0.4 s)."""
    kinds = set(map(type, values))
    if kinds <= {str, type(None)}:
        text = "".join(filter(None, values))
        if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
            return list(map(_copy_value, values))  # some value is written escaped
        return ["\\N" if v is None else v for v in values] if type(None) in kinds else values
    if kinds == {int}:
        return list(map(str, values))
    return list(map(_copy_value, values))


@dataclass(frozen=True, slots=True)
class PgPosition:
    """Where a PostgreSQL change feed stands: every transaction below `xmax` that is not in
    `running` had finished when the feed last looked, and was seen if it committed."""

    xmax: int
    running: tuple[int, ...]


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


def prepare_statement(name: str, sql: str) -> str:
    """PREPARE `name` for `sql` written with `%s` placeholders (PostgreSQL's `$1, $2, …`)."""
    parts = sql.split("%s")
    body = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))
    return f"PREPARE {name} AS {body}"


# Read as a station's scan call is prepared on a connection: the schema's version, and the
# scan function's parameters and result columns (the station reads its answer by position):
# those of the schema the station's tables are in (a function of the same name in another
# schema is not the one it calls), in the order of their text, whatever the rows' order.
_SCHEMA_CHECK = (
    "SELECT (SELECT value FROM meta WHERE key = 'schema_version'), "
    "(SELECT string_agg(pg_get_function_arguments(oid), '; ' "
    "ORDER BY pg_get_function_arguments(oid)) FROM pg_proc "
    "WHERE proname = 'scanstation_scan' "
    "AND pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()))"
)


@functools.lru_cache(maxsize=256)
def _execute_text(name: str, count: int) -> str:
    """`EXECUTE name (%s, …)`, made once per statement rather than every call."""
    return f"EXECUTE {name} ({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"


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
    scan_function = True
    pooled = True
    streamed_import = True

    def __init__(self, display: str, url: str) -> None:
        super().__init__(display)
        self.url = url
        self._prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        # The scan function's signature as this station first found it (_schema_refusal).
        self._functions: str | None = None

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
        text = self._scrubbed(first_line(driver_error(error)))
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
        # The run's counts go to the tally's bulk slot, which no scan waits on (store/tally.py).
        db.cursor().execute(
            f"SELECT pg_advisory_xact_lock(%s), set_config('{BULK_SLOT_SETTING}', '0', true)",
            (SERIAL_NAMESPACE_LOCK,),
        )

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
        return self._execute(db, name, sql, True, params, checked=False)

    def execute_prepared(
        self, db: peewee.Database, name: str, body: str, params: Sequence[Any]
    ) -> Any:
        # A station's scan call, which reads the function's answer by position: prepared
        # only while the schema is this code's (_schema_refusal).
        return self._execute(db, name, body, False, params, checked=True)

    def _execute(
        self,
        db: peewee.Database,
        name: str,
        text: str,
        placeholders: bool,
        params: Sequence[Any],
        *,
        checked: bool,
    ) -> Any:
        """EXECUTE `name` with `params`, PREPAREd first on a connection that has not yet
        prepared it: from `text` written with `%s` (`placeholders`), or with `$1, $2, …`;
        `checked`: in the same round trip as a read of the schema's version."""
        connection = db.connection()
        prepared = self._prepared.get(connection)
        if prepared is None:
            prepared = self._prepared[connection] = set()
        cursor = db.cursor()
        if name not in prepared:
            # Sent without parameters: the driver reads no % in it.
            prepare = prepare_statement(name, text) if placeholders else f"PREPARE {name} AS {text}"
            if not checked:
                cursor.execute(prepare)
            else:
                # A connection new to this station (one the pool opened afresh, one after the
                # server dropped the last) would otherwise prepare the scan call against a
                # newer function and read its other columns by position as the old ones.
                cursor.execute(f"{prepare}; {_SCHEMA_CHECK}")
                refusal = self._schema_refusal(*cursor.fetchone())
                if refusal is not None:
                    cursor.execute(f"DEALLOCATE {name}")  # asked again by the next scan
                    raise refusal
            prepared.add(name)
        cursor.execute(_execute_text(name, len(params)), params)
        return cursor

    def _schema_refusal(self, version: str | None, functions: str | None) -> StoreError | None:
        """None when the schema is at this code's version and the scan function as this
        station first found it (its parameters and result columns); else what to do."""
        if version == str(SCHEMA_VERSION):
            if self._functions is None:
                self._functions = functions
            return None if functions == self._functions else StoreError(self._upgraded())
        if version is not None and version.isdigit() and int(version) > SCHEMA_VERSION:
            return StoreError(self._upgraded())
        return StoreError(
            f"{self.display} has schema version {version}, not this station's "
            f"({SCHEMA_VERSION}); nothing was written. Restart this station."
        )

    def _upgraded(self, written: str = "nothing was written") -> str:
        return (
            f"{self.display} was upgraded to a newer scanstation while this station was "
            f"running; {written}. Restart this station with the new version."
        )

    def answer_unreadable(self) -> StoreError:
        """The scan call answered an array of another length than this code's: a newer
        function kept its column and changed what it answers. It ran, so it may have
        recorded the scan."""
        return StoreError(
            self._upgraded("this scan's answer cannot be read, and it may have been recorded")
        )

    def literals(self, db: peewee.Database, values: Sequence[Any]) -> tuple[str, ...]:
        cursor = db.cursor()
        return tuple(cursor.mogrify("%s", (value,)).decode() for value in values)

    def forget_connection(self, connection: Any) -> None:
        self._prepared.pop(connection, None)

    def _scrubbed(self, text: str) -> str:
        """A driver's sentence with the URL's password masked, should it ever quote it."""
        password = urlsplit(self.url).password
        return text.replace(unquote(password), "***") if password else text

    def connection_lost(self, error: BaseException) -> bool:
        import psycopg2

        root = driver_error(error)
        code = getattr(root, "pgcode", None) or ""
        if code.startswith("08") or code in _PG_GONE:
            return True
        return not code and isinstance(root, psycopg2.OperationalError | psycopg2.InterfaceError)

    def inserted_id(self, cursor: Any) -> int:
        return int(cursor.fetchone()[0])

    def insert_serials(self, cursor: Any, columns: Sequence[Any], fixed: tuple[Any, ...]) -> None:
        """COPY, a few MB at a time: the fastest way in (a multi-row INSERT was parsed and
        planned a statement a thousand rows). A column with one value for every row is
        written once, at the end of each line, with `fixed`."""
        varying = [i for i, column in enumerate(columns) if isinstance(column, list)]
        same = [i for i in range(len(columns)) if i not in varying]
        names = [SERIAL_ROW_COLUMNS[i] for i in varying + same] + list(SERIAL_FIXED_COLUMNS)
        tail = "\t" + "\t".join(map(_copy_value, [columns[i] for i in same] + list(fixed)))
        tail += "\n"
        count = len(columns[varying[0]])
        for start in range(0, count, COPY_ROWS):
            cells = [_copy_cells(columns[i][start : start + COPY_ROWS]) for i in varying]
            text = tail.join(map("\t".join, zip(*cells, strict=True))) + tail
            # Read in one go: a read a few KB at a time took the GIL back each time, and an
            # import's checks hold it on the other thread (service/imports.py).
            cursor.copy_expert(
                f"COPY serial ({', '.join(names)}) FROM STDIN", io.StringIO(text), len(text) + 1
            )

    def returning_id(self) -> str:
        return " RETURNING id"

    def any_of(
        self, column: str, values: Sequence[str] | Sequence[int], *more_columns: str
    ) -> tuple[str, list[Any]]:
        if values and isinstance(values[0], int):  # row ids (store/prints.py)
            listed, kind = "{" + ",".join(map(str, values)) + "}", "bigint"
        else:
            listed, kind = _text_array(cast("Sequence[str]", values)), "text"
        columns = (column, *more_columns)
        return " OR ".join(f"{c} = ANY(%s::{kind}[])" for c in columns), [listed] * len(columns)

    def codes_in(self, column: str, codes: Sequence[str]) -> tuple[str, list[Any]]:
        # Each code looked up in the index, in the codes' order, whatever the planner knows
        # of the table: `= ANY(array)` read all of serial once the table had no statistics
        # or looked small beside the array (a seq scan a chunk, 0.25 s at 1M serials and
        # 0.4-1.1 s at 3M; this 0.25-0.3 s at 3M, half the codes found, load 6).
        sql = (
            f"SELECT s.{column} FROM unnest(%s::text[]) AS c (code) CROSS JOIN LATERAL"
            f" (SELECT {column} FROM serial WHERE {column} = c.code LIMIT 1) AS s"
        )
        return sql, [_text_array(codes)]

    def any_in_range(self, column: str, codes: list[str]) -> tuple[str, list[Any]]:
        # The database's collation need not sort as Python does (ICU's English puts "_"
        # before letters and digits), so the ends are taken by the database, in the
        # column's own order; the range is then read from the column's index. The ends go
        # to the index as a LATERAL's parameters: joined to serial as plain columns they
        # were only a filter, and every ask read the whole table (a seq scan of 1M serials,
        # 0.4 s, four times a 20,000-code chunk: 47 s of a 1M-row import's checks).
        sql = (
            "WITH ends AS MATERIALIZED (SELECT min(code) AS low, max(code) AS high"
            " FROM unnest(%s::text[]) AS code)"
            " SELECT EXISTS (SELECT 1 FROM ends, LATERAL (SELECT 1 FROM serial"
            f" WHERE {column} BETWEEN ends.low AND ends.high LIMIT 1) AS found)"
        )
        return sql, [_text_array(codes)]

    def is_duplicate_scan(self, error: BaseException) -> bool:
        # By the index's name: an error raised inside scanstation_scan carries a CONTEXT line
        # quoting its `INSERT INTO event (scan_id, …`, whatever constraint refused it.
        import psycopg2

        root = driver_error(error)
        if not isinstance(root, psycopg2.IntegrityError) or root.diag is None:
            return False
        return bool(root.diag.constraint_name == SCAN_ID_INDEX)

    def classify(self, error: BaseException) -> StoreError:
        import psycopg2

        if isinstance(error, StoreError):
            return error
        root = driver_error(error)
        code = getattr(root, "pgcode", None) or ""
        text = self._scrubbed(first_line(root))
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
        if code == "0A000" and "cached plan must not change result type" in text:
            # Another terminal upgraded the schema under this running station: its prepared
            # scan call no longer matches. Preparing it again would read the new columns with
            # the old code; only a restart on the new version can scan safely.
            return StoreError(self._upgraded())
        if code == "42883" and "function scanstation_" in text:
            # The same, when the upgrade changed a function's parameters (as schema 12 did):
            # this code's call names one the database no longer has.
            return StoreError(self._upgraded())
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
            # The history nobody can rewrite (not even by TRUNCATE): a correction is a new
            # event, never an edit. Only the owner could drop these triggers.
            "CREATE OR REPLACE FUNCTION scanstation_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}' "
            "USING ERRCODE = 'integrity_constraint_violation'; END $$",
            "DROP TRIGGER IF EXISTS event_append_only ON event",
            "CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event "
            "FOR EACH ROW EXECUTE FUNCTION scanstation_append_only()",
            "DROP TRIGGER IF EXISTS event_no_truncate ON event",
            "CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON event "
            "FOR EACH STATEMENT EXECUTE FUNCTION scanstation_append_only()",
            # A scan's transition in one round trip (store/scan_function.py), kept current;
            # schema 4's version (one parameter less) would otherwise stay as an overload.
            f"DROP FUNCTION IF EXISTS {APPLY_SCAN_FUNCTION_4}",
            APPLY_SCAN_FUNCTION,
            # A scan in one round trip: the serial found and moved by the station's decision
            # table (store/scan_rules.py); schema 11's version (without the document rows)
            # would otherwise stay as an overload.
            f"DROP FUNCTION IF EXISTS {SCAN_FUNCTION_11}",
            SCAN_FUNCTION,
            # Serials per stage and events, counted as they are written (store/tally.py).
            TALLY_TABLE,
            *postgresql_tally_triggers(),
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

    def migration_4(self) -> tuple[str, ...]:
        return (APPLY_SCAN_FUNCTION,)

    def migration_10(self) -> tuple[str, ...]:
        return (SCAN_FUNCTION,)

    def migration_11(self) -> tuple[str, ...]:
        return (SCAN_FUNCTION,)  # the same signature: replaced in place

    def migration_12(self) -> tuple[str, ...]:
        # More parameters (the document rows): a new signature, so the old one is dropped.
        return (f"DROP FUNCTION IF EXISTS {SCAN_FUNCTION_11}", SCAN_FUNCTION)

    def migration_13(self) -> tuple[str, ...]:
        # The same parameters, other columns returned: not replaceable in place, so schema
        # 12's is dropped first.
        return (f"DROP FUNCTION IF EXISTS {SCAN_FUNCTION_12}", SCAN_FUNCTION)

    def migration_14(self) -> tuple[str, ...]:
        # The same parameters, one text column returned instead of 25: dropped first, as
        # schema 12's was.
        return (f"DROP FUNCTION IF EXISTS {SCAN_FUNCTION_13}", SCAN_FUNCTION)

    def migration_6(self) -> tuple[str, ...]:
        # No serial or event is written while they are counted (the lock is held until the
        # migration commits, its triggers in place).
        return ("LOCK TABLE serial, event IN SHARE ROW EXCLUSIVE MODE", *super().migration_6())

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
