"""Issue 8 at the station: every answer unmistakable and new, the banner and the header never
covered, words a worker knows. Real app, real SQLite file (a copy of the demo database),
scans typed as scanner bursts."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from probed import ProbedStationApp
from test_station import burst, make_app, outcomes, ready, settle, sn, wait_for

from scanstation.config import FeedbackSettings, Settings
from scanstation.domain.outcome import OutcomeKind
from scanstation.tui.feedback import BELL_SPACING_S
from scanstation.tui.screens.confirm import ConfirmPrompt
from scanstation.tui.screens.dialog import StationDialog
from scanstation.tui.screens.document_form import DocumentForm
from scanstation.tui.screens.document_picker import DocumentPicker
from scanstation.tui.screens.help import HelpScreen
from scanstation.tui.screens.mode_picker import ModePicker
from scanstation.tui.widgets.activity import ActivityLog
from scanstation.tui.widgets.invoice import InvoiceDetails
from scanstation.tui.widgets.scanned import ScannedList
from scanstation.tui.widgets.serial_detail import SerialDetail


class Clock:
    """A wall clock the test moves: the banner's age and staleness follow it."""

    def __init__(self) -> None:
        self.at = datetime(2025, 3, 5, 14, 32, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def feedback(**kw: Any) -> Settings:
    return Settings(feedback=FeedbackSettings(**kw))


# -- a lookup never looks like an OK ---------------------------------------------------------


@pytest.mark.parametrize("bells_lookup", [0, 4])
async def test_a_lookup_has_its_own_look_bell_and_tally(demo_db: Path, bells_lookup: int) -> None:
    app = make_app(demo_db, settings=feedback(bells_lookup=bells_lookup), site="G1")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        burst(app, sn(181) + "\r")
        [looked] = await outcomes(pilot, app, 1)
        assert looked.kind is OutcomeKind.OK  # the service's outcome: nothing was recorded
        banner = app.station.banner
        assert banner.kind == "lookup" and banner.has_class("-lookup")
        assert not banner.has_class("-ok")
        words = banner.text.split()
        assert "LOOKUP" in words and "OK" not in words and "✔" not in banner.text
        # The whole bell pattern: its bells are spaced by timers, late on a loaded machine.
        await wait_for(pilot, lambda: app.probe.bells_rung >= bells_lookup, what="the bells")
        await pilot.pause(4 * BELL_SPACING_S + 0.2)  # and no more come
        assert app.probe.bells_rung == bells_lookup
        scanned = app.station.query_one(ScannedList)
        assert [row.outcome for row in scanned.session] == ["lookup"]
        title = str(scanned.border_title)
        assert "lookup 1" in title and "ok 1" not in title


async def test_the_cli_json_of_a_lookup_still_says_ok(demo_db: Path) -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [
            *(sys.executable, "-m", "scanstation", "--db", str(demo_db), "scan"),
            *("--site", "G1", "--station", "T-CLI", "--mode", "lookup", "--json", sn(181)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["outcome"] == "ok"


# -- each answer is new, has an age, and goes stale ------------------------------------------


async def test_identical_answers_are_numbered_and_flash(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanstation.tui.widgets.banner as banner_module

    monkeypatch.setattr(banner_module, "FLASH_S", 1.0)  # long enough to be seen on a busy host
    app = make_app(demo_db, site="G1", mode="lookup")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        banner = app.station.banner
        burst(app, sn(181) + "\r")
        await outcomes(pilot, app, 1)
        first = banner.text
        assert banner.number == 1 and "#1" in first
        await wait_for(pilot, lambda: not banner.flashing, what="the flash to end")
        burst(app, sn(181) + "\r")  # the same serial again: the same answer
        await wait_for(pilot, lambda: banner.number == 2, what="the second answer")
        assert banner.flashing  # it stands out as it arrives...
        assert "#2" in banner.text and banner.text != first  # ...and is not the same text
        await wait_for(pilot, lambda: not banner.flashing, what="the flash to end")


async def test_an_answer_shows_its_age_and_turns_stale(demo_db: Path) -> None:
    clock = Clock()
    settings = feedback(stale_after_s=10)
    app = make_app(demo_db, settings=settings, site="P1", mode="register", now=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        banner = app.station.banner
        burst(app, sn(1) + "\r")
        await outcomes(pilot, app, 1)
        assert "just now" in banner.text and not banner.stale
        clock.advance(4)
        await wait_for(pilot, lambda: "4 s ago" in banner.text, what="the age")
        assert banner.has_class("-ok") and not banner.stale
        clock.advance(7)
        await wait_for(pilot, lambda: banner.stale, what="stale")
        assert "stale" in banner.text and "11 s ago" in banner.text
        burst(app, sn(2) + "\r")  # a new answer is fresh again
        await outcomes(pilot, app, 2)
        assert not banner.stale and "just now" in banner.text


async def test_a_red_answer_stays_readable_while_later_scans_are_answered(
    demo_db: Path,
) -> None:
    clock = Clock()  # the hold is measured on the station's clock: the test moves it
    settings = feedback(hold_error_s=3)
    app = make_app(demo_db, settings=settings, site="P1", mode="register", now=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        banner, strip = app.station.banner, app.station.problem
        burst(app, "NOPE-1\r" + sn(3) + "\r")  # a refusal, then at once a good scan
        done = await outcomes(pilot, app, 2)
        assert [o.kind for o in done] == [OutcomeKind.UNKNOWN, OutcomeKind.OK]
        await wait_for(pilot, lambda: strip.region.height == 1, what="the strip laid out")
        assert banner.kind == "ok" and sn(3) in banner.text  # the later scan was not held back
        assert strip.shown and "UNKNOWN" in strip.text and "NOPE-1" in strip.text
        assert strip.region.height == 1 and strip.region.y == banner.region.bottom
        clock.advance(2)
        burst(app, sn(4) + "\r")  # more scans do not push it away
        await outcomes(pilot, app, 3)
        # Its age is repainted by the station's tick (50 ms, late on a loaded machine).
        await wait_for(pilot, lambda: "2 s ago" in strip.text, what="the strip's age")
        assert strip.shown and "NOPE-1" in strip.text
        clock.advance(1.5)  # 3.5 s after the refusal: it has been readable long enough
        await wait_for(pilot, lambda: not strip.shown, timeout=5, what="the strip to go")
        assert strip.region.height == 0


async def test_a_slow_save_says_saving_then_not_saved_in_a_workers_words(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanstation.store.repository as repository

    monkeypatch.setattr(repository, "WRITE_BUDGET_S", 4.0, raising=False)
    blocker = sqlite3.connect(demo_db, timeout=5)
    app = make_app(demo_db, site="P1", mode="register")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot, app)
            banner = app.station.banner
            blocker.execute("BEGIN EXCLUSIVE")
            burst(app, sn(5) + "\r")
            await wait_for(pilot, lambda: banner.kind == "saving", timeout=3.5, what="saving…")
            assert "SAVING" in banner.text and sn(5) in banner.text
            await wait_for(pilot, lambda: banner.kind == "not_saved", what="NOT SAVED")
            assert "The database is busy; the scan is kept and will be saved" in banner.text
            assert "lock" not in banner.text.lower()  # the technical cause is not for the banner
            activity = app.station.query_one(ActivityLog)
            notes = str(activity.query_one("#activity-notes").content)
            assert "NOT SAVED" in notes and "lock" in notes.lower()
            blocker.rollback()
            await pilot.press("f9")
            [saved] = await outcomes(pilot, app, 1)
            assert saved.kind is OutcomeKind.OK and banner.kind == "ok"
    finally:
        blocker.close()


# -- nothing covers the banner and the header ------------------------------------------------


def _covers_top(app: ProbedStationApp) -> str | None:
    """What, if anything, hides part of the header, the banner or the problem strip."""
    station = app.station
    top_rows = (station.problem if station.problem.shown else station.banner).region.bottom
    if not station.banner.region.height or not station.header.region.height:
        return "the banner or the header is not laid out"
    screen = app.screen
    if screen is not station:
        for widget in screen.children:
            if widget.display and widget.region.height and widget.region.y < top_rows:
                return f"{widget!r} starts at row {widget.region.y} < {top_rows}"
    return None


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_nothing_covers_the_banner_and_the_header(
    demo_db: Path, size: tuple[int, int]
) -> None:
    app = make_app(demo_db, site="G1", mode="receive")
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        burst(app, "NOPE-9\r" + sn(181) + "\r")  # an answer, and a problem in the strip
        await outcomes(pilot, app, 2)
        await pilot.pause(0.1)

        async def check(what: str) -> None:
            # The station moves an opened screen's box below its top rows.
            await wait_for(pilot, lambda: _covers_top(app) is None, what=f"{what} clear")
            picture = app.export_screenshot()
            assert sn(181) in picture and "#2" in picture, f"banner hidden under {what}"

        await pilot.press("f7")
        assert app.station.deck.maximised is not None
        await check("F7")
        await pilot.press("f7")
        for key, screen in (("f1", HelpScreen), ("f2", ModePicker), ("f3", DocumentPicker)):
            await pilot.press(key)
            await wait_for(pilot, lambda screen=screen: isinstance(app.screen, screen))
            await check(key)
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is app.station)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: app.screen is not app.station, what="the palette")
        await check("the command palette")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.station)


async def test_nothing_covers_the_banner_in_the_document_form_and_close(demo_db: Path) -> None:
    app = make_app(demo_db, site="G1", mode="dispatch", document="REF-88")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPrompt))
        await wait_for(pilot, lambda: _covers_top(app) is None, what="the question clear")
        await pilot.press("escape")
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentPicker))
        picker = app.screen
        assert isinstance(picker, DocumentPicker)
        picker.options.highlighted = len(picker.documents)  # + New document…
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentForm))
        await wait_for(pilot, lambda: _covers_top(app) is None, what="the form clear")
        assert isinstance(app.screen, StationDialog)


async def test_the_header_keeps_mode_and_document_first(demo_db: Path) -> None:
    app = make_app(demo_db, site="G1", mode="dispatch", document="REF-88")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        header = app.station.header
        text = header.text
        assert "DISPATCH" in text and "REF-88" in text, text
        assert "T-GATE" not in text and header.dropped[0] == "station"
        assert "db ok" in text
        # Each size is laid out at the next refresh, late on a loaded machine.
        at_80 = header.dropped
        await pilot.resize_terminal(40, 12)
        await wait_for(pilot, lambda: header.dropped != at_80, what="the narrow header")
        assert "DISPATCH" in header.text, header.text
        await pilot.resize_terminal(160, 48)
        await wait_for(pilot, lambda: header.dropped == (), what="the wide header")
        assert "T-GATE" in header.text and "Mumbai Godown (G1)" in header.text


# -- words ------------------------------------------------------------------------------------


async def test_sites_are_named_beside_their_codes(demo_db: Path) -> None:
    app = make_app(demo_db, site="G1", mode="receive")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        burst(app, sn(181) + "\r")  # from Pune Plant (P1) on REF-1042 to Mumbai Godown (G1)
        await outcomes(pilot, app, 1)
        serial = app.station.query_one(SerialDetail)
        invoice = app.station.query_one(InvoiceDetails)
        await wait_for(
            pilot,
            lambda: (
                "Mumbai Godown (G1)" in str(serial.field("site"))
                and "Pune Plant (P1)" in str(invoice.field("route"))
            ),
            what="site names in the portlets",
        )
        assert "Mumbai Godown (G1)" in str(invoice.field("route"))
        assert "Mumbai Godown (G1)" in app.station.header.text


async def test_the_timeline_names_stages_in_full_where_it_is_wide(demo_db: Path) -> None:
    app = make_app(demo_db, site="G1", mode="receive")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        burst(app, sn(181) + "\r")
        await outcomes(pilot, app, 1)
        activity = app.station.query_one(ActivityLog)
        await wait_for(pilot, lambda: activity.serial is not None, what="the activity")

        def timeline() -> str:
            return str(activity.query_one("#activity-timeline").render())

        assert "DFP→RAG" in timeline()  # a quarter of the screen: short names
        activity.focus()
        await pilot.press("f7")  # maximised: the whole width
        await settle(pilot)
        await wait_for(
            pilot,
            lambda: "Dispatch from Plant → Received at Godown" in timeline(),
            what="full stage names",
        )
