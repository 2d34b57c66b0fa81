"""Idempotent admin writes (issue 11, finding 6): a generation run, an import, a document opened
or closed and a comment carry a request id checked inside the transaction, like a scan id. The
server commits, the answer is lost (the connection drops right after COMMIT), the store retries:
the write applies once and the caller gets the same answer as if nothing had happened."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind, ScanOutcome
from scanstation.domain.stages import DocumentKind, Mode, Stage
from scanstation.service import StationService, StationSetup
from tests.conftest import build_small, station


@contextmanager
def commit_answer_lost(
    service: StationService, monkeypatch: pytest.MonkeyPatch, statement: str | None = None
) -> Iterator[list[bool]]:
    """The next COMMIT (or the next statement that commits by itself: PostgreSQL's scan
    functions, store/scan_function.py and store/scan_rules.py, the latter a station's own
    prepared call) reaches the database, then its
    answer is lost. `statement`: only that one's (a hot statement's name run outside a
    transaction, "scan_" for a station's prepared call, or "COMMIT").
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

    def chosen(name: str) -> bool:
        return not lost and (statement is None or statement == name)

    def commit() -> None:
        real_commit()
        if chosen("COMMIT"):
            lose_the_answer()

    def execute_hot(db_: object, name: str, sql: str, params: object) -> object:
        cursor = real_execute(db_, name, sql, params)
        by_itself = name in ("apply_scan", "scan") if statement is None else True
        if by_itself and not db.in_transaction() and chosen(name):
            lose_the_answer()
        return cursor

    def execute_prepared(db_: object, name: str, body: str, params: object) -> object:
        # A station's scan call, prepared with its constants (store/scan_rules.py).
        cursor = real_prepared(db_, name, body, params)
        if name.startswith("scan_") and not db.in_transaction() and chosen("scan_"):
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


# -- every scan path: an answer lost after the write committed ------------------------------
#
# PostgreSQL only: there a statement that commits by itself (or a COMMIT) can reach the server
# and commit while the connection drops before its answer comes; the store retries on a new
# connection and finds the scan id recorded, by that very try. The dock worker scanned once:
# the answer is that try's (OK, or the true refusal), never "This scan was already recorded".
# (SQLite's COMMIT either commits or fails uncommitted: test_a_scan_whose_commit_answer_was_lost
# covers its simulated case.)


@pytest.fixture
def pg_service(pg_url: str) -> Iterator[StationService]:
    service = StationService.open(pg_url, create=True)
    build_small(service)
    yield service
    service.close()


def _recorded(service: StationService, event: ScanEvent) -> list[tuple[int, str, str]]:
    cursor = service.repo._cursor(
        "SELECT id, outcome, message FROM event WHERE scan_id = ?", (event.scan_id,)
    )
    return [tuple(row) for row in cursor.fetchall()]


def _lost_then_answered(
    service: StationService,
    monkeypatch: pytest.MonkeyPatch,
    event: ScanEvent,
    setup: StationSetup,
    statement: str,
    *,
    replay: bool = False,
) -> ScanOutcome:
    with commit_answer_lost(service, monkeypatch, statement) as lost:
        outcome = service.scan(event, setup, replay=replay)
    assert lost == [True], "no answer was lost"
    return outcome


def _once(service: StationService, event: ScanEvent, outcome: ScanOutcome, kind: str) -> None:
    """Recorded once, as the answer says; the same scan id delivered again, with no
    connection lost, is still ALREADY."""
    [(event_id, recorded, message)] = _recorded(service, event)
    assert (event_id, recorded, message) == (outcome.event_id, kind, outcome.message)
    again = service.scan(event, station(mode=Mode.VALIDATE))
    assert again.kind is OutcomeKind.ALREADY
    assert again.message == f"This scan was already recorded ({kind})"


@pytest.mark.postgres
def test_a_receive_by_override_whose_answer_was_lost_is_ok_not_already(
    pg_service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The override is no row of the station's table: it is applied by the transition
    function (scanstation_apply_scan), which commits by itself."""
    service = pg_service
    sn = "SN0000000001"
    for mode, kw in (
        (Mode.REGISTER, {}),
        (Mode.VALIDATE, {}),
        (Mode.DISPATCH, {"document": "DC-1"}),
    ):
        assert (
            service.scan(ScanEvent(sn, source="test"), station(mode=mode, **kw)).kind
            is OutcomeKind.OK
        )
    event = ScanEvent(sn, source="test")
    gate = station("G2", Mode.RECEIVE, reason="truck diverted")
    outcome = _lost_then_answered(service, monkeypatch, event, gate, "apply_scan")
    assert outcome.kind is OutcomeKind.OK, outcome.message
    assert outcome.message == f"{sn} received here by override — now Received at Godown"
    assert outcome.serial is not None and outcome.serial.site == "G2"
    _once(service, event, outcome, "ok")


@pytest.mark.postgres
def test_a_refused_scan_whose_answer_was_lost_is_refused_not_already(
    pg_service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal of a serial as read is one insert guarded by its version, committed by
    itself."""
    event = ScanEvent("SN0000000002", source="test")
    outcome = _lost_then_answered(
        pg_service, monkeypatch, event, station(mode=Mode.VALIDATE), "insert_refusal_if_unchanged"
    )
    assert outcome.kind is OutcomeKind.REJECTED, outcome.message
    assert outcome.message == ("SN0000000002 is not registered yet; register it at its plant first")
    _once(pg_service, event, outcome, "rejected")


@pytest.mark.postgres
def test_an_unknown_code_whose_answer_was_lost_is_unknown_not_already(
    pg_service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A code no serial matches is logged by one insert committed by itself."""
    event = ScanEvent("NOPE-1", source="test")
    outcome = _lost_then_answered(pg_service, monkeypatch, event, station(), "insert_event")
    assert outcome.kind is OutcomeKind.UNKNOWN, outcome.message
    assert outcome.message.startswith("NOPE-1 is not a known serial")
    _once(pg_service, event, outcome, "unknown")


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("mode", "kind", "message"),
    [
        (Mode.REGISTER, OutcomeKind.OK, "SN0000000003 registered — now Registered at Plant"),
        (
            Mode.VALIDATE,
            OutcomeKind.REJECTED,
            "SN0000000003 is not registered yet; register it at its plant first",
        ),
    ],
)
def test_a_replayed_scan_whose_commit_answer_was_lost_answers_its_own_outcome(
    pg_service: StationService,
    monkeypatch: pytest.MonkeyPatch,
    mode: Mode,
    kind: OutcomeKind,
    message: str,
) -> None:
    """A scan replayed from the offline journal is decided and written under the serial's
    lock, in a transaction whose COMMIT's answer is lost here."""
    event = ScanEvent("SN0000000003", source="test")
    outcome = _lost_then_answered(
        pg_service, monkeypatch, event, station(mode=mode), "COMMIT", replay=True
    )
    assert outcome.kind is kind, outcome.message
    assert outcome.message == message
    _once(pg_service, event, outcome, kind.value)


@contextmanager
def request_lost(
    service: StationService, monkeypatch: pytest.MonkeyPatch, statement: str
) -> Iterator[list[bool]]:
    """The next `statement` never reaches the server: it ended this station's session just
    before (a restart, an idle timeout). Nothing is committed; the store retries."""
    import psycopg2

    db, dialect = service.repo._db, service.repo.dialect
    real_execute = dialect.execute_hot
    lost: list[bool] = []

    def execute_hot(db_: object, name: str, sql: str, params: object) -> object:
        if name == statement and not lost:
            lost.append(True)
            pid = db.connection().get_backend_pid()
            admin = psycopg2.connect(service.repo.target.url)
            admin.autocommit = True
            cursor = admin.cursor()
            cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
            for _ in range(500):  # gone before the statement is sent (at most 10 s)
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
                if cursor.fetchone()[0] == 0:
                    break
                time.sleep(0.02)
            admin.close()
        return real_execute(db_, name, sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(dialect, "execute_hot", execute_hot)
    yield lost
    monkeypatch.undo()


@pytest.mark.postgres
def test_an_unknown_code_sent_again_whose_request_was_lost_is_already(
    pg_service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan id delivered a second time (a resend, a replay) whose insert met a connection
    the server had closed: that try committed nothing, and the retry finds the FIRST
    delivery's refusal, the same sentence. That is no lost answer of this delivery: ALREADY,
    not a second refusal line for one scan. (A code no serial matches is the path where a
    second delivery reaches the insert: a serial's scan id is read by the first call.)"""
    event = ScanEvent("NOPE-1", source="test")
    first = pg_service.scan(event, station())
    assert first.kind is OutcomeKind.UNKNOWN and first.event_id is not None
    with request_lost(pg_service, monkeypatch, "insert_event") as lost:
        again = pg_service.scan(event, station())
    assert lost == [True], "no request was lost"
    assert again.kind is OutcomeKind.ALREADY, again.message
    assert again.message == "This scan was already recorded (unknown)"
    assert [row[0] for row in _recorded(pg_service, event)] == [first.event_id]


@pytest.mark.postgres
def test_a_void_whose_commit_answer_was_lost_is_ok_not_recorded(
    pg_service: StationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supervisor's void is written under the serial's lock too, once per request id."""
    sn = "SN0000000005"
    assert pg_service.scan(ScanEvent(sn, source="test"), station()).kind is OutcomeKind.OK
    with commit_answer_lost(pg_service, monkeypatch, "COMMIT") as lost:
        voided = pg_service.void(sn, station(), window_s=1e9, request_id="void-5")
    assert lost == [True], "no answer was lost"
    assert voided.kind is OutcomeKind.OK, voided.message
    assert voided.stage_after is Stage.NOT_REGISTERED
    [(event_id, outcome, _)] = _recorded(pg_service, ScanEvent(sn, scan_id="void-5"))
    assert (event_id, outcome) == (voided.event_id, "ok")
    # The request delivered again, with no connection lost: recorded, nothing voided twice.
    again = pg_service.void(sn, station(), window_s=1e9, request_id="void-5")
    assert again.kind is OutcomeKind.ALREADY and again.message == f"{sn}: this void was recorded"
