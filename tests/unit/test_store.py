"""The store's own guarantees: pragmas, schema version and migration, refusing foreign files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode, Stage
from scanstation.service import StationService
from scanstation.store.database import SCHEMA_VERSION, StoreError, parse_url
from scanstation.store.repository import Repository
from tests.conftest import station


def test_sqlite_is_wal_and_full_sync(tmp_path: Path) -> None:
    repo = Repository.open(str(tmp_path / "a.db"), create=True)
    db = repo._db
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    repo.close()


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# A version 2 database's rows, as scanstation 2 wrote them: events without recorded_at.
V2_ROWS = (
    "INSERT INTO site (id, code, name, kind) VALUES (1, 'P1', 'Pune Plant', 'plant')",
    "INSERT INTO item (id, sku, name, gtin, model_no) VALUES (1, 'PUMP', 'Pump', NULL, NULL)",
    "INSERT INTO generation_run (id, generation_no, item_id, count, site_id, created_at, "
    "created_by) VALUES (1, 'G-000001', 1, 2, 1, '2024-01-01T00:00:00+00:00', 'planner')",
    "INSERT INTO serial (id, serial_no, item_id, generation_id, secondary_qr, stage, site_id, "
    "created_at, created_by, updated_at, updated_by, version) VALUES "
    "(1, 'SN0000000001', 1, 1, 'QRAAAAAAAAAA', 'Registered at Plant', 1, "
    "'2024-01-01T00:00:00+00:00', 'planner', '2024-01-02T00:00:00+00:00', 'op-1', 2), "
    "(2, 'SN0000000002', 1, 1, 'QRBBBBBBBBBB', 'Not Registered at Plant', 1, "
    "'2024-01-01T00:00:00+00:00', 'planner', '2024-01-01T00:00:00+00:00', 'planner', 1)",
    "INSERT INTO event (id, scan_id, kind, serial_id, mode, from_stage, to_stage, station, "
    "site, operator, at, recorded_at, outcome) VALUES (1, 'old-scan-1', 'scan', 1, 'register', "
    "'Not Registered at Plant', 'Registered at Plant', 'T-OLD', 'P1', 'op-1', "
    "'2024-01-02T00:00:00+00:00', NULL, 'ok')",
    "INSERT INTO meta (key, value) VALUES ('schema_version', '2'), ('serial_seq', '2'), "
    "('generation_seq', '1')",
)


def _v2_sqlite(path: Path, *, version: int = 2) -> None:
    """A SQLite file exactly as scanstation 2 made it (its DDL, kept in tests/fixtures)."""
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURES / "schema_v2_sqlite.sql").read_text())
        conn.execute("PRAGMA application_id = 1549430785")  # 0x5C5A7001
        for statement in V2_ROWS:
            conn.execute(statement)
        if version == 1:  # version 1 had no (station, id) index yet
            conn.execute("DROP INDEX event_station_id")
            conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.close()


def _check_migrated(service: StationService) -> None:
    from scanstation.domain.model import ScanEvent
    from scanstation.domain.outcome import OutcomeKind
    from scanstation.domain.roles import Role
    from tests.conftest import station

    assert service.info()["schema_version"] == SCHEMA_VERSION
    # Schema 7: the user tables exist, empty: an open station until the first PIN.
    assert not service.has_users() and service.users() == []
    service.add_user("Asha", Role.ADMIN, badge="B-1")
    assert [(u.name, u.role, u.has_pin) for u in service.users()] == [("Asha", Role.ADMIN, False)]
    old = service.events("SN0000000001")
    assert old[0].station == "T-OLD" and old[0].recorded_at == old[0].at  # backfilled
    cursor = service.change_cursor()
    outcome = service.scan(ScanEvent("SN0000000002"), station())
    assert outcome.kind is OutcomeKind.OK and outcome.event_id is not None
    _, serials, _ = service.changes_since(cursor)
    assert serials == {"SN0000000002"}
    # The counters carried over: a new run does not collide with the migrated serials.
    run, serials_made = service.generate("PUMP", 2, "P1")
    assert run == "G-000002" and serials_made == ["SN0000000003", "SN0000000004"]


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_sqlite_file_is_migrated_forward(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.db"
    _v2_sqlite(path, version=version)
    service = StationService.open(str(path))
    _check_migrated(service)
    service.close()
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        columns = {r[1] for r in conn.execute("PRAGMA table_info(event)")}
        stored = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    conn.close()
    assert "event_station_id" in names and stored == (str(SCHEMA_VERSION),)
    # Schema 5: the reports' indexes, in place of the old (item, stage) one.
    assert {"serial_item_id_stage_site_id", "event_document"} <= names
    assert "serial_item_id_stage" not in names
    assert {"generation_id", "count", "txid"} <= columns
    StationService.open(str(path)).close()  # opening again: nothing left to migrate


@pytest.mark.postgres
def test_a_version_2_postgresql_database_is_migrated_forward(pg_url: str) -> None:
    import psycopg2

    conn = psycopg2.connect(pg_url)
    with conn, conn.cursor() as cursor:
        cursor.execute((FIXTURES / "schema_v2_postgresql.sql").read_text())
        for statement in V2_ROWS:
            cursor.execute(statement)
        for table in ("site", "item", "generation_run", "serial", "event"):
            cursor.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
    conn.close()
    service = StationService.open(pg_url)
    _check_migrated(service)
    service.close()
    conn = psycopg2.connect(pg_url)
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT column_default FROM information_schema.columns "
            "WHERE table_name = 'event' AND column_name = 'txid'"
        )
        assert "txid_current" in cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM event WHERE txid IS NOT NULL")
        assert cursor.fetchone()[0] >= 1  # the scan after the migration knows its transaction
    conn.close()


# What schema 8 added: a current database made older drops them first.
SCHEMA_8_COLUMNS = ("qr_seal", "print_count", "printed_at")


def _without_schema_8(repo: Repository) -> None:
    if repo.target.backend == "postgresql":  # schema 10's function reads them
        repo._cursor("DROP FUNCTION scanstation_scan")
    for column in SCHEMA_8_COLUMNS:
        repo._cursor(f"ALTER TABLE serial DROP COLUMN {column}")


def _as_schema_6(repo: Repository) -> None:
    """Make a current database what schema 6 was: no users, no approver column, no
    append-only triggers, version 6."""
    _without_schema_8(repo)
    repo._cursor("DROP TABLE user_token")
    repo._cursor("DROP TABLE user_account")
    if repo.target.backend == "postgresql":
        repo._cursor("DROP TRIGGER event_append_only ON event")
        repo._cursor("DROP TRIGGER event_no_truncate ON event")
    else:
        repo._cursor("DROP TRIGGER event_no_update")
        repo._cursor("DROP TRIGGER event_no_delete")
    repo._cursor("ALTER TABLE event DROP COLUMN approved_by")
    repo._cursor("UPDATE meta SET value = '6' WHERE key = 'schema_version'")


def _as_schema_3(service: StationService) -> None:
    """Make a current database what schema 3 was: no scan function, version 3."""
    from tests.conftest import build_small

    build_small(service)
    service.scan(ScanEvent("SN0000000001"), station())
    repo = service.repo
    _as_schema_6(repo)
    if repo.target.backend == "postgresql":
        repo._cursor("DROP FUNCTION scanstation_apply_scan")
    repo._cursor("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    service.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_version_3_database_is_migrated_forward(
    backend: str, db_url: str, request: pytest.FixtureRequest
) -> None:
    """Schema 4 installs PostgreSQL's scan function; scans before and after carry on."""
    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    _as_schema_3(StationService.open(url, create=True))
    service = StationService.open(url)
    assert service.info()["schema_version"] == SCHEMA_VERSION
    registered = service.scan(ScanEvent("SN0000000002"), station())
    assert registered.kind is OutcomeKind.OK and registered.event_id is not None
    validated = service.scan(ScanEvent("SN0000000001"), station(mode=Mode.VALIDATE))
    assert validated.kind is OutcomeKind.OK
    assert [e.to_stage for e in service.events("SN0000000001")] == [
        Stage.REGISTERED,
        Stage.VALIDATED,
    ]
    if backend == "postgresql":
        found = service.repo._cursor(
            "SELECT count(*) FROM pg_proc WHERE proname = 'scanstation_apply_scan'"
        ).fetchone()
        assert found == (1,)
        names = "SELECT indexname FROM pg_indexes WHERE tablename IN ('serial', 'event')"
    else:
        names = "SELECT name FROM sqlite_master WHERE type = 'index'"
    # Schema 5 (from 4): the reports' indexes, in place of the old (item, stage) one.
    indexes = {row[0] for row in service.repo._cursor(names).fetchall()}
    assert {"serial_item_id_stage_site_id", "event_document"} <= indexes
    assert "serial_item_id_stage" not in indexes
    service.close()
    StationService.open(url).close()  # nothing left to migrate


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_version_9_database_is_migrated_forward(
    backend: str, db_url: str, request: pytest.FixtureRequest
) -> None:
    """Schema 10 installs PostgreSQL's one-call scan (store/scan_rules.py): a serial registered
    under schema 9 is validated after the migration, by the function."""
    from tests.conftest import build_small

    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    service = StationService.open(url, create=True)
    build_small(service)
    assert service.scan(ScanEvent("SN0000000001"), station()).kind is OutcomeKind.OK
    repo = service.repo
    if backend == "postgresql":
        repo._cursor("DROP FUNCTION scanstation_scan")
    repo._cursor("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    service.close()
    service = StationService.open(url)
    assert service.info()["schema_version"] == SCHEMA_VERSION  # 10 and on
    if backend == "postgresql":
        found = service.repo._cursor(
            "SELECT count(*) FROM pg_proc WHERE proname = 'scanstation_scan'"
        ).fetchone()
        assert found == (1,)
    validated = service.scan(ScanEvent("SN0000000001"), station(mode=Mode.VALIDATE))
    assert validated.kind is OutcomeKind.OK and validated.event_id is not None
    assert [e.to_stage for e in service.events("SN0000000001")] == [
        Stage.REGISTERED,
        Stage.VALIDATED,
    ]
    service.close()
    StationService.open(url).close()  # nothing left to migrate


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_version_10_database_is_migrated_forward(
    backend: str, db_url: str, request: pytest.FixtureRequest
) -> None:
    """Schema 11 replaces PostgreSQL's one-call scan with the one that writes inline: a
    database whose function is schema 10's (here a stand-in that finds nothing) gets the
    current one, and its scans move serials and record events in one statement again."""
    from scanstation.store.scan_rules import _ANSWER_COUNT, SCAN_FUNCTION
    from tests.conftest import build_small

    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    service = StationService.open(url, create=True)
    build_small(service)
    repo = service.repo
    if backend == "postgresql":
        header = SCAN_FUNCTION[: SCAN_FUNCTION.index("$fn$") + len("$fn$")]
        finds_nothing = json.dumps(["unknown"] + [None] * (_ANSWER_COUNT - 1))
        repo._cursor(f"""{header} BEGIN answer := '{finds_nothing}'; END $fn$""")
        assert service.scan(ScanEvent("SN0000000001"), station()).kind is OutcomeKind.UNKNOWN
    repo._cursor("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
    service.close()
    service = StationService.open(url)
    assert service.info()["schema_version"] == SCHEMA_VERSION  # 11 and on
    if backend == "postgresql":
        body = service.repo._cursor(
            "SELECT prosrc FROM pg_proc WHERE proname = 'scanstation_scan'"
        ).fetchall()
        assert len(body) == 1 and "INSERT INTO event" in body[0][0]
        assert "scanstation_apply_scan" not in body[0][0]
    registered = service.scan(ScanEvent("SN0000000001"), station())
    assert registered.kind is OutcomeKind.OK and registered.event_id is not None
    validated = service.scan(ScanEvent("SN0000000001"), station(mode=Mode.VALIDATE))
    assert validated.kind is OutcomeKind.OK
    events = service.events("SN0000000001")
    assert [(e.to_stage, e.event_id) for e in events] == [
        (Stage.REGISTERED, registered.event_id),
        (Stage.VALIDATED, validated.event_id),
    ]
    assert validated.serial.version == registered.serial.version + 1  # type: ignore[union-attr]
    assert service.serial("SN0000000001") == validated.serial
    service.close()
    StationService.open(url).close()  # nothing left to migrate


# Schema 11's one-call scan, as it was declared (its body a stand-in that finds nothing).
_SCAN_FUNCTION_11_STAND_IN = """
CREATE FUNCTION scanstation_scan(
    p_key text, p_scan_id text, p_gtin text, p_signed boolean, p_site_id integer,
    p_from text[], p_here boolean[], p_to text[], p_site_after integer[], p_message text[],
    p_approved boolean[], p_mode text, p_station text, p_site text, p_operator text,
    p_at text, p_recorded_at text, p_source text, p_payload text, p_comment text,
    p_approved_by text, OUT status text)
LANGUAGE plpgsql AS $fn$ BEGIN status := 'unknown'; END $fn$
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_version_11_database_is_migrated_forward(
    backend: str, db_url: str, request: pytest.FixtureRequest
) -> None:
    """Schema 12 gives PostgreSQL's one-call scan the document rows: schema 11's function (a
    signature with fewer parameters) is dropped, not left beside the new one, and a serial
    validated under schema 11 is dispatched on its DC and received at the godown it is
    addressed to after the migration, each by the new function, its line counted."""
    from tests.conftest import build_small

    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    service = StationService.open(url, create=True)
    build_small(service)
    for mode in (Mode.REGISTER, Mode.VALIDATE):
        assert service.scan(ScanEvent("SN0000000001"), station(mode=mode)).kind is OutcomeKind.OK
    repo = service.repo
    if backend == "postgresql":
        repo._cursor("DROP FUNCTION scanstation_scan")
        repo._cursor(_SCAN_FUNCTION_11_STAND_IN)
    repo._cursor("UPDATE meta SET value = '11' WHERE key = 'schema_version'")
    service.close()
    service = StationService.open(url)
    assert service.info()["schema_version"] == SCHEMA_VERSION  # 12 and on
    if backend == "postgresql":
        found = service.repo._cursor(
            "SELECT pronargs FROM pg_proc WHERE proname = 'scanstation_scan'"
        ).fetchall()
        assert found == [(25,)]
    dispatched = service.scan(
        ScanEvent("SN0000000001"), station(mode=Mode.DISPATCH, document="DC-1")
    )
    assert dispatched.kind is OutcomeKind.OK, dispatched.message
    assert "dispatched on DC-1 (1/3)" in dispatched.message
    received = service.scan(ScanEvent("SN0000000001"), station("G1", Mode.RECEIVE))
    assert received.kind is OutcomeKind.OK, received.message
    events = service.events("SN0000000001")
    assert [(e.to_stage, e.event_id) for e in events[-2:]] == [
        (Stage.DISPATCHED_FROM_PLANT, dispatched.event_id),
        (Stage.RECEIVED_AT_GODOWN, received.event_id),
    ]
    document = service.document("DC-1")
    assert document is not None and document.lines[0].scanned == 1
    assert service.serial("SN0000000001") == received.serial
    service.close()
    StationService.open(url).close()  # nothing left to migrate


def _scan_function_results(service: StationService) -> list[str]:
    """What each `scanstation_scan` in the database returns."""
    rows = service.repo._cursor(
        "SELECT pg_get_function_result(oid) FROM pg_proc WHERE proname = 'scanstation_scan'"
    ).fetchall()
    return [result for (result,) in rows]


def _as_older_scan_function(repo: Repository, signature: str, outs: str) -> None:
    """An older schema's `scanstation_scan` in place of this one: its parameters (`signature`,
    as the schema module names it for the migration that drops it) and result columns
    (`outs`), a stand-in that finds nothing."""
    parameters = signature[signature.index("(") + 1 : -1].split(", ")
    declared = ", ".join(f"p{n} {kind}" for n, kind in enumerate(parameters))
    repo._cursor("DROP FUNCTION scanstation_scan")
    repo._cursor(
        f"CREATE FUNCTION scanstation_scan({declared}, {outs}) "
        "LANGUAGE plpgsql AS $fn$ BEGIN status := 'unknown'; END $fn$"
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_version_13_database_is_migrated_forward(
    backend: str, db_url: str, request: pytest.FixtureRequest
) -> None:
    """Schema 14's one-call scan answers in one text column (a JSON array) where schema 13's
    returned 25 columns, with the same parameters: schema 13's function (here a stand-in with
    its signature and some of its columns, that finds nothing) cannot be replaced in place, so
    it is dropped, not left to answer; scans then move serials through the new one, whose
    answer shows what a full read of the serial shows."""
    from scanstation.store.scan_rules import SCAN_FUNCTION_13
    from tests.conftest import build_small

    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    service = StationService.open(url, create=True)
    build_small(service)
    assert service.scan(ScanEvent("SN0000000002"), station()).kind is OutcomeKind.OK
    repo = service.repo
    if backend == "postgresql":
        _as_older_scan_function(
            repo,
            SCAN_FUNCTION_13,
            "OUT status text, OUT event_id integer, OUT o_serial_no text, OUT o_version integer",
        )
    repo._cursor("UPDATE meta SET value = '13' WHERE key = 'schema_version'")
    service.close()
    service = StationService.open(url)
    assert service.info()["schema_version"] == SCHEMA_VERSION  # 14 and on
    if backend == "postgresql":
        assert _scan_function_results(service) == ["text"]
    for mode, document in ((Mode.REGISTER, None), (Mode.VALIDATE, None), (Mode.DISPATCH, "DC-1")):
        outcome = service.scan(ScanEvent("SN0000000001"), station(mode=mode, document=document))
        assert outcome.kind is OutcomeKind.OK, outcome.message
        assert outcome.serial == service.serial("SN0000000001")
    again = service.scan(ScanEvent("SN0000000002"), station())  # registered under schema 13
    assert again.kind is OutcomeKind.ALREADY and again.serial == service.serial("SN0000000002")
    assert service.scan(ScanEvent("NOT-A-SERIAL"), station()).kind is OutcomeKind.UNKNOWN
    service.close()
    StationService.open(url).close()  # nothing left to migrate


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_version_12_database_is_migrated_forward(
    backend: str, db_url: str, request: pytest.FixtureRequest
) -> None:
    """Schema 13's one-call scan returns other columns than schema 12's (ids for the names
    of the serial's run, site and document): schema 12's function, with the same parameters
    (here a stand-in that finds nothing), cannot be replaced in place, so it is dropped, not
    left to answer; scans then move serials through the new one and show what a full read of
    the serial shows."""
    from scanstation.store.scan_rules import SCAN_FUNCTION_12
    from tests.conftest import build_small

    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    service = StationService.open(url, create=True)
    build_small(service)
    repo = service.repo
    if backend == "postgresql":
        _as_older_scan_function(repo, SCAN_FUNCTION_12, "OUT status text, OUT r8 text")
    repo._cursor("UPDATE meta SET value = '12' WHERE key = 'schema_version'")
    service.close()
    service = StationService.open(url)
    assert service.info()["schema_version"] == SCHEMA_VERSION  # 13 and on
    if backend == "postgresql":
        assert _scan_function_results(service) == ["text"]  # schema 14's, alone
    for mode, document in ((Mode.REGISTER, None), (Mode.VALIDATE, None), (Mode.DISPATCH, "DC-1")):
        outcome = service.scan(ScanEvent("SN0000000001"), station(mode=mode, document=document))
        assert outcome.kind is OutcomeKind.OK, outcome.message
        assert outcome.serial == service.serial("SN0000000001")
    again = service.scan(ScanEvent("SN0000000001"), station(mode=Mode.DISPATCH, document="DC-1"))
    assert again.kind is OutcomeKind.ALREADY and again.serial == service.serial("SN0000000001")
    assert again.serial is not None and again.serial.document == "DC-1"
    service.close()
    StationService.open(url).close()  # nothing left to migrate


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

    from tests.conftest import build_small

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


def test_a_version_6_database_gains_the_user_tables(service: StationService) -> None:
    """Schema 6 → 7 on both databases: the user tables, the approver column and the
    append-only triggers appear, and what was there stays."""
    from scanstation.domain.roles import Role

    url = service.repo.target.url
    _as_schema_6(service.repo)
    service.close()
    migrated = StationService.open(url)
    try:
        info = migrated.info()
        assert info["schema_version"] == SCHEMA_VERSION and info["serials"] == 25
        assert not migrated.has_users()
        migrated.add_user("Asha", Role.ADMIN)
        migrated.set_pin("Asha", "7305")
        assert migrated.has_users()
        with pytest.raises(StoreError, match="events are append-only"):
            migrated.repo.write(lambda: migrated.repo._cursor("DELETE FROM event"))
        assert migrated.info()["events"] > 0
    finally:
        migrated.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_version_7_database_is_migrated_to_8(
    backend: str, db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Schema 8 adds the signed QR's seal and the label print count to serials: the old
    unsigned tokens carry on, new runs are signed, prints are counted."""
    from scanstation.domain.qr import QrKind, qr_kind
    from scanstation.signing import KeyRing, init_keys
    from tests.conftest import build_small

    url = db_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    service = StationService.open(url, create=True)
    build_small(service)
    service.scan(ScanEvent("SN0000000001"), station())
    _without_schema_8(service.repo)
    service.repo._cursor("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    service.close()
    init_keys(tmp_path / "k.pem", tmp_path / "k.pub.pem")
    service = StationService.open(url, keys=KeyRing(tmp_path / "k.pem", tmp_path / "k.pub.pem"))
    assert service.info()["schema_version"] == SCHEMA_VERSION
    old = service.serial("SN0000000001")
    assert old is not None and old.stage is Stage.REGISTERED and old.print_count == 0
    assert qr_kind(str(old.secondary_qr)) is QrKind.UNSIGNED
    assert service.serial(str(old.secondary_qr)) == old
    _, [new] = service.generate("PUMP", 1, "P1")
    signed = service.serial(new)
    assert signed is not None and qr_kind(str(signed.secondary_qr)) is QrKind.SIGNED
    assert service.record_prints([new], station="T-1") == 1
    printed = service.serial(new)
    assert printed is not None and printed.print_count == 1 and printed.printed_at is not None
    service.close()
    StationService.open(url).close()  # nothing left to migrate
