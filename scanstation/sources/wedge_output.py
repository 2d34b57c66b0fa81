"""What the keyboard-wedge detector (wedge.py) works with and answers through: the keys it is
fed, the gaps between them as the sender made them, and `Output`, which calls back in arrival
order, keeps the last key handed back alone (a scan may take it back, see "Keys read late" in
wedge.py) and follows the streak of handed-back keys that may deserve a report (`Burst`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from scanstation.sources.wedge import WedgeSettings

__all__ = [
    "BUNCH_S",
    "HANDOFF_S",
    "Burst",
    "BurstCallback",
    "BurstReason",
    "KeyStroke",
    "KeysCallback",
    "Output",
    "RetractCallback",
    "ScanCallback",
    "key_gap",
    "key_text",
    "printable",
    "scanner_paced",
    "sender_gaps",
]

# A streak of handed-back keys is reported from this many characters on.
_REPORT_MIN_CHARACTERS = 3
# Gaps up to this many times `max_median_gap_ms` still join a streak (a slow scanner's pace).
_STREAK_FACTOR = 2.0
# Characters of a streak kept for the report (the rest is only counted).
_REPORT_MAX_CHARACTERS = 64
# Keys stamped closer than this came out of one terminal read (no scanner types that fast: a
# USB HID key is a press and a release report, 1 ms each).
BUNCH_S = 0.001
# The longest the terminal's reader thread is seen to wait for the CPU between two pieces of
# one read (Python's switch interval is 5 ms; a busy machine makes it up to ~16 ms).
HANDOFF_S = 0.020

BurstReason = Literal["slow", "short", "no_prefix", "shape"]


@dataclass(frozen=True, slots=True)
class KeyStroke:
    """One key event, reduced to what the detector needs."""

    key: str  # Textual key name: "a", "A", "enter", "tab", "ctrl+q", "up", ...
    character: str | None  # the text the key stands for; None for arrows, F-keys, ...
    time: float  # seconds, monotonic (Textual's event.time)
    token: object = None  # opaque: the original event, handed back untouched
    late: bool = False  # the terminal held it back: the gap before it is not the sender's
    early: bool = False  # typed before the station read the terminal: its timing is unknown
    # The terminal glued an ESC to this key (`character` starts with it): the event to hand
    # back for that ESC alone, when it turns out to be a person's key before a scan.
    lead: object = None


@dataclass(frozen=True, slots=True)
class Burst:
    """Keys that came like a scanner's but were handed back, not read as a scan."""

    text: str  # their characters, suffix excluded (at most the first 64)
    length: int  # how many characters they were
    reason: BurstReason
    gap_ms: float  # the mean gap between its keys, suffix included
    time: float  # the suffix's time


ScanCallback = Callable[[str, float], None]
KeysCallback = Callable[[list[KeyStroke]], None]
BurstCallback = Callable[[Burst], None]
RetractCallback = Callable[[KeyStroke], None]


def key_gap(before: KeyStroke, after: KeyStroke) -> float:
    """Seconds between two keys as the sender made them."""
    if after.late:
        return 0.0  # the terminal held it back
    # A clock that steps back must not make a negative gap look like the fastest scanner.
    return max(0.0, after.time - before.time)


def sender_gaps(keys: Sequence[KeyStroke]) -> list[float]:
    """The gaps between `keys` as the sender may have made them. A terminal read late (the
    machine busy) hands over several keys at once: the gap before such a bunch is the sender's
    gaps and the reader's lateness together, and the gaps inside it say nothing. The bunch's
    keys were sent within the gap before it, so that gap is shared among them: before a bunch
    of n keys and inside it, each gap counts as 1/n of the gap before the bunch.

    One read may reach the station in two pieces: the reader thread stamps and posts the
    read's first key (or keys), then loses the CPU to the app's own thread (Python runs one
    thread at a time) for a few ms before it stamps the rest. A piece less than `HANDOFF_S`
    before a bunch, after a longer gap, is part of that read: the gap before it and the
    handoff are shared among them all."""
    gaps = [key_gap(a, b) for a, b in pairwise(keys)]
    index = len(gaps) - 1
    while index >= 0:
        end = index
        while end >= 0 and gaps[end] < BUNCH_S:
            end -= 1  # walk back over the bunch
        if end < index and end >= 0:
            # keys end+1 … index+1 came together; gaps[end] is the gap before them
            start = end
            if gaps[end] < HANDOFF_S:
                piece = end - 1
                while piece >= 0 and gaps[piece] < BUNCH_S:
                    piece -= 1  # walk back over the piece posted first
                if piece >= 0 and gaps[piece] > gaps[end]:
                    start = piece
            share = sum(gaps[start : index + 1]) / (index - start + 1)
            gaps[start : index + 1] = [share] * (index - start + 1)
            end = start
        index = end - 1
    return gaps


def key_text(keys: Sequence[KeyStroke]) -> str:
    return "".join(key.character or "" for key in keys)


def printable(key: KeyStroke) -> bool:
    """The key stands for text one can see. A control key (ESC, ctrl+e, GS) is data only
    inside a scan: alone, it is a person's command, and may already have acted as one."""
    return bool(key.character) and key.character.isprintable()


def scanner_paced(gaps: Sequence[float], max_gap: float) -> bool:
    """More than half of the gaps are a scanner's: the median gap is at most `max_gap`."""
    return 2 * sum(1 for gap in gaps if gap <= max_gap) > len(gaps)


class Output:
    """The callbacks, and the streak of handed-back keys that may deserve a report."""

    def __init__(
        self,
        settings: WedgeSettings,
        on_scan: ScanCallback,
        on_keys: KeysCallback,
        on_burst: BurstCallback | None,
        on_retract: RetractCallback | None,
    ) -> None:
        self.settings = settings
        self._on_scan = on_scan
        self._on_keys = on_keys
        self._on_burst = on_burst
        self._on_retract = on_retract
        # The last key handed back, if it went back alone and nothing came back after it: a
        # scan that it turns out to have started can take it back (`take_back`). Only a
        # printable key: a control key (ESC closing a dialog) did what it does, for good.
        self.loose: KeyStroke | None = None
        self._max_gap = settings.max_median_gap_ms / 1000
        self._streak_gap = _STREAK_FACTOR * self._max_gap
        self._reset()

    def _reset(self) -> None:
        self._last: KeyStroke | None = None
        self._characters: list[str] = []
        self._length = 0
        self._gap_sum = 0.0
        self._gaps = 0
        self._fast_gaps = 0

    def scan(self, payload: str, time: float) -> None:
        self._reset()
        self.loose = None
        self._on_scan(payload, time)

    def person(self, key: KeyStroke) -> None:
        """Hand back a key that no scan may take back (see "Keys typed before the station read
        the terminal")."""
        self.keys([key])
        self.loose = None

    def keep(self, token: object) -> None:
        """The loose key with `token` acted for good: it stays the person's."""
        if self.loose is not None and self.loose.token is token:
            self.loose = None

    def take_back(self) -> KeyStroke | None:
        """The loose key goes into the scan about to be emitted: the caller undoes what it did
        (typed into a field, say). None when there is none, or no caller to undo it."""
        loose, self.loose = self.loose, None
        if loose is None or self._on_retract is None:
            return None
        self._on_retract(loose)
        return loose

    def keys(self, keys: Sequence[KeyStroke]) -> None:
        if not keys:
            return
        alone = keys[0] if len(keys) == 1 else None
        takeable = (
            alone is not None and printable(alone) and alone.key not in self.settings.suffixes
        )
        self.loose = alone if takeable else None
        reports = [report for key in keys if (report := self._follow(key)) is not None]
        self._on_keys(list(keys))
        if self._on_burst is not None:
            for report in reports:
                self._on_burst(report)

    def _follow(self, key: KeyStroke) -> Burst | None:
        """Add one handed-back key to the streak; a suffix closes it (and may report it)."""
        last = self._last
        gap = key_gap(last, key) if last is not None else None
        if gap is not None and gap > self._streak_gap:
            self._reset()
            gap = None
        if key.key in self.settings.suffixes:
            report = self._report(key, gap) if gap is not None else None
            self._reset()
            return report
        if not key.character:
            self._reset()
            return None
        if gap is not None:
            self._gap_sum += gap
            self._gaps += 1
            self._fast_gaps += gap <= self._max_gap
        if len(self._characters) < _REPORT_MAX_CHARACTERS:
            self._characters.append(key.character)
        self._length += len(key.character)
        self._last = key
        return None

    def _report(self, suffix: KeyStroke, gap: float) -> Burst | None:
        if self._length < _REPORT_MIN_CHARACTERS:
            return None
        gaps = self._gaps + 1
        fast = 2 * (self._fast_gaps + (gap <= self._max_gap)) > gaps
        text = "".join(self._characters)
        settings = self.settings
        reason: BurstReason
        if settings.prefix:
            framed = text.partition(settings.prefix)
            if framed[1]:
                reason = "short" if len(framed[2]) < settings.min_length else "shape"
            elif fast:
                reason = "no_prefix"
            else:
                return None  # a person typing: without the prefix nothing is a scan
        elif not fast:
            reason = "slow"
        elif self._length < settings.min_length:
            reason = "short"
        else:
            reason = "shape"
        mean_ms = 1000 * (self._gap_sum + gap) / gaps
        return Burst(text, self._length, reason, mean_ms, suffix.time)
