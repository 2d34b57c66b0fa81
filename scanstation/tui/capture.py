"""App-level key capture: every key the terminal sends passes through the wedge detector before
any binding or widget sees it.

The app hands each unforwarded `events.Key` to `KeyCapture.feed`; keys the detector decides a
person typed come back (in order, the original event objects) for the app to replay through
Textual's normal path, and scanner bursts go to `on_scan` as one payload. So a scan is never
typed into the focused Input, and a control character inside a burst (ctrl+q is DC1) is data,
never a binding. A burst that came like a scanner's but was not read as a scan goes to
`on_burst`; the app shows `BurstNotRead.sentence` to the worker.

ESC inside a burst: Textual's terminal parser reads ESC as the start of a key sequence. ESC and
a character it cannot place becomes `alt+<character>` (after its 100 ms escape delay and up to
one 100 ms poll of the terminal), and ESC b / ESC f become ctrl+left / ctrl+right. The capture
turns those back into ESC and the character for the detector (the original event is what a
person's key replays), marks the delayed ones late, and lets the detector wait
`TERMINAL_HOLD_MS` for them. Such a key that starts a scan is a person's Escape pressed within
the escape delay before it (a scan's payload starts with data): the capture gives each one an
Escape event of its own (`KeyStroke.lead`), which the detector hands back alone. What the
parser leaves no trace of cannot be restored: ESC before a digit, `-` or `=` arrives as a
different character (Textual maps ESC 3 to "£", as macOS terminals send option+3), ESC before
`[` or `O` starts a key sequence, and ESC followed by more than 30 characters in one read
arrives as "^".

A key let go as a person's may turn out to have started a scan (the terminal stalled after
it, see "Keys read late" in wedge.py): the detector takes it back into the payload, and
`KeyCapture.taken_back` names it, so the app can remove it from the field it was typed into
(`untype`).

Keys typed while the station starts wait in the terminal until it reads it, then come in one
read, stamped together: `KeyCapture.reading_from(at)` (called as the app starts reading the
terminal) marks the keys of that first read early (see "Keys typed before the station read the
terminal" in wedge.py), so a key binding pressed before the station was ready stays a key.

Silence settles what is still buffered: a timer posts `FlushDue` to the app when the detector's
deadline has passed, and the app calls `flush_due(message.time)`. The detector trusts that time
only once every key stamped before it has been fed (wedge.py); the event loop's timing cannot
promise that, so the app checks it from the keys' own stamps. A key is stamped when the
terminal's reader thread reads it, then handed to the app from that thread (Textual schedules
its delivery on the event loop, which may be stalled: a slow frame, a garbage collection, a
loaded kiosk). `KeysOnTheWay` records each key as it is handed over, in the reader thread, and
forgets it when it is fed. A flush is not posted while a key stamped before the timer's time is
on its way, and a flush handled while such a key is still on its way (queued behind the flush)
settles nothing: the key is fed next, and the end of the burst is decided from the gap between
its stamp and the last one's, never from when the timer ran (a key that has not arrived
`ON_THE_WAY_MAX_S` after its stamp never will). Silence is only silence when the terminal holds
no unread bytes either (`terminal_has_unread`): on a busy machine the reader thread may not run
for tens of milliseconds, and keys a scanner sent meanwhile wait in the terminal (they are
stamped when read, so the detector sees them late and together; see "Keys read late" in
wedge.py). The timer waits for those for at most `UNREAD_WAIT_S`.

What no check can see: the reader thread losing the CPU in the few lines between stamping a
key and handing it over, and staying off it until the flush has been handled. Then the key
comes after the silence was settled (its burst may be split).
"""

from __future__ import annotations

import fcntl
import sys
import termios
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from textual import constants, events
from textual.message import Message
from textual.widgets import Input

from scanstation.config import ScannerSettings
from scanstation.domain.text import visible
from scanstation.sources.wedge import Burst, KeyStroke, WedgeDetector, WedgeSettings
from scanstation.sources.wedge_output import BUNCH_S

__all__ = [
    "ON_THE_WAY_MAX_S",
    "TERMINAL_HOLD_MS",
    "UNREAD_WAIT_S",
    "BurstNotRead",
    "FlushDue",
    "KeyCapture",
    "KeysOnTheWay",
    "burst_sentence",
    "terminal_has_unread",
    "untype",
    "wedge_settings",
]

# How late Textual's parser can deliver the keys after an ESC: its escape delay, plus the
# input thread's 100 ms poll that notices it, plus a margin.
TERMINAL_HOLD_MS = constants.ESCAPE_DELAY * 1000 + 100 + 50

# Characters handed back within this many times `max_median_gap_ms` of each other came like a
# scanner's (the detector's reports use the same span).
BURST_STREAK_FACTOR = 2.0

# The longest the flush timer waits for a terminal whose unread bytes are not being read.
UNREAD_WAIT_S = 0.5

# A key handed to the app that has not arrived this long after its stamp never will (dropped
# while the app closes): it no longer holds a flush back.
ON_THE_WAY_MAX_S = 2.0

# The terminal's first read comes at most this long after the station starts reading it; keys
# in it were typed before (later keys come as they are typed).
FIRST_READ_S = 0.5

# Keys Textual makes of ESC and one character it recognises as a key of its own.
_ESCAPE_KEYS = {"ctrl+left": "\x1bb", "ctrl+right": "\x1bf"}


class FlushDue(Message):
    """The detector's deadline has passed: settle the keys it holds."""


@dataclass
class BurstNotRead(Message):
    """Keys came like a scanner's but were not read as a scan (they went back as typing)."""

    burst: Burst
    sentence: str  # for the worker: what came, why it is not a scan, what to change


def wedge_settings(scanner: ScannerSettings) -> WedgeSettings:
    burst_end_ms, max_median_gap_ms, split_gap_ms = scanner.timing()
    return WedgeSettings(
        burst_end_ms=burst_end_ms,
        max_median_gap_ms=max_median_gap_ms,
        min_length=scanner.min_length,
        prefix=scanner.prefix,
        suffixes=tuple(scanner.suffixes),
        split_gap_ms=split_gap_ms,
        terminal_hold_ms=TERMINAL_HOLD_MS,
    )


def burst_sentence(burst: Burst, scanner: ScannerSettings) -> str:
    """One plain sentence (never markup) saying what came, why it is not a scan, what to do."""
    shown = visible(burst.text) + ("…" if burst.length > len(burst.text) else "")
    came = f"“{shown}” came like a scanner but was not read as a scan"
    if burst.reason == "slow":
        max_gap = scanner.timing()[1]
        fix = (
            'a Bluetooth scanner needs [scanner] preset = "bluetooth"'
            if scanner.preset == "usb"
            else "raise [scanner] max_median_gap_ms, or program the scanner with a prefix"
        )
        why = (
            f"its keys came {burst.gap_ms:.0f} ms apart, slower than the {max_gap:.0f} ms "
            f'of [scanner] preset "{scanner.preset}" — {fix}'
        )
    elif burst.reason == "short":
        why = f"it is shorter than [scanner] min_length ({scanner.min_length} characters)"
    elif burst.reason == "no_prefix":
        why = f"it did not start with the [scanner] prefix “{visible(scanner.prefix)}”"
    else:
        why = "its keys did not come at a scanner's steady pace"
    return f"{came}: {why}. To scan it now, type it with / and Enter."


def terminal_has_unread(fd: object) -> bool:
    """Bytes wait in the terminal `fd` that Textual's reader has not read yet (False when
    there is no terminal: a headless or web driver)."""
    if not isinstance(fd, int):
        return False
    try:
        waiting = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except (OSError, ValueError):  # closed, or not a terminal
        return False
    return int.from_bytes(waiting, sys.byteorder) > 0


class KeysOnTheWay:
    """Keys handed to the app (by the terminal's reader thread, or posted) and not fed yet.

    `handed` runs in whichever thread hands a key over, `arrived` and `stamped_before` in the
    app's; a lock keeps the record whole between them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamps: dict[int, float] = {}  # id of the event -> its stamp

    def handed(self, event: events.Key) -> None:
        with self._lock:
            self._stamps[id(event)] = event.time

    def arrived(self, event: events.Key) -> None:
        with self._lock:
            self._stamps.pop(id(event), None)

    def stamped_before(self, at: float, now: float) -> bool:
        """A key stamped before `at` is still on its way to the detector (at `now`)."""
        with self._lock:
            stamps = list(self._stamps.values())
        return any(stamp < at and now - stamp < ON_THE_WAY_MAX_S for stamp in stamps)


class KeyCapture:
    """Holds keys until the detector decides; returns the ones to replay."""

    def __init__(
        self,
        settings: WedgeSettings,
        on_scan: Callable[[str, float], None],
        on_burst: Callable[[Burst], None] | None = None,
    ) -> None:
        self._detector = WedgeDetector(
            settings, on_scan, self._hand_back, on_burst, self._take_back
        )
        self._suffixes = settings.suffixes
        self._streak_gap = BURST_STREAK_FACTOR * settings.max_median_gap_ms / 1000
        self._replay: list[events.Key] = []
        self._previous: KeyStroke | None = None  # the last character key handed back
        self._in_burst: set[int] = set()  # ids of the handed-back keys that continued a burst
        self._taken_back: list[events.Key] = []  # replayed, then taken back into a scan
        self._reading_from: float | None = None  # set until the terminal's first read is over
        self._early_last: float | None = None  # the last key of that first read so far

    def reading_from(self, at: float) -> None:
        """The station starts reading the terminal at `at`: keys typed before wait there and
        come in its first read, together (their timing is lost)."""
        self._reading_from, self._early_last = at, None

    @property
    def first_read_from(self) -> float | None:
        """When the station started reading the terminal, until its first read is over."""
        return self._reading_from

    def _early(self, time: float) -> bool:
        """The key stamped `time` came in the terminal's first read: the first key soon after
        the station started reading, and each key read together with the one before."""
        start, last = self._reading_from, self._early_last
        if start is None:
            return False
        if (last is None and time - start <= FIRST_READ_S) or (
            last is not None and time - last < BUNCH_S
        ):
            self._early_last = time
            return True
        self._reading_from = None  # the first read is over
        return False

    @property
    def pending(self) -> bool:
        return self._detector.pending

    def deadline(self) -> float | None:
        return self._detector.deadline()

    def feed(self, event: events.Key) -> list[events.Key]:
        """Take one key; returns the keys (this one or earlier ones) a person typed."""
        stroke = _stroke(event)
        if self._early(event.time):
            stroke = replace(stroke, early=True)
        self._detector.feed(stroke)
        return self._take()

    def flush(self, now: float) -> list[events.Key]:
        """Settle what the silence up to `now` decides; returns keys to replay."""
        self._detector.flush_due(now)
        return self._take()

    def in_burst(self, event: events.Key) -> bool:
        """A key just handed back continued characters that came at a scanner's pace (each
        within twice `max_median_gap_ms` of the one before): a scanner's data that was not
        read as a scan, not a person's command (`/`, `c`) outside a text field."""
        return id(event) in self._in_burst

    def _hand_back(self, keys: list[KeyStroke]) -> None:
        for stroke in keys:
            assert isinstance(stroke.token, events.Key)
            self._replay.append(stroke.token)
            previous = self._previous
            if not stroke.character or stroke.key in self._suffixes:
                self._previous = None
                continue
            if previous is not None and stroke.time - previous.time <= self._streak_gap:
                self._in_burst.add(id(stroke.token))
            self._previous = stroke

    def acted(self, event: events.Key) -> None:
        """A key just replayed was a command (a binding took it): what it did cannot be
        undone, so no scan may take it back."""
        self._detector.acted(event)

    def taken_back(self) -> list[events.Key]:
        """Keys already handed back (and replayed) that a scan has taken back since the last
        call: the app undoes their typing."""
        keys, self._taken_back = self._taken_back, []
        return keys

    def _take_back(self, stroke: KeyStroke) -> None:
        assert isinstance(stroke.token, events.Key)
        if any(key is stroke.token for key in self._replay):
            self._replay = [key for key in self._replay if key is not stroke.token]
        else:
            self._taken_back.append(stroke.token)

    def _take(self) -> list[events.Key]:
        keys, self._replay = self._replay, []
        self._in_burst &= {id(key) for key in keys}
        return keys


def untype(field: Input, character: str) -> None:
    """Remove `character` typed into `field` just before its cursor (a scan's first key,
    typed there before the scan was known); anything else the field holds stays."""
    cursor = field.cursor_position
    start = cursor - len(character)
    if character and start >= 0 and field.value[start:cursor] == character:
        field.value = field.value[:start] + field.value[cursor:]
        field.cursor_position = start


def _escape_event(glued: events.Key) -> events.Key:
    """The ESC the terminal glued to `glued`, as the key a person pressed alone."""
    escape = events.Key("escape", "\x1b")
    escape.time = glued.time
    return escape


def _stroke(event: events.Key) -> KeyStroke:
    """The detector's view of a key: ESC put back where Textual's parser left a trace of it."""
    key, character = event.key, event.character
    if key in _ESCAPE_KEYS:
        return KeyStroke(key, _ESCAPE_KEYS[key], event.time, event, lead=_escape_event(event))
    if key.startswith("alt+") and character:
        escape = _escape_event(event)
        return KeyStroke(key, "\x1b" + character, event.time, event, late=True, lead=escape)
    return KeyStroke(key, character, event.time, event, late=key == "escape")
