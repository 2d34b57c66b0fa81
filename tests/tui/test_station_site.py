"""The station among other stations: live refresh of what it shows, on a shared SQLite file and
on PostgreSQL, and the offline journal — scans accepted while the site database is unreachable,
shown amber, replayed in order exactly once when it returns, refusals listed for a supervisor."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_station import burst, make_app, ready, sn, wait_for

from scanstation.domain.model import ScanEvent
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode, Stage
from scanstation.service import StationService, StationSetup
from scanstation.tui import live_refresh
from scanstation.tui.screens.refused import RefusedScreen
from scanstation.tui.widgets.invoice import InvoiceDetails
from scanstation.tui.widgets.scanned import ScannedList
from scanstation.tui.widgets.serial_detail import SerialDetail
from tests.conftest import build_small
from tests.site.test_journal import move_database

# Longer than any test waits: a station woken only when a wait ends (a timer, a fallback poll)
# would not show another station's change within the test.
NO_TIMER_S = 3600.0


def other(mode: Mode, site: str = "P1", **kw: Any) -> StationSetup:
    return StationSetup("OTHER-9", site, mode, operator="op-other", **kw)


@pytest.fixture(params=["sqlite", "postgresql"])
def site_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'site.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    service = StationService.open(url, create=True)
    build_small(service)
    service.close()
    yield url


def _live_refresh_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "live-refresh"}


async def test_another_stations_change_shows_woken_by_the_change_itself(
    site_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another station's commit wakes this one's live refresh (PostgreSQL LISTEN/NOTIFY; on
    SQLite the poll of `PRAGMA data_version`), which reloads what is on screen: no key is
    pressed here. Each wait of the live refresh lasts an hour, so nothing but the change
    itself can wake it within the test's (generous) waits: without the live refresh, or with
    one that only looks when a wait ends, the portlets never follow. How fast they follow is
    a benchmark's to measure, not this test's."""
    monkeypatch.setattr(live_refresh, "WAIT_S", NO_TIMER_S)
    before = _live_refresh_threads()
    peer = StationService.open(site_url)
    try:
        for mode in (Mode.REGISTER, Mode.VALIDATE):
            for number in (1, 2, 3):
                peer.scan(ScanEvent(sn(number), source="test"), other(mode))
        app = make_app(site_url, site="P1", mode="dispatch", document="DC-1")  # type: ignore[arg-type]
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot, app)
            station = app.station
            serial = station.query_one(SerialDetail)
            invoice = station.query_one(InvoiceDetails)
            burst(app, sn(1) + "\r")
            await wait_for(pilot, lambda: len(app.probe.outcomes) == 1, what="the scan")
            assert app.probe.outcomes[0].kind is OutcomeKind.OK
            await wait_for(
                pilot,
                lambda: (
                    serial.serial is not None
                    and serial.serial.stage is Stage.DISPATCHED_FROM_PLANT
                    and invoice.document is not None
                    and invoice.document.lines[0].scanned == 1
                ),
                what="the portlets after our own scan",
            )

            # The other station loads SN…2 on the document shown here.
            peer.scan(ScanEvent(sn(2), source="test"), other(Mode.DISPATCH, document="DC-1"))
            await wait_for(
                pilot,
                lambda: invoice.document is not None and invoice.document.lines[0].scanned == 2,
                timeout=30.0,
                what="the other station's dispatch in Invoice Details",
            )

            # ... and receives the serial shown here at the godown.
            peer.scan(ScanEvent(sn(1), source="test"), other(Mode.RECEIVE, site="G1"))
            await wait_for(
                pilot,
                lambda: (
                    serial.serial is not None and serial.serial.stage is Stage.RECEIVED_AT_GODOWN
                ),
                timeout=30.0,
                what="the other station's receive in Serial Details",
            )
            assert serial.serial is not None and serial.serial.site == "G1"
            assert len(app.probe.outcomes) == 1  # nothing was scanned here meanwhile
        # The live refresh waits out its hour after the app stopped it: one more commit wakes
        # it, and it ends (closing its connection, which the database's teardown needs).
        peer.scan(ScanEvent(sn(3), source="test"), other(Mode.DISPATCH, document="DC-1"))
        for thread in _live_refresh_threads() - before:
            thread.join(timeout=60.0)
            assert not thread.is_alive(), "the live refresh did not end"
    finally:
        peer.close()


# -- the offline journal ----------------------------------------------------------------------


def scan_events(path: Path, station: str) -> list[tuple[str, str, str]]:
    """(payload, outcome, scan_id) of a station's scans in the site database, oldest first."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT payload, outcome, scan_id FROM event WHERE station = ? AND kind = 'scan' "
            "ORDER BY id",
            (station,),
        ).fetchall()
    connection.close()
    return rows


async def test_offline_scans_are_saved_then_replayed_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'site.db'}"
    service = StationService.open(url, create=True)
    build_small(service)
    service.close()
    restore = move_database(url, ".away")  # unreachable from the start: no file there

    app = make_app(tmp_path / "site.db", site="P1", mode="register", journal=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        banner, header = app.station.banner, app.station.header
        await wait_for(pilot, lambda: "db OFFLINE" in header.text, what="the offline header")
        assert "OFFLINE" in banner.text and "unreachable" in banner.text

        burst(app, sn(1) + "\r" + "NOPE-1\r" + sn(2) + "\r")
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 3, what="three answers")
        assert [o.kind for o in app.probe.outcomes] == [OutcomeKind.QUEUED] * 3
        await wait_for(pilot, lambda: "3 saved here" in header.text, what="the count")
        assert banner.kind == "queued" and banner.has_class("-already")  # amber
        assert "OFFLINE — 3 scans saved on this terminal" in banner.text
        scanned = app.station.query_one(ScannedList)
        assert [row.outcome for row in scanned.session] == ["queued"] * 3

        # Ctrl+Q says nothing is lost (and does not quit at once).
        await pilot.press("ctrl+q")  # a control character: the capture holds it a moment
        await wait_for(
            pilot,
            lambda: any("quitting loses nothing" in str(n.message) for n in app._notifications),
            what="the sentence that nothing is lost",
        )
        assert app.is_running
        app._quit_armed = False

        restore()
        await wait_for(pilot, lambda: len(app.probe.replayed) == 3, timeout=15, what="the replay")
        assert [(o.event.payload, o.kind) for o in app.probe.replayed] == [
            (sn(1), OutcomeKind.OK),
            ("NOPE-1", OutcomeKind.UNKNOWN),
            (sn(2), OutcomeKind.OK),
        ]
        await wait_for(pilot, lambda: "db ok" in header.text, what="the header back online")
        assert "1 refused" in header.text
        assert "Back online" in banner.text
        # The rows settle in place: newest first, as scanned.
        assert [(row.key, row.outcome) for row in scanned.session] == [
            (sn(2), "ok"),
            ("NOPE-1", "unknown"),
            (sn(1), "ok"),
        ]
        assert scanned.counts["queued"] == 0 and scanned.counts["ok"] == 2

        # A supervisor's list: ctrl+r, then `a` acknowledges.
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, RefusedScreen), what="the list")
        assert isinstance(app.screen, RefusedScreen)
        assert [entry.payload for entry in app.screen.entries] == ["NOPE-1"]
        await pilot.press("a")
        await wait_for(
            pilot, lambda: app.station.db.journal_refused == 0, what="the acknowledgement"
        )
        assert "refused" not in header.text

        # Online again: a new scan goes straight to the database.
        burst(app, sn(3) + "\r")
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 4, what="an online scan")
        assert app.probe.outcomes[-1].kind is OutcomeKind.OK

    rows = scan_events(tmp_path / "site.db", "T-GATE")
    assert [(payload, outcome) for payload, outcome, _ in rows] == [
        (sn(1), "ok"),
        ("NOPE-1", "unknown"),
        (sn(2), "ok"),
        (sn(3), "ok"),
    ]
    assert len({scan_id for _, _, scan_id in rows}) == 4  # each exactly once


async def test_a_locked_sqlite_file_mid_session_is_offline_with_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanstation.store.repository as repository

    monkeypatch.setattr(repository, "WRITE_BUDGET_S", 0.3)  # give up on the lock fast
    path = tmp_path / "site.db"
    service = StationService.open(str(path), create=True)
    build_small(service)
    service.close()
    blocker = sqlite3.connect(path, timeout=5)
    app = make_app(path, site="P1", mode="register", journal=True)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot, app)
            blocker.execute("BEGIN EXCLUSIVE")
            burst(app, sn(4) + "\r" + sn(5) + "\r")
            await wait_for(pilot, lambda: len(app.probe.outcomes) == 2, what="two answers")
            assert [o.kind for o in app.probe.outcomes] == [OutcomeKind.QUEUED] * 2
            assert app.station.banner.kind == "queued"  # amber, not the red NOT SAVED
            assert "OFFLINE — 2 scans saved on this terminal" in app.station.banner.text
            blocker.rollback()
            await wait_for(pilot, lambda: len(app.probe.replayed) == 2, timeout=15, what="replay")
            assert [o.kind for o in app.probe.replayed] == [OutcomeKind.OK] * 2
    finally:
        blocker.close()
    assert [p for p, _, _ in scan_events(path, "T-GATE")] == [sn(4), sn(5)]


async def test_quitting_with_unsaved_scans_loses_nothing_with_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanstation.store.repository as repository
    from scanstation.store.journal import Journal

    monkeypatch.setattr(repository, "WRITE_BUDGET_S", 2.0)  # the scans wait that long
    path = tmp_path / "site.db"
    service = StationService.open(str(path), create=True)
    build_small(service)
    service.close()
    blocker = sqlite3.connect(path, timeout=5)
    app = make_app(path, site="P1", mode="register", journal=True)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot, app)
            blocker.execute("BEGIN EXCLUSIVE")  # the first scan hangs on the lock
            burst(app, sn(6) + "\r" + sn(7) + "\r")
            await wait_for(
                pilot, lambda: app.station.worker is not None and app.station.worker.pending == 2
            )
            await pilot.press("ctrl+q")
            assert app.is_running
            notes = [str(n.message) for n in app._notifications]
            assert any("2 scan(s)" in n and "quitting loses nothing" in n for n in notes)
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: not app.is_running, what="quit")
    finally:
        blocker.close()
    # The worker put them in the journal as it stopped: replayed at the next start.
    with Journal.for_station("T-GATE", str(path)) as journal:
        assert [entry.payload for entry in journal.pending()] == [sn(6), sn(7)]


async def test_journal_off_an_unreachable_database_stays_an_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'site.db'}"
    service = StationService.open(url, create=True)
    build_small(service)
    service.close()
    move_database(url, ".away")
    app = make_app(tmp_path / "site.db", site="P1", mode="register", journal=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.station.failed is not None and not app.is_running)
    assert app.return_code == 2 and "No database" in (app.station.failed or "")


async def test_the_database_lost_mid_session_on_postgresql(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import psycopg2

    import scanstation.store.repository as repository

    monkeypatch.setattr(repository, "WRITE_BUDGET_S", 0.5)  # give up on the server fast
    service = StationService.open(pg_url, create=True)
    build_small(service)
    service.close()
    name = pg_url.rsplit("/", 1)[1]
    admin = psycopg2.connect(os.environ["SCANSTATION_TEST_PG_URL"])
    admin.autocommit = True

    def server_refuses(refuse: bool) -> None:
        admin.cursor().execute(
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if refuse else "true"}'
        )
        if refuse:  # and drop every connection this station holds
            admin.cursor().execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )

    try:
        app = make_app(pg_url, site="P1", mode="register", journal=True)  # type: ignore[arg-type]
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot, app)
            burst(app, sn(1) + "\r")
            await wait_for(pilot, lambda: len(app.probe.outcomes) == 1, what="an online scan")
            assert app.probe.outcomes[0].kind is OutcomeKind.OK

            server_refuses(True)
            burst(app, sn(2) + "\r" + sn(3) + "\r")
            await wait_for(pilot, lambda: len(app.probe.outcomes) == 3, timeout=15, what="answers")
            assert [o.kind for o in app.probe.outcomes][1:] == [OutcomeKind.QUEUED] * 2
            header = app.station.header
            await wait_for(pilot, lambda: "db OFFLINE · 2 saved here" in header.text)
            assert "OFFLINE — 2 scans saved on this terminal" in app.station.banner.text

            server_refuses(False)
            await wait_for(pilot, lambda: len(app.probe.replayed) == 2, timeout=20, what="replay")
            assert [o.kind for o in app.probe.replayed] == [OutcomeKind.OK] * 2
            await wait_for(pilot, lambda: "db ok" in header.text, what="back online")
    finally:
        server_refuses(False)
        admin.close()

    check = psycopg2.connect(pg_url)
    try:
        cursor = check.cursor()
        cursor.execute(
            "SELECT payload, count(*) FROM event WHERE station = 'T-GATE' AND kind = 'scan' "
            "GROUP BY payload ORDER BY payload"
        )
        assert cursor.fetchall() == [(sn(1), 1), (sn(2), 1), (sn(3), 1)]
    finally:
        check.close()
