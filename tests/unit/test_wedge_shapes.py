"""The wedge detector beyond fast USB bursts: slow (Bluetooth) scanners, packets, ESC from a
terminal, one repeated character, reports of bursts that are not scans, and prefix framing."""

from __future__ import annotations

import random

import pytest

from scanstation.config import SCANNER_PRESETS
from scanstation.sources.wedge import KeyStroke, WedgeSettings
from tests.unit.test_wedge import (
    MS,
    TICK,
    Harness,
    Released,
    Reported,
    keys_of,
    no_char,
    random_payload,
    stroke,
    typed,
)


def preset(name: str) -> WedgeSettings:
    """The timing of a [scanner] preset, as the TUI hands it to the detector."""
    burst_end_ms, max_median_gap_ms, split_gap_ms = SCANNER_PRESETS[name]
    return WedgeSettings(
        burst_end_ms=burst_end_ms, max_median_gap_ms=max_median_gap_ms, split_gap_ms=split_gap_ms
    )


USB = preset("usb")
BLUETOOTH = preset("bluetooth")


def test_a_scanner_at_60_ms_a_key_is_typing_and_reported_with_the_usb_timing() -> None:
    # Too slow for a USB scanner's timing: the keys go back (nothing is lost) and the burst is
    # reported, so the worker is told instead of seeing nothing at all.
    strokes = typed("SN0000421\r", 1.0, 60.0)
    harness = Harness(USB).feed(strokes).finish()
    assert harness.outcome() == keys_of(strokes)
    [report] = harness.reports()
    assert (report.text, report.length, report.reason) == ("SN0000421", 9, "slow")
    assert report.gap_ms == pytest.approx(60.0)
    assert report.time == strokes[-1].time
    assert isinstance(harness.events[-1], Reported)  # after the keys it describes


def test_a_scanner_at_60_ms_a_key_is_a_scan_with_the_bluetooth_timing() -> None:
    strokes = typed("SN0000421\r", 1.0, 60.0)
    harness = Harness(BLUETOOTH).feed(strokes).finish()
    assert harness.outcome() == [("scan", "SN0000421")]
    assert harness.reports() == []


@pytest.mark.parametrize("seed", range(30))
def test_bluetooth_scanners_and_people_interleaved(seed: int) -> None:
    # Keys 20-60 ms apart, sometimes a packet of several keys at once, sometimes a 200 ms
    # stall; people type 150 ms a key or slower between the scans.
    rng = random.Random(seed)
    strokes: list[KeyStroke] = []
    expected: list[tuple[str, object]] = []
    time = 1.0
    for _ in range(rng.randint(3, 12)):
        if rng.random() < 0.5:
            time += rng.uniform(0.4, 1.0)
            for character in rng.choice(["ok", "a", "x7", "q"]):
                key = stroke(character, time)
                strokes.append(key)
                expected.append(("key", key))
                time += rng.uniform(0.15, 0.4)
        else:
            time += rng.uniform(0.4, 1.0)
            payload = random_payload(rng)
            gaps = [
                rng.choice([rng.uniform(20, 60), rng.uniform(0, 2), rng.uniform(20, 60)])
                for _ in payload
            ]
            if rng.random() < 0.3:  # not after the first key: that one would be split off
                gaps[rng.randrange(1, len(gaps))] = 200.0
            burst = typed(payload + "\r", time, gaps)
            strokes += burst
            expected.append(("scan", payload))
            time = burst[-1].time
    harness = Harness(BLUETOOTH).feed(strokes).finish()
    assert harness.outcome() == expected
    assert harness.reports() == []


@pytest.mark.parametrize("settings", [USB, BLUETOOTH], ids=["usb", "bluetooth"])
def test_a_person_typing_slowly_with_enter_is_typing_and_not_reported(
    settings: WedgeSettings,
) -> None:
    strokes = typed("SN0000000005\r", 1.0, [120.0, 300.0, 180.0, 250.0, 140.0, 170.0] * 2)
    harness = Harness(settings).feed(strokes).finish()
    assert harness.outcome() == keys_of(strokes)
    assert harness.reports() == []
    for event in harness.events:
        assert isinstance(event, Released)
        assert event.at - event.stroke.time <= settings.max_median_gap_ms * MS + TICK + 1e-9


def test_a_one_key_packet_inside_a_burst_does_not_cut_the_scan() -> None:
    # Seen at a dock: keys SN00000, 25 ms, 0, 25 ms, 0123 and Enter gave a scan "0123" and
    # "SN000000" typed into the screen.
    strokes = typed("SN00000", 1.0, 2.0)
    strokes += typed("0", strokes[-1].time + 25 * MS, 2.0)
    strokes += typed("0123\r", strokes[-1].time + 25 * MS, 2.0)
    harness = Harness(USB).feed(strokes).finish()
    assert harness.outcome() == [("scan", "SN0000000123")]


@pytest.mark.parametrize("packet", [1, 2, 3])
def test_a_scanner_sending_packets_gives_one_scan(packet: int) -> None:
    payload = "]C1010950600013435221SER\x1d10LOT"
    gaps = [30.0 if index % packet == 0 else 0.5 for index in range(1, len(payload) + 1)]
    strokes = typed(payload + "\r", 1.0, gaps)
    assert Harness(USB).feed(strokes).finish().outcome() == [("scan", payload)]


def test_a_lone_key_before_packets_is_still_a_persons() -> None:
    human = stroke("x", 1.0)
    strokes = typed("SN0000421\r", 1.03, [2.0, 2.0, 25.0, 2.0, 2.0, 25.0, 2.0, 2.0, 2.0])
    outcome = Harness(USB).feed([human, *strokes]).finish().outcome()
    assert outcome == [("key", human), ("scan", "SN0000421")]


@pytest.mark.parametrize("settings", [USB, BLUETOOTH], ids=["usb", "bluetooth"])
def test_one_character_repeated_and_ended_by_the_suffix_is_a_scan(
    settings: WedgeSettings,
) -> None:
    strokes = typed("AAAAAAAA\r", 1.0, 3.0)
    assert Harness(settings).feed(strokes).finish().outcome() == [("scan", "AAAAAAAA")]


def test_a_held_key_then_enter_is_still_typing() -> None:
    # Auto-repeat every 33 ms, then the person lets go and presses Enter 90 ms later.
    first = stroke("a", 1.0)
    repeats = typed("a" * 10, 1.5, 33.0)
    enter = stroke("\r", repeats[-1].time + 0.09)
    outcome = Harness(USB).feed([first, *repeats, enter]).finish().outcome()
    assert outcome == keys_of([first, *repeats, enter])


def escape_burst(start: float, delay_ms: float) -> list[KeyStroke]:
    """What Textual makes of the bytes "SN00 ESC X 0000002 CR" arriving in one read: ESC and X
    come out as alt+shift+x, together with everything after them, once its escape delay (and
    the input thread's poll) has passed; the capture restores the ESC and marks them late."""
    head = typed("SN00", start, 0.05)
    late_at = head[-1].time + delay_ms * MS
    tail = [KeyStroke("alt+shift+x", "\x1bX", late_at, token=object(), late=True)]
    tail += [
        KeyStroke(key.key, key.character, key.time, token=key.token, late=True)
        for key in typed("0000002\r", late_at + 0.0001, 0.01)
    ]
    return [*head, *tail]


@pytest.mark.parametrize("delay_ms", [103.0, 199.0])
def test_esc_inside_a_burst_stays_in_one_scan(delay_ms: float) -> None:
    settings = WedgeSettings(terminal_hold_ms=250.0)
    outcome = Harness(settings).feed(escape_burst(1.0, delay_ms)).finish().outcome()
    assert outcome == [("scan", "SN00\x1bX0000002")]


def test_escape_and_every_control_character_are_payload() -> None:
    payload = "A\x1bB" + "".join(chr(code) for code in range(0x20) if chr(code) not in "\r\t\n")
    payload += "\x7f"
    outcome = Harness(USB).feed(typed(payload + "\r", 1.0, 1.0)).finish().outcome()
    assert outcome == [("scan", payload)]


def test_the_terminal_hold_keeps_three_keys_waiting_but_not_a_rollover_pair() -> None:
    settings = WedgeSettings(terminal_hold_ms=250.0)
    pair = Harness(settings, timer=False).feed(typed("th", 1.0, 15.0))
    assert pair.detector.deadline() == pytest.approx(1.015 + 0.1)
    three = Harness(settings, timer=False).feed(typed("the", 1.0, 15.0))
    assert three.detector.deadline() == pytest.approx(1.03 + 0.25)


@pytest.mark.parametrize(
    ("text", "gap_ms", "reason"),
    [
        ("ABC\r", 2.0, "short"),  # scanner-fast, shorter than min_length
        ("SN0000421\r", 90.0, "slow"),  # a scanner slower than the timing allows
        ("AAAA\r", 45.0, "shape"),  # one key repeated, one gap slower than a scanner's
    ],
)
def test_a_scanner_like_burst_that_is_not_a_scan_is_reported(
    text: str, gap_ms: float, reason: str
) -> None:
    gaps = [gap_ms] * (len(text) - 1)
    if reason == "shape":
        gaps[-1] = 60.0
    strokes = typed(text, 1.0, gaps)
    harness = Harness(USB).feed(strokes).finish()
    assert harness.outcome() == keys_of(strokes)
    assert [(r.text, r.reason) for r in harness.reports()] == [(text[:-1], reason)]


@pytest.mark.parametrize("text", ["ok\r", "\r", "a\t"])
def test_two_keys_and_a_suffix_are_not_reported(text: str) -> None:
    assert Harness(USB).feed(typed(text, 1.0, 4.0)).finish().reports() == []


def test_a_report_keeps_the_first_64_characters_and_counts_the_rest() -> None:
    strokes = typed("AB" * 50 + "\r", 1.0, 60.0)
    [report] = Harness(USB).feed(strokes).finish().reports()
    assert report.text == "AB" * 32 and report.length == 100


# -- a prefix: timing-free framing --------------------------------------------------------------

STX = WedgeSettings(prefix="\x02")


@pytest.mark.parametrize("gap_ms", [2.0, 60.0, 250.0, 900.0])
def test_a_framed_scan_is_a_scan_whatever_its_timing(gap_ms: float) -> None:
    strokes = typed("\x02SN0000421\r", 1.0, gap_ms)
    assert Harness(STX).feed(strokes).finish().outcome() == [("scan", "SN0000421")]


def test_a_framed_scan_of_one_repeated_character_is_a_scan() -> None:
    strokes = typed("\x02AAAAAAAA\r", 1.0, 40.0)
    assert Harness(STX).feed(strokes).finish().outcome() == [("scan", "AAAAAAAA")]


def test_with_a_prefix_a_persons_keys_come_back_at_once() -> None:
    harness = Harness(STX, timer=False)
    for key in typed("hello", 1.0, 5.0):  # even fast, without the prefix nothing waits
        harness.feed([key])
        assert harness.outcome()[-1] == ("key", key)
        assert not harness.detector.pending


def test_a_multi_character_prefix_hands_back_what_cannot_begin_it() -> None:
    settings = WedgeSettings(prefix="##1")
    strokes = typed("a##1SN0000421\r", 1.0, 2.0)
    harness = Harness(settings, timer=False).feed(strokes[:3])
    assert harness.outcome() == [("key", strokes[0])]  # "##" may begin the prefix: it waits
    harness.feed(strokes[3:]).finish()
    assert harness.outcome() == [("key", strokes[0]), ("scan", "SN0000421")]
    almost = typed("###x\r", 5.0, 2.0)
    assert Harness(settings).feed(almost).finish().outcome() == keys_of(almost)


def test_a_frame_ends_at_a_pause_longer_than_a_second() -> None:
    head = typed("\x02SN0", 1.0, 2.0)  # too short to be a scan on its own
    tail = typed("0000421\r", 2.5, 2.0)  # no prefix: typing, reported as such
    harness = Harness(STX).feed([*head, *tail]).finish()
    assert harness.outcome() == keys_of([*head, *tail])
    assert [(r.text, r.reason) for r in harness.reports()] == [("0000421", "no_prefix")]


def test_a_frame_without_suffix_needs_a_scanners_timing() -> None:
    fast = typed("\x02SN0000421", 1.0, 3.0)
    assert Harness(STX).feed(fast).finish().outcome() == [("scan", "SN0000421")]
    slow = typed("\x02SN0000421", 1.0, 150.0)  # a person who typed the prefix, then stopped
    assert Harness(STX).feed(slow).finish().outcome() == keys_of(slow)


def test_a_key_without_character_ends_a_frame() -> None:
    burst = typed("\x02SN0000421", 1.0, 3.0)
    arrow = no_char("up", burst[-1].time + 0.003)
    outcome = Harness(STX, timer=False).feed([*burst, arrow]).outcome()
    assert outcome == [("scan", "SN0000421"), ("key", arrow)]


def test_with_a_prefix_reports_name_the_missing_prefix_or_the_short_frame() -> None:
    without = typed("SN0000422\r", 1.0, 2.0)
    short = typed("\x02AB\r", 2.0, 2.0)
    typing = typed("hello\r", 3.0, 70.0)
    harness = Harness(STX).feed([*without, *short, *typing]).finish()
    assert harness.outcome() == keys_of([*without, *short, *typing])
    assert [(r.text, r.reason) for r in harness.reports()] == [
        ("SN0000422", "no_prefix"),
        ("\x02AB", "short"),
    ]
