"""How the station answers a worker: the banner and the bell.

A burst of answers is shown once: the banner shows the last one, and the bell rings the
pattern of the worst (an error is never drowned by an OK). A new pattern replaces one still
ringing. A scan the database refused (NOT SAVED) is said once per scan, not at every retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from scanstation.domain.outcome import OutcomeKind
from scanstation.tui.screens.mode_picker import mode_summary

if TYPE_CHECKING:
    from textual.timer import Timer
    from textual.widget import Widget

    from scanstation.config import FeedbackSettings
    from scanstation.domain.model import ScanEvent
    from scanstation.domain.outcome import ScanOutcome
    from scanstation.tui.probe import StationHooks
    from scanstation.tui.station_state import StationState
    from scanstation.tui.widgets.banner import Banner

__all__ = ["Feedback", "severity"]

BELL_SPACING_S = 0.18  # bells closer than this merge into one on most terminals

_SEVERITY = {"ok": 0, "queued": 1, "already": 1}


def severity(kind: str) -> int:
    """0 for a success, 1 for a warning (ALREADY, QUEUED), 2 for an error."""
    return _SEVERITY.get(kind, 2)


class Feedback:
    """Owns the banner's words and the bell's patterns for one station screen."""

    def __init__(
        self,
        owner: Widget,
        banner: Banner,
        settings: FeedbackSettings,
        hooks: StationHooks,
    ) -> None:
        self._owner = owner  # for timers and the app's bell
        self.banner = banner
        self._settings = settings
        self._hooks = hooks
        self._bell_timers: list[Timer] = []

    # -- the banner ----------------------------------------------------------------------------

    def ready(self, state: StationState) -> None:
        """Waiting for the first scan in this mode."""
        self.banner.show_idle(
            f"Ready — {state.mode.value.upper()} at {state.site_label}",
            f"{mode_summary(state.mode, state.site_kind)}. Scan a label.",
        )

    def idle(self, headline: str, sentence: str) -> None:
        self.banner.show_idle(headline, sentence)

    def outcomes(self, shown: Sequence[ScanOutcome]) -> None:
        """A batch of answers, oldest first: the last on the banner, the worst on the bell."""
        last = shown[-1]
        self.banner.show_outcome(
            last.kind.value, last.serial_no or last.event.payload, last.message
        )
        self.ring(max((outcome.kind.value for outcome in shown), key=severity))

    def not_saved(
        self, event: ScanEvent, error: str, retry_in: float, waiting: int, *, first: bool
    ) -> None:
        """The database refused a scan: it is kept and retried; rung once per scan."""
        self.banner.show_outcome(
            "not_saved",
            event.payload,
            f"{error} — the scan is kept and retried in {retry_in:.0f} s "
            f"(F9 retries now) · {waiting} waiting",
        )
        if first:
            self.ring("not_saved")

    def failed(self, reason: str) -> None:
        """The station cannot start."""
        self.banner.show_outcome("not_saved", "", reason)

    # -- the bell ------------------------------------------------------------------------------

    def ring(self, kind: str) -> None:
        """The pattern for an outcome kind (or "not_saved"), as `[feedback]` sets it."""
        settings = self._settings
        if not settings.bell:
            return
        if kind == OutcomeKind.OK:
            count = settings.bells_ok
        elif kind in (OutcomeKind.ALREADY, OutcomeKind.QUEUED):
            count = settings.bells_already
        else:
            count = settings.bells_error
        for timer in self._bell_timers:
            timer.stop()  # a new outcome's pattern replaces the one still ringing
        self._bell_timers = []
        for index in range(count):
            if index == 0:
                self._ring_once()
            else:
                timer = self._owner.set_timer(index * BELL_SPACING_S, self._ring_once)
                self._bell_timers.append(timer)

    def _ring_once(self) -> None:
        self._hooks.bell()
        self._owner.app.bell()
