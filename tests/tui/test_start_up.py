"""While the station starts: keys typed before it reads the terminal come in one read, without
their timing (a key binding pressed then must not join a later scan), and the words for the
scans held while its database opens are true whether or not the station has users. Key times
are chosen, not measured; the database's opening is held back by the test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from probed import ProbedStationApp
from test_capture import capture, feed_all, post
from test_sign_in import gate, people_db, prompt_of  # noqa: F401 (a fixture)
from test_station import key_event, outcomes, sn, wait_for
from textual import events

import scanstation.tui.app as station_app
from scanstation.domain.outcome import OutcomeKind
from scanstation.tui.screens.overview import OverviewScreen


def read_together(text: str, at: float) -> list[events.Key]:
    """`text` as the terminal's first read hands it over: keys stamped microseconds apart."""
    keys = []
    for index, character in enumerate(text):
        key = events.Key("ctrl+e", "\x05") if character == "\x05" else key_event(character)
        key.time = at + index * 0.0002
        keys.append(key)
    return keys


@pytest.fixture
def slow_open(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The database opens only once the test sets the event (at most 20 s)."""
    opened = threading.Event()
    real = station_app._open_station

    def held_back(*args: Any, **kw: Any) -> Any:
        opened.wait(20)
        return real(*args, **kw)

    monkeypatch.setattr(station_app, "_open_station", held_back)
    yield opened
    opened.set()


# -- the capture on its own ------------------------------------------------------------------


def test_a_control_key_before_a_scan_in_the_first_read_is_a_persons() -> None:
    cap, scans = capture(terminal_hold_ms=250)
    cap.reading_from(100.0)
    keys = read_together("\x05SN0000000001\r", 100.01)
    back = feed_all(cap, keys)
    assert [payload for payload, _ in scans.scans] == ["SN0000000001"]
    assert back == [keys[0]]  # ctrl+e goes on as the key it was


def test_control_characters_inside_a_scan_in_the_first_read_stay_in_it() -> None:
    cap, scans = capture(terminal_hold_ms=250)
    cap.reading_from(100.0)
    assert feed_all(cap, read_together("\x05SN00\x1b\x1d\x1e01\rAB\x1dCD\r", 100.01)) != []
    assert [payload for payload, _ in scans.scans] == ["SN00\x1b\x1d\x1e01", "AB\x1dCD"]


def test_after_the_first_read_timing_decides_as_before() -> None:
    # Keys read together later (a busy machine) are not the first read: a control key read
    # with a scan is in its payload, as the detector has always read it.
    cap, scans = capture(terminal_hold_ms=250)
    cap.reading_from(100.0)
    feed_all(cap, read_together("\x05SN0000000001\r", 103.0))
    assert [payload for payload, _ in scans.scans] == ["\x05SN0000000001"]


# -- the station --------------------------------------------------------------------------------


async def test_ctrl_e_pressed_while_the_station_starts_stays_a_key(
    demo_db: Path, slow_open: threading.Event
) -> None:
    """tmux: ctrl+e while the station started, then a scan; the terminal handed both over in
    one read. The scan was REJECTED as "␅SN0000000001"; now ctrl+e stays a key (the Overview
    says the database is still opening) and the scan is applied once it is open."""
    app = gate(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        start = app.capture.first_read_from
        assert start is not None  # the app marked when it began reading the terminal
        post(app, read_together(f"\x05{sn(181)}\r", start + 0.02))
        await wait_for(pilot, lambda: app.station.intake.held == 1, what="the held scan")
        await wait_for(pilot, lambda: "still opening" in notes(app), what="the key's answer")
        assert not isinstance(app.screen, OverviewScreen)
        slow_open.set()
        [outcome] = await outcomes(pilot, app, 1)
    assert outcome.event.payload == sn(181)
    assert outcome.kind is OutcomeKind.OK


async def test_a_supervisor_screen_asked_for_before_the_database_answers_stays_shut(
    people_db: Path,  # noqa: F811
    slow_open: threading.Event,
) -> None:
    # Whether the station has users (and so who may see the Overview) is not known until the
    # database answers: a passer-by's ctrl+e at a starting kiosk shows nothing behind sign-in.
    app = gate(people_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.1)
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: "still opening" in notes(app), what="the key's answer")
        slow_open.set()
        await prompt_of(pilot, app)
        assert not any(isinstance(screen, OverviewScreen) for screen in app.screen_stack)


def notes(app: ProbedStationApp) -> str:
    return " ".join(str(note.message) for note in app._notifications)


def banner(app: ProbedStationApp) -> str:
    return app.station.banner.sentence


async def test_scans_held_while_an_open_station_starts_are_not_offered_to_a_sign_in(
    demo_db: Path, slow_open: threading.Event
) -> None:
    app = gate(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        post(app, read_together(f"{sn(181)}\r", app.capture.first_read_from or 0.0))
        await wait_for(pilot, lambda: app.station.intake.held == 1, what="the held scan")
        words = banner(app)
        assert "Read while the database opens" in words
        assert "applied once it is open" in words
        assert not words.startswith("Read before sign-in")
        slow_open.set()
        [outcome] = await outcomes(pilot, app, 1)  # an open station: applied, nobody asked
        assert outcome.kind is OutcomeKind.OK
        assert "sign" not in banner(app)


async def test_scans_held_while_a_station_with_users_starts_wait_for_sign_in(
    people_db: Path,  # noqa: F811
    slow_open: threading.Event,
) -> None:
    app = gate(people_db)
    async with app.run_test(size=(120, 40)) as pilot:
        post(app, read_together(f"{sn(181)}\r", app.capture.first_read_from or 0.0))
        await wait_for(pilot, lambda: app.station.intake.held == 1, what="the held scan")
        assert "Read while the database opens" in banner(app)
        slow_open.set()
        await prompt_of(pilot, app)
        await wait_for(pilot, lambda: "before sign-in" in banner(app), what="sign-in words")
        assert "offered to whoever signs in" in banner(app)
        assert not app.probe.outcomes
