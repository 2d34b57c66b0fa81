"""The store's own guarantees: pragmas, schema version and migration, refusing foreign files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from scanstation.store.database import SCHEMA_VERSION, StoreError, parse_url
from scanstation.store.repository import Repository


def test_sqlite_is_wal_and_full_sync(tmp_path: Path) -> None:
    repo = Repository.open(str(tmp_path / "a.db"), create=True)
    db = repo._db
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    repo.close()


def test_an_older_schema_is_migrated_forward(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Repository.open(str(path), create=True).close()
    # Make the file look like version 1: no station index yet.
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX event_station_id")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    repo = Repository.open(str(path))
    assert repo.info()["schema_version"] == SCHEMA_VERSION == 2
    repo.close()
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert "event_station_id" in names and version == ("2",)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Repository.open(str(path), create=True).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer"):
        Repository.open(str(path))


@pytest.mark.parametrize(
    ("url", "backend", "path"),
    [
        ("sqlite:///rel/a.db", "sqlite", "rel/a.db"),
        ("sqlite:////abs/a.db", "sqlite", "/abs/a.db"),
        ("/abs/b.db", "sqlite", "/abs/b.db"),
        ("postgresql://u@h:5433/db", "postgresql", None),
    ],
)
def test_database_urls(url: str, backend: str, path: str | None) -> None:
    target = parse_url(url)
    assert target.backend == backend
    assert (str(target.path) if target.path else None) == path


def test_unsupported_url_is_clear() -> None:
    with pytest.raises(StoreError, match="unsupported scheme 'mysql'"):
        parse_url("mysql://x/y")


def test_postgresql_password_is_not_shown() -> None:
    assert "secret" not in parse_url("postgresql://u:secret@h/db").display


@pytest.mark.postgres
def test_a_dropped_postgresql_connection_is_not_a_driver_error(pg_url: str) -> None:
    """The server restarted (every connection killed): the next scan reconnects and goes on."""
    import psycopg2

    from scanstation.domain.model import ScanEvent
    from scanstation.domain.outcome import OutcomeKind
    from scanstation.service import StationService
    from tests.conftest import build_small, station

    service = StationService.open(pg_url, create=True)
    build_small(service)
    assert service.scan(ScanEvent("SN0000000001"), station()).kind is OutcomeKind.OK
    admin = psycopg2.connect(pg_url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    admin.cursor().execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (pg_url.rsplit("/", 1)[1],),
    )
    admin.close()
    again = service.scan(ScanEvent("SN0000000002"), station())
    assert again.kind is OutcomeKind.OK
    assert service.serial("SN0000000002").stage.value == "Registered at Plant"  # type: ignore[union-attr]
    service.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://scan:s3cret@db-host:5432/site", "postgresql://scan:***@db-host:5432/site"),
        ("postgresql://scan@db-host/site", "postgresql://scan@db-host/site"),
        ("postgresql://scan:p/w@rd@h/db", "postgresql://scan:***@h/db"),
        (
            "postgresql://h/db?sslmode=require&password=s3cret",
            "postgresql://h/db?sslmode=require&password=***",
        ),
        ("mysql://root:s3cret@h/db", "mysql://root:***@h/db"),
        ("/var/lib/site.db", "/var/lib/site.db"),
    ],
)
def test_a_password_is_masked_in_every_url_shown(url: str, shown: str) -> None:
    from scanstation.store.database import redacted_url

    assert redacted_url(url) == shown


def test_the_unsupported_scheme_error_does_not_show_the_password() -> None:
    with pytest.raises(StoreError) as raised:
        parse_url("mysql://root:s3cret@h/db")
    assert "s3cret" not in str(raised.value) and "root:***@h" in str(raised.value)
