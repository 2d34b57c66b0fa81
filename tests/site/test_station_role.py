"""`scanstation db roles --apply` on a real PostgreSQL server: a terminal logged in as a member
of the station role scans, signs people in and closes documents, and cannot delete or update
an event, change the schema or add users; its password is never printed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.roles import Role
from scanstation.domain.stages import Mode
from scanstation.service import StationService
from tests.cli.test_cli import run
from tests.conftest import build_small, secret, station

TERMINAL_PASSWORD = secret("gate-pw-5f1c9a7e2b")
ADMIN_PIN = secret("914207365518")


@pytest.fixture
def terminal_url(pg_url: str) -> Iterator[str]:
    """A built database with users, its station role applied by the CLI, and a login role
    of that station role: the URL a terminal would use (with its password)."""
    owner = StationService.open(pg_url, create=True)
    build_small(owner)
    owner.add_user("Asha", Role.ADMIN)
    owner.set_pin("Asha", ADMIN_PIN)
    owner.close()
    group = f"station_{uuid.uuid4().hex[:8]}"
    login = f"gate_{uuid.uuid4().hex[:8]}"
    applied = run(
        pg_url, "db", "roles", "--role", group, "--apply", "--user", "Asha",
        env={"SCANSTATION_PIN": ADMIN_PIN},
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert f"GRANT INSERT ON event TO {group};" in applied.stdout
    admin = psycopg2.connect(pg_url)
    admin.autocommit = True
    admin.cursor().execute(
        f"CREATE ROLE {login} LOGIN PASSWORD '{TERMINAL_PASSWORD}' IN ROLE {group}"
    )
    parts = urlsplit(pg_url)
    netloc = f"{login}:{TERMINAL_PASSWORD}@{parts.hostname}:{parts.port or 5432}"
    try:
        yield urlunsplit(parts._replace(netloc=netloc))
    finally:
        admin.cursor().execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (login,)
        )
        admin.cursor().execute(f"DROP OWNED BY {login}, {group}")
        admin.cursor().execute(f"DROP ROLE {login}")
        admin.cursor().execute(f"DROP ROLE {group}")
        admin.close()


@pytest.mark.postgres
def test_the_station_role_scans_and_cannot_rewrite_history(terminal_url: str) -> None:
    terminal = StationService.open(terminal_url)
    try:
        signed_in = terminal.authenticate("Asha", ADMIN_PIN)
        setup = replace(station(mode=Mode.REGISTER), operator=signed_in.name, role=signed_in.role)
        done = terminal.scan(ScanEvent("SN0000000001"), setup)
        assert done.kind is OutcomeKind.OK, done.message
        closed = terminal.close_document("INV-1", "customer cancelled", "Asha", actor=signed_in)
        assert not closed.is_open
    finally:
        terminal.close()
    conn = psycopg2.connect(terminal_url)
    try:
        for statement in (
            "DELETE FROM event",
            "UPDATE event SET operator = 'x'",
            "ALTER TABLE event DROP COLUMN message",
            "DELETE FROM serial",
            "INSERT INTO user_account (name, name_key, role, created_at, created_by) "
            "VALUES ('Eve', 'eve', 'admin', 'now', 'eve')",
            "CREATE TABLE mine (id integer)",
        ):
            with pytest.raises(psycopg2.Error) as refused:
                conn.cursor().execute(statement)
            assert refused.value.pgcode in ("42501", "42P01"), statement  # permission denied
            conn.rollback()
    finally:
        conn.close()


@pytest.mark.postgres
def test_a_database_password_is_never_printed(terminal_url: str) -> None:
    info = run(terminal_url, "db", "info")
    assert info.returncode == 0, info.stderr
    assert TERMINAL_PASSWORD not in info.stdout + info.stderr
    assert ":***@" in info.stdout or "***" not in info.stdout  # shown masked, if at all
    # Which role the terminal works as: IT checks it is the station role's login, not the owner.
    assert f"database_user              {urlsplit(terminal_url).username}" in info.stdout
    # A server that does not answer: the error names the database, not the password.
    unreachable = f"postgresql://gate:{TERMINAL_PASSWORD}@127.0.0.1:1/site"
    for args in (("db", "info"), ("user", "list")):
        bad = run(unreachable, *args)
        assert bad.returncode == 2 and "127.0.0.1" in bad.stderr
        assert TERMINAL_PASSWORD not in bad.stdout + bad.stderr


def test_db_roles_is_for_postgresql(tmp_path: object) -> None:
    path = f"{tmp_path}/roles.db"
    run(path, "db", "init")
    refused = run(path, "db", "roles")
    assert refused.returncode == 2 and "database roles are for PostgreSQL" in refused.stderr
