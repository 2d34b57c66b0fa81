"""Idempotent admin writes (issue 11, finding 6): a generation run, an import, a document opened
or closed and a comment carry a request id checked inside the transaction, like a scan id. The
server commits, the answer is lost (the connection drops right after COMMIT), the store retries:
the write applies once and the caller gets the same answer as if nothing had happened."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import DocumentKind, Mode
from scanstation.service import StationService
from tests.conftest import station


@contextmanager
def commit_answer_lost(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[bool]]:
    """The next COMMIT (or the next statement that commits by itself: PostgreSQL's scan
    functions, store/scan_function.py and store/scan_rules.py, the latter a station's own
    prepared call) reaches the database, then its
    answer is lost.
    PostgreSQL: the server ends this session right after committing (pg_terminate_backend
    from another connection) and the client sees the connection drop. SQLite: the commit is
    on disk, and the caller is told the database was busy."""
    db = service.repo._db
    dialect = service.repo.dialect
    real_commit, real_execute = db.commit, dialect.execute_hot
    real_prepared = dialect.execute_prepared
    lost: list[bool] = []

    def lose_the_answer() -> None:
        lost.append(True)
        if service.backend == "postgresql":
            import psycopg2

            pid = db.connection().get_backend_pid()
            admin = psycopg2.connect(service.repo.target.url)
            admin.autocommit = True
            admin.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
            admin.close()
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        raise sqlite3.OperationalError("database is locked")

    def commit() -> None:
        real_commit()
        if not lost:
            lose_the_answer()

    def execute_hot(db_: object, name: str, sql: str, params: object) -> object:
        cursor = real_execute(db_, name, sql, params)
        if name in ("apply_scan", "scan") and not db.in_transaction() and not lost:
            lose_the_answer()
        return cursor

    def execute_prepared(db_: object, name: str, body: str, params: object) -> object:
        # A station's scan call, prepared with its constants (store/scan_rules.py).
        cursor = real_prepared(db_, name, body, params)
        if name.startswith("scan_") and not db.in_transaction() and not lost:
            lose_the_answer()
        return cursor

    monkeypatch.setattr(db, "commit", commit)
    monkeypatch.setattr(dialect, "execute_hot", execute_hot)
    monkeypatch.setattr(dialect, "execute_prepared", execute_prepared)
    yield lost
    monkeypatch.undo()


def _count(service: StationService, sql: str, *params: object) -> int:
    cursor = service.repo._cursor(sql, params)
    return int(cursor.fetchone()[0])


def test_a_generation_run_whose_commit_answer_was_lost_applies_once(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, serials = service.info()["generation_runs"], service.info()["serials"]
    with commit_answer_lost(service, monkeypatch) as lost:
        run, made = service.generate("PUMP", 40, "P1", request_id="gen-request-1")
    assert lost == [True]
    assert service.info()["generation_runs"] == runs + 1  # type: ignore[operator]
    assert service.info()["serials"] == serials + 40  # type: ignore[operator]
    # The caller retries the request itself (it never saw the answer): the same answer again.
    assert service.generate("PUMP", 40, "P1", request_id="gen-request-1") == (run, made)
    assert service.info()["generation_runs"] == runs + 1  # type: ignore[operator]
    assert len(made) == 40 and all(service.serial(sn) for sn in made)


def test_an_import_whose_commit_answer_was_lost_applies_once(
    service: StationService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    csv = tmp_path / "units.csv"
    csv.write_text(
        "serial_no,sku,generation_no,secondary_qr\n"
        + "".join(f"IMP-{n},PUMP,GX-1,QR-IMP-{n}\n" for n in range(30)),
        encoding="utf-8",
    )
    serials = service.info()["serials"]
    with commit_answer_lost(service, monkeypatch) as lost:
        report = service.import_csv(csv, request_id="import-request-1")
    assert lost == [True]
    assert report.written and report.rows == 30 and not report.problems
    assert service.info()["serials"] == serials + 30  # type: ignore[operator]
    again = service.import_csv(csv, request_id="import-request-1")
    # Checked again, the file's serials are now in the database: nothing is written twice.
    assert service.info()["serials"] == serials + 30  # type: ignore[operator]
    assert not again.written
    assert _count(service, "SELECT count(*) FROM event WHERE kind = 'import'") == 1


def test_closing_a_document_whose_commit_answer_was_lost_applies_once(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    with commit_answer_lost(service, monkeypatch) as lost:
        closed = service.close_document("DC-1", reason="truck full", request_id="close-1")
    assert lost == [True]
    assert closed.state == "closed" and closed.closed_reason == "truck full"
    assert service.close_document("DC-1", reason="truck full", request_id="close-1") == closed
    assert _count(service, "SELECT count(*) FROM event WHERE comment LIKE ?", "Closed DC-1%") == 1


def test_a_comment_whose_commit_answer_was_lost_is_written_once(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    with commit_answer_lost(service, monkeypatch) as lost:
        first = service.comment("SN0000000001", "fragile", station(), request_id="comment-1")
    assert lost == [True]
    again = service.comment("SN0000000001", "fragile", station(), request_id="comment-1")
    assert again == first
    comments = [e for e in service.events("SN0000000001") if e.comment == "fragile"]
    assert len(comments) == 1 and comments[0].event_id == first.event_id


def test_a_document_whose_commit_answer_was_lost_is_opened_once(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = service.info()["documents"]
    with commit_answer_lost(service, monkeypatch) as lost:
        opened = service.add_document(
            kind=DocumentKind.DC,
            reference_no="DC-7",
            from_site="P1",
            to="G1",
            lines=[("PUMP", 2)],
            request_id="open-dc-7",
        )
    assert lost == [True]
    assert opened.reference_no == "DC-7" and opened.is_open
    assert service.info()["documents"] == documents + 1  # type: ignore[operator]


def test_a_scan_whose_commit_answer_was_lost_applies_once(
    service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = ScanEvent("SN0000000002", source="test")
    with commit_answer_lost(service, monkeypatch) as lost:
        outcome = service.scan(event, station())
    assert lost == [True]
    if service.backend == "postgresql":
        # The retry found the scan id recorded, by this scan's own first call: OK, as that
        # call would have answered, not "already recorded" of the unit's first scan.
        assert outcome.kind is OutcomeKind.OK, outcome.message
        assert outcome.message == "SN0000000002 registered — now Registered at Plant"
    else:
        # The retry found the scan recorded: it says so (and with what outcome). (A COMMIT
        # SQLite refuses has not committed: this only simulates a lost answer.)
        assert outcome.kind is OutcomeKind.ALREADY and "already recorded (ok)" in outcome.message
    assert [e.to_stage for e in service.events("SN0000000002")] == [outcome.stage_after]
    assert service.scan(event, station(mode=Mode.VALIDATE)).kind is OutcomeKind.ALREADY


def test_without_a_request_id_each_call_is_its_own_request(service: StationService) -> None:
    first = service.comment("SN0000000003", "one", station())
    second = service.comment("SN0000000003", "one", station())
    assert first.event_id != second.event_id
