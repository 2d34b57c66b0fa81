"""The one place that opens a database: a SQLite file (the embedded default) or a PostgreSQL
server, with the pragmas that make a green OK survive a power cut, and the schema version."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import peewee
from playhouse.pool import PooledPostgresqlDatabase

from scanstation.store.tables import ALL_TABLES, Meta, database_proxy

SCHEMA_VERSION = 2
APPLICATION_ID = 0x5C5A_7001  # marks a SQLite file as ours, so a foreign file is refused

# A short busy timeout and a bounded retry in the repository: a long timeout let one writer
# starve for seconds while others kept winning the lock.
SQLITE_BUSY_TIMEOUT_MS = 250


class StoreError(Exception):
    """A database problem a person can act on: the message says what and where."""


class StoreBusy(StoreError):
    """The database stayed locked or unreachable after the bounded retries."""


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    backend: str  # "sqlite" | "postgresql"
    url: str
    path: Path | None = None  # SQLite only

    @property
    def display(self) -> str:
        if self.path is not None:
            return str(self.path)
        parsed = urlparse(self.url)
        host = parsed.hostname or "localhost"
        port = f":{parsed.port}" if parsed.port else ""
        return f"postgresql://{host}{port}{parsed.path}"


def redacted_url(url: str) -> str:
    """`url` with its password masked (`postgresql://scan:***@host/db`), for every message
    that names a database: a password is never printed, logged or stored in clear.

    Masks too much rather than too little: everything between the first `:` of the user part
    and the last `@` (a password may hold `/` or `@` unescaped), and `password=` parameters."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, at, hostpart = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.split(':', 1)[0]}:***@{hostpart}"
    rest = re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", rest)
    return f"{scheme}://{rest}"


def parse_url(url: str) -> DatabaseTarget:
    """`sqlite:///relative.db`, `sqlite:////abs/file.db`, a bare path, or `postgresql://…`."""
    text = url.strip()
    if text.startswith(("postgresql://", "postgres://")):
        return DatabaseTarget("postgresql", text)
    if text.startswith("sqlite:"):
        rest = text[len("sqlite:") :]
        if rest.startswith("///"):
            rest = rest[3:]
        elif rest.startswith("//"):
            rest = rest[2:]
        if not rest:
            raise StoreError(f"Database URL {redacted_url(url)!r} names no file")
        path = Path(unquote(rest)).expanduser()
        return DatabaseTarget("sqlite", text, path)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise StoreError(
            f"Database URL {redacted_url(url)!r}: unsupported scheme {scheme!r} "
            "(expected sqlite:///PATH or postgresql://USER@HOST/DB)"
        )
    if not text:
        raise StoreError("Database URL is empty")
    return DatabaseTarget("sqlite", text, Path(text).expanduser())


def _open_sqlite(target: DatabaseTarget, *, create: bool) -> peewee.SqliteDatabase:
    assert target.path is not None
    path = target.path
    if not path.exists():
        if not create:
            raise StoreError(
                f"No database at {path}: run `scanstation db init` (or `scanstation demo`) first"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    elif path.is_dir():
        raise StoreError(f"{path} is a directory, not a database file")
    db = peewee.SqliteDatabase(
        str(path),
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
    try:
        db.connect(reuse_if_open=True)
        app_id = db.execute_sql("PRAGMA application_id").fetchone()[0]
        has_tables = db.execute_sql(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        ).fetchone()[0]
    except (peewee.DatabaseError, sqlite3.DatabaseError) as error:
        db.close()
        raise StoreError(f"{path} is not a scanstation database (SQLite says: {error})") from error
    if has_tables and app_id != APPLICATION_ID:
        db.close()
        raise StoreError(f"{path} is a SQLite file of another program, not a scanstation database")
    if not has_tables:
        db.execute_sql(f"PRAGMA application_id = {APPLICATION_ID}")
    return db


def _open_postgresql(target: DatabaseTarget) -> peewee.PostgresqlDatabase:
    parsed = urlparse(target.url)
    name = unquote(parsed.path.lstrip("/")) or "scanstation"
    db = PooledPostgresqlDatabase(
        name,
        user=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
        host=parsed.hostname or None,
        port=parsed.port or None,
        max_connections=32,
        stale_timeout=300,
        connect_timeout=2,  # a reconnect attempt must not hold the one writer long
        autoconnect=True,
    )
    try:
        db.connect(reuse_if_open=True)
    except peewee.OperationalError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise StoreError(f"Cannot reach the database at {target.display}: {first_line}") from error
    return db


def open_database(url: str, *, create: bool = False) -> tuple[peewee.Database, DatabaseTarget]:
    """Open (and with `create`, initialise) the database at `url`; migrate an older schema."""
    target = parse_url(url)
    db = (
        _open_sqlite(target, create=create)
        if target.backend == "sqlite"
        else _open_postgresql(target)
    )
    database_proxy.initialize(db)
    try:
        version = schema_version(db)
        if version is None:
            if not create:
                raise StoreError(
                    f"{target.display} holds no scanstation schema: run `scanstation db init`"
                )
            with db.atomic():
                db.create_tables(ALL_TABLES, safe=True)
                if target.backend == "postgresql":
                    _create_notify_trigger(db)
                Meta.insert(key="schema_version", value=str(SCHEMA_VERSION)).on_conflict(
                    conflict_target=[Meta.key], preserve=[Meta.value]
                ).execute()
        elif version < SCHEMA_VERSION:
            migrate(db, version)
        elif version > SCHEMA_VERSION:
            raise StoreError(
                f"{target.display} has schema version {version}, newer than this scanstation "
                f"({SCHEMA_VERSION}): upgrade scanstation"
            )
    except StoreError:
        db.close()
        raise
    except peewee.DatabaseError as error:
        db.close()
        raise StoreError(f"{target.display}: {error}") from error
    return db, target


NOTIFY_CHANNEL = "scanstation_events"


def _create_notify_trigger(db: peewee.Database) -> None:
    """Every committed event wakes the stations LISTENing (live refresh), with no extra round
    trip on the scan path: a statement-level trigger sends the NOTIFY."""
    db.execute_sql(
        "CREATE OR REPLACE FUNCTION scanstation_notify() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$"
    )
    db.execute_sql("DROP TRIGGER IF EXISTS event_notify ON event")
    db.execute_sql(
        "CREATE TRIGGER event_notify AFTER INSERT ON event "
        "FOR EACH STATEMENT EXECUTE FUNCTION scanstation_notify()"
    )


def schema_version(db: peewee.Database) -> int | None:
    if not db.table_exists("meta"):
        return None
    row = Meta.get_or_none(Meta.key == "schema_version")
    if row is None:
        return None
    try:
        return int(row.value)
    except ValueError as error:
        raise StoreError(f"schema version {row.value!r} is not a number") from error


# Each step takes the schema from version N to N + 1; a file of any older version is walked
# forward one step at a time, inside one transaction.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2: a station's scan list pages its history from the database by (station, id).
    # Events are read by serial or by station, never by time alone: the `at` index only
    # cost every scan a page write.
    1: (
        "CREATE INDEX IF NOT EXISTS event_station_id ON event (station, id)",
        "DROP INDEX IF EXISTS event_at",
        # Foreign-key indexes no query used, each a page written by every scan.
        "DROP INDEX IF EXISTS serial_item_id",
        "DROP INDEX IF EXISTS serial_generation_id",
        "DROP INDEX IF EXISTS serial_site_id",
        "DROP INDEX IF EXISTS serial_document_id",
        "DROP INDEX IF EXISTS event_document_id",
    ),
}


def migrate(db: peewee.Database, from_version: int) -> None:
    with db.atomic():
        for version in range(from_version, SCHEMA_VERSION):
            for statement in MIGRATIONS.get(version, ()):
                db.execute_sql(statement)
        if isinstance(db, peewee.PostgresqlDatabase):
            _create_notify_trigger(db)
        Meta.update(value=str(SCHEMA_VERSION)).where(Meta.key == "schema_version").execute()
