"""App-level key capture: every key the terminal sends passes through the wedge detector before
any binding or widget sees it.

The app hands each unforwarded `events.Key` to `KeyCapture.feed`; keys the detector decides a
person typed come back (in order, the original event objects) for the app to replay through
Textual's normal path, and scanner bursts go to `on_scan` as one payload. So a scan is never
typed into the focused Input, and a control character inside a burst (ctrl+q is DC1) is data,
never a binding.

Silence settles what is still buffered: a timer posts `FlushDue` to the app when the
detector's deadline has passed. It is a message, not a direct call, so it is handled after
every key queued before it — `flush_due(now)` must only run once all keys stamped before `now`
were fed, and a message's time is the moment it was queued.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.message import Message

from scanstation.config import ScannerSettings
from scanstation.sources.wedge import KeyStroke, WedgeDetector, WedgeSettings

__all__ = ["FlushDue", "KeyCapture", "wedge_settings"]


class FlushDue(Message):
    """The detector's deadline has passed: settle the keys it holds."""


def wedge_settings(scanner: ScannerSettings) -> WedgeSettings:
    return WedgeSettings(
        burst_end_ms=scanner.burst_end_ms,
        max_median_gap_ms=scanner.max_median_gap_ms,
        min_length=scanner.min_length,
        prefix=scanner.prefix,
        suffixes=tuple(scanner.suffixes),
        split_gap_ms=min(20.0, scanner.max_median_gap_ms),
    )


class KeyCapture:
    """Holds keys until the detector decides; returns the ones to replay."""

    def __init__(self, settings: WedgeSettings, on_scan: Callable[[str, float], None]) -> None:
        self._detector = WedgeDetector(settings, on_scan, self._hand_back)
        self._replay: list[events.Key] = []

    @property
    def pending(self) -> bool:
        return self._detector.pending

    def deadline(self) -> float | None:
        return self._detector.deadline()

    def feed(self, event: events.Key) -> list[events.Key]:
        """Take one key; returns the keys (this one or earlier ones) a person typed."""
        self._detector.feed(KeyStroke(event.key, event.character, event.time, event))
        return self._take()

    def flush(self, now: float) -> list[events.Key]:
        """Settle what the silence up to `now` decides; returns keys to replay."""
        self._detector.flush_due(now)
        return self._take()

    def _hand_back(self, keys: list[KeyStroke]) -> None:
        for stroke in keys:
            assert isinstance(stroke.token, events.Key)
            self._replay.append(stroke.token)

    def _take(self) -> list[events.Key]:
        keys, self._replay = self._replay, []
        return keys
