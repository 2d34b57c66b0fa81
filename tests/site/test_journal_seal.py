"""Issue 11, finding 4 (journal side) and finding 13: a journal entry edited in the file is
never applied, and offline scans are checked against the sites and documents last seen online
(an unknown site or document is exit 2 offline as online; a scrap with no reason is REJECTED)."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode
from scanstation.journaled import BROKEN_SEAL, JournaledStation
from scanstation.service import StationService, StationSetup
from scanstation.store.journal import Journal
from scanstation.store.journal_files import key_path
from tests.conftest import build_small
from tests.site.test_journal import SN, Clock, Site, cli, events_by_scan_id, move_database


def setup_for(
    mode: Mode = Mode.REGISTER, *, station: str = "GATE-1", site: str = "P1", **kw: str
) -> StationSetup:
    return StationSetup(station, site, mode, operator="op-1", **kw)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def site_url(request: pytest.FixtureRequest, db_url: str) -> str:
    url = db_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    service = StationService.open(url, create=True)
    build_small(service)
    service.close()
    return url


def scan_events(url: str) -> int:
    service = StationService.open(url)
    try:
        return sum(1 for e in service.events(SN[0]) if e.to_stage)
    finally:
        service.close()


EDITS = {
    "operator": "UPDATE entry SET operator = 'boss'",
    "payload": f"UPDATE entry SET payload = '{SN[1]}'",
    "mode": "UPDATE entry SET mode = 'scrap', reason = 'gone'",
    "read time": "UPDATE entry SET read_at = '2020-01-01T00:00:00.000000+00:00'",
    "seal removed": "UPDATE entry SET mac = NULL",
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_entry_edited_in_the_file_is_refused_at_replay_with_the_reason(
    site_url: str, tmp_path: Path, edit: str
) -> None:
    site, folder = Site(site_url), tmp_path / "journals"
    site.up = False
    station = JournaledStation(site.open, Journal.for_station("GATE-1", site_url, folder))
    queued = station.scan(ScanEvent(SN[0]), setup_for())
    assert queued.kind is OutcomeKind.QUEUED
    station.close()
    path = Journal.for_station("GATE-1", site_url, folder).path
    with sqlite3.connect(path) as conn:
        conn.execute(EDITS[edit])
    conn.close()

    site.up = True
    station = JournaledStation(site.open, Journal.for_station("GATE-1", site_url, folder))
    assert [e.intact for e in station.journal.pending()] == [False]
    outcomes = station.replay()
    assert [(o.kind, o.message) for o in outcomes] == [(OutcomeKind.REJECTED, BROKEN_SEAL)]
    refused = station.refused()
    assert [(e.scan_id, e.message) for e in refused] == [(queued.event.scan_id, BROKEN_SEAL)]
    assert station.pending == 0
    station.close()
    assert scan_events(site_url) == 0, "nothing of the edited scan reached the site database"


def test_the_key_is_private_never_printed_and_per_journal(site_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "journals"
    first = Journal.for_station("GATE-1", site_url)  # where `journal show` looks
    second = Journal.for_station("GATE-2", site_url, folder)
    first_key, second_key = key_path(first.path), key_path(second.path)
    assert stat.S_IMODE(first_key.stat().st_mode) == 0o600
    assert first_key.read_text() != second_key.read_text()
    # The same entry fields sealed in two journals give two different seals.
    event = ScanEvent(SN[0])
    first.append(event, setup_for())
    second.append(event, setup_for(station="GATE-2"))
    first.close()
    second.close()
    macs = set()
    for journal in (first, second):
        with sqlite3.connect(journal.path) as conn:
            macs.add(conn.execute("SELECT mac FROM entry").fetchone()[0])
        conn.close()
    assert len(macs) == 2

    shown = cli(site_url, "journal", "show", "--station", "GATE-1", "--all", "--json")
    assert json.loads(shown.stdout)["pending_count"] == 1
    text = cli(site_url, "journal", "show", "--station", "GATE-1", "--all")
    assert first_key.read_text().strip() not in shown.stdout + shown.stderr + text.stdout


def test_a_format_1_journal_is_sealed_on_upgrade_and_replays(site_url: str, tmp_path: Path) -> None:
    """Scans saved by the previous version (no seal column) are still sent, once."""
    folder = tmp_path / "journals"
    journal = Journal.for_station("GATE-1", site_url, folder)
    event = ScanEvent(SN[0])
    journal.append(event, setup_for())
    journal.close()
    with sqlite3.connect(journal.path) as conn:
        conn.execute("ALTER TABLE entry DROP COLUMN mac")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'format'")
    conn.close()
    key_path(journal.path).unlink()

    station = JournaledStation(Site(site_url).open, Journal.for_station("GATE-1", site_url, folder))
    assert [o.kind for o in station.replay()] == [OutcomeKind.OK]
    station.close()
    assert scan_events(site_url) == 1


def test_cli_journal_show_and_replay_name_an_edited_entry(site_url: str) -> None:
    if not site_url.startswith("sqlite"):
        pytest.skip("the database is made unreachable by moving its file")
    scan = ("scan", "--station", "GATE-9", "--site", "P1", "--mode", "register", "--json")
    restore = move_database(site_url, ".away")
    assert cli(site_url, *scan, "--journal", SN[0]).returncode == 0
    journal = Journal.for_station("GATE-9", site_url)
    with sqlite3.connect(journal.path) as conn:
        conn.execute("UPDATE entry SET operator = 'someone-else'")
    conn.close()
    journal.close()
    shown = cli(site_url, "journal", "show", "--station", "GATE-9")
    assert "EDITED in the file" in shown.stdout and "someone-else" in shown.stdout
    assert (
        json.loads(cli(site_url, "journal", "show", "--station", "GATE-9", "--json").stdout)[
            "pending"
        ][0]["intact"]
        is False
    )
    restore()
    replayed = cli(site_url, "journal", "replay", "--station", "GATE-9", "--json")
    assert replayed.returncode == 1
    assert json.loads(replayed.stdout)["message"] == BROKEN_SEAL
    assert sum(events_by_scan_id(site_url).values()) == 0


# -- offline checks (finding 13) ---------------------------------------------------------------


def test_offline_scans_are_checked_against_the_last_known_sites_and_documents(
    site_url: str, tmp_path: Path
) -> None:
    site, clock = Site(site_url), Clock()
    station = JournaledStation(
        site.open, Journal.for_station("GATE-1", site_url, tmp_path / "j"), clock=clock
    )
    assert station.connect()  # online once: the journal learns the sites and documents
    site.up = False
    station._went_offline(OSError("connection lost"))
    from scanstation.service import ServiceError

    with pytest.raises(ServiceError, match=r"Unknown site 'NOSUCH' \(known sites: G1, G2, P1\)"):
        station.scan(ScanEvent(SN[0]), setup_for(site="NOSUCH"))
    with pytest.raises(ServiceError, match="No document with reference no 'NODOC'"):
        station.scan(ScanEvent(SN[0]), setup_for(Mode.DISPATCH, document="NODOC"))
    scrap = station.scan(ScanEvent(SN[0]), setup_for(Mode.SCRAP))
    assert scrap.kind is OutcomeKind.REJECTED and "needs a reason" in scrap.message
    assert station.pending == 0, "a refused scan is not queued"
    godown = station.scan(ScanEvent(SN[0]), setup_for(site="G1"))
    assert godown.kind is OutcomeKind.REJECTED and "done at a plant" in godown.message
    # What the rules can only judge with the serial is queued as before.
    assert station.scan(ScanEvent(SN[0]), setup_for(Mode.DISPATCH, document="DC-1")).kind is (
        OutcomeKind.QUEUED
    )
    assert station.scan(ScanEvent(SN[1]), setup_for(Mode.SCRAP, reason="dent")).kind is (
        OutcomeKind.QUEUED
    )
    assert station.pending == 2
    station.close()


def test_cli_offline_unknown_site_or_document_is_exit_2_as_online(site_url: str) -> None:
    if not site_url.startswith("sqlite"):
        pytest.skip("the database is made unreachable by moving its file")
    base = ("scan", "--station", "GATE-9", "--journal", "--json")
    online = cli(site_url, *base, "--site", "P1", "--mode", "register", SN[0])
    assert online.returncode == 0, online.stderr
    restore = move_database(site_url, ".away")
    try:
        nosite = cli(site_url, *base, "--site", "NOSUCH", "--mode", "register", SN[1])
        assert nosite.returncode == 2 and "Unknown site 'NOSUCH'" in nosite.stderr
        nodoc = cli(site_url, *base, "--site", "P1", "--mode", "scrap", "--doc", "NODOC", SN[1])
        assert nodoc.returncode == 2 and "No document with reference no 'NODOC'" in nodoc.stderr
        noreason = cli(site_url, *base, "--site", "P1", "--mode", "scrap", SN[1])
        assert noreason.returncode == 1
        assert json.loads(noreason.stdout)["outcome"] == "rejected"
        queued = cli(site_url, *base, "--site", "P1", "--mode", "validate", SN[0])
        assert queued.returncode == 0 and json.loads(queued.stdout)["outcome"] == "queued"
        shown = json.loads(cli(site_url, "journal", "show", "--station", "GATE-9", "--json").stdout)
        assert shown["pending_count"] == 1
    finally:
        restore()


def test_the_known_sites_follow_what_this_station_adds(site_url: str, tmp_path: Path) -> None:
    site = Site(site_url)
    station = JournaledStation(site.open, Journal.for_station("GATE-1", site_url, tmp_path / "j"))
    assert station.connect()
    from scanstation.domain.stages import DocumentKind

    station.add_document(
        kind=DocumentKind.DC, reference_no="DC-NEW", from_site="P1", to="G1", lines=[("PUMP", 1)]
    )
    known = station.journal.known()
    assert known is not None and "DC-NEW" in known.documents
    station.close()


def test_a_stale_offline_scan_does_not_reverse_a_newer_decision(
    site_url: str, tmp_path: Path
) -> None:
    """Finding 4: B registers X; A, offline, validates X; B then rejects X "QC fail"; A's
    replay must not leave X Validated. The journal replays with `replay=True`, the service
    refuses the stale scan, and A's supervisor sees it with the reason."""
    other = StationService.open(site_url)
    b = setup_for(station="GATE-B")
    assert other.scan(ScanEvent(SN[0]), b).kind is OutcomeKind.OK
    site = Site(site_url)
    site.up = False
    station = JournaledStation(site.open, Journal.for_station("GATE-1", site_url, tmp_path / "j"))
    stale = station.scan(ScanEvent(SN[0]), setup_for(Mode.VALIDATE))
    assert stale.kind is OutcomeKind.QUEUED
    rejected = other.scan(
        ScanEvent(SN[0]), setup_for(Mode.REJECT, station="GATE-B", reason="QC fail")
    )
    assert rejected.kind is OutcomeKind.OK
    site.up = True
    outcomes = station.replay()
    assert [o.event.scan_id for o in outcomes] == [stale.event.scan_id]
    assert not outcomes[0].kind.is_success, outcomes[0]
    assert [e.scan_id for e in station.refused()] == [stale.event.scan_id]
    station.close()
    view = other.serial(SN[0])
    assert view is not None and view.stage.value == "Not Validated at Plant"
    other.close()


def test_a_payload_with_undecodable_bytes_is_kept_exactly_and_sealed(
    site_url: str, tmp_path: Path
) -> None:
    """`scan --journal` reads stdin with surrogateescape: such a payload is saved as the bytes
    it was (SQLite refuses lone surrogates) and replayed as a REJECTED scan."""
    site = Site(site_url)
    site.up = False
    station = JournaledStation(site.open, Journal.for_station("GATE-1", site_url, tmp_path / "j"))
    payload = "SN\udcff\udcfe1"
    assert station.scan(ScanEvent(payload), setup_for()).kind is OutcomeKind.QUEUED
    [entry] = station.journal.pending()
    assert entry.payload == payload and entry.intact
    site.up = True
    [outcome] = station.replay()
    assert outcome.kind is OutcomeKind.REJECTED and "SN\\xff\\xfe1" in outcome.message
    station.close()
