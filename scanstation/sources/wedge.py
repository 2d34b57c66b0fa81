"""Keyboard-wedge burst detector: tells a barcode scanner's keystrokes from a person's.

A wedge scanner "types" its payload as keystrokes and ends it with a suffix key (Enter, Tab or
LF). The TUI feeds every key the app receives into `WedgeDetector.feed`, stamped with the key
event's own time, and calls `WedgeDetector.flush_due` from a timer. The detector answers through
callbacks, always in the order the keys arrived: `on_scan(payload, time)` for a scan,
`on_keys(keys)` for keys handed back unchanged so the UI can replay them as typing, and
`on_burst(burst)` when keys that came like a scanner's were handed back (nothing a scanner sends
is dropped without a word). Every key is either in exactly one scan or handed back; a key
handed back alone may later be taken back into the scan it started (`on_retract(key)`, see
"Keys read late"): the caller then removes it from where it was typed.

With a prefix: framing, whatever the timing
-------------------------------------------
A scanner programmed to send `prefix` before each code announces a scan at its first key. From
the prefix to a suffix key is a scan, however slowly the keys come (a pause of up to
`frame_pause_ms` between two keys) and whatever they are (one character repeated, control
characters), when its payload has at least `min_length` characters. A frame that ends without a
suffix (a pause, a key without a character) is a scan only when it also has a scanner's timing
(below). Every key that cannot start the prefix goes back at once: typing is never delayed.

Without a prefix: timing
------------------------
Keys wait in a buffer while they could still belong to a scan. A *group* of buffered keys ends
at a suffix key, at a key that produces no character (arrows, F-keys), after `burst_end_ms`
without a key, or at an *isolated* key (see below). When a group ends, its keys are cut into
*runs* wherever two keys are at least the split gap apart (gaps as the sender made them, see
"Keys read late"). The split gap adapts to the scanner:
three times the median of the short gaps near the group's end, but at least `split_gap_ms` and
at most `max_median_gap_ms`. A run of two keys or more is mechanical (the suffix counts as a key
of the last run). The scan is everything from the first mechanical run to the last: a scanner
that sends its payload in packets, even a packet of one key, gives one scan, while a lone key
before the scan (or after a scan without suffix) is a person's. That stretch is a scan when it
ended with a suffix (or `scan_without_suffix` allows a pause), more than half of the gaps between
its keys, suffix included, are at most `max_median_gap_ms` (its median gap is a scanner's), and
its payload has at least `min_length` characters. One character repeated is a scan only when a
suffix follows and every gap is a scanner's: without one it is a held key auto-repeating.
Otherwise every key of the group, suffix included, goes back to the UI.

Latency added to a person's key
-------------------------------
A key at least `max_median_gap_ms` after the previous one, with fewer than three keys waiting
before it, is *isolated* once `max_median_gap_ms` of silence passes, or once the next key
comes `max_median_gap_ms` or more after it and alone (a millisecond passes without another
key: it was not the first of a bunch the terminal read late). No scan can include it, so it
goes back at once (defaults: 50 ms, plus one or two periods of the caller's timer). That
covers ordinary typing and single-key commands. Keys typed less than `max_median_gap_ms`
apart (key rollover, auto-repeat) look like the start of a scan and wait until their group ends:
a suffix, a key without a character, an isolated key, or `burst_end_ms` (100 ms) of silence
(`terminal_hold_ms` for three keys or more, see below). A key without a character is never
delayed.

Keys the terminal held back
---------------------------
A terminal sends ESC as the first byte of its key sequences, so Textual holds an ESC until it
knows what follows (100 ms, then up to one 100 ms poll). The caller marks the keys that come out
of that (`KeyStroke.late`, with ESC restored into `character`): the gap before a late key is the
terminal's, not the sender's, and counts as none. A group of three keys or more waits
`terminal_hold_ms` of silence before it ends, so a burst with ESC inside stays one scan.

Keys read late
--------------
On a busy machine the terminal's reader thread may not run for tens of milliseconds; keys sent
meanwhile wait in the terminal and are stamped when read, together, microseconds apart. The
gap before such a bunch is the sender's gaps and the reader's lateness at once, and the gaps
inside it say nothing: keys less than 1 ms apart count as a bunch, and before and inside a
bunch of n keys each gap counts as 1/n of the gap before it (the keys were sent within it).
One read may reach the detector in two pieces: the reader thread stamps and posts its first
key or keys, then waits for the CPU (Python runs one thread at a time) for a few ms before it
stamps the rest. A piece less than 20 ms (`HANDOFF_S`) before a bunch, after a longer gap,
counts as part of that bunch. So a key read late does not split a scan. A pause long enough
to end a group ends it only when the key after the pause came alone (a key with it, or a key
less than 20 ms after it followed by one with it, makes the pause the terminal's), and
a group of three keys or more has no isolated key: it waits for its suffix, a key without a
character or the silence that ends a group. The caller does not call `flush_due` while the
terminal holds keys not read yet (that is not silence).

A key read alone may be stamped late too (the reader thread waited for the CPU between reading
and stamping it): the gap before it grows by the delay. Inside a scan that only splits runs,
but after a scan's first key it made that key a lone key before the scan. So the lone key just
before the first mechanical run starts the scan when the gap after it is less than 2.5 times
the widest gap inside the scan's runs (suffix included; gaps between packets are splits and do
not count), and less than `max_median_gap_ms`: one of the scanner's own gaps plus a delay.

The terminal itself may stall as well (a terminal emulator or multiplexer not scheduled):
then nothing waits unread, and the silence after a scan's first key lets that key go as a
person's before the rest arrives, together. A scan that begins a group takes back the key
handed back alone just before it when that key, counted with the group as if it had waited
(the shared gap above), would have been the scan's first key, and came less than
`terminal_hold_ms` (at least `burst_end_ms`) before it: its character leads the payload and
`on_retract` names it. Keys that came at their sender's pace after a person's key are not a
bunch, so the person's key stays theirs.

Only a printable key is ever taken back or joined in these ways. A control key (ESC, ctrl+e, GS)
handed back alone already acted as a key (ESC closed a dialog) and cannot be undone; and a
control key that would start a scan while `split_gap_ms` or more before the key after it
(joined only by the gap shared among keys read together) goes back as a person's key, ahead
of the scan of the keys after it. An ESC the terminal glued to a scan's first key (pressed
within its escape delay before the scan: the caller gives such a key a `lead`, the ESC alone)
goes back as that ESC, and the key's own character starts the payload. Control characters
inside a scan stay in its payload.

Keys typed before the station read the terminal
-----------------------------------------------
Until the station reads the terminal (while it starts), keys wait there and come in its first
read together, stamped microseconds apart: their timing is lost, and a person's key pressed
seconds before a scan looks like the scan's first character. The caller marks the keys of that
first read (`KeyStroke.early`). Without timing, a control character (ctrl+e is ENQ) at the
start of a group of early keys is a person's key, handed back and never taken back: a scan's
payload starts with data. Control characters after its first character (ESC, GS, RS) stay in
the payload as ever.

Reports (`on_burst`)
--------------------
Keys handed back since the last pause longer than twice `max_median_gap_ms` form a *streak*.
When a suffix key is handed back and the streak before it has at least three characters, it
came like a scanner's and is reported: `slow` (more than half of its gaps were longer than
`max_median_gap_ms`: a scanner slower than the settings allow), `short` (fewer than
`min_length` characters), `no_prefix` (scanner-fast, without the configured prefix) or `shape`
(anything else, e.g. one character repeated with a late suffix). A person typing fast and ending
with Enter can be reported too; the UI decides what to show (keys typed into a text field were
seen there).

Known ambiguities (timing cannot tell them apart; a prefix avoids them): a person's key less
than the split gap (or 2.5 times the scan's widest gap inside its runs) before a scan becomes
part of it, or (a printable one) less than `terminal_hold_ms` before keys the terminal read
together (also when they reached the station in two pieces); a scanner stalling right after the
first character of a scan splits that character off, and so does a slow scanner's second key
read late but alone (and a control character first in a payload whenever the reader stalls
right after it); without a suffix, two scans less than `burst_end_ms` apart are read as one,
and so are two less than `terminal_hold_ms` apart when the second one's keys were read
together.

Cost: every key is stored once and looked at a bounded number of times (the split gap is the
median of at most the last 16 gaps), so feeding a key is O(1) amortised.

Timestamps are seconds on one monotonic clock (Textual's `event.time`); settings are in ms.
`flush_due(now)` must only be called once every key stamped before `now` has been fed: the
detector takes `now` as silence since the last key, so a key stamped before it and fed after
would find its burst already ended (cut in two scans, or its first key handed back). Every
decision then rests on the gaps between key stamps, never on when the caller's timer ran. The
TUI meets this by recording each key as the terminal's reader thread hands it over and
holding the flush back while one stamped before `now` has not been fed (tui/capture.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from scanstation.sources.wedge_output import (
    BUNCH_S,
    HANDOFF_S,
    Burst,
    BurstCallback,
    KeysCallback,
    KeyStroke,
    Output,
    RetractCallback,
    ScanCallback,
    key_gap,
    key_text,
    printable,
    scanner_paced,
    sender_gaps,
)

__all__ = ["Burst", "KeyStroke", "WedgeDetector", "WedgeSettings"]

# A gap this many times the scanner's typical gap is a break between runs, not jitter.
_SPLIT_FACTOR = 3.0
# How many gaps at the end of a group tell the scanner's pace (bounds the work per group).
_PACE_SAMPLE = 16
# A lone key less than this many times the widest gap inside a scan's runs before it is its
# first key, the next one stamped late (benchmarks/tui.py at load 7: 20-37 ms where the
# scan's gaps were 2-16 ms; "Keys read late").
_LEAD_FACTOR = 2.5
# Groups of at least this many keys wait `terminal_hold_ms` (a rollover pair does not).
_HOLD_MIN_KEYS = 3


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
    terminal_hold_ms: float = 0.0  # how late the terminal may deliver keys it held (ESC)
    frame_pause_ms: float = 1000.0  # the longest pause inside a prefix-framed scan

    def __post_init__(self) -> None:
        for name in ("burst_end_ms", "max_median_gap_ms", "split_gap_ms", "frame_pause_ms"):
            value = getattr(self, name)
            if not value > 0:  # also refuses NaN
                raise ValueError(f"wedge.{name} must be greater than 0, got {value!r}")
        if not self.terminal_hold_ms >= 0:
            raise ValueError(
                f"wedge.terminal_hold_ms must be 0 or more, got {self.terminal_hold_ms!r}"
            )
        if self.split_gap_ms > self.max_median_gap_ms:
            raise ValueError(
                f"wedge.split_gap_ms ({self.split_gap_ms}) must not exceed "
                f"wedge.max_median_gap_ms ({self.max_median_gap_ms})"
            )
        if self.min_length < 1:
            raise ValueError(f"wedge.min_length must be at least 1, got {self.min_length!r}")
        if not self.suffixes and not self.scan_without_suffix:
            raise ValueError("wedge.suffixes is empty and wedge.scan_without_suffix is false")


class WedgeDetector:
    """Splits a stream of key strokes into scans and a person's keys; see the module docstring."""

    def __init__(
        self,
        settings: WedgeSettings,
        on_scan: ScanCallback,
        on_keys: KeysCallback,
        on_burst: BurstCallback | None = None,
        on_retract: RetractCallback | None = None,
    ) -> None:
        output = Output(settings, on_scan, on_keys, on_burst, on_retract)
        self._out = output
        self._rules: _Framed | _Timed = (
            _Framed(settings, output) if settings.prefix else _Timed(settings, output)
        )

    @property
    def pending(self) -> bool:
        """Keys are buffered, waiting for a decision."""
        return bool(self._rules.keys)

    def deadline(self) -> float | None:
        """When `flush_due` next has work to do (None: nothing is buffered)."""
        return self._rules.deadline()

    def acted(self, token: object) -> None:
        """The key handed back with `token` did something that cannot be undone (a binding
        opened a dialog, say): no scan may take it back."""
        self._out.keep(token)

    def feed(self, stroke: KeyStroke) -> None:
        """Take the next key, in arrival order."""
        self._rules.feed(stroke)

    def flush_due(self, now: float) -> None:
        """End what the silence up to `now` has settled; call it from a timer."""
        if self._rules.keys:
            self._rules.flush_due(now)


class _Timed:
    """Without a prefix: scans are told from typing by the keys' timing."""

    def __init__(self, settings: WedgeSettings, output: Output) -> None:
        self._settings = settings
        self._out = output
        # Settings are in ms for people; key times are in seconds.
        self._burst_end = settings.burst_end_ms / 1000
        self._hold = max(self._burst_end, settings.terminal_hold_ms / 1000)
        self._max_gap = settings.max_median_gap_ms / 1000
        self._min_split = settings.split_gap_ms / 1000
        self.keys: list[KeyStroke] = []  # data keys waiting for a decision, arrival order
        # How many keys at the end came after a silence that ends a group, unless it turns out
        # to be the terminal's: the key after the pause (1), and a key a handoff after it (2).
        self._after_pause = 0

    def _silence_limit(self) -> float:
        return self._hold if len(self.keys) >= _HOLD_MIN_KEYS else self._burst_end

    def deadline(self) -> float | None:
        if not self.keys:
            return None
        last = self.keys[-1].time
        if self._after_pause == 2 or self._lone_before_last():
            return last + BUNCH_S
        if self._after_pause == 1:
            return last + HANDOFF_S
        if self._releasable(len(self.keys) - 1):
            return last + self._max_gap
        return last + self._silence_limit()

    def feed(self, stroke: KeyStroke) -> None:
        if stroke.early and not self.keys and _leading_control(stroke, self._settings):
            self._out.person(stroke)
            return
        if self._after_pause:
            self._settle_pause(stroke)
        paused = bool(self.keys) and key_gap(self.keys[-1], stroke) >= self._silence_limit()
        if stroke.key in self._settings.suffixes or not stroke.character:
            if paused:
                self._end_group(None)
            if stroke.key in self._settings.suffixes:
                self._end_group(stroke)
            else:
                # Scanners only type characters: this key is a person's and closes the group.
                self._end_group(None)
                self._out.keys([stroke])
            return
        if self._lone_before_last() and key_gap(self.keys[-1], stroke) >= BUNCH_S:
            self._release_isolated(len(self.keys) - 2)
        self.keys.append(stroke)
        # A pause that ends the group, unless the terminal read this key late together with
        # the next ones: the next keys (or a silence without them) tell.
        if paused:
            self._after_pause = 1

    def flush_due(self, now: float) -> None:
        silence = now - self.keys[-1].time
        if self._after_pause and silence >= (HANDOFF_S if self._after_pause == 1 else BUNCH_S):
            self._end_before_pause()
        if silence >= self._silence_limit():
            self._end_group(None)
            return
        if silence >= BUNCH_S and self._lone_before_last():
            self._release_isolated(len(self.keys) - 2)
        if silence >= self._max_gap and self._releasable(len(self.keys) - 1):
            self._release_isolated(len(self.keys) - 1)

    def _lone_before_last(self) -> bool:
        """The key before the last one is isolated if the last one is not the first of a bunch
        (a key coming with it would make the gap before it the terminal's, not the sender's)."""
        index = len(self.keys) - 2
        return (
            index >= 0
            and self._releasable(index)
            and key_gap(self.keys[index], self.keys[index + 1]) >= self._max_gap
        )

    def _releasable(self, index: int) -> bool:
        """The key at `index` may go back as isolated once the next gap is long too: it came
        `max_median_gap_ms` or more after the buffered key before it (the first buffered key
        qualifies: whatever came before it is settled), and fewer than three keys wait before
        it. Three keys or more may be a scan the terminal delivered late: they wait for their
        suffix (or the silence that ends a group), so a late key cannot cut them."""
        if index >= _HOLD_MIN_KEYS:
            return False
        return index == 0 or key_gap(self.keys[index - 1], self.keys[index]) >= self._max_gap

    def _release_isolated(self, index: int) -> None:
        """Hand back a key that is far from both neighbours; the keys before it form a group.

        Every split gap is at most `max_median_gap_ms`, so such a key is a run of one whatever
        comes next: it can never be part of a scan, and nothing before it can join a later scan.
        """
        group, isolated = self.keys[:index], self.keys[index]
        self.keys = self.keys[index + 1 :]
        self._decide(group, None)
        self._out.keys([isolated])

    def _settle_pause(self, stroke: KeyStroke) -> None:
        """The next key after the pause tells whose the pause was. With the key after it
        (less than 1 ms) or after its handoff (`HANDOFF_S`, then a key with it): the keys
        came out of one late read, the pause was the terminal's. Else it was the sender's."""
        gap = key_gap(self.keys[-1], stroke)
        if gap < BUNCH_S:
            self._after_pause = 0
        elif (
            self._after_pause == 1
            and gap < HANDOFF_S
            and stroke.character
            and stroke.key not in self._settings.suffixes
        ):
            self._after_pause = 2  # the rest of the read may come with the next key
        else:
            self._end_before_pause()

    def _end_before_pause(self) -> None:
        """The pause was the sender's: the keys before it are a group."""
        cut = len(self.keys) - self._after_pause
        group, self.keys = self.keys[:cut], self.keys[cut:]
        self._after_pause = 0
        self._decide(group, None)

    def _end_group(self, suffix: KeyStroke | None) -> None:
        group = self.keys
        # Cleared first, so a callback that feeds keys sees a consistent state.
        self.keys = []
        self._after_pause = 0
        self._decide(group, suffix)

    def _decide(self, keys: list[KeyStroke], suffix: KeyStroke | None) -> None:
        """Emit a finished group: the scan it holds, if any, between the keys around it."""
        found = self._find_scan(keys, suffix)
        if found is None:
            self._out.keys([*keys, suffix] if suffix is not None else keys)
            return
        start, end, payload = found
        if self._control_apart(keys, start, suffix):
            # A person's control key before keys read together: theirs, then the rest decides.
            self._out.keys(keys[: start + 1])
            self._decide(keys[start + 1 :], suffix)
            return
        self._out.keys(keys[:start])
        lead = keys[start].lead
        if lead is not None and len(payload) > self._settings.min_length:
            # The terminal glued a person's ESC to the scan's first key (ESC pressed within
            # its escape delay before the scan): the ESC goes back alone, the key stays data.
            self._out.person(KeyStroke("escape", "\x1b", keys[start].time, lead, late=True))
            payload = payload[1:]
        elif start == 0 and self._started_by_loose(keys, end, suffix):
            taken = self._out.take_back()
            payload = (taken.character or "") + payload if taken is not None else payload
        self._out.scan(payload, suffix.time if suffix is not None else keys[end - 1].time)
        self._out.keys(keys[end:])

    def _control_apart(self, keys: list[KeyStroke], start: int, suffix: KeyStroke | None) -> bool:
        """The scan found would start with a control key that came at least `split_gap_ms`
        before the key after it: only the gap shared among keys read together (see
        `sender_gaps`) joined it to them. A scanner's control characters are data inside its
        payload; one this far ahead of it is a person's (ESC, a key binding)."""
        first = keys[start]
        after = keys[start + 1] if start + 1 < len(keys) else suffix
        return (
            not printable(first) and after is not None and key_gap(first, after) >= self._min_split
        )

    def _started_by_loose(self, keys: list[KeyStroke], end: int, suffix: KeyStroke | None) -> bool:
        """The key handed back alone just before `keys` would have started their scan, had it
        waited with them: it was let go for a person's on a silence that was the machine's (the
        terminal stalled after the scan's first key; what the scanner sent meanwhile came
        together, and the gap before it counts shared, see `sender_gaps`)."""
        loose = self._out.loose
        if loose is None or key_gap(loose, keys[0]) >= self._hold:
            return False
        found = self._find_scan([loose, *keys], suffix)
        return found is not None and found[:2] == (0, end + 1)

    def _find_scan(
        self, keys: list[KeyStroke], suffix: KeyStroke | None
    ) -> tuple[int, int, str] | None:
        """Where the scan sits in `keys` (start, end) and its payload, or None."""
        settings = self._settings
        if not keys or (suffix is None and not settings.scan_without_suffix):
            return None
        gaps = sender_gaps([*keys, suffix] if suffix is not None else keys)
        # gaps[i]: keys[i] → keys[i + 1]; the last one leads to the suffix, if any
        suffix_gaps = [gaps.pop()] if suffix is not None else []
        span = self._mechanical_span(gaps, suffix_gaps)
        if span is None:
            return None
        start, end = span
        payload = key_text(keys[start:end])
        if len(payload) < settings.min_length:
            return None
        scan_gaps = gaps[start : end - 1] + (suffix_gaps if end == len(keys) else [])
        if not scanner_paced(scan_gaps, self._max_gap):
            return None
        if len(set(payload)) < 2 and not (
            suffix is not None and all(gap <= self._max_gap for gap in scan_gaps)
        ):
            return None  # one held key auto-repeating
        return start, end, payload

    def _mechanical_span(
        self, gaps: list[float], suffix_gaps: list[float]
    ) -> tuple[int, int] | None:
        """From the first run of two keys or more to the last, as a slice of the group's keys."""
        count = len(gaps) + 1
        has_suffix = bool(suffix_gaps)
        split = self._splitkey_gap(gaps[-_PACE_SAMPLE:] + suffix_gaps)
        first: int | None = None
        end = 0
        run_start = 0
        for index in range(1, count + 1):
            if index < count and gaps[index - 1] < split:
                continue  # the run goes on
            size = index - run_start + (1 if has_suffix and index == count else 0)
            if size >= 2:
                if first is None:
                    first = run_start
                end = index
            run_start = index
        if first is None:
            return None
        after = gaps[first : first + _PACE_SAMPLE] + suffix_gaps
        if first > 0 and self._first_key_stamped_late(gaps[first - 1], after, split):
            first -= 1
        return first, end

    def _first_key_stamped_late(self, lead_gap: float, after: list[float], split: float) -> bool:
        """The lone key `lead_gap` before the first run is the scan's first key: the key after
        it was stamped late (the reader waited for the CPU), which lengthens that one gap by
        the delay. A gap up to `_LEAD_FACTOR` times the widest gap inside the scan's runs (at
        most `max_median_gap_ms`) is one of the scanner's gaps plus such a delay; a person's
        key comes further ahead of a scan than its keys ever are from each other. Gaps
        between packets do not count: they are splits themselves."""
        widest = max((gap for gap in after if gap < split), default=0.0)
        return lead_gap < min(self._max_gap, _LEAD_FACTOR * widest)

    def _splitkey_gap(self, gaps: Sequence[float]) -> float:
        """The gap that separates runs, scaled to how fast this scanner types."""
        short = [gap for gap in gaps if gap < self._max_gap]
        typical = statistics.median(short) if short else 0.0
        return min(self._max_gap, max(self._min_split, _SPLIT_FACTOR * typical))


def _leading_control(stroke: KeyStroke, settings: WedgeSettings) -> bool:
    """One control character (a key binding such as ctrl+e) that is not a suffix."""
    character = stroke.character
    return (
        character is not None
        and len(character) == 1
        and not printable(stroke)
        and stroke.key not in settings.suffixes
    )


class _Framed:
    """With a prefix: from the prefix to a suffix is a scan, whatever the timing."""

    def __init__(self, settings: WedgeSettings, output: Output) -> None:
        self._settings = settings
        self._out = output
        self._prefix = settings.prefix
        self._burst_end = settings.burst_end_ms / 1000
        self._max_gap = settings.max_median_gap_ms / 1000
        self._pause = settings.frame_pause_ms / 1000
        self.keys: list[KeyStroke] = []  # a partial prefix, or a whole frame once it matched
        self._framing = False

    def deadline(self) -> float | None:
        if not self.keys:
            return None
        return self.keys[-1].time + (self._pause if self._framing else self._burst_end)

    def feed(self, stroke: KeyStroke) -> None:
        if self._framing and key_gap(self.keys[-1], stroke) >= self._pause:
            self._end_frame(None)
        if self._framing:
            if stroke.key in self._settings.suffixes:
                self._end_frame(stroke)
            elif not stroke.character:
                self._end_frame(None)
                self._out.keys([stroke])
            else:
                self.keys.append(stroke)
            return
        if stroke.key in self._settings.suffixes or not stroke.character:
            self._give_back([*self.keys, stroke])
            return
        self.keys.append(stroke)
        self._match_prefix()

    def flush_due(self, now: float) -> None:
        silence = now - self.keys[-1].time
        if self._framing and silence >= self._pause:
            self._end_frame(None)
        elif not self._framing and silence >= self._burst_end:
            self._give_back(self.keys)

    def _match_prefix(self) -> None:
        """Keep the keys that may begin the prefix; hand back the ones that cannot."""
        prefix = self._prefix
        while self.keys:
            text = key_text(self.keys)
            if text.startswith(prefix):
                self._framing = True
                return
            if prefix.startswith(text):
                return
            self._out.keys([self.keys.pop(0)])  # at most len(prefix) keys are held

    def _give_back(self, keys: list[KeyStroke]) -> None:
        self.keys = []
        self._out.keys(keys)

    def _end_frame(self, suffix: KeyStroke | None) -> None:
        keys, self.keys, self._framing = self.keys, [], False
        payload = key_text(keys)[len(self._prefix) :]
        settings = self._settings
        if len(payload) >= settings.min_length and (
            suffix is not None or self._paced(keys, payload)
        ):
            self._out.scan(payload, suffix.time if suffix is not None else keys[-1].time)
        else:
            self._out.keys([*keys, suffix] if suffix is not None else keys)

    def _paced(self, keys: list[KeyStroke], payload: str) -> bool:
        """A frame without its suffix still has a scanner's timing (half framed is not enough)."""
        if not self._settings.scan_without_suffix or len(set(payload)) < 2:
            return False
        return scanner_paced([key_gap(a, b) for a, b in pairwise(keys)], self._max_gap)
