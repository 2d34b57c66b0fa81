"""Keyboard-wedge burst detector: tells a barcode scanner's keystrokes from a person's.

A wedge scanner "types" its payload as fast keystrokes and ends it with a suffix key (Enter, Tab
or LF). The TUI feeds every key the app receives into `WedgeDetector.feed`, stamped with the key
event's own time, and calls `WedgeDetector.flush_due` from a timer. The detector answers through
two callbacks, always in the order the keys arrived: `on_scan(payload, time)` for a scan and
`on_keys(keys)` for keys a person typed, handed back unchanged so the UI can replay them.

How the decision is made
------------------------
Keys wait in a buffer while they could still belong to a scan. A *group* of buffered keys ends
at a suffix key, at a key that produces no character (arrows, F-keys), after `burst_end_ms`
without a key, or at an *isolated* key (see below). When a group ends, its keys are cut into
*runs* wherever two keys are at least the split gap apart. The split gap adapts to the scanner:
three times the median of the group's short gaps, but at least `split_gap_ms` and at most
`max_median_gap_ms`. A run of one key is a person's keystroke; the scan is the last stretch of
runs of two keys or more (a scanner can hiccup mid-payload, so one scan may span several runs;
the suffix counts as a key of the last run). That stretch is a scan when it ended with a suffix
(or `scan_without_suffix` allows a timeout), the median gap between its keys, suffix included,
is at most `max_median_gap_ms`, its payload (prefix and suffix removed) has at least
`min_length` characters, it starts with `prefix` when one is configured (keys before the prefix
are a person's) and it is not one character repeated (a held key auto-repeating). Otherwise
every key of the group, suffix included, goes back to the UI.

Latency added to a person's key
-------------------------------
A key at least `max_median_gap_ms` after the previous one is *isolated* once the next key comes
`max_median_gap_ms` or more after it, or `max_median_gap_ms` of silence passes: no scan can
include it, so it goes back at once (defaults: at most 50 ms, plus the caller's timer period).
That covers ordinary typing and single-key commands. Keys typed less than `max_median_gap_ms`
apart (key rollover, auto-repeat) look like the start of a scan and wait until their group ends:
a suffix, a key without a character, an isolated key, or `burst_end_ms` (100 ms) of silence.
A key without a character is never delayed.

Known ambiguities (timing cannot tell them apart): a person's key less than the split gap
before a scan becomes part of it (a configured prefix avoids this); a scanner hiccup right after
the first character of a scan splits that character off; without a suffix, two scans less than
`burst_end_ms` apart are read as one.

Timestamps are seconds on one monotonic clock (Textual's `event.time`); settings are in ms.
`flush_due(now)` must only be called once every key stamped before `now` has been fed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

# A gap this many times the scanner's typical gap is a break between runs, not jitter.
_SPLIT_FACTOR = 3.0


@dataclass(frozen=True, slots=True)
class WedgeSettings:
    """How a scanner burst looks; the defaults fit USB HID scanners behind a terminal."""

    burst_end_ms: float = 100.0  # a burst ends after this long without a key
    max_median_gap_ms: float = 50.0  # a burst is a scan when the median gap is at most this
    min_length: int = 4  # ... and its payload has at least this many characters
    prefix: str = ""  # optional scanner prefix; when set, a scan must start with it (stripped)
    suffixes: tuple[str, ...] = ("enter", "tab", "ctrl+j")  # key names that end a scan
    scan_without_suffix: bool = True  # a qualifying burst that just stops is a scan too
    split_gap_ms: float = 20.0  # the shortest gap that can separate a person's key from a scan

    def __post_init__(self) -> None:
        for name in ("burst_end_ms", "max_median_gap_ms", "split_gap_ms"):
            value = getattr(self, name)
            if not value > 0:  # also refuses NaN
                raise ValueError(f"wedge.{name} must be greater than 0, got {value!r}")
        if self.split_gap_ms > self.max_median_gap_ms:
            raise ValueError(
                f"wedge.split_gap_ms ({self.split_gap_ms}) must not exceed "
                f"wedge.max_median_gap_ms ({self.max_median_gap_ms})"
            )
        if self.min_length < 1:
            raise ValueError(f"wedge.min_length must be at least 1, got {self.min_length!r}")
        if not self.suffixes and not self.scan_without_suffix:
            raise ValueError("wedge.suffixes is empty and wedge.scan_without_suffix is false")


@dataclass(frozen=True, slots=True)
class KeyStroke:
    """One key event, reduced to what the detector needs."""

    key: str  # Textual key name: "a", "A", "enter", "tab", "ctrl+q", "up", ...
    character: str | None  # the character the key produced; None for arrows, F-keys, ...
    time: float  # seconds, monotonic (Textual's event.time)
    token: object = None  # opaque: the original event, handed back untouched


ScanCallback = Callable[[str, float], None]
KeysCallback = Callable[[list[KeyStroke]], None]


class WedgeDetector:
    """Splits a stream of key strokes into scans and a person's keys; see the module docstring."""

    def __init__(
        self, settings: WedgeSettings, on_scan: ScanCallback, on_keys: KeysCallback
    ) -> None:
        self._settings = settings
        self._on_scan = on_scan
        self._on_keys = on_keys
        # Settings are in ms for people; key times are in seconds.
        self._burst_end = settings.burst_end_ms / 1000
        self._max_gap = settings.max_median_gap_ms / 1000
        self._min_split = settings.split_gap_ms / 1000
        self._keys: list[KeyStroke] = []  # data keys waiting for a decision, arrival order

    @property
    def pending(self) -> bool:
        """Keys are buffered, waiting for a decision."""
        return bool(self._keys)

    def deadline(self) -> float | None:
        """When `flush_due` next has work to do (None: nothing is buffered)."""
        if not self._keys:
            return None
        last = self._keys[-1].time
        if self._may_be_isolated(len(self._keys) - 1):
            return last + self._max_gap
        return last + self._burst_end

    def feed(self, stroke: KeyStroke) -> None:
        """Take the next key, in arrival order."""
        if self._keys and stroke.time - self._keys[-1].time >= self._burst_end:
            self._end_group(None)
        if stroke.key in self._settings.suffixes:
            self._end_group(stroke)
        elif not stroke.character:
            # Scanners only type characters, so this key is a person's and closes the group.
            self._end_group(None)
            self._on_keys([stroke])
        else:
            self._keys.append(stroke)
            before_last = len(self._keys) - 2
            if (
                before_last >= 0
                and self._may_be_isolated(before_last)
                and stroke.time - self._keys[before_last].time >= self._max_gap
            ):
                self._release_isolated(before_last)

    def flush_due(self, now: float) -> None:
        """End what the silence up to `now` has settled; call it from a timer."""
        if not self._keys:
            return
        last = len(self._keys) - 1
        silence = now - self._keys[last].time
        if silence >= self._burst_end:
            self._end_group(None)
        elif silence >= self._max_gap and self._may_be_isolated(last):
            self._release_isolated(last)

    def _may_be_isolated(self, index: int) -> bool:
        """The key at `index` came `max_median_gap_ms` or more after the buffered key before it.

        The first buffered key qualifies: whatever came before it is already settled.
        """
        return index == 0 or (self._keys[index].time - self._keys[index - 1].time >= self._max_gap)

    def _release_isolated(self, index: int) -> None:
        """Hand back a key that is far from both neighbours; the keys before it form a group.

        Every split gap is at most `max_median_gap_ms`, so such a key is a run of one whatever
        comes next: it can never be part of a scan, and nothing before it can join a later scan.
        """
        group, isolated = self._keys[:index], self._keys[index]
        self._keys = self._keys[index + 1 :]
        self._decide(group, None)
        self._on_keys([isolated])

    def _end_group(self, suffix: KeyStroke | None) -> None:
        group = self._keys
        self._keys = []  # cleared first, so a callback that feeds keys sees a consistent state
        self._decide(group, suffix)

    def _decide(self, keys: list[KeyStroke], suffix: KeyStroke | None) -> None:
        """Emit a finished group: the scan it holds, if any, between the keys around it."""
        every = [*keys, suffix] if suffix is not None else keys
        if not every:
            return
        found = self._find_scan(keys, suffix)
        if found is None:
            self._on_keys(every)
            return
        start, end, payload = found
        if start > 0:
            self._on_keys(keys[:start])
        self._on_scan(payload, suffix.time if suffix is not None else keys[end - 1].time)
        if end < len(keys):
            self._on_keys(keys[end:])

    def _find_scan(
        self, keys: list[KeyStroke], suffix: KeyStroke | None
    ) -> tuple[int, int, str] | None:
        """Where the scan sits in `keys` (start, end) and its payload, or None."""
        settings = self._settings
        if not keys or (suffix is None and not settings.scan_without_suffix):
            return None
        start, end = self._scan_span(keys, suffix)
        if start == end:
            return None
        text = "".join(key.character or "" for key in keys[start:end])
        if settings.prefix:
            # A person's key glued in front of the prefix is still a person's key.
            offset = _key_index_of(keys[start:end], text, settings.prefix)
            if offset is None:
                return None
            start += offset
            text = "".join(key.character or "" for key in keys[start:end])
        payload = text[len(settings.prefix) :]
        if len(payload) < settings.min_length or len(set(payload)) < 2:
            return None  # too short for a label, or one held key auto-repeating
        gaps = _gaps([*keys[start:end], suffix] if suffix is not None else keys[start:end])
        if not gaps or statistics.median(gaps) > self._max_gap:
            return None
        return start, end, payload

    def _scan_span(self, keys: list[KeyStroke], suffix: KeyStroke | None) -> tuple[int, int]:
        """The last stretch of runs of two keys or more, as a slice of `keys` (may be empty)."""
        gaps = _gaps(keys)
        with_suffix = [*keys, suffix] if suffix is not None else keys
        split = self._split_gap(_gaps(with_suffix))
        # Runs as [first, past-the-end) slices of keys; the suffix never starts a run of its own.
        firsts = [0] + [i for i in range(1, len(keys)) if gaps[i - 1] >= split]
        runs = list(zip(firsts, [*firsts[1:], len(keys)], strict=True))

        def mechanical(run: tuple[int, int]) -> bool:
            size = run[1] - run[0] + (1 if suffix is not None and run[1] == len(keys) else 0)
            return size >= 2

        last = len(runs) - 1
        while last >= 0 and not mechanical(runs[last]):
            last -= 1  # a person's keys after a scan without suffix
        if last < 0:
            return len(keys), len(keys)
        first = last
        while first > 0 and mechanical(runs[first - 1]):
            first -= 1
        return runs[first][0], runs[last][1]

    def _split_gap(self, gaps: Sequence[float]) -> float:
        """The gap that separates runs, scaled to how fast this scanner types."""
        short = [gap for gap in gaps if gap < self._max_gap]
        typical = statistics.median(short) if short else 0.0
        return min(self._max_gap, max(self._min_split, _SPLIT_FACTOR * typical))


def _gaps(keys: Sequence[KeyStroke]) -> list[float]:
    # A clock that steps back must not make a negative gap look like the fastest scanner.
    return [max(0.0, b.time - a.time) for a, b in pairwise(keys)]


def _key_index_of(keys: Sequence[KeyStroke], text: str, prefix: str) -> int | None:
    """Index of the first key where `text` (the keys' characters joined) continues with `prefix`."""
    offset = 0
    for index, key in enumerate(keys):
        if text.startswith(prefix, offset):
            return index
        offset += len(key.character or "")
    return None
