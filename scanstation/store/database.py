"""The one place that opens a database: a SQLite file (the embedded default) or a PostgreSQL
server, checked and migrated to the current schema. Every problem on the way (a URL that does
not parse, a folder that cannot be made, a file of another program, a server that does not
answer) is a StoreError with a sentence, and no message ever shows a password."""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import peewee

from scanstation.store.dialect import Dialect, first_line
from scanstation.store.errors import StoreBusy, StoreError
from scanstation.store.postgresql_dialect import NOTIFY_CHANNEL, PostgresDialect
from scanstation.store.schema import APPLICATION_ID, SCHEMA_VERSION, ensure_schema
from scanstation.store.sqlite_dialect import SqliteDialect
from scanstation.store.tables import Tables, bind_tables

__all__ = [
    "NOTIFY_CHANNEL",
    "SCHEMA_VERSION",
    "DatabaseTarget",
    "OpenDatabase",
    "StoreBusy",
    "StoreError",
    "open_database",
    "parse_url",
    "redacted_url",
]


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


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    backend: str  # "sqlite" | "postgresql"
    url: str
    path: Path | None = None  # SQLite only

    @property
    def display(self) -> str:
        """How messages name the database: a file's path, or host, port and name (never the
        user or password)."""
        if self.path is not None:
            return str(self.path)
        parsed = urlsplit(self.url)
        host = parsed.hostname or "localhost"
        if ":" in host:
            host = f"[{host}]"
        port = f":{parsed.port}" if parsed.port else ""
        return f"postgresql://{host}{port}{parsed.path}"


def parse_url(url: str) -> DatabaseTarget:
    """`sqlite:///relative.db`, `sqlite:////abs/file.db`, a bare path, or `postgresql://…`."""
    text = url.strip()
    shown = redacted_url(text)
    if any(ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise StoreError(f"Database URL {shown!r} holds a NUL or bytes that are not UTF-8")
    if text.startswith(("postgresql://", "postgres://")):
        _check_postgresql_url(text, shown)
        return DatabaseTarget("postgresql", text)
    if text.startswith("sqlite:"):
        rest = text[len("sqlite:") :]
        if rest.startswith("///"):
            rest = rest[3:]
        elif rest.startswith("//"):
            rest = rest[2:]
        if not rest:
            raise StoreError(f"Database URL {shown!r} names no file")
        return DatabaseTarget("sqlite", text, Path(unquote(rest)).expanduser())
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise StoreError(
            f"Database URL {shown!r}: unsupported scheme {scheme!r} "
            "(expected sqlite:///PATH or postgresql://USER@HOST/DB)"
        )
    if not text:
        raise StoreError("Database URL is empty")
    return DatabaseTarget("sqlite", text, Path(text).expanduser())


def _check_postgresql_url(url: str, shown: str) -> None:
    """Host and port are read before connecting, so a typo is a sentence, not a traceback."""
    try:
        parsed = urlsplit(url)
    except ValueError as error:  # e.g. "Invalid IPv6 URL"
        raise StoreError(f"Database URL {shown!r} cannot be read: {error}") from error
    try:
        port = parsed.port
    except ValueError as error:
        raise StoreError(
            f"Database URL {shown!r}: the port must be a number from 1 to 65535"
        ) from error
    if port == 0:
        raise StoreError(f"Database URL {shown!r}: the port must be a number from 1 to 65535")


@dataclass(frozen=True, slots=True)
class OpenDatabase:
    """A database opened by `open_database`: Peewee's handle, its tables and dialect."""

    db: peewee.Database
    target: DatabaseTarget
    dialect: Dialect
    tables: Tables


def _prepare_sqlite_file(path: Path, *, create: bool) -> None:
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a database file")
    if path.exists():
        if not os.access(path, os.R_OK):
            raise StoreError(f"{path} cannot be read (permission denied)")
        return
    if not create:
        raise StoreError(
            f"No database at {path}: run `scanstation db init` (or `scanstation demo`) first"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or first_line(error)
        raise StoreError(
            f"Cannot create the folder {path.parent} for the database: {reason}"
        ) from error
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StoreError(f"Cannot create the database {path}: the folder is not writable")


def _check_sqlite_file(db: peewee.Database, path: Path) -> None:
    try:
        app_id = db.execute_sql("PRAGMA application_id").fetchone()[0]
        has_tables = db.execute_sql(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        ).fetchone()[0]
    except (peewee.DatabaseError, sqlite3.DatabaseError) as error:
        raise StoreError(
            f"{path} is not a scanstation database (SQLite says: {first_line(error)})"
        ) from error
    if has_tables and app_id != APPLICATION_ID:
        raise StoreError(f"{path} is a SQLite file of another program, not a scanstation database")
    if not has_tables:
        db.execute_sql(f"PRAGMA application_id = {APPLICATION_ID}")


def open_database(url: str, *, create: bool = False) -> OpenDatabase:
    """Open (and with `create`, initialise) the database at `url`; migrate an older schema."""
    target = parse_url(url)
    dialect: Dialect = (
        SqliteDialect(target.display, str(target.path))
        if target.path is not None
        else PostgresDialect(target.display, target.url)
    )
    if target.path is not None:
        _prepare_sqlite_file(target.path, create=create)
    db = dialect.connect()
    try:
        db.connect(reuse_if_open=True)
    except Exception as error:  # every driver's failure to connect, said in a sentence
        raise dialect.connect_error(error) from error
    tables = bind_tables(db)
    try:
        if target.path is not None:
            _check_sqlite_file(db, target.path)
        ensure_schema(db, tables, dialect, create=create, display=target.display)
    except StoreError:
        db.close()
        raise
    except Exception as error:
        db.close()
        if isinstance(error, peewee.PeeweeException | sqlite3.Error) or _is_psycopg(error):
            raise dialect.classify(error) from error
        raise
    return OpenDatabase(db, target, dialect, tables)


def _is_psycopg(error: BaseException) -> bool:
    module = type(error).__module__
    return module.startswith("psycopg2")
