"""Generation runs and imports written in bulk (issue 13): rows go in as one JSON text a chunk
(SQLite) or by COPY (PostgreSQL), tokens are drawn in one go, and a bigger page cache is lent
to the bulk transaction only. What a user would notice: every value arrives as typed, the
serials keep their order, the counts stay exact, and a station's connection gets its small
cache back."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from scanstation.service import SECONDARY_QR_LENGTH, StationService, new_secondary_qrs
from scanstation.store.errors import StoreError
from scanstation.store.sqlite_dialect import (
    BULK_CACHE_KIB,
    BULK_CACHE_MAX_KIB,
    CACHE_KIB,
    RANDOM_INDEX,
    SqliteDialect,
    bulk_cache_kib,
)
from tests.conftest import build_small


def test_tokens_are_base32_and_every_character_is_drawn() -> None:
    tokens = new_secondary_qrs(20_000)
    assert len(tokens) == 20_000 and len(set(tokens)) == 20_000
    assert {len(t) for t in tokens} == {SECONDARY_QR_LENGTH}
    # All 32 characters, and only they (a bad table would repeat some and miss others).
    assert set("".join(tokens)) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_text_with_backslashes_and_tabs_arrives_as_written(
    service: StationService, tmp_path: Path
) -> None:
    """PostgreSQL's COPY reads `\\n` in its text as a line break unless it is escaped."""
    by = "ops\\night"
    run, serials = service.generate("PUMP", 3, "P1", by=by)
    made = [service.serial(sn) for sn in serials]
    assert [s.created_by for s in made if s] == [by] * 3
    assert [s.generation_no for s in made if s] == [run] * 3
    csv = tmp_path / "units.csv"
    csv.write_text(
        "serial_no,sku,generation_no,secondary_qr\nIMP-1,PUMP,GX-1,QR-1\nIMP-2,PUMP,,\n",
        encoding="utf-8",
    )
    report = service.import_csv(csv, by="imports\\tab")
    assert report.written and report.rows == 2
    first, second = service.serial("IMP-1"), service.serial("IMP-2")
    assert first is not None and second is not None
    assert (first.created_by, first.generation_no, first.secondary_qr) == (
        "imports\\tab", "GX-1", "QR-1"
    )  # fmt: skip
    assert (second.generation_no, second.secondary_qr) == (None, None)


def test_a_big_run_keeps_its_serials_in_order_and_counts_exact(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More than one statement's chunk on either database (SQLite's are 250,000 rows).
    monkeypatch.setattr(service.repo.dialect, "insert_chunk", 20_000)
    before = service.info()
    run, serials = service.generate("PUMP", 21_000, "P1")
    assert serials == sorted(serials) and len(set(serials)) == 21_000
    again = service.generate("PUMP", 21_000, "P1", request_id="same")
    assert service.generate("PUMP", 21_000, "P1", request_id="same") == again
    after = service.info()
    assert after["serials"] == before["serials"] + 42_000  # type: ignore[operator]
    stage = "Not Registered at Plant"
    counted = after["serials_by_stage"][stage] - before["serials_by_stage"][stage]  # type: ignore[index]
    assert counted == 42_000
    item = service.item("PUMP")
    assert item is not None
    assert [g.count for g in item.generations if g.generation_no == run] == [21_000]


def test_a_runs_serials_keep_their_ids_in_generation_order_and_their_own_tokens(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Find, export and label printing list a run by id: the ids must follow the serial
    numbers whatever order the rows are written in (several statements here), and each serial
    keeps the token drawn for it and that token's seal."""
    monkeypatch.setattr(service.repo.dialect, "insert_chunk", 2_000)
    service.generate("PUMP", 10, "P1")  # an earlier run: this one's ids come after it
    (earlier,) = service.repo._cursor("SELECT max(id) FROM serial").fetchone()
    drawn: list[str] = []

    def new_tokens(count: int) -> list[str]:
        # Falling: the tokens' order is the reverse of the serials' order.
        made = [f"T{9_999_999 - len(drawn) - i:011d}" for i in range(count)]
        drawn.extend(made)
        return made

    run, serials = service.repo.create_generation(
        sku="PUMP",
        site_code="P1",
        prefix="SN",
        count=5_000,
        new_tokens=new_tokens,
        by="tester",
        at=datetime.now(UTC),
        request_id=str(uuid.uuid4()),
        seal=lambda tokens: [f"seal-{token}" for token in tokens],
    )
    rows = service.repo._cursor(
        "SELECT s.id, s.serial_no, s.secondary_qr, s.qr_seal FROM serial s "
        "JOIN generation_run g ON g.id = s.generation_id WHERE g.generation_no = ? "
        "ORDER BY s.id",
        (run,),
    ).fetchall()
    ids = [row[0] for row in rows]
    assert ids == list(range(earlier + 1, earlier + 5_001))
    assert [row[1] for row in rows] == serials == sorted(serials)
    assert [row[2] for row in rows] == drawn
    assert [row[3] for row in rows] == [f"seal-{token}" for token in drawn]
    found = service.serial(drawn[1_234])
    assert found is not None and found.serial_no == serials[1_234]


def test_the_bulk_cache_is_given_back(db_url: str) -> None:
    from tests.conftest import build_small

    service = StationService.open(db_url, create=True)
    build_small(service)
    service.generate("PUMP", 10, "P1")
    cache = service.repo._db.execute_sql("PRAGMA cache_size").fetchone()[0]
    assert cache == -CACHE_KIB
    service.close()


def _a_file_and_its_late_rival(folder: Path) -> tuple[Path, Path]:
    """A file whose first row carries QR code QR-LATE, and another whose only serial is
    QR-LATE: imported between the first file's check and its write, it takes that code."""
    csv = folder / "units.csv"
    csv.write_text(
        "serial_no,sku,generation_no,secondary_qr\nIMP-1,PUMP,,QR-LATE\nIMP-2,PUMP,,\n",
        encoding="utf-8",
    )
    other = folder / "other.csv"
    other.write_text("serial_no,sku,generation_no,secondary_qr\nQR-LATE,PUMP,,\n", encoding="utf-8")
    return csv, other


def test_a_code_taken_between_check_and_write_is_refused(
    service: StationService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write checks the rows again only when another run or import wrote since the
    check: here one did, and took a QR code of the file as its serial."""
    from scanstation.service.imports import Imports

    csv, other = _a_file_and_its_late_rival(tmp_path)
    real = Imports._write_import

    def another_import_first(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(Imports, "_write_import", real)
        assert service.import_csv(other).written
        return real(self, *args, **kwargs)

    serials = service.info()["serials"]
    monkeypatch.setattr(Imports, "_write_import", another_import_first)
    # Unstreamed: a streamed write holds the namespace lock from before the check (the next
    # test), so no other write can come between.
    report = service.import_csv(csv, streamed=False)
    assert not report.written
    assert [(p.line, p.message) for p in report.problems] == [
        (2, "secondary QR QR-LATE is already a serial in the database")
    ]
    # The other import's serial, none of this file's.
    assert service.info()["serials"] == serials + 1  # type: ignore[operator]


def test_a_code_taken_before_a_streamed_write_locks_is_refused(
    service: StationService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL writes an import's rows while it checks them. Here another import commits
    after this file's codes were checked against the database but before the write took the
    namespace lock, and takes a QR code of the file as its serial: the write must not trust
    the check (it is imported unstreamed, checked again, and refused). SQLite: the same
    race, between the check and the write."""
    from scanstation.service.imports import Imports
    from scanstation.store.runs import RunStore

    csv, other = _a_file_and_its_late_rival(tmp_path)
    checked = threading.Event()
    real_check, real_write = Imports._check_taken, RunStore.import_serials

    def check_then_another_import(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_check(self, *args, **kwargs)
        if not checked.is_set():
            checked.set()  # before the other import: its own checks pass through
            assert service.import_csv(other).written

    def write_once_checked(self, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs["source_name"] == "units.csv":
            assert checked.wait(30)
            while service.info()["serials"] == serials:  # the other import committed
                time.sleep(0.01)
        return real_write(self, **kwargs)

    serials = service.info()["serials"]
    monkeypatch.setattr(Imports, "_check_taken", check_then_another_import)
    monkeypatch.setattr(RunStore, "import_serials", write_once_checked)
    report = service.import_csv(csv)
    assert not report.written
    assert [(p.line, p.message) for p in report.problems] == [
        (2, "secondary QR QR-LATE is already a serial in the database")
    ]
    assert service.info()["serials"] == serials + 1  # type: ignore[operator]


def test_codes_taken_at_either_end_of_a_files_range_are_found(
    service: StationService, tmp_path: Path
) -> None:
    """Each index is first asked whether it holds any code between the file's lowest and
    highest (SQLite): the taken codes here are exactly those two, one of them a QR code, and
    no other code of the database sorts between them (codes starting with 0)."""
    first = tmp_path / "first.csv"
    first.write_text("serial_no,sku,generation_no,secondary_qr\n0A-1,PUMP,,0Z-9\n", "utf-8")
    assert service.import_csv(first).written
    serials = service.info()["serials"]
    csv = tmp_path / "units.csv"
    csv.write_text(
        "serial_no,sku,generation_no,secondary_qr\n0Z-9,PUMP,,\n0M-5,PUMP,,\n0A-1,PUMP,,\n",
        encoding="utf-8",
    )
    report = service.import_csv(csv)
    assert not report.written
    assert [(p.line, p.message) for p in report.problems] == [
        (2, "serial 0Z-9 is already a secondary QR in the database"),
        (4, "serial 0A-1 is already a serial in the database"),
    ]
    assert service.info()["serials"] == serials


def test_codes_taken_at_both_ends_and_in_the_middle_of_a_files_range_are_found(
    service: StationService, tmp_path: Path
) -> None:
    """Each index is first asked whether it holds any code between the file's lowest and
    highest: here the lowest, a middle one and the highest code are taken (the middle one as
    a QR code), new codes lie between them, and no other code of the database sorts between
    them (codes starting with 0)."""
    first = tmp_path / "first.csv"
    first.write_text(
        "serial_no,sku,generation_no,secondary_qr\n0A-1,PUMP,,0M-5\n0Z-9,PUMP,,\n", "utf-8"
    )
    assert service.import_csv(first).written
    serials = service.info()["serials"]
    csv = tmp_path / "units.csv"
    csv.write_text(
        "serial_no,sku,generation_no,secondary_qr\n"
        "0C-2,PUMP,,\n0Z-9,PUMP,,\n0Q-7,PUMP,,\n0M-5,PUMP,,\n0A-1,PUMP,,\n0Y-3,PUMP,,\n",
        encoding="utf-8",
    )
    report = service.import_csv(csv)
    assert not report.written
    assert [(p.line, p.message) for p in report.problems] == [
        (3, "serial 0Z-9 is already a serial in the database"),
        (5, "serial 0M-5 is already a secondary QR in the database"),
        (6, "serial 0A-1 is already a serial in the database"),
    ]
    assert service.info()["serials"] == serials


def test_codes_with_quotes_are_looked_up_as_written(
    service: StationService, tmp_path: Path
) -> None:
    """PostgreSQL is sent the codes as one array literal, in which '"' and '\\' are escaped."""
    csv = tmp_path / "units.csv"
    csv.write_text('serial_no,sku,generation_no,secondary_qr\n"0""A\'1",PUMP,,"0,""Q"\n', "utf-8")
    assert service.import_csv(csv).written
    asked = ["0\"A'1", '0,"Q', "0\\", '0"B', ""]
    assert service.repo.taken_codes(asked) == {"0\"A'1": "serial", '0,"Q': "secondary QR"}
    assert service.repo.taken_codes([]) == {}


@pytest.mark.parametrize("column", ["serial_no", "secondary_qr"])
def test_postgresql_asks_the_index_not_the_table(pg_url: str, column: str) -> None:
    """Whether a chunk's range holds any code is read from the column's index, whatever the
    planner knows of the table: with the chunk's ends joined to serial as plain columns it
    read every serial (a sequential scan, 0.4 s a chunk at 1M serials: an import of 1M
    rows spent 47 s asking, on a table never analyzed; here, one analyzed small)."""
    service = StationService.open(pg_url, create=True)
    try:
        build_small(service)
        service.generate("PUMP", 3_000, "P1")
        db = service.repo._db
        db.execute_sql("ANALYZE serial")  # a small table's statistics favour reading it whole
        sql, params = service.repo.dialect.any_in_range(column, ["IM-0001", "IM-0002"])
        plan = "\n".join(row[0] for row in db.execute_sql(f"EXPLAIN {sql}", params).fetchall())
        assert f"Index Only Scan using serial_{column} on serial" in plan, plan
        assert "Seq Scan on serial" not in plan, plan
        db.execute_sql("SET enable_indexonlyscan = off")  # the plain index scan will do too
        plan = "\n".join(row[0] for row in db.execute_sql(f"EXPLAIN {sql}", params).fetchall())
        assert "Seq Scan on serial" not in plan, plan
        db.execute_sql("RESET enable_indexonlyscan")
        taken = service.generate("PUMP", 1, "P1")[1][0]
        sql, params = service.repo.dialect.any_in_range(column, [taken[:-1], taken + "Z"])
        assert db.execute_sql(sql, params).fetchone()[0] is (column == "serial_no")
        # Then each code of such a range is looked up in the index too, never by a read of
        # every serial (which `= ANY(array)` made of 20,000 codes on a small table).
        codes = sorted(f"IM-{n:05d}" for n in range(20_000))
        sql, params = service.repo.dialect.codes_in(column, codes)
        plan = "\n".join(row[0] for row in db.execute_sql(f"EXPLAIN {sql}", params).fetchall())
        assert f"Index Only Scan using serial_{column} on serial" in plan, plan
        assert "Seq Scan on serial" not in plan, plan
        sql, params = service.repo.dialect.codes_in(column, sorted([*codes, taken]))
        found = [code for (code,) in db.execute_sql(sql, params).fetchall()]
        assert found == ([taken] if column == "serial_no" else [])
    finally:
        service.close()


@pytest.fixture
def english_order_service() -> Iterator[StationService]:
    """PostgreSQL with a database whose text sorts as English does (ICU "en": every
    punctuation mark before digits and letters), not by code point as Python and SQLite do."""
    base = os.environ.get("SCANSTATION_TEST_PG_URL")
    if not base:
        pytest.skip("SCANSTATION_TEST_PG_URL is not set: no PostgreSQL server to test against")
    import psycopg2

    name = f"scanstation_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    admin.cursor().execute(
        f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"
        " LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'"
    )
    svc = StationService.open(urlunparse(urlparse(base)._replace(path=f"/{name}")), create=True)
    try:
        build_small(svc)
        yield svc
    finally:
        svc.close()
        admin.cursor().execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def test_a_taken_code_is_found_where_the_database_sorts_text_otherwise_than_python(
    english_order_service: StationService, tmp_path: Path
) -> None:
    """The chunk's lowest and highest must be taken in the database's order: in Python's,
    "0A-3" .. "0_4" and "05" .. "0:5" are ranges running backwards in English order,
    which hold nothing, and the taken codes would be missed. (Codes are GS1 AI 82: ASCII,
    letters in upper case.)"""
    service = english_order_service
    ordered = service.repo._db.execute_sql(
        "SELECT code FROM unnest(ARRAY['0A-3', '0_4', '05', '0:5']) AS code ORDER BY code"
    ).fetchall()
    assert [code for (code,) in ordered] == ["0_4", "0:5", "05", "0A-3"]
    for taken, new in (("0_4", "0A-3"), ("0:5", "05")):
        first = tmp_path / "first.csv"
        first.write_text(f"serial_no,sku,generation_no,secondary_qr\n{taken},PUMP,,\n", "utf-8")
        assert service.import_csv(first).written
        serials = service.info()["serials"]
        csv = tmp_path / "units.csv"
        csv.write_text(
            f"serial_no,sku,generation_no,secondary_qr\n{new},PUMP,,\n{taken},PUMP,,\n", "utf-8"
        )
        report = service.import_csv(csv)
        assert not report.written
        assert [(p.line, p.message) for p in report.problems] == [
            (3, f"serial {taken} is already a serial in the database")
        ]
        assert service.info()["serials"] == serials


def _has_qr_index(service: StationService) -> bool:
    found = service.repo._db.execute_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (RANDOM_INDEX,)
    ).fetchone()
    return found is not None


def test_the_bulk_cache_holds_the_qr_index_within_a_bound() -> None:
    """The cache a run or an import borrows grows with the table, so the random QR index
    stays in it, but never past the bound a small machine can lend."""
    assert bulk_cache_kib(0) == BULK_CACHE_KIB
    assert bulk_cache_kib(5_000_000) * 1024 >= 140_000_000  # the QR index of 6M serials
    assert bulk_cache_kib(100_000_000) == BULK_CACHE_MAX_KIB <= 256_000


def test_runs_leave_the_qr_index_whole_whether_built_again_or_added_to(db_url: str) -> None:
    """SQLite: a run big beside the table drops the secondary-QR index and builds it again
    after its rows; a small one adds its tokens to it. Either way the index is there, and
    every token finds its serial through it."""
    from tests.conftest import build_small

    service = StationService.open(db_url, create=True)
    build_small(service)  # 25 serials
    _, big = service.generate("PUMP", 100, "P1")  # built again
    _, small = service.generate("PUMP", 10, "P1")  # added to
    assert _has_qr_index(service)
    for serial_no in big[:3] + big[-3:] + small:
        made = service.serial(serial_no)
        assert made is not None and made.secondary_qr
        found = service.serial(made.secondary_qr)
        assert found is not None and found.serial_no == serial_no
    plan = service.repo._db.execute_sql(
        "EXPLAIN QUERY PLAN SELECT id FROM serial WHERE secondary_qr = ?", ("X",)
    ).fetchall()
    assert RANDOM_INDEX in str(plan)
    service.close()


def test_a_run_that_fails_with_the_qr_index_dropped_writes_nothing_and_keeps_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index is dropped inside the run's transaction: a failure rolls the DROP back with
    the rows, and the next run works."""
    from tests.conftest import build_small

    service = StationService.open(db_url, create=True)
    build_small(service)
    before = service.info()["serials"]

    def disk_fails(*_args: object) -> None:
        assert not _has_qr_index(service)  # the failure comes while it is set aside
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(SqliteDialect, "insert_serials", disk_fails)
    with pytest.raises(StoreError, match="cannot be written"):
        service.generate("PUMP", 100, "P1")
    monkeypatch.undo()
    assert service.info()["serials"] == before
    assert _has_qr_index(service)
    _, serials = service.generate("PUMP", 100, "P1")
    assert service.info()["serials"] == before + 100  # type: ignore[operator]
    made = service.serial(serials[0])
    assert made is not None and made.secondary_qr
    service.close()


def test_an_import_of_qr_codes_sets_the_index_aside_unless_it_checks_again(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: a file of QR codes big beside the table is written with the QR index set
    aside and built again; when another import came between its check and its write, the
    rows are checked again through the index, so it stays. Both times every code finds its
    serial afterwards."""
    from scanstation.service.imports import Imports
    from tests.conftest import build_small

    service = StationService.open(db_url, create=True)
    build_small(service)  # 25 serials
    rows = "".join(f"IMP-{n},PUMP,,QR-{n}\n" for n in range(200))
    first = tmp_path / "first.csv"
    first.write_text(f"serial_no,sku,generation_no,secondary_qr\n{rows}", encoding="utf-8")
    real_insert = SqliteDialect.insert_serials
    index_while_writing: list[bool] = []

    def watched(self: SqliteDialect, *args: object) -> None:
        index_while_writing.append(_has_qr_index(service))
        real_insert(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(SqliteDialect, "insert_serials", watched)
    assert service.import_csv(first).written
    assert index_while_writing == [False]  # set aside
    second = tmp_path / "second.csv"
    rows = "".join(f"IMQ-{n},PUMP,,QS-{n}\n" for n in range(200))
    second.write_text(f"serial_no,sku,generation_no,secondary_qr\n{rows}", encoding="utf-8")
    other = tmp_path / "other.csv"
    other.write_text("serial_no,sku,generation_no,secondary_qr\nLATE-1,PUMP,,\n", "utf-8")
    real_write = Imports._write_import

    def another_import_first(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(Imports, "_write_import", real_write)
        assert service.import_csv(other).written
        index_while_writing.clear()
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Imports, "_write_import", another_import_first)
    assert service.import_csv(second).written
    assert index_while_writing == [True]  # checked again through it
    assert _has_qr_index(service)
    for qr, serial_no in (("QR-0", "IMP-0"), ("QR-199", "IMP-199"), ("QS-7", "IMQ-7")):
        found = service.serial(qr)
        assert found is not None and found.serial_no == serial_no
    service.close()


# -- the import's plain blocks (checked a column at a time) and the per-record reader ---------

PLAIN_ROWS = 60_000  # about 2.4 MB: the file is read in more than one block


def _plain_line(n: int) -> str:
    """Row n: codes in lower case (stored upper), a generation no on every third (kept as
    written), a QR with a space before it on every other one, CRLF on every fifth line."""
    generation = f"gx-{n % 7}" if n % 3 == 0 else ""
    qr = f" qr-{n:06d}" if n % 2 == 0 else ""
    end = "\r\n" if n % 5 == 0 else "\n"
    return f"imp-{n:06d},PUMP,{generation},{qr}{end}"


def _stored(service: StationService, n: int) -> tuple[object, ...]:
    serial = service.serial(f"IMP-{n:06d}")
    assert serial is not None
    return (serial.sku, serial.generation_no, serial.secondary_qr)


def test_a_file_of_plain_blocks_and_records_the_csv_module_reads_stores_the_same(
    service: StationService, tmp_path: Path
) -> None:
    """The first blocks are checked a column at a time; a quoted cell near the end sends the
    rest of the file through the csv module. Every row arrives as the per-record check reads
    it (trimmed, upper case, empty cells as none), and each generation run counts its rows."""
    lines = [_plain_line(n) for n in range(1, PLAIN_ROWS + 1)]
    quoted = PLAIN_ROWS - 10
    lines[quoted - 1] = f'"imp-{quoted:06d}",PUMP,,"qr-{quoted:06d}"\n'
    csv = tmp_path / "units.csv"
    csv.write_bytes(("serial_no,sku,generation_no,secondary_qr\n" + "".join(lines)).encode())
    before = service.info()["serials"]
    report = service.import_csv(csv)
    assert (report.written, report.problems, report.rows) == (True, (), PLAIN_ROWS)
    assert service.info()["serials"] == before + PLAIN_ROWS  # type: ignore[operator]
    for n in (1, 2, 3, 5, 6, 10, 30_000, quoted, PLAIN_ROWS):
        generation = f"gx-{n % 7}" if n % 3 == 0 else None
        qr = f"QR-{n:06d}" if n % 2 == 0 or n == quoted else None
        assert _stored(service, n) == ("PUMP", generation, qr), n
    item = service.item("PUMP")
    assert item is not None
    counts = {g.generation_no: g.count for g in item.generations if g.generation_no[:3] == "gx-"}
    expected = {f"gx-{k}": 0 for k in range(7)}
    for n in range(3, PLAIN_ROWS + 1, 3):
        expected[f"gx-{n % 7}"] += 1
    assert counts == expected


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("imp-x,NO-SUCH-SKU,,", "unknown SKU 'NO-SUCH-SKU'"),
        ("imp-000004,PUMP,,", "serial IMP-000004 repeats line 5"),
        ("imp-y,PUMP,,imp-000002", "secondary QR IMP-000002 is the serial of line 3"),
        ("imp-z,PUMP", "expected 4 columns, found 2"),
    ],
)
def test_a_bad_row_after_plain_blocks_is_told_at_its_line(
    service: StationService, tmp_path: Path, bad: str, message: str
) -> None:
    """Line numbers stay the file's own across blocks; nothing is written."""
    lines = [f"imp-{n:06d},PUMP,,\n" for n in range(1, PLAIN_ROWS + 1)]
    at = PLAIN_ROWS - 5
    lines[at - 2] = bad + "\n"  # file line `at` (the header is line 1)
    csv = tmp_path / "units.csv"
    csv.write_text("serial_no,sku,generation_no,secondary_qr\n" + "".join(lines), "utf-8")
    before = service.info()["serials"]
    report = service.import_csv(csv)
    assert not report.written
    assert [(p.line, p.message) for p in report.problems] == [(at, message)]
    assert service.info()["serials"] == before


def test_rows_that_differ_in_some_columns_arrive_as_written(
    service: StationService, tmp_path: Path
) -> None:
    """One statement's rows: two SKUs, a run or none, a QR or none; a column with one value
    in every row goes in once for all of them, the others row by row."""
    csv = tmp_path / "mixed.csv"
    csv.write_text(
        "serial_no,sku,generation_no,secondary_qr\n"
        "MIX-1,PUMP,GM-1,QR-M1\nMIX-2,FAN,,\nMIX-3,PUMP,,QR-M3\nMIX-4,FAN,GM-2,\n",
        encoding="utf-8",
    )
    assert service.import_csv(csv).written
    stored = []
    for n in range(1, 5):
        serial = service.serial(f"MIX-{n}")
        assert serial is not None
        stored.append((serial.sku, serial.generation_no, serial.secondary_qr, serial.site))
    assert stored == [
        ("PUMP", "GM-1", "QR-M1", None),
        ("FAN", None, None, None),
        ("PUMP", None, "QR-M3", None),
        ("FAN", "GM-2", None, None),
    ]
    run, serials = service.generate("FAN", 1, "P1")  # a statement of one row
    one = service.serial(serials[0])
    assert one is not None and (one.sku, one.generation_no, one.site) == ("FAN", run, "P1")


def test_rows_a_streamed_write_could_not_keep_up_with_arrive_as_written(
    service: StationService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: while the server is behind the checks, checked chunks wait in the spool
    file rather than in memory (here every chunk does); each arrives once, in the file's
    order, with its run and QR code."""
    from scanstation.service import imports

    monkeypatch.setattr(imports, "QUEUED_CHUNKS", 0)
    count = PLAIN_ROWS + 5
    csv = tmp_path / "units.csv"
    csv.write_text(
        "serial_no,sku,generation_no,secondary_qr\n"
        + "".join(f"IMP-{n:06d},PUMP,RUN-{n % 2},QR-{n:06d}\n" for n in range(1, count + 1)),
        "utf-8",
    )
    before = service.info()["serials"]
    assert service.import_csv(csv).written
    assert service.info()["serials"] == before + count  # type: ignore[operator]
    for n in (1, PLAIN_ROWS // 2, count):
        found = service.serial(f"IMP-{n:06d}")
        assert found is not None
        assert (found.secondary_qr, found.generation_no) == (f"QR-{n:06d}", f"RUN-{n % 2}")
    # A run's serials come by id: the order they were written in.
    odd = [view.serial_no for view in service.label_serials(generation_no="RUN-1")]
    assert odd == [f"IMP-{n:06d}" for n in range(1, count + 1, 2)]
