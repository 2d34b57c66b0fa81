"""A scan across what happens to its connection: a site database upgraded under a running
station (on the connection that had the call prepared and on every one after it), an answer
lost after the call committed, and which database refusals are "this scan id is recorded".
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode, Stage
from scanstation.service import StationService, StationSetup
from scanstation.store.errors import DuplicateScan, StoreError
from scanstation.store.schema import SCHEMA_VERSION
from tests.conftest import build_small

RESTART = r"upgraded to a newer scanstation while this station was running; nothing was written\. Restart this station with the new version\.$"  # noqa: E501
REGISTER = StationSetup("T-1", "P1", Mode.REGISTER, operator="op-1")


def scan(service: StationService, serial: str, setup: StationSetup = REGISTER) -> Any:
    return service.scan(ScanEvent(serial, source="test"), setup)


def _admin(url: str) -> Any:
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    return connection


def _upgrade(url: str, *, edit: Any, bump: bool) -> None:
    """What a newer scanstation's migration does to the scan function, in one transaction:
    drop it, create its `edit`ed definition and, with `bump`, raise the schema's version."""
    admin = _admin(url)
    cursor = admin.cursor()
    cursor.execute(
        "SELECT oid::regprocedure, pg_get_functiondef(oid) FROM pg_proc "
        "WHERE proname = 'scanstation_scan'"
    )
    signature, definition = cursor.fetchone()
    newer = edit(definition)
    assert newer != definition
    cursor.execute("BEGIN")
    cursor.execute(f"DROP FUNCTION {signature}")
    cursor.execute(newer)
    if bump:
        cursor.execute(
            "UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
        )
    cursor.execute("COMMIT")
    admin.close()


def _drop_stations(url: str) -> None:
    """The server drops every station connection to this test's database (a restart, an idle
    timeout, a proxy); other databases on the server (other tests, a benchmark) keep theirs."""
    admin = _admin(url)
    admin.cursor().execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'scanstation' AND datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    admin.close()


def _written(url: str, serials: tuple[str, ...]) -> list[tuple[str, str, int]]:
    """Each serial's stage and its number of events, read around the station."""
    admin = _admin(url)
    cursor = admin.cursor()
    cursor.execute(
        "SELECT s.serial_no, s.stage, (SELECT count(*) FROM event e WHERE e.serial_id = s.id) "
        "FROM serial s WHERE s.serial_no = ANY(%s) ORDER BY s.serial_no",
        (list(serials),),
    )
    rows = cursor.fetchall()
    admin.close()
    return rows


def _one_more_column(definition: str) -> str:
    """The scan function with a second result column (since schema 14 it has one, `answer`):
    two results make it return a record."""
    newer = definition.replace("OUT answer text", "OUT answer text, OUT o_new integer")
    assert newer != definition
    return newer.replace(" RETURNS text", " RETURNS record")


# -- a site database upgraded under a running station ------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("bump", [True, False], ids=["schema-version-raised", "function-only"])
def test_a_station_that_reconnects_after_an_upgrade_still_refuses_every_scan(
    pg_url: str, bump: bool
) -> None:
    """The upgrade's first scan is refused on the connection that had the call prepared; a
    new connection (the server dropped it) must not prepare the call again against the newer
    function and read its answer by position: the site shown as the document, a count as
    None. Every scan says restart; nothing is written. Without the schema version raised
    (`function-only`), the function's changed columns tell it."""
    service = StationService.open(pg_url, create=True)
    build_small(service)
    assert scan(service, "SN0000000001").kind is OutcomeKind.OK  # the call prepared
    _upgrade(pg_url, edit=_one_more_column, bump=bump)
    with pytest.raises(StoreError, match=RESTART):
        scan(service, "SN0000000002")
    _drop_stations(pg_url)
    for serial in ("SN0000000003", "SN0000000004"):
        with pytest.raises(StoreError, match=RESTART):
            scan(service, serial)
    assert _written(pg_url, ("SN0000000002", "SN0000000003", "SN0000000004")) == [
        (serial, Stage.NOT_REGISTERED.value, 0)
        for serial in ("SN0000000002", "SN0000000003", "SN0000000004")
    ]
    service.close()


@pytest.mark.postgres
def test_a_station_whose_first_scan_comes_after_an_upgrade_refuses_it(pg_url: str) -> None:
    """A station opened before the upgrade that had not scanned yet: its first call is
    prepared after the upgrade, on a connection that never saw the old function."""
    service = StationService.open(pg_url, create=True)
    build_small(service)
    _upgrade(pg_url, edit=_one_more_column, bump=True)
    with pytest.raises(StoreError, match=RESTART):
        scan(service, "SN0000000001")
    assert _written(pg_url, ("SN0000000001",)) == [("SN0000000001", "Not Registered at Plant", 0)]
    service.close()


def _one_more_answer(definition: str) -> str:
    """The scan function answering one more value in its JSON array, its column (`answer
    text`) kept: PostgreSQL sees the same result type, so no prepared call fails."""
    newer = definition.replace("o_printed_at)::text", "o_printed_at, 1)::text")
    assert newer != definition
    return newer


@pytest.mark.postgres
def test_a_newer_answer_layout_under_the_same_column_asks_for_a_restart(pg_url: str) -> None:
    """A later schema whose function answers another array in the same `answer text`
    column: the running station must not read the new array by the old positions (the
    prepared call raises nothing, the function runs). Every scan, on the connection that had
    the call prepared and on a new one, says restart, and that the scan may have been
    recorded (the call ran)."""
    service = StationService.open(pg_url, create=True)
    build_small(service)
    assert scan(service, "SN0000000001").kind is OutcomeKind.OK  # the call prepared
    _upgrade(pg_url, edit=_one_more_answer, bump=False)
    unreadable = (
        r"upgraded to a newer scanstation while this station was running; this scan's answer "
        r"cannot be read, and it may have been recorded\. Restart this station with the new "
        r"version\.$"
    )
    with pytest.raises(StoreError, match=unreadable):
        scan(service, "SN0000000002")
    _drop_stations(pg_url)
    with pytest.raises(StoreError, match=unreadable):
        scan(service, "SN0000000003")
    service.close()


@pytest.mark.postgres
def test_an_upgrade_that_changes_the_function_s_parameters_asks_for_a_restart(
    pg_url: str,
) -> None:
    """Schema 12 gave the function more parameters: the running station's call then names a
    function the database no longer has. The operator is told to restart, not PostgreSQL's
    "function scanstation_scan(text, …, unknown) does not exist"."""
    service = StationService.open(pg_url, create=True)
    build_small(service)
    assert scan(service, "SN0000000001").kind is OutcomeKind.OK

    def one_more_parameter(definition: str) -> str:
        return definition.replace("p_approved_by text,", "p_approved_by text, p_new integer,", 1)

    _upgrade(pg_url, edit=one_more_parameter, bump=False)
    with pytest.raises(StoreError, match=RESTART) as raised:
        scan(service, "SN0000000002")
    assert "does not exist" not in str(raised.value)
    assert _written(pg_url, ("SN0000000002",)) == [("SN0000000002", "Not Registered at Plant", 0)]
    service.close()


@pytest.mark.postgres
def test_a_scan_function_in_another_schema_does_not_stop_the_station(pg_url: str) -> None:
    """The station compares the scan function's signature with what it first found, on each
    new connection. A function of the same name in another schema of the database (another
    application's, a copy kept by hand) is not the one the station calls: scans go on."""
    service = StationService.open(pg_url, create=True)
    build_small(service)
    assert scan(service, "SN0000000001").kind is OutcomeKind.OK  # the signature noted
    admin = _admin(pg_url)
    admin.cursor().execute(
        "CREATE SCHEMA elsewhere; CREATE FUNCTION elsewhere.scanstation_scan(p integer) "
        "RETURNS integer LANGUAGE sql AS 'SELECT p'"
    )
    admin.close()
    _drop_stations(pg_url)  # the next scan prepares its call, and checks, again
    answered = scan(service, "SN0000000002")
    assert answered.kind is OutcomeKind.OK, answered.message
    assert _written(pg_url, ("SN0000000002",)) == [("SN0000000002", Stage.REGISTERED.value, 1)]
    service.close()


@pytest.mark.postgres
def test_a_station_opened_beside_a_scan_function_in_another_schema_scans(pg_url: str) -> None:
    """The same function in another schema already there when the station first looks: the
    signature it notes is its own schema's, and a new connection finds it the same."""
    admin = _admin(pg_url)
    admin.cursor().execute(
        "CREATE SCHEMA elsewhere; CREATE FUNCTION elsewhere.scanstation_scan(p integer) "
        "RETURNS integer LANGUAGE sql AS 'SELECT p'"
    )
    service = StationService.open(pg_url, create=True)
    build_small(service)
    assert scan(service, "SN0000000001").kind is OutcomeKind.OK
    admin.cursor().execute("DROP SCHEMA elsewhere CASCADE")  # the other application goes
    admin.close()
    _drop_stations(pg_url)
    answered = scan(service, "SN0000000002")
    assert answered.kind is OutcomeKind.OK, answered.message
    service.close()


@pytest.mark.postgres
def test_a_database_found_older_than_the_station_while_it_runs_is_refused(pg_url: str) -> None:
    """A site database put back to an older schema under a running station (a backup
    restored): its function answers older columns. Opening it would migrate it; a scan on a
    renewed connection must not read it by position."""
    service = StationService.open(pg_url, create=True)
    build_small(service)
    assert scan(service, "SN0000000001").kind is OutcomeKind.OK
    admin = _admin(pg_url)
    admin.cursor().execute(
        "UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION - 1),)
    )
    admin.close()
    _drop_stations(pg_url)
    with pytest.raises(StoreError, match=r"not this station's .* Restart this station\.$"):
        scan(service, "SN0000000002")
    assert _written(pg_url, ("SN0000000002",)) == [("SN0000000002", "Not Registered at Plant", 0)]
    service.close()


# -- an answer lost after the call committed ---------------------------------------------------


@pytest.mark.postgres
def test_a_scan_whose_answer_was_lost_after_it_committed_is_ok_not_already(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call commits the move; the connection drops before its answer is read; the store
    tries again on a new connection, and the function finds this scan id recorded. That
    record is this very scan's: the unit's first scan answers OK with its move, not "This
    scan was already recorded"."""
    import psycopg2

    service = StationService.open(pg_url, create=True)
    build_small(service)
    dialect = service.repo.dialect
    real = dialect.execute_prepared
    lost: list[str] = []

    def answer_lost_once(db: Any, name: str, body: str, params: Any) -> Any:
        cursor = real(db, name, body, params)
        if not lost:
            lost.append(name)
            cursor.fetchone()  # committed (the call commits by itself) ...
            db.connection().close()  # ... and the connection drops before the answer
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        return cursor

    monkeypatch.setattr(dialect, "execute_prepared", answer_lost_once)
    event = ScanEvent("SN0000000001", source="test")
    answered = service.scan(event, REGISTER)
    assert lost, "the answer was not lost"
    assert answered.kind is OutcomeKind.OK, answered.message
    assert answered.message == "SN0000000001 registered — now Registered at Plant"
    assert (answered.stage_before, answered.stage_after) == (
        Stage.NOT_REGISTERED,
        Stage.REGISTERED,
    )
    assert answered.serial == service.serial("SN0000000001")
    events = service.events("SN0000000001")
    assert [(e.outcome, e.to_stage) for e in events] == [("ok", Stage.REGISTERED)]
    recorded = service.repo._cursor("SELECT id FROM event WHERE scan_id = ?", (event.scan_id,))
    assert answered.event_id == recorded.fetchone()[0]
    # The same scan delivered again, with no connection lost, is still "already recorded".
    again = service.scan(event, REGISTER)
    assert again.kind is OutcomeKind.ALREADY
    assert again.message == "This scan was already recorded (ok)"
    service.close()


@pytest.mark.postgres
def test_a_scan_sent_again_on_a_stale_connection_is_already_not_ok(pg_url: str) -> None:
    """A scan id delivered a second time (a client's resend, a replay of a scan already
    recorded) when the server had dropped the station's idle connection: the first
    statement fails on the dead connection, having committed nothing, and the retry finds
    the scan id recorded by the FIRST delivery. That is no lost answer of this delivery:
    ALREADY, not a green OK and a second "registered" line for a unit recorded once."""
    service = StationService.open(pg_url, create=True)
    build_small(service)
    event = ScanEvent("SN0000000001", source="test")
    assert service.scan(event, REGISTER).kind is OutcomeKind.OK
    _drop_stations(pg_url)  # a server restart, an idle timeout: between two scans
    again = service.scan(event, REGISTER)
    assert again.kind is OutcomeKind.ALREADY, again.message
    assert again.message == "This scan was already recorded (ok)"
    assert again.event_id is None
    assert _written(pg_url, ("SN0000000001",)) == [("SN0000000001", Stage.REGISTERED.value, 1)]
    service.close()


# -- which refusals are "this scan id is recorded" --------------------------------------------


@pytest.mark.postgres
def test_another_constraint_refusing_the_function_s_event_is_not_a_recorded_scan(
    pg_url: str,
) -> None:
    """An error raised inside scanstation_scan quotes its `INSERT INTO event (scan_id, …` in
    its CONTEXT: a CHECK (or NOT NULL, or foreign key) refusing that event is no duplicate
    scan id. The operator must not read "already recorded" for a scan nothing recorded."""
    service = StationService.open(pg_url, create=True)
    build_small(service)
    admin = _admin(pg_url)
    admin.cursor().execute(
        "ALTER TABLE event ADD CONSTRAINT not_at_t9 CHECK (station <> 'T-9') NOT VALID"
    )
    admin.close()
    at_t9 = StationSetup("T-9", "P1", Mode.REGISTER, operator="op-9")
    with pytest.raises(StoreError, match="refused the change, nothing was written") as raised:
        scan(service, "SN0000000001", at_t9)
    assert "not_at_t9" in str(raised.value)
    assert _written(pg_url, ("SN0000000001",)) == [("SN0000000001", "Not Registered at Plant", 0)]
    service.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_only_the_scan_id_index_makes_a_duplicate_scan(
    backend: str, db_url: str, request: pytest.FixtureRequest
) -> None:
    """The store's classifier, with the drivers' own exceptions: a second event with a scan
    id is DuplicateScan; a refusal by another constraint that names scan_id is not."""
    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    service = StationService.open(url, create=True)
    build_small(service)
    repo = service.repo
    assert scan(service, "SN0000000001").kind is OutcomeKind.OK
    scan_id = str(repo._cursor("SELECT scan_id FROM event WHERE kind = 'scan'").fetchone()[0])
    insert = (
        "INSERT INTO event (scan_id, kind, station, operator, at, outcome) "
        "VALUES (?, 'scan', 'x', 'x', 'x', 'ok')"
    )

    def error_of(sql: str, params: tuple[Any, ...]) -> Exception:
        cursor = repo._db.cursor()
        try:
            cursor.execute(repo.dialect.sql(sql), params)
        except Exception as error:
            if backend == "postgresql":
                repo._db.connection().rollback()
            return error
        raise AssertionError(f"{sql} was not refused")

    duplicate = error_of(insert, (scan_id,))
    with pytest.raises(DuplicateScan):
        repo.raise_if_duplicate(scan_id, duplicate)
    if backend == "sqlite":
        # A real IntegrityError whose text names scan_id: a CHECK on that column.
        other_db = sqlite3.connect(":memory:")
        other_db.execute("CREATE TABLE event (scan_id TEXT UNIQUE CHECK (length(scan_id) < 5))")
        try:
            other_db.execute("INSERT INTO event VALUES ('0123456789')")
        except sqlite3.IntegrityError as error:
            other: Exception = error
        else:
            raise AssertionError("the CHECK did not refuse")
        assert "scan_id" in str(other)
    else:
        # Unnamed, so PostgreSQL names it after the column: event_scan_id_check.
        repo._cursor("ALTER TABLE event ADD CHECK (length(scan_id) < 10) NOT VALID")
        other = error_of(insert, ("x" * 20,))
        assert "scan_id" in str(other)
    repo.raise_if_duplicate(scan_id, other)  # not DuplicateScan: it goes up as it is
    service.close()
