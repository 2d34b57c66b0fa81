"""App-level key capture: KeyCapture on its own (explicit key times), then inside the station
app (scans while a dialog is open, a configured prefix, which suffixes count, the presets, ESC
from a real terminal, bursts that are not scans). Keys are posted with chosen `time` values:
`pilot.press` waits about 60 ms a key and cannot imitate a scanner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from probed import ProbedStationApp
from textual import events
from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.keys import _character_to_key
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Input

from scanstation.config import ConfigError, ScannerSettings, Settings, load_settings
from scanstation.sources.wedge import WedgeSettings
from scanstation.tui.capture import (
    ON_THE_WAY_MAX_S,
    TERMINAL_HOLD_MS,
    BurstNotRead,
    FlushDue,
    KeyCapture,
    KeysOnTheWay,
    terminal_has_unread,
    wedge_settings,
)
from scanstation.tui.screens.help import HelpScreen
from scanstation.tui.screens.mode_picker import ModePicker


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


def test_a_key_on_its_way_holds_back_a_flush_timed_after_its_stamp() -> None:
    way = KeysOnTheWay()
    key = key_event("S", 100.0)
    way.handed(key)
    assert way.stamped_before(100.05, 100.05)  # read before the timer ran, not fed yet
    assert not way.stamped_before(99.9, 100.05)  # a silence before it was one
    assert not way.stamped_before(100.05, 100.0 + ON_THE_WAY_MAX_S)  # lost: no longer waited
    way.arrived(key)
    assert not way.stamped_before(100.05, 100.05)


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


def burst(app: ProbedStationApp, text: str) -> None:
    """Keys as one read of the terminal: stamped microseconds apart, not as this loop makes
    them (a thread switch between two would be a gap no scanner made)."""
    post(app, timed(text, get_time(), 2e-6))


async def start(pilot: Pilot[Any], app: ProbedStationApp) -> None:
    await wait_for(pilot, lambda: app.station.ready or app.station.failed is not None)
    assert app.station.failed is None, app.station.failed


async def test_scans_are_caught_while_a_dialog_is_open(demo_db: Path) -> None:
    app = ProbedStationApp(Settings(), database_url=str(demo_db), site="P1", mode="register")
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot, app)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        burst(app, "SN0000000001\r")  # "q" would close the help screen if it leaked
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen)
        assert app.probe.outcomes[0].kind.value == "ok"


async def test_a_lone_key_reaches_the_ui_within_the_hold(demo_db: Path) -> None:
    app = ProbedStationApp(Settings(), database_url=str(demo_db), site="P1", mode="register")
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot, app)
        manual = app.station.manual
        manual.focus()
        await pilot.pause(0.05)
        app.post_message(key_event("a"))
        # No other key follows: only the hold's own timer (max_median_gap_ms, 50 ms) can let
        # it go. Waited for, not slept on: a loaded machine runs that timer late.
        await wait_for(pilot, lambda: manual.value == "a")
        assert not app.probe.outcomes


async def test_a_configured_prefix_marks_scans(demo_db: Path) -> None:
    settings = Settings(scanner=ScannerSettings(prefix="#"))
    app = ProbedStationApp(settings, database_url=str(demo_db), site="P1", mode="register")
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot, app)
        manual = app.station.manual
        manual.focus()
        await pilot.pause(0.05)
        burst(app, "#SN0000000002\r")
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        assert app.probe.outcomes[0].event.payload == "SN0000000002"
        burst(app, "abcdef")  # fast, but without the prefix: a person's keys
        await wait_for(pilot, lambda: manual.value == "abcdef")  # once the burst's end is due
        assert len(app.probe.outcomes) == 1


async def test_only_configured_suffixes_end_a_scan(demo_db: Path) -> None:
    settings = Settings(scanner=ScannerSettings(suffixes=["tab"]))
    app = ProbedStationApp(settings, database_url=str(demo_db), site="P1", mode="register")
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot, app)
        burst(app, "SN0000000003\t")
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        assert app.probe.outcomes[0].event.payload == "SN0000000003"


# -- presets, ESC from a terminal, bursts that are not scans (issue 8) ------------------------


def timed(text: str, start: float, gaps_s: float | list[float]) -> list[events.Key]:
    """Key events for `text`, the first at `start`, then `gaps_s` seconds apart."""
    gaps = gaps_s if isinstance(gaps_s, list) else [gaps_s] * (len(text) - 1)
    keys, at = [], start
    for index, character in enumerate(text):
        at += gaps[index - 1] if index else 0.0
        keys.append(key_event(character, at))
    return keys


def terminal_keys(data: str, at: float) -> list[events.Key]:
    """The Key events Textual's own terminal parser makes of `data` read in one go, including
    what it sends once its escape delay has run out, stamped `at` (+ the delay for the rest)."""
    parser = XTermParser()
    keys: list[events.Key] = [e for e in parser.feed(data) if isinstance(e, events.Key)]
    for key in keys:
        key.time = at
    late: list[events.Key] = []
    if parser._timeout_time is not None:  # it waits on an ESC: let its escape delay pass
        parser._timeout_time = 0.0
        late = [e for e in parser.tick() if isinstance(e, events.Key)]
    for key in late:
        key.time = at + 0.103  # as measured in tmux: 100 ms delay, then the next poll
    return keys + late


def post(app: ProbedStationApp, keys: list[events.Key]) -> None:
    for key in keys:
        app.post_message(key)


def notes(app: ProbedStationApp) -> list[str]:
    return [str(note.message) for note in app._notifications]


def test_textual_makes_alt_keys_of_esc_and_the_capture_restores_it() -> None:
    keys = terminal_keys("SN00\x1bX0000002\r", 100.0)
    assert [k.key for k in keys][3:6] == ["0", "alt+shift+x", "0"]  # what the terminal gives
    cap, scans = capture(**vars_of(wedge_settings(ScannerSettings())))
    assert feed_all(cap, keys) == []
    assert [payload for payload, _ in scans.scans] == ["SN00\x1bX0000002"]


def test_esc_b_and_esc_f_are_restored_too() -> None:
    keys = terminal_keys("AB\x1bbCD\x1bfEF\r", 100.0)
    assert "ctrl+left" in [k.key for k in keys]
    cap, scans = capture()
    assert feed_all(cap, keys) == []
    assert [payload for payload, _ in scans.scans] == ["AB\x1bbCD\x1bfEF"]


def vars_of(settings: WedgeSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in WedgeSettings.__dataclass_fields__}


def test_the_presets_and_their_overrides(tmp_path: Path) -> None:
    usb = wedge_settings(ScannerSettings())
    assert (usb.burst_end_ms, usb.max_median_gap_ms, usb.split_gap_ms) == (100, 50, 20)
    assert usb.terminal_hold_ms == TERMINAL_HOLD_MS >= 200
    path = tmp_path / "config.toml"
    path.write_text('[scanner]\npreset = "bluetooth"\n', encoding="utf-8")
    bluetooth = wedge_settings(load_settings(path, environ={}).scanner)
    assert (bluetooth.burst_end_ms, bluetooth.max_median_gap_ms) == (300, 80)
    path.write_text('[scanner]\npreset = "bluetooth"\nmax_median_gap_ms = 100\n', encoding="utf-8")
    tuned = wedge_settings(load_settings(path, environ={}).scanner)
    assert (tuned.burst_end_ms, tuned.max_median_gap_ms) == (300, 100)
    from_env = load_settings(environ={"SCANSTATION_SCANNER_PRESET": "bluetooth"}).scanner
    assert from_env.preset == "bluetooth" and from_env.burst_end_ms == 300
    older = ScannerSettings(burst_end_ms=120, max_median_gap_ms=40)  # a file from before presets
    assert wedge_settings(older).burst_end_ms == 120
    path.write_text('[scanner]\npreset = "bt"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key scanner\.preset.*usb, bluetooth"):
        load_settings(path, environ={})


def station_app(demo_db: Path, **scanner: Any) -> ProbedStationApp:
    settings = Settings(scanner=ScannerSettings(**scanner))
    return ProbedStationApp(settings, database_url=str(demo_db), site="P1", mode="register")


async def open_station(pilot: Pilot[Any], app: ProbedStationApp) -> None:
    await start(pilot, app)
    await pilot.pause(0.05)


async def test_a_60_ms_scanner_gets_a_message_with_the_usb_preset(demo_db: Path) -> None:
    seen: list[Any] = []
    app = station_app(demo_db)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await open_station(pilot, app)
        assert not isinstance(app.focused, Input)
        post(app, timed("SN0000000001\r", get_time(), 0.06))
        await wait_for(pilot, lambda: any("60 ms apart" in note for note in notes(app)))
        [note] = notes(app)
        assert "“SN0000000001” came like a scanner" in note
        assert 'preset = "bluetooth"' in note
        assert [m.burst.reason for m in seen if isinstance(m, BurstNotRead)] == ["slow"]
        await pilot.pause(0.2)
        assert not app.probe.outcomes


async def test_a_60_ms_scanner_scans_with_the_bluetooth_preset(demo_db: Path) -> None:
    app = station_app(demo_db, preset="bluetooth")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        gaps = [0.02, 0.06, 0.0, 0.045, 0.06, 0.0, 0.0, 0.03, 0.06, 0.2, 0.05, 0.04]
        post(app, timed("SN0000000001\r", get_time(), gaps))
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        assert app.probe.outcomes[0].event.payload == "SN0000000001"
        assert app.probe.outcomes[0].kind.value == "ok"
        assert notes(app) == []


@pytest.mark.parametrize("preset", ["usb", "bluetooth"])
async def test_a_person_typing_slowly_still_types_with_either_preset(
    demo_db: Path, preset: Any
) -> None:
    app = station_app(demo_db, preset=preset)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        manual = app.station.manual
        manual.focus()
        await pilot.pause(0.05)
        gaps = [0.12, 0.3, 0.18, 0.25, 0.14, 0.17, 0.2, 0.13, 0.16, 0.22, 0.15]
        post(app, timed("SN0000000005", get_time(), gaps))
        await wait_for(pilot, lambda: manual.value == "SN0000000005", timeout=5)
        assert not app.probe.outcomes
        post(app, [key_event("\r")])
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        assert app.probe.outcomes[0].event.source == "manual"
        assert notes(app) == []


async def test_esc_inside_a_burst_from_the_terminal_is_one_scan(demo_db: Path) -> None:
    # Read from a real terminal, ESC X arrives as alt+shift+x 100 ms or more after the keys
    # before it; that gap used to end the burst: two scans, "SN00" and "X0000002".
    app = station_app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        post(app, terminal_keys("SN00\x1bX0000002\r", get_time()))
        await wait_for(pilot, lambda: len(app.probe.outcomes) >= 1)
        await pilot.pause(0.4)
        assert [o.event.payload for o in app.probe.outcomes] == ["SN00\x1bX0000002"]
        assert "SN00␛X0000002" in app.station.banner.text


async def test_a_one_key_packet_neither_cuts_the_scan_nor_types(demo_db: Path) -> None:
    app = station_app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        manual = app.station.manual
        manual.focus()
        await pilot.pause(0.05)
        now = get_time()
        keys = timed("SN00000", now, 0.002)
        keys += timed("0", keys[-1].time + 0.025, 0.0)
        keys += timed("0123\r", keys[-1].time + 0.025, 0.002)
        post(app, keys)
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        await pilot.pause(0.2)
        assert [o.event.payload for o in app.probe.outcomes] == ["SN0000000123"]
        assert manual.value == ""


async def test_one_character_repeated_then_enter_is_a_scan(demo_db: Path) -> None:
    app = station_app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        post(app, timed("AAAAAAAA\r", get_time(), 0.002))
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        assert app.probe.outcomes[0].event.payload == "AAAAAAAA"
        assert app.probe.outcomes[0].kind.value == "unknown"


async def test_no_message_when_the_keys_went_into_the_field(demo_db: Path) -> None:
    # A slow burst typed into the manual field was seen there, and Enter scanned it.
    app = station_app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        app.station.manual.focus()
        await pilot.pause(0.05)
        post(app, timed("SN0000000001\r", get_time(), 0.06))
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        assert app.probe.outcomes[0].event.source == "manual"
        await pilot.pause(0.2)
        assert notes(app) == []


async def test_a_burst_message_shows_the_keys_literally(demo_db: Path) -> None:
    app = station_app(demo_db, prefix="\x02")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        post(app, timed("[b]X\x1d[/]\r", get_time(), 0.002))
        await wait_for(pilot, lambda: bool(notes(app)))
        [note] = notes(app)
        assert "“[b]X␝[/]”" in note and "prefix “␂”" in note
        assert not app.probe.outcomes


async def test_a_framed_scan_is_read_however_slowly_it_comes(demo_db: Path) -> None:
    app = station_app(demo_db, prefix="\x02")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        app.station.manual.focus()
        await pilot.pause(0.05)
        post(app, timed("\x02SN0000000001\r", get_time(), 0.15))
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1, timeout=10)
        assert app.probe.outcomes[0].event.payload == "SN0000000001"
        assert app.probe.outcomes[0].event.source == "wedge"
        assert app.station.manual.value == ""


def test_unread_bytes_in_the_terminal_are_seen() -> None:
    # The flush timer asks this before it takes a pause for silence: keys a busy machine has
    # not read yet are not silence.
    import os
    import pty
    import tty

    main, side = pty.openpty()
    tty.setraw(side)  # as Textual sets it: bytes are readable as they come, not per line
    try:
        assert not terminal_has_unread(side)
        os.write(main, b"SN")
        deadline = get_time() + 2.0
        while not terminal_has_unread(side) and get_time() < deadline:
            pass
        assert terminal_has_unread(side)
        os.read(side, 16)
        assert not terminal_has_unread(side)
    finally:
        os.close(main)
        os.close(side)
    assert not terminal_has_unread(None)  # headless: no terminal
    assert not terminal_has_unread(-1)  # closed: not a reason to wait


def read_together(text: str, at: float) -> list[events.Key]:
    """Keys a busy machine's terminal reader read in one go at `at`: microseconds apart."""
    return timed(text, at, 20e-6)


async def test_scans_read_late_and_bunched_by_a_busy_machine_are_whole(demo_db: Path) -> None:
    # As benchmarks/tui.py saw at load 7-12: the first key read on time, the rest 150 ms later
    # in one read; the one-key packet with the lone key and the rest each read 60 ms
    # late; a Bluetooth-paced burst whose keys come in late pairs. Each is one scan, and
    # nothing reaches the manual field.
    app = station_app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        manual = app.station.manual
        manual.focus()
        await pilot.pause(0.05)
        start = get_time() - 5.0  # stamped in the past: the station reads what piled up
        keys = timed("S", start, 0.0) + read_together("N0000000001\r", start + 0.15)
        keys += timed("SN00000", start + 1.0, 0.002)
        keys += timed("0", keys[-1].time + 0.06, 0.0)
        keys += timed("0002\r", keys[-1].time + 0.06, 0.002)
        at = start + 2.0
        for pair in ["SN", "00", "00", "00", "00", "0", "3\r"]:
            keys += read_together(pair, at)
            at += 0.09  # two keys of a 45 ms scanner, read together
        post(app, keys)
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 3)
        await pilot.pause(0.3)
        payloads = [o.event.payload for o in app.probe.outcomes]
        assert payloads == ["SN0000000001", "SN0000000002", "SN0000000003"]
        assert all(o.event.source == "wedge" for o in app.probe.outcomes)
        assert manual.value == ""


class ReaderHandsOverLate(ProbedStationApp):
    """The terminal's reader thread read and stamped `late` before the capture's timer fired,
    then lost the CPU: it hands them to the app only once the timer's flush is queued, the way
    Textual's drivers hand over every key (`Driver.send_message`, from the reader thread)."""

    def __init__(self, settings: Settings, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self.late: list[events.Key] = []

    def post_message(self, message: Message) -> bool:
        posted = super().post_message(message)
        if isinstance(message, FlushDue) and self.late:
            late, self.late = self.late, []
            for key in late:
                self._driver.send_message(key)
        return posted


async def test_a_scan_is_whole_when_the_flush_timer_fires_before_its_keys_arrive(
    demo_db: Path,
) -> None:
    # A scanner's keys 5 ms apart. The first five reach the app; the rest were read by then
    # but reach it only after the timer queued its flush, 270 ms on (a stalled loop or
    # reader). Ending the burst on the timer's clock cut it in two scans ("SN000" and
    # "0000001"); from the keys' stamps it is one burst, 5 ms gaps, one scan.
    app = ReaderHandsOverLate(Settings(), database_url=str(demo_db), site="P1", mode="register")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        keys = timed("SN0000000001\r", get_time(), 0.005)
        app.late = keys[5:]
        post(app, keys[:5])
        await wait_for(pilot, lambda: not app.late and not app.capture.pending)
        await wait_for(pilot, lambda: len(app.probe.outcomes) >= 1)
        await pilot.pause(0.3)
        assert [o.event.payload for o in app.probe.outcomes] == ["SN0000000001"]
        assert app.probe.outcomes[0].event.source == "wedge"


@pytest.mark.parametrize("preset", ["usb", "bluetooth"])
async def test_a_first_key_typed_before_a_stall_is_taken_back_into_the_scan(
    demo_db: Path, preset: str
) -> None:
    # The terminal stalled after a scan's first key: the silence let "S" go into the manual
    # field as typing; the rest came 200 ms later in one read. The scan is whole and the
    # field is empty again, as if "S" had never been typed.
    app = station_app(demo_db, preset=preset)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        manual = app.station.manual
        manual.focus()
        await pilot.pause(0.05)
        first = key_event("S", get_time())
        post(app, [first])
        await wait_for(pilot, lambda: manual.value == "S")
        post(app, read_together("N0000000001\r", first.time + 0.2))
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        await pilot.pause(0.2)
        assert [o.event.payload for o in app.probe.outcomes] == ["SN0000000001"]
        assert app.probe.outcomes[0].event.source == "wedge"
        assert manual.value == ""


@pytest.mark.parametrize("after_s", [0.12, 0.2])
async def test_escape_that_closed_a_picker_never_joins_the_scan_after_it(
    demo_db: Path, after_s: float
) -> None:
    # Escape closes the mode picker; a scan read in one go less than the terminal's hold
    # after it (a busy machine) was answered "Scan contains control characters": Escape,
    # which had already closed the picker, was taken back as the scan's first character.
    app = station_app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, ModePicker))
        escape = events.Key("escape", "\x1b")
        post(app, [escape])
        await wait_for(pilot, lambda: app.screen is app.station)
        post(app, read_together("SN0000000001\r", escape.time + after_s))
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        [outcome] = app.probe.outcomes
        assert (outcome.event.payload, outcome.kind.value) == ("SN0000000001", "ok")


def test_esc_glued_to_a_scans_first_key_comes_back_as_escape() -> None:
    # Escape less than the terminal's escape delay before a scan: Textual's parser makes
    # alt+S of ESC and the scan's first key. The scan is whole; Escape is replayed alone.
    cap, scans = capture(**vars_of(wedge_settings(ScannerSettings())))
    keys = terminal_keys("\x1bSN0000000013\r", 100.0)
    assert keys[0].key == "alt+shift+s"
    back = feed_all(cap, keys)
    assert [(key.key, key.character) for key in back] == [("escape", "\x1b")]
    assert [payload for payload, _ in scans.scans] == ["SN0000000013"]


async def test_escape_glued_to_a_scan_closes_the_picker_and_the_scan_counts(
    demo_db: Path,
) -> None:
    app = station_app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, ModePicker))
        post(app, terminal_keys("\x1bSN0000000001\r", get_time()))
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        await wait_for(pilot, lambda: app.screen is app.station)
        [outcome] = app.probe.outcomes
        assert (outcome.event.payload, outcome.kind.value) == ("SN0000000001", "ok")


async def test_after_a_manual_entry_the_focus_returns_and_a_burst_is_a_scan(
    demo_db: Path,
) -> None:
    app = station_app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        manual, home = app.station.manual, app.station.deck.home
        assert home is not None and app.focused is home
        post(app, [key_event("/")])  # a person's "/": the manual field
        await wait_for(pilot, lambda: app.focused is manual)
        for character in "SN0000000001\r":
            post(app, [key_event(character)])
            await asyncio.sleep(0.09)  # a quick typist, not a scanner
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        assert app.probe.outcomes[0].event.source == "manual"
        await wait_for(pilot, lambda: app.focused is home)
        post(app, timed("SN0000000002\r", get_time(), 0.003))  # the scanner again
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 2)
        await pilot.pause(0.2)
        assert app.probe.outcomes[1].event.payload == "SN0000000002"
        assert app.probe.outcomes[1].event.source == "wedge"
        assert manual.value == "" and app.focused is home


async def test_a_slash_in_a_burst_does_not_take_the_focus(demo_db: Path) -> None:
    app = station_app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_station(pilot, app)
        manual, home = app.station.manual, app.station.deck.home
        post(app, timed("AB/CD-0001\r", get_time(), 0.003))  # a scan with a "/" in it
        await wait_for(pilot, lambda: len(app.probe.outcomes) == 1)
        assert app.probe.outcomes[0].event.payload == "AB/CD-0001"
        # Too slow for the usb preset: not a scan. Its "/" must not jump to the manual field
        # (the rest would be typed there and its Enter would record "0000003" by hand).
        post(app, timed("SN/0000003\r", get_time(), 0.06))
        await wait_for(pilot, lambda: any("SN/0000003" in note for note in notes(app)))
        await pilot.pause(0.3)
        assert app.focused is home and manual.value == ""
        assert len(app.probe.outcomes) == 1
