"""The wedge detector: scanner bursts become scans, a person's keys come back in order, on time."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from scanstation.sources.wedge import Burst, KeyStroke, WedgeDetector, WedgeSettings

MS = 0.001
TICK = 20 * MS  # the TUI's flush timer period in these simulations

# Textual's key names for the characters these tests type.
KEY_NAMES = {
    "\r": "enter",
    "\t": "tab",
    "\n": "ctrl+j",
    " ": "space",
    "\x02": "ctrl+b",
    "\x04": "ctrl+d",
    "\x11": "ctrl+q",
    "\x1b": "escape",
    "\x1d": "ctrl+right_square_bracket",
    "\x1e": "ctrl+circumflex_accent",
    "\x7f": "backspace",
}


def stroke(character: str, time: float) -> KeyStroke:
    return KeyStroke(KEY_NAMES.get(character, character), character, time, token=object())


def no_char(key: str, time: float) -> KeyStroke:
    return KeyStroke(key, None, time, token=object())


def typed(text: str, start: float, gaps_ms: float | list[float]) -> list[KeyStroke]:
    """Keys for `text`, the first at `start`, then `gaps_ms` apart (one value or one per gap)."""
    gaps = gaps_ms if isinstance(gaps_ms, list) else [gaps_ms] * (len(text) - 1)
    assert len(gaps) == len(text) - 1
    strokes, time = [], start
    for index, character in enumerate(text):
        if index:
            time += gaps[index - 1] * MS
        strokes.append(stroke(character, time))
    return strokes


def scanner(
    text: str, start: float, rng: random.Random, low_ms: float = 1, high_ms: float = 5
) -> list[KeyStroke]:
    """A scanner burst: `text` with random gaps between `low_ms` and `high_ms`."""
    return typed(text, start, [rng.uniform(low_ms, high_ms) for _ in text[1:]])


@dataclass(frozen=True)
class Scan:
    payload: str
    time: float  # the time of the scan's last key, as reported by the detector
    at: float  # the simulated clock when the detector reported it


@dataclass(frozen=True)
class Released:
    stroke: KeyStroke
    at: float  # the simulated clock when the key came back


@dataclass(frozen=True)
class Retracted:
    stroke: KeyStroke  # a key handed back earlier, taken back into the scan that follows
    at: float


@dataclass(frozen=True)
class Reported:
    burst: Burst
    at: float  # the simulated clock when it was reported


class Harness:
    """Feeds keys and, like the TUI, calls flush_due from a timer ticking every TICK seconds."""

    def __init__(
        self,
        settings: WedgeSettings | None = None,
        *,
        timer: bool = True,
        unread: Callable[[float], bool] | None = None,
    ) -> None:
        self.events: list[Scan | Released | Retracted | Reported] = []
        self.clock = 0.0
        self.timer = timer
        # Like the TUI, no flush while the terminal holds keys not read yet (`unread(now)`).
        self.unread = unread
        self.next_tick = 0.0
        self.detector = WedgeDetector(
            settings or WedgeSettings(),
            self._on_scan,
            self._on_keys,
            self._on_burst,
            self._on_retract,
        )

    def _on_scan(self, payload: str, time: float) -> None:
        self.events.append(Scan(payload, time, self.clock))

    def _on_keys(self, keys: list[KeyStroke]) -> None:
        assert keys, "on_keys must not be called with nothing"
        self.events.extend(Released(key, self.clock) for key in keys)

    def _on_retract(self, key: KeyStroke) -> None:
        self.events.append(Retracted(key, self.clock))

    def _on_burst(self, burst: Burst) -> None:
        self.events.append(Reported(burst, self.clock))

    def advance(self, until: float) -> None:
        # Only ticks strictly before a key's time: the key was stamped before such a tick ran.
        while self.timer and self.next_tick < until:
            self.clock = self.next_tick
            if self.unread is None or not self.unread(self.next_tick):
                self.detector.flush_due(self.next_tick)
            self.next_tick += TICK

    def feed(self, strokes: list[KeyStroke]) -> Harness:
        for key in strokes:
            self.advance(key.time)
            self.clock = key.time
            self.detector.feed(key)
        return self

    def finish(self) -> Harness:
        """Let two seconds of silence pass (a prefix frame waits up to one)."""
        end = self.clock + 2.0
        if self.timer:
            self.advance(end)
        else:
            self.clock = end
            self.detector.flush_due(end)
        assert not self.detector.pending
        assert self.detector.deadline() is None
        return self

    def outcome(self) -> list[tuple[str, object]]:
        """("scan", payload) and ("key", the very KeyStroke fed), in callback order; a key
        handed back and later taken back into a scan is only in the scan."""
        taken = {id(event.stroke) for event in self.events if isinstance(event, Retracted)}
        return [
            ("scan", event.payload) if isinstance(event, Scan) else ("key", event.stroke)
            for event in self.events
            if isinstance(event, Scan)
            or (isinstance(event, Released) and id(event.stroke) not in taken)
        ]

    def retracted(self) -> list[KeyStroke]:
        return [event.stroke for event in self.events if isinstance(event, Retracted)]

    def reports(self) -> list[Burst]:
        return [event.burst for event in self.events if isinstance(event, Reported)]


def keys_of(strokes: list[KeyStroke]) -> list[tuple[str, object]]:
    return [("key", key) for key in strokes]


def test_twenty_back_to_back_scans_with_one_timestamp_stay_separate() -> None:
    strokes: list[KeyStroke] = []
    for n in range(20):
        # A terminal read delivers them together: the same time, give or take a microsecond.
        strokes += typed(f"PAYLOAD{n}\r", 1.0 + n * 1e-6, 0.0)
    outcome = Harness(timer=False).feed(strokes).finish().outcome()
    assert outcome == [("scan", f"PAYLOAD{n}") for n in range(20)]


def test_a_scan_is_reported_at_its_suffix_without_waiting() -> None:
    harness = Harness(timer=False)
    strokes = typed("SN0000421\r", 1.0, 2.0)
    harness.feed(strokes)
    assert harness.events == [Scan("SN0000421", strokes[-1].time, strokes[-1].time)]
    assert not harness.detector.pending


def test_slow_typing_comes_back_in_order_and_promptly() -> None:
    strokes = typed("hello\r", 1.0, [120.0, 300.0, 180.0, 250.0, 140.0])
    harness = Harness().feed(strokes).finish()
    assert harness.outcome() == keys_of(strokes)
    for event in harness.events:
        assert isinstance(event, Released)
        # Each key is isolated (>= 50 ms from its neighbours): back within 50 ms + one tick.
        assert event.at - event.stroke.time <= 50 * MS + TICK + 1e-9


def test_a_lone_key_is_released_max_median_gap_after_it() -> None:
    harness = Harness(timer=False)
    key = stroke("c", 1.0)
    harness.feed([key])
    detector = harness.detector
    assert detector.pending
    assert detector.deadline() == pytest.approx(1.05)
    detector.flush_due(1.049)
    assert harness.events == []
    detector.flush_due(1.05)
    assert harness.outcome() == [("key", key)]
    assert not detector.pending
    assert detector.deadline() is None


def test_a_key_is_released_as_soon_as_the_next_one_comes_slowly_and_alone() -> None:
    harness = Harness(timer=False)
    first, second = stroke("a", 1.0), stroke("b", 1.07)
    harness.feed([first, second])
    # "b" may be the first of keys a busy terminal read together (then the gap before it is
    # not the sender's): "a" waits until a millisecond shows "b" came alone.
    assert harness.detector.deadline() == pytest.approx(1.071)
    harness.detector.flush_due(1.0709)
    assert harness.outcome() == []
    harness.detector.flush_due(1.0711)
    assert harness.outcome() == [("key", first)]


def test_a_key_is_released_by_the_key_after_next_without_a_timer() -> None:
    harness = Harness(timer=False)
    first, second, third = stroke("a", 1.0), stroke("b", 1.07), stroke("c", 1.2)
    harness.feed([first, second, third])
    assert harness.outcome() == [("key", first)]  # "c" came alone: "a" is settled
    harness.detector.flush_due(1.2011)  # ... and 130 ms before "c" end the group of "b"
    assert harness.outcome() == [("key", first), ("key", second)]


def test_fast_rollover_waits_for_the_burst_end() -> None:
    # Two keys 20 ms apart could be the start of a scan: they wait for 100 ms of silence.
    harness = Harness(timer=False)
    strokes = typed("ab", 1.0, 20.0)
    harness.feed(strokes)
    assert harness.detector.deadline() == pytest.approx(1.12)
    harness.detector.flush_due(1.119)
    assert harness.events == []
    harness.detector.flush_due(1.12)
    assert harness.outcome() == keys_of(strokes)


def test_rollover_is_released_by_the_next_isolated_key() -> None:
    harness = Harness(timer=False)
    pair = typed("th", 1.0, 15.0)
    lone = stroke("e", 1.1)  # 85 ms later
    harness.feed([*pair, lone, stroke("n", 1.2), stroke("d", 1.3)])
    assert harness.outcome() == keys_of([*pair, lone])


@pytest.mark.parametrize("gap_ms", [30.0, 45.0, 60.0, 80.0])
@pytest.mark.parametrize("seed", range(5))
def test_a_key_just_before_a_scan_comes_back_before_it(gap_ms: float, seed: int) -> None:
    rng = random.Random(seed)
    human = stroke("x", 1.0)
    burst = scanner("SN0000421\r", 1.0 + gap_ms * MS, rng)
    outcome = Harness().feed([human, *burst]).finish().outcome()
    assert outcome == [("key", human), ("scan", "SN0000421")]


@pytest.mark.parametrize("gap_ms", [0.5, 30.0, 60.0])
def test_a_key_just_after_a_scan_comes_back_after_it(gap_ms: float) -> None:
    burst = scanner("SN0000421\r", 1.0, random.Random(1))
    human = stroke("y", burst[-1].time + gap_ms * MS)
    outcome = Harness().feed([*burst, human]).finish().outcome()
    assert outcome == [("scan", "SN0000421"), ("key", human)]


@pytest.mark.parametrize("gap_ms", [30.0, 60.0])
def test_a_key_just_after_a_scan_without_suffix_comes_back_after_it(gap_ms: float) -> None:
    burst = scanner("SN0000421", 1.0, random.Random(2))
    human = stroke("y", burst[-1].time + gap_ms * MS)
    outcome = Harness().feed([*burst, human]).finish().outcome()
    assert outcome == [("scan", "SN0000421"), ("key", human)]


@pytest.mark.parametrize("suffix", ["\t", "\n", "\r"])
def test_tab_lf_and_enter_end_a_scan_and_are_swallowed(suffix: str) -> None:
    strokes = typed("SN0000421" + suffix, 1.0, 3.0)
    assert strokes[-1].key in ("tab", "ctrl+j", "enter")
    outcome = Harness(timer=False).feed(strokes).finish().outcome()
    assert outcome == [("scan", "SN0000421")]


def test_a_burst_without_suffix_is_a_scan_once_it_ends() -> None:
    harness = Harness(timer=False)
    strokes = typed("SN0000421", 1.0, 3.0)
    harness.feed(strokes)
    last = strokes[-1].time
    assert harness.detector.deadline() == pytest.approx(last + 0.1)
    harness.detector.flush_due(last + 0.099)
    assert harness.events == []
    harness.detector.flush_due(last + 0.1)
    assert [(e.payload, e.time) for e in harness.events if isinstance(e, Scan)] == [
        ("SN0000421", last)
    ]
    assert len(harness.events) == 1


def test_a_burst_without_suffix_ends_when_the_next_key_comes_late() -> None:
    first = typed("SN0000421", 1.0, 3.0)
    second = typed("SN0000422", first[-1].time + 0.15, 3.0)
    outcome = Harness(timer=False).feed([*first, *second]).finish().outcome()
    assert outcome == [("scan", "SN0000421"), ("scan", "SN0000422")]


def test_scan_without_suffix_can_be_switched_off() -> None:
    strokes = typed("SN0000421", 1.0, 3.0)
    settings = WedgeSettings(scan_without_suffix=False)
    outcome = Harness(settings).feed(strokes).finish().outcome()
    assert outcome == keys_of(strokes)


def test_gs_rs_and_eot_are_data() -> None:
    payload = "[)>\x1e06\x1d1PABC-12\x1dSSN0000421\x1e\x04"
    outcome = Harness(timer=False).feed(typed(payload + "\r", 1.0, 2.0)).finish().outcome()
    assert outcome == [("scan", payload)]


def test_a_control_key_inside_a_burst_is_data_not_a_command() -> None:
    strokes = typed("SN\x1100421\r", 1.0, 2.0)
    assert strokes[2].key == "ctrl+q"
    outcome = Harness(timer=False).feed(strokes).finish().outcome()
    assert outcome == [("scan", "SN\x1100421")]


def test_ctrl_q_pressed_alone_comes_back() -> None:
    quit_key = stroke("\x11", 1.0)
    harness = Harness().feed([quit_key]).finish()
    assert harness.outcome() == [("key", quit_key)]
    assert harness.events[0].at - 1.0 <= 50 * MS + TICK


@pytest.mark.parametrize("text", ["ab\r", "abc\r", "\r", "a\t"])
def test_fewer_than_min_length_fast_characters_are_keys(text: str) -> None:
    strokes = typed(text, 1.0, 4.0)
    outcome = Harness().feed(strokes).finish().outcome()
    assert outcome == keys_of(strokes)


@pytest.mark.parametrize("character", ["a", "\x7f"])
def test_a_held_key_auto_repeating_is_not_a_scan(character: str) -> None:
    first = stroke(character, 1.0)
    repeats = typed(character * 12, 1.5, 33.0)  # after the repeat delay, every 33 ms
    outcome = Harness().feed([first, *repeats]).finish().outcome()
    assert outcome == keys_of([first, *repeats])


def test_a_prefix_marks_scans_and_is_stripped() -> None:
    settings = WedgeSettings(prefix="\x02")
    with_prefix = typed("\x02SN0000421\r", 1.0, 2.0)
    without = typed("SN0000422\r", 2.0, 2.0)
    outcome = Harness(settings).feed([*with_prefix, *without]).finish().outcome()
    assert outcome == [("scan", "SN0000421"), *keys_of(without)]


def test_a_key_glued_to_a_prefixed_scan_comes_back() -> None:
    # 10 ms is too close to split on timing alone; the prefix tells where the scan starts.
    settings = WedgeSettings(prefix="\x02")
    human = stroke("x", 1.0)
    burst = typed("\x02SN0000421\r", 1.01, 2.0)
    outcome = Harness(settings).feed([human, *burst]).finish().outcome()
    assert outcome == [("key", human), ("scan", "SN0000421")]


def test_the_prefix_does_not_count_towards_min_length() -> None:
    strokes = typed("\x02ABC\r", 1.0, 2.0)
    outcome = Harness(WedgeSettings(prefix="\x02")).feed(strokes).finish().outcome()
    assert outcome == keys_of(strokes)


def test_a_key_without_character_ends_a_burst_and_comes_back_at_once() -> None:
    harness = Harness(timer=False)
    burst = typed("SN0000421", 1.0, 2.0)
    arrow = no_char("up", burst[-1].time + 2 * MS)
    harness.feed([*burst, arrow])
    assert harness.outcome() == [("scan", "SN0000421"), ("key", arrow)]
    assert not harness.detector.pending


def test_a_key_without_character_releases_a_fast_pair() -> None:
    harness = Harness(timer=False)
    pair = typed("ab", 1.0, 10.0)
    f1 = no_char("f1", 1.015)
    harness.feed([*pair, f1])
    assert harness.outcome() == keys_of([*pair, f1])


def test_a_key_without_character_does_not_make_a_scan_without_suffix_when_disabled() -> None:
    burst = typed("SN0000421", 1.0, 2.0)
    arrow = no_char("down", burst[-1].time + 2 * MS)
    outcome = (
        Harness(WedgeSettings(scan_without_suffix=False), timer=False)
        .feed([*burst, arrow])
        .outcome()
    )
    assert outcome == keys_of([*burst, arrow])


def test_a_hiccup_inside_a_scan_does_not_split_it() -> None:
    # A 70 ms stall (network, Bluetooth) mid-payload: the median gap is still a scanner's.
    strokes = typed("SN0000421\r", 1.0, [2.0, 2.0, 2.0, 70.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    outcome = Harness().feed(strokes).finish().outcome()
    assert outcome == [("scan", "SN0000421")]


def test_a_slow_scanner_within_max_median_gap_is_a_scan() -> None:
    strokes = scanner("SN0000421\r", 1.0, random.Random(3), low_ms=25, high_ms=45)
    outcome = Harness().feed(strokes).finish().outcome()
    assert outcome == [("scan", "SN0000421")]


def test_fast_human_typing_is_not_a_scan() -> None:
    strokes = typed("hello world\r", 1.0, [60.0, 90.0, 70.0, 20.0, 95.0] * 2 + [80.0])
    outcome = Harness().feed(strokes).finish().outcome()
    assert outcome == keys_of(strokes)


def test_fast_typing_with_rollover_then_a_scan() -> None:
    # "th" rolled over (15 ms), more keys 90 ms apart, then a scanner fires 40 ms later.
    human = typed("thel", 1.0, [15.0, 90.0, 90.0])
    burst = scanner("SN0000421\r", human[-1].time + 40 * MS, random.Random(4))
    outcome = Harness().feed([*human, *burst]).finish().outcome()
    assert outcome == [*keys_of(human), ("scan", "SN0000421")]


@pytest.mark.parametrize(
    "field, value",
    [
        ("burst_end_ms", 0.0),
        ("max_median_gap_ms", -1.0),
        ("split_gap_ms", float("nan")),
        ("split_gap_ms", 60.0),
        ("min_length", 0),
    ],
)
def test_settings_refuse_nonsense_and_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        WedgeSettings(**{field: value})  # type: ignore[arg-type]


def test_settings_refuse_a_detector_that_could_never_scan() -> None:
    with pytest.raises(ValueError, match="suffixes"):
        WedgeSettings(suffixes=(), scan_without_suffix=False)


# Keys a person presses: letters, digits, control keys, suffix keys and keys with no character.
HUMAN_KEYS = [
    ("a", "a"),
    ("Z", "Z"),
    ("7", "7"),
    ("space", " "),
    ("backspace", "\x7f"),
    ("escape", "\x1b"),
    ("ctrl+q", "\x11"),
    ("enter", "\r"),
    ("tab", "\t"),
    ("up", None),
    ("f1", None),
]
PAYLOAD_CHARACTERS = string.ascii_uppercase + string.digits + "-/\x1d\x1e\x04"


def random_payload(rng: random.Random) -> str:
    while True:
        payload = "".join(rng.choices(PAYLOAD_CHARACTERS, k=rng.randint(4, 24)))
        if len(set(payload)) > 1:  # one character repeated reads as auto-repeat
            return payload


@pytest.mark.parametrize("seed", range(200))
def test_random_interleavings_of_people_and_scanners(seed: int) -> None:
    rng = random.Random(seed)
    strokes: list[KeyStroke] = []
    expected: list[tuple[str, object]] = []
    release_by: dict[int, float] = {}  # id(human key) -> latest time it may come back
    time, previous = 1.0, "start"
    for _ in range(rng.randint(5, 40)):
        if rng.random() < 0.5:
            # A person: 150 ms or more after their last key, any time after a scan.
            time += rng.uniform(0.15, 0.6) if previous == "human" else rng.uniform(0.0, 0.6)
            name, character = rng.choice(HUMAN_KEYS)
            key = KeyStroke(name, character, time, token=object())
            strokes.append(key)
            expected.append(("key", key))
            # 50 ms of silence and a tick; or the next key came just before that tick, and
            # then one more tick shows it was not the first of a bunch.
            release_by[id(key)] = time + 50 * MS + 2 * TICK
            previous = "human"
        else:
            # A scanner: 30 ms or more after a person's key, any time after another scan, a
            # key every 1-5 ms (keys less than 1 ms apart are one terminal read, and a person's
            # key up to max_median_gap_ms before such a bunch joins it: see test_wedge_load).
            time += rng.uniform(0.03, 0.4) if previous == "human" else rng.uniform(0.0, 0.4)
            payload = random_payload(rng)
            burst = scanner(payload + "\r", time, rng, low_ms=1.0, high_ms=5.0)
            if previous == "human" and burst[0].time - strokes[-1].time < 50 * MS:
                # Too close to tell at once: the person's key waits for the scan's suffix.
                human = strokes[-1]
                release_by[id(human)] = max(release_by[id(human)], burst[-1].time)
            strokes += burst
            expected.append(("scan", payload))
            time = burst[-1].time
            previous = "scan"
    harness = Harness().feed(strokes).finish()
    assert harness.outcome() == expected
    for event in harness.events:
        if isinstance(event, Released):
            assert event.at <= release_by[id(event.stroke)] + 1e-9, event
