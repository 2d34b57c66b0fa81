"""App-level key capture: KeyCapture on its own (explicit key times), then inside the station
app (scans while a dialog is open, a configured prefix, which suffixes count)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events
from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
from textual.keys import _character_to_key
from textual.pilot import Pilot

from scanstation.config import ScannerSettings, Settings
from scanstation.sources.wedge import WedgeSettings
from scanstation.tui.app import ScanStationApp
from scanstation.tui.capture import KeyCapture, wedge_settings
from scanstation.tui.screens.help import HelpScreen


def key_event(character: str, at: float | None = None) -> events.Key:
    sequence = ANSI_SEQUENCES_KEYS.get(character)
    if isinstance(sequence, tuple) and sequence:
        name = sequence[0].value
    elif character.isalnum() and character.isascii():
        name = character
    else:
        name = _character_to_key(character)
    event = events.Key(name, character)
    if at is not None:
        event.time = at
    return event


def typed(text: str, start: float, gap: float) -> list[events.Key]:
    return [key_event(ch, start + i * gap) for i, ch in enumerate(text)]


class Recorder:
    def __init__(self) -> None:
        self.scans: list[tuple[str, float]] = []

    def __call__(self, payload: str, at: float) -> None:
        self.scans.append((payload, at))


def capture(**settings: Any) -> tuple[KeyCapture, Recorder]:
    recorder = Recorder()
    return KeyCapture(WedgeSettings(**settings), recorder), recorder


def feed_all(cap: KeyCapture, keys: list[events.Key]) -> list[events.Key]:
    back: list[events.Key] = []
    for key in keys:
        back += cap.feed(key)
    return back


# -- KeyCapture ------------------------------------------------------------------------------


def test_a_burst_is_one_scan_and_its_keys_are_not_replayed() -> None:
    cap, scans = capture()
    back = feed_all(cap, typed("SN0000000001\r", 100.0, 0.002))
    assert back == []
    assert [payload for payload, _ in scans.scans] == ["SN0000000001"]
    assert not cap.pending


def test_back_to_back_scans_stay_separate() -> None:
    cap, scans = capture()
    feed_all(cap, typed("AAAA1\rBBBB2\tCCCC3\n", 100.0, 0.001))
    assert [payload for payload, _ in scans.scans] == ["AAAA1", "BBBB2", "CCCC3"]


def test_a_persons_keys_come_back_in_order_as_the_same_events() -> None:
    cap, scans = capture()
    keys = typed("hello", 100.0, 0.2)
    back = feed_all(cap, keys)
    back += cap.flush(101.5)
    assert back == keys  # the very same objects, in order
    assert scans.scans == []


def test_a_key_without_a_character_is_never_held() -> None:
    cap, _ = capture()
    f2 = events.Key("f2", None)
    assert cap.feed(f2) == [f2]


def test_control_characters_in_a_burst_are_data() -> None:
    cap, scans = capture()
    back = feed_all(cap, typed("AB\x11CD\x1dEF\x04\r", 100.0, 0.002))
    assert back == []
    assert scans.scans[0][0] == "AB\x11CD\x1dEF\x04"


def test_silence_settles_a_held_key() -> None:
    cap, _ = capture()
    q = key_event("q", 100.0)
    assert cap.feed(q) == []
    assert cap.pending and cap.deadline() is not None
    assert cap.flush(100.01) == []
    assert cap.flush(100.2) == [q]


def test_wedge_settings_come_from_the_scanner_section() -> None:
    scanner = ScannerSettings(
        burst_end_ms=80, max_median_gap_ms=30, min_length=6, prefix="#", suffixes=["tab"]
    )
    wedge = wedge_settings(scanner)
    assert (wedge.burst_end_ms, wedge.max_median_gap_ms, wedge.min_length) == (80, 30, 6)
    assert wedge.prefix == "#" and wedge.suffixes == ("tab",)
    assert wedge.split_gap_ms <= wedge.max_median_gap_ms
    tight = wedge_settings(ScannerSettings(max_median_gap_ms=10))
    assert tight.split_gap_ms == 10


# -- inside the app --------------------------------------------------------------------------


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("timed out")


def burst(app: ScanStationApp, text: str) -> None:
    for character in text:
        app.post_message(key_event(character))


async def start(pilot: Pilot[Any], app: ScanStationApp) -> None:
    await wait_for(pilot, lambda: app.ready or app.failed is not None)
    assert app.failed is None, app.failed


async def test_scans_are_caught_while_a_dialog_is_open(demo_db: Path) -> None:
    app = ScanStationApp(Settings(), database_url=str(demo_db), site="P1", mode="register")
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot, app)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        burst(app, "SN0000000001\r")  # "q" would close the help screen if it leaked
        await wait_for(pilot, lambda: len(app.outcomes) == 1)
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen)
        assert app.outcomes[0].kind.value == "ok"


async def test_a_lone_key_reaches_the_ui_within_the_hold(demo_db: Path) -> None:
    app = ScanStationApp(Settings(), database_url=str(demo_db), site="P1", mode="register")
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot, app)
        manual = app.station.manual
        manual.focus()
        await pilot.pause(0.05)
        app.post_message(key_event("a"))
        await asyncio.sleep(0.1)  # the hold is max_median_gap_ms (50 ms) plus a timer tick
        await pilot.pause()
        assert manual.value == "a"


async def test_a_configured_prefix_marks_scans(demo_db: Path) -> None:
    settings = Settings(scanner=ScannerSettings(prefix="#"))
    app = ScanStationApp(settings, database_url=str(demo_db), site="P1", mode="register")
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot, app)
        manual = app.station.manual
        manual.focus()
        await pilot.pause(0.05)
        burst(app, "#SN0000000002\r")
        await wait_for(pilot, lambda: len(app.outcomes) == 1)
        assert app.outcomes[0].event.payload == "SN0000000002"
        burst(app, "abcdef")  # fast, but without the prefix: a person's keys
        await asyncio.sleep(0.2)
        await pilot.pause()
        assert manual.value == "abcdef"
        assert len(app.outcomes) == 1


async def test_only_configured_suffixes_end_a_scan(demo_db: Path) -> None:
    settings = Settings(scanner=ScannerSettings(suffixes=["tab"]))
    app = ScanStationApp(settings, database_url=str(demo_db), site="P1", mode="register")
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot, app)
        burst(app, "SN0000000003\t")
        await wait_for(pilot, lambda: len(app.outcomes) == 1)
        assert app.outcomes[0].event.payload == "SN0000000003"
