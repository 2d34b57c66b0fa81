"""Issue 9: the offline journal and roles. On a database with users, a scan journaled at the
station keeps the signed-in person and their role (and a supervisor who approved it), so its
replay is judged by decide()'s role rules exactly as online; an entry without a role (no one
signed in, or a journal of an older scanstation) is set aside, never applied anonymously. Old
journal files still replay, and a role written into the file breaks the entry's seal. On SQLite
and PostgreSQL."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.roles import Role
from scanstation.domain.stages import Mode, Stage
from scanstation.journaled import BROKEN_SEAL, JournaledStation
from scanstation.service import StationService, StationSetup
from scanstation.store.journal import JOURNAL_FORMAT, Journal
from tests.conftest import build_small
from tests.site.test_journal import SN, Site
from tests.unit.test_people import ADMIN_PIN, _people

RAVI = StationSetup("GATE-1", "P1", Mode.REGISTER, operator="Ravi", role=Role.OPERATOR)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, db_url: str) -> str:
    return db_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


def _site(url: str, *, people: bool) -> str:
    service = StationService.open(url, create=True)
    build_small(service)
    if people:  # admin Asha, operator Ravi, supervisor Meena
        _people(service)
        admin = service.authenticate("Asha", ADMIN_PIN)
        service.add_user("Meena", Role.SUPERVISOR, by=admin)
    service.close()
    return url


def _offline(url: str, folder: Path) -> tuple[JournaledStation, Site]:
    site = Site(url)
    site.up = False
    return JournaledStation(site.open, Journal.for_station("GATE-1", url, folder)), site


def _last_event(url: str, serial: str) -> tuple[str, str | None, str, str]:
    """(operator, approver, outcome, stage now) of the serial's latest event."""
    service = StationService.open(url)
    try:
        last = service.events(serial)[-1]
        view = service.serial(serial)
        assert view is not None
        return last.by, last.approved_by, last.outcome, view.stage.value
    finally:
        service.close()


def test_offline_scans_replay_under_the_role_rules_as_online(
    backend_url: str, tmp_path: Path
) -> None:
    url = _site(backend_url, people=True)
    station, site = _offline(url, tmp_path / "journals")
    scrap = replace(RAVI, mode=Mode.SCRAP, reason="dropped")
    approved = replace(scrap, approved_by="Meena", approver_role=Role.SUPERVISOR)
    queued = [
        station.scan(ScanEvent(SN[0]), RAVI),  # an operator may register
        station.scan(ScanEvent(SN[1]), scrap),  # an operator may not scrap alone
        station.scan(ScanEvent(SN[2]), approved),  # ... but with a supervisor's approval
    ]
    assert [o.kind for o in queued] == [OutcomeKind.QUEUED] * 3
    assert [(e.operator, e.role) for e in station.journal.pending()] == [
        ("Ravi", Role.OPERATOR)
    ] * 3

    site.up = True
    outcomes = station.replay()
    assert [o.kind for o in outcomes] == [OutcomeKind.OK, OutcomeKind.REJECTED, OutcomeKind.OK]
    assert "scrapping needs a supervisor" in outcomes[1].message
    assert "with a supervisor's approval" in outcomes[2].message
    assert [e.scan_id for e in station.refused()] == [queued[1].event.scan_id]
    assert station.pending == 0
    station.close()

    assert _last_event(url, SN[0]) == ("Ravi", None, "ok", Stage.REGISTERED.value)
    # Refused as online refuses it: recorded as refused, the unit unchanged.
    assert _last_event(url, SN[1]) == ("Ravi", None, "rejected", Stage.NOT_REGISTERED.value)
    assert _last_event(url, SN[2]) == ("Ravi", "Meena", "ok", Stage.SCRAPPED.value)


def test_an_entry_without_a_role_is_set_aside_when_the_database_has_users(
    backend_url: str, tmp_path: Path
) -> None:
    """Scanned when no one was signed in (an offline start): never applied anonymously."""
    url = _site(backend_url, people=True)
    station, site = _offline(url, tmp_path / "journals")
    queued = station.scan(ScanEvent(SN[0]), replace(RAVI, operator="op-1", role=None))
    assert queued.kind is OutcomeKind.QUEUED
    site.up = True
    [outcome] = station.replay()
    assert outcome.kind is OutcomeKind.REJECTED and "sign in first" in outcome.message
    assert [e.scan_id for e in station.refused()] == [queued.event.scan_id]
    station.close()
    service = StationService.open(url)
    try:
        assert service.events(SN[0]) == []  # nothing recorded of it
        assert service.serial(SN[0]).stage is Stage.NOT_REGISTERED  # type: ignore[union-attr]
    finally:
        service.close()


def _as_format_2(path: Path) -> None:
    """The file as scanstation wrote it before journals kept roles."""
    with sqlite3.connect(path) as conn:
        for column in ("role", "approved_by", "approver_role"):
            conn.execute(f"ALTER TABLE entry DROP COLUMN {column}")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'format'")
    conn.close()


def test_a_journal_of_an_older_scanstation_still_replays(backend_url: str, tmp_path: Path) -> None:
    url = _site(backend_url, people=False)
    folder = tmp_path / "journals"
    journal = Journal.for_station("GATE-1", url, folder)
    journal.append(ScanEvent(SN[0]), replace(RAVI, operator="op-1", role=None))
    journal.close()
    _as_format_2(journal.path)

    station = JournaledStation(Site(url).open, Journal.for_station("GATE-1", url, folder))
    [entry] = station.journal.pending()
    assert entry.intact and entry.role is None
    assert [o.kind for o in station.replay()] == [OutcomeKind.OK]
    station.close()
    assert _last_event(url, SN[0]) == ("op-1", None, "ok", Stage.REGISTERED.value)
    with sqlite3.connect(journal.path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone() == (
            str(JOURNAL_FORMAT),
        )
    conn.close()


@pytest.mark.parametrize(
    ("kept", "edit"),
    [
        (Role.OPERATOR, "UPDATE entry SET role = 'supervisor'"),
        (Role.OPERATOR, "UPDATE entry SET approved_by = 'Meena', approver_role = 'admin'"),
        (Role.OPERATOR, "UPDATE entry SET role = NULL"),
        (None, "UPDATE entry SET role = 'admin'"),  # an old entry given a role
    ],
)
def test_a_role_written_into_the_file_breaks_the_seal(
    tmp_path: Path, db_url: str, kept: Role | None, edit: str
) -> None:
    url = _site(db_url, people=True)
    station, site = _offline(url, tmp_path / "journals")
    setup = replace(RAVI, mode=Mode.SCRAP, reason="dropped", role=kept)
    assert station.scan(ScanEvent(SN[0]), setup).kind is OutcomeKind.QUEUED
    path = station.journal.path
    station.close()
    with sqlite3.connect(path) as conn:
        conn.execute(edit)
    conn.close()

    site.up = True
    station = JournaledStation(site.open, Journal.for_station("GATE-1", url, tmp_path / "journals"))
    assert [e.intact for e in station.journal.pending()] == [False]
    assert [(o.kind, o.message) for o in station.replay()] == [(OutcomeKind.REJECTED, BROKEN_SEAL)]
    station.close()
    service = StationService.open(url)
    try:
        assert service.events(SN[0]) == []  # nothing of the edited entry reached the database
    finally:
        service.close()
