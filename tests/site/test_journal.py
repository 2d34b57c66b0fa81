"""The offline journal and JournaledStation: scans accepted while the site database is
unreachable are saved durably, answered QUEUED, and replayed in order, each decided again under
the rules with its original scan id; refused ones stay listed for a supervisor."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind, ScanOutcome
from scanstation.domain.roles import Role
from scanstation.domain.stages import Mode
from scanstation.journaled import JournaledStation, offline_message
from scanstation.service import StationService, StationSetup, StoreBusy, StoreError
from scanstation.store.journal import (
    Journal,
    JournalError,
    database_identity,
    is_database_failure,
    journal_path,
)
from tests.conftest import build_small, secret

SN = [f"SN{n:010d}" for n in range(1, 21)]


def setup_for(mode: Mode = Mode.REGISTER, station: str = "GATE-1", **kw: object) -> StationSetup:
    return StationSetup(station, "P1", mode, operator="op-1", **kw)  # type: ignore[arg-type]


@pytest.fixture
def site_url(db_url: str) -> str:
    service = StationService.open(db_url, create=True)
    build_small(service)
    service.close()
    return db_url


@pytest.fixture
def journal(site_url: str, tmp_path: Path) -> Iterator[Journal]:
    opened = Journal.for_station("GATE-1", site_url, tmp_path / "journals")
    yield opened
    opened.close()


class Clock:
    """A monotonic clock the test moves by hand (the reconnect back-off)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Site:
    """Opens the real service on demand; `up = False` makes the database unreachable."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.up = True
        self.opened = 0

    def open(self) -> StationService:
        self.opened += 1
        if not self.up:
            raise StoreError(f"Cannot reach the database at {self.url}: connection refused")
        return StationService.open(self.url)


def events_by_scan_id(url: str) -> Counter[str]:
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT scan_id FROM event WHERE kind = 'scan'").fetchall()
    conn.close()
    return Counter(row[0] for row in rows)


def stage_of(url: str, serial: str) -> str:
    service = StationService.open(url)
    try:
        view = service.serial(serial)
        assert view is not None
        return view.stage.value
    finally:
        service.close()


# -- the journal itself ------------------------------------------------------------------------


def test_appends_are_durable_ordered_and_keep_every_field(journal: Journal) -> None:
    gs1 = "\x1d0108901234500019" + "21SN0000000001"
    first = ScanEvent(gs1, source="wedge")
    entry = journal.append(first, setup_for(Mode.DISPATCH, document="DC-1", reason="late"))
    journal.append(ScanEvent("SN0000000002", source="camera"), setup_for())
    assert journal.append(first, setup_for()).seq == entry.seq, "a retried append is one entry"
    path = journal.path
    journal.close()

    reopened = Journal(path, journal.station_id, journal.database)
    pending = reopened.pending()
    assert [e.payload for e in pending] == [gs1, "SN0000000002"]
    assert pending[0].event == first  # payload, source, scan id and read time, exactly
    assert (pending[0].mode, pending[0].document, pending[0].reason) == (
        Mode.DISPATCH,
        "DC-1",
        "late",
    )
    assert (pending[0].station_id, pending[0].site_code, pending[0].operator) == (
        "GATE-1",
        "P1",
        "op-1",
    )
    assert reopened.pending_count() == 2 and reopened.has_pending()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    reopened.close()


def test_a_journal_belongs_to_one_station_and_one_database(
    site_url: str, tmp_path: Path, journal: Journal
) -> None:
    folder = tmp_path / "journals"
    other_db = f"sqlite:///{tmp_path / 'other.db'}"
    assert journal_path("GATE-1", site_url, folder) == journal.path
    assert journal_path("GATE-2", site_url, folder) != journal.path
    assert journal_path("GATE-1", other_db, folder) != journal.path
    assert journal.path.name.startswith("GATE-1-")
    # A password is never part of the identity (nor the file).
    assert database_identity("postgresql://u:secret@db.example:5433/site") == (
        "postgresql://db.example:5433/site"
    )
    with pytest.raises(JournalError, match="refusing to mix"):
        Journal(journal.path, "GATE-2", journal.database)
    with pytest.raises(JournalError, match="refusing to mix"):
        Journal(journal.path, "GATE-1", database_identity(other_db))
    with pytest.raises(JournalError, match="cannot write to the journal"):
        journal.append(ScanEvent("SN0000000001"), setup_for(station="GATE-2"))
    # Two station ids that share a file-name form still get one journal each, or a refusal.
    odd = Journal.for_station("A/B", site_url, folder)
    with pytest.raises(JournalError):
        Journal.for_station("A_B", site_url, folder)
    odd.close()
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (x)")
    conn.close()
    with pytest.raises(JournalError, match="not a scanstation journal"):
        Journal(foreign, "GATE-1", journal.database)


def test_database_failures_are_told_from_bugs() -> None:
    import peewee
    import psycopg2

    assert is_database_failure(StoreBusy("busy"))
    assert is_database_failure(peewee.OperationalError("server closed the connection"))
    assert is_database_failure(psycopg2.OperationalError("terminating connection"))
    assert is_database_failure(psycopg2.InterfaceError("connection already closed"))
    assert not is_database_failure(peewee.IntegrityError("duplicate key"))
    assert not is_database_failure(ValueError("a bug"))


# -- JournaledStation --------------------------------------------------------------------------


def test_offline_scans_are_queued_then_replayed_in_order_under_the_rules(
    site_url: str, journal: Journal
) -> None:
    site, clock = Site(site_url), Clock()
    site.up = False
    station = JournaledStation(site.open, journal, clock=clock)
    assert not station.online

    sent = [
        (SN[0], Mode.REGISTER),
        (SN[0], Mode.REGISTER),  # already registered by then: ALREADY, not refused
        (SN[0], Mode.VALIDATE),  # decided after the register above, in arrival order
        ("NOPE-1", Mode.REGISTER),  # unknown: refused on replay, listed for a supervisor
        (SN[1], Mode.VALIDATE),  # not registered: rejected
    ]
    answers = [station.scan(ScanEvent(p, source="test"), setup_for(m)) for p, m in sent]
    assert [a.kind for a in answers] == [OutcomeKind.QUEUED] * 5
    assert answers[0].message == "OFFLINE — 1 scan saved on this terminal"
    assert answers[4].message == offline_message(5) == "OFFLINE — 5 scans saved on this terminal"
    assert all(a.kind.is_success for a in answers)
    assert station.pending_count == 5
    assert site.opened == 1, "offline, the back-off keeps scans from waiting on reconnects"

    site.up = True
    outcomes = station.replay()
    assert [o.kind.value for o in outcomes] == ["ok", "already", "ok", "unknown", "rejected"]
    assert [o.event.scan_id for o in outcomes] == [a.event.scan_id for a in answers]
    assert station.online and station.pending_count == 0
    refused = station.refused()
    assert [(e.payload, e.outcome) for e in refused] == [
        ("NOPE-1", OutcomeKind.UNKNOWN),
        (SN[1], OutcomeKind.REJECTED),
    ]
    assert all(e.message for e in refused)
    assert stage_of(site_url, SN[0]) == "Validated at Plant"
    # The replayed events carry the time each scan was read, not the replay's.
    service = StationService.open(site_url)
    event_times = [e.at for e in service.events(SN[0]) if e.to_stage]
    service.close()
    assert event_times == [answers[0].event.read_at, answers[2].event.read_at]

    assert journal.acknowledge([refused[0].seq], by="supervisor") == 1
    assert [e.payload for e in station.refused()] == [SN[1]]
    assert len(journal.refused(include_acknowledged=True)) == 2, "acknowledged, never dropped"
    station.close()


def test_new_scans_wait_behind_pending_ones(site_url: str, journal: Journal) -> None:
    site, clock = Site(site_url), Clock()
    heard: list[list[ScanOutcome]] = []
    station = JournaledStation(site.open, journal, clock=clock, on_replay=heard.append)
    assert station.scan(ScanEvent(SN[2]), setup_for()).kind is OutcomeKind.OK
    assert station.online

    site.up = False
    # The connection is dropped: the next scan fails on the database, is journaled.
    station._went_offline(StoreError("connection lost"))  # as a failed scan would
    assert station.scan(ScanEvent(SN[3]), setup_for()).kind is OutcomeKind.QUEUED
    site.up = True
    # Back-off not run out: journaled behind the pending one without trying the database.
    assert station.scan(ScanEvent(SN[4]), setup_for()).kind is OutcomeKind.QUEUED
    assert station.pending_count == 2

    clock.now += 60
    latest = station.scan(ScanEvent(SN[5]), setup_for())
    # The earlier two were decided first, then this one; its own outcome is the answer.
    assert latest.kind is OutcomeKind.OK and latest.serial_no == SN[5]
    assert [[o.serial_no for o in batch] for batch in heard] == [[SN[3], SN[4]]]
    assert station.pending_count == 0
    counts = events_by_scan_id(site_url)
    assert sorted(counts.values()) == [1, 1, 1, 1]
    station.close()


def test_the_station_can_start_with_no_database(site_url: str, journal: Journal) -> None:
    site, clock = Site(site_url), Clock()
    site.up = False
    station = JournaledStation(site.open, journal, clock=clock)
    assert not station.connect()
    assert station.last_error and "connection refused" in station.last_error
    assert station.scan(ScanEvent(SN[6]), setup_for()).kind is OutcomeKind.QUEUED
    with pytest.raises(StoreBusy, match="lookup cannot be answered offline"):
        station.scan(ScanEvent(SN[6]), setup_for(Mode.LOOKUP))
    site.up = True
    clock.now += 60
    assert station.scan(ScanEvent(SN[7]), setup_for()).kind is OutcomeKind.OK
    assert station.online and station.pending_count == 0
    assert station.scan(ScanEvent(SN[6]), setup_for(Mode.LOOKUP)).kind is OutcomeKind.OK
    station.close()


def test_replay_if_due_honours_the_back_off(site_url: str, journal: Journal) -> None:
    """What the TUI's idle timer calls: nothing until the back-off has run out."""
    site, clock = Site(site_url), Clock()
    site.up = False
    station = JournaledStation(site.open, journal, clock=clock)
    station.scan(ScanEvent(SN[8]), setup_for())
    site.up = True
    tries = site.opened
    assert station.replay_if_due() == [] and site.opened == tries, "back-off not run out"
    clock.now += 60
    assert [o.serial_no for o in station.replay_if_due()] == [SN[8]]
    assert station.online and station.pending_count == 0
    assert station.replay_if_due() == []
    station.close()


def test_a_backlog_drains_in_slices_between_new_scans(site_url: str, journal: Journal) -> None:
    site, clock = Site(site_url), Clock()
    site.up = False
    station = JournaledStation(site.open, journal, clock=clock, replay_slice=2)
    for serial in SN[:4]:
        station.scan(ScanEvent(serial), setup_for())
    site.up = True
    clock.now += 60
    # Two of the backlog are decided; the new scan waits behind the rest, still in order.
    assert station.scan(ScanEvent(SN[4]), setup_for()).kind is OutcomeKind.QUEUED
    assert station.pending_count == 3
    assert [o.serial_no for o in station.replay_if_due()] == SN[2:4]
    latest = station.scan(ScanEvent(SN[5]), setup_for())
    assert latest.kind is OutcomeKind.OK and station.pending_count == 0
    station.close()


class FlakyService:
    """The real service, except that chosen calls fail *after* the scan committed: the answer
    is lost, as when the server dies between COMMIT and its reply."""

    def __init__(self, real: StationService, lose_answer_of: set[int]) -> None:
        self.real = real
        self.recorded_outcome = real.recorded_outcome
        self.calls = 0
        self.lose_answer_of = lose_answer_of

    def scan(self, event: ScanEvent, setup: StationSetup, *, replay: bool = False) -> ScanOutcome:
        self.calls += 1
        outcome = self.real.scan(event, setup, replay=replay)
        if self.calls in self.lose_answer_of:
            raise StoreBusy("server closed the connection unexpectedly")
        return outcome

    def close(self) -> None:
        self.real.close()


def test_a_replay_cut_off_halfway_and_restarted_creates_no_duplicate(
    site_url: str, journal: Journal
) -> None:
    clock = Clock()
    offline = Site(site_url)
    offline.up = False
    station = JournaledStation(offline.open, journal, clock=clock)
    sent = [
        (SN[8], Mode.REGISTER),
        (SN[9], Mode.REGISTER),
        (SN[10], Mode.VALIDATE),  # not registered: the rules refuse it
        (SN[11], Mode.REGISTER),
        ("NOPE-2", Mode.REGISTER),
    ]
    for payload, mode in sent:
        assert station.scan(ScanEvent(payload), setup_for(mode)).kind is OutcomeKind.QUEUED

    # The third replayed scan (the refused one) is recorded, then its answer is lost.
    flaky = FlakyService(StationService.open(site_url), lose_answer_of={3})
    station._open_service = lambda: flaky  # type: ignore[assignment,return-value]
    first = station.replay()
    assert [o.kind.value for o in first] == ["ok", "ok"]
    assert station.pending_count == 3 and not station.online

    second = station.replay()
    assert [o.kind.value for o in second] == ["already", "ok", "unknown"]
    assert "already recorded" in second[0].message
    # Recorded once; and since that record was a refusal, it is on the supervisor's list.
    assert [e.payload for e in station.refused()] == [SN[10], "NOPE-2"]
    assert set(events_by_scan_id(site_url).values()) == {1}
    assert len(events_by_scan_id(site_url)) == len(sent)
    station.close()


def test_a_crash_before_the_journal_records_the_replay(site_url: str, tmp_path: Path) -> None:
    """Killed after the site database committed, before the journal noted it: the next start
    replays those scans again; their scan ids make that a no-op, and refusals stay listed."""
    folder = tmp_path / "journals"
    site, clock = Site(site_url), Clock()
    site.up = False
    journal = Journal.for_station("GATE-1", site_url, folder)
    station = JournaledStation(site.open, journal, clock=clock)
    for payload, mode in ((SN[12], Mode.REGISTER), (SN[13], Mode.VALIDATE)):
        station.scan(ScanEvent(payload), setup_for(mode))
    site.up = True

    def killed(_marks: object) -> None:
        raise KeyboardInterrupt("killed before the journal commit")

    journal.mark = killed  # type: ignore[method-assign,assignment]
    with pytest.raises(KeyboardInterrupt):
        station.replay()
    station.close()

    restarted = JournaledStation(site.open, Journal.for_station("GATE-1", site_url, folder))
    again = restarted.replay()
    assert [o.kind.value for o in again] == ["already", "already"]
    assert [e.payload for e in restarted.refused()] == [SN[13]]
    assert restarted.pending_count == 0
    assert set(events_by_scan_id(site_url).values()) == {1}
    restarted.close()


def test_driver_errors_that_escape_the_store_are_offline_too(
    site_url: str, journal: Journal
) -> None:
    import peewee

    class Broken:
        def __init__(self, error: Exception) -> None:
            self.error = error
            self.closed = False

        def scan(self, event: ScanEvent, setup: StationSetup, **kw: object) -> ScanOutcome:
            raise self.error

        def close(self) -> None:
            self.closed = True

    lost = Broken(peewee.InterfaceError("connection already closed"))
    station = JournaledStation(lambda: lost, journal, clock=Clock())  # type: ignore[arg-type,return-value]
    assert station.scan(ScanEvent(SN[14]), setup_for()).kind is OutcomeKind.QUEUED
    assert lost.closed and not station.online, "a broken service is dropped, reopened later"

    # A bug is not an outage: a journaled scan that hits one is set aside for a supervisor
    # (never dropped, never blocking those behind it); a live scan that hits one raises.
    bug = Broken(ValueError("a bug"))
    other = JournaledStation(lambda: bug, journal)  # type: ignore[arg-type,return-value]
    outcomes = other.replay()
    assert [o.kind for o in outcomes] == [OutcomeKind.REJECTED]
    assert "could not be replayed" in outcomes[0].message
    assert [e.payload for e in other.refused()] == [SN[14]]
    with pytest.raises(ValueError):
        other.scan(ScanEvent(SN[15]), setup_for())
    assert other.pending_count == 0
    other.close()


def test_only_one_replayer_at_a_time(site_url: str, journal: Journal) -> None:
    site = Site(site_url)
    site.up = False
    station = JournaledStation(site.open, journal, clock=Clock())
    station.scan(ScanEvent(SN[16]), setup_for())
    site.up = True
    second = Journal(journal.path, "GATE-1", journal.database)
    with second.replay_lock() as mine:
        assert mine
        assert station.replay() == [], "another process holds the replay"
        assert station.pending_count == 1
    assert [o.kind for o in station.replay()] == [OutcomeKind.OK]
    second.close()
    station.close()


# -- the command line --------------------------------------------------------------------------


def cli(
    db: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanstation", "--db", db, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def move_database(url: str, suffix: str) -> Callable[[], None]:
    """Make a SQLite site database unreachable (its files moved away); returns the undo."""
    path = Path(url.removeprefix("sqlite:///"))
    moved = []
    for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if part.exists():
            part.rename(f"{part}{suffix}")
            moved.append(part)

    def restore() -> None:
        for part in moved:
            Path(f"{part}{suffix}").rename(part)

    return restore


def test_cli_scan_journal_and_the_journal_commands(site_url: str) -> None:
    scan = ("scan", "--station", "GATE-9", "--site", "P1", "--mode", "register", "--json")
    restore = move_database(site_url, ".away")

    plain = cli(site_url, *scan, SN[17])
    assert plain.returncode == 2, "without --journal an unreachable database stays an error"
    queued = cli(site_url, *scan, "--journal", stdin=f"{SN[17]}\nNOPE-9\n{SN[18]}\n")
    assert queued.returncode == 0, queued.stderr
    lines = [json.loads(line) for line in queued.stdout.splitlines()]
    assert [line["outcome"] for line in lines] == ["queued"] * 3
    assert set(lines[0]) == {"payload", "serial", "outcome", "stage_before", "stage_after"} | {
        "message"
    }
    assert lines[2]["message"] == "OFFLINE — 3 scans saved on this terminal"
    assert "OFFLINE" in queued.stderr and "3 scan(s) wait in the journal" in queued.stderr

    shown = cli(site_url, "journal", "show", "--station", "GATE-9", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["pending_count"] == 3 and data["station"] == "GATE-9"
    assert [e["payload"] for e in data["pending"]] == [SN[17], "NOPE-9", SN[18]]
    offline_replay = cli(site_url, "journal", "replay", "--station", "GATE-9")
    assert offline_replay.returncode == 2 and "unreachable" in offline_replay.stderr

    restore()
    replayed = cli(site_url, "journal", "replay", "--station", "GATE-9", "--json")
    assert replayed.returncode == 1, "a refused scan is for a supervisor: exit 1"
    outcomes = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert [o["outcome"] for o in outcomes] == ["ok", "unknown", "ok"]
    assert [o["scan_id"] for o in outcomes] == [e["scan_id"] for e in data["pending"]]
    text = cli(site_url, "journal", "show", "--station", "GATE-9")
    assert "0 pending, 1 refused on replay" in text.stdout and "NOPE-9" in text.stdout
    assert cli(site_url, "journal", "replay", "--station", "GATE-9").returncode == 0

    # config station.journal = true enables it without the flag; --no-journal overrides it.
    restore = move_database(site_url, ".away")
    env = {"SCANSTATION_STATION_JOURNAL": "true"}
    by_config = cli(site_url, *scan, SN[19], env=env)
    assert by_config.returncode == 0 and json.loads(by_config.stdout)["outcome"] == "queued"
    assert cli(site_url, *scan, "--no-journal", SN[19], env=env).returncode == 2
    restore()
    # Online again: the next journaled run replays what waits first, then scans.
    online = cli(site_url, *scan, "--journal", SN[0])
    assert online.returncode == 0, online.stderr
    assert json.loads(online.stdout)["outcome"] == "ok"
    assert "replayed 1 journaled scan(s): 1 ok" in online.stderr
    assert stage_of(site_url, SN[19]) == "Registered at Plant"


def test_cli_scan_journal_still_refuses_an_unknown_site(site_url: str) -> None:
    result = cli(site_url, "scan", "--station", "S", "--site", "X9", "--mode", "register")
    assert result.returncode == 2
    journaled = cli(
        site_url, "scan", "--station", "S", "--site", "X9", "--mode", "register", "--journal"
    )
    assert journaled.returncode == 2 and "Unknown site" in journaled.stderr


REPLAYER_PIN = secret("580317264915")


def test_cli_replay_on_a_database_with_users_needs_credentials(site_url: str) -> None:
    """Replaying writes events: once the database has users, `journal replay` takes --user
    and a PIN (or a token) like every command that changes data; refused credentials leave
    every entry pending and nothing written. The replayed event stays the journaled
    operator's; the summary names who replayed it."""
    service = StationService.open(site_url)
    service.add_user("Asha", Role.ADMIN)
    service.set_pin("Asha", REPLAYER_PIN)
    admin = service.authenticate("Asha", REPLAYER_PIN)
    service.add_user("op-1", Role.OPERATOR, by=admin)
    service.close()
    with Journal.for_station("GATE-7", site_url) as journal:  # where the CLI looks
        event = ScanEvent(SN[16], source="argv")
        journal.append(event, setup_for(station="GATE-7", role=Role.OPERATOR))
    env: dict[str, str] = {}
    before = events_by_scan_id(site_url)
    replay = ("journal", "replay", "--station", "GATE-7")

    anonymous = cli(site_url, *replay, env=env)
    assert anonymous.returncode == 2, anonymous.stderr
    assert "say who you are with --user NAME" in anonymous.stderr
    wrong = cli(site_url, *replay, "--user", "Asha", env={**env, "SCANSTATION_PIN": "0000"})
    assert wrong.returncode == 2 and "wrong PIN for Asha" in wrong.stderr
    no_pin = cli(site_url, *replay, "--user", "Asha", env=env)  # stdin is no terminal
    assert no_pin.returncode == 2 and "no terminal to ask on" in no_pin.stderr
    assert events_by_scan_id(site_url) == before, "refused credentials wrote an event"
    shown = json.loads(cli(site_url, "journal", "show", "--station", "GATE-7", "--json").stdout)
    assert shown["pending_count"] == 1

    done = cli(site_url, *replay, "--user", "Asha", env={**env, "SCANSTATION_PIN": REPLAYER_PIN})
    assert done.returncode == 0, done.stderr
    assert "Replayed 1 journaled scan(s) (replayed by Asha)" in done.stderr
    assert stage_of(site_url, SN[16]) == "Registered at Plant"
    path = site_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        operator, station = conn.execute(
            "SELECT operator, station FROM event WHERE scan_id = ?", (event.scan_id,)
        ).fetchone()
    assert (operator, station) == ("op-1", "GATE-7"), "the scan stays the journaled operator's"
