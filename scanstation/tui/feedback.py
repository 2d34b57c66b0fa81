"""How the station answers a worker: the banner, the "last problem" strip and the bell.

A burst of answers is shown once: the banner shows the last one (with its scan number), and
the bell rings the pattern of the worst (an error is never drowned by an OK). A red answer
that later scans push off the banner, or that never reached it within a burst, stays in the
strip under the banner for `[feedback] hold_error_s`. A scan the database keeps waiting more
than SAVING_AFTER_S shows "SAVING…"; one it refuses shows NOT SAVED, said once per scan, in
words for a worker (the technical cause goes to the Activity Log and the log file).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from textual._time import get_time

from scanstation.domain.outcome import OutcomeKind
from scanstation.tui.screens.mode_picker import mode_summary
from scanstation.tui.widgets.banner import ERROR_KINDS

if TYPE_CHECKING:
    from textual.timer import Timer
    from textual.widget import Widget

    from scanstation.config import FeedbackSettings
    from scanstation.domain.model import ScanEvent
    from scanstation.domain.outcome import ScanOutcome
    from scanstation.tui.probe import StationHooks
    from scanstation.tui.station_state import StationState
    from scanstation.tui.widgets.banner import Banner
    from scanstation.tui.widgets.problem import ProblemStrip

__all__ = ["Answer", "Feedback", "severity"]

BELL_SPACING_S = 0.18  # bells closer than this merge into one on most terminals
SAVING_AFTER_S = 0.15  # a scan unanswered this long shows "SAVING…"
TICK_S = 0.05
NOT_SAVED_SENTENCE = "The database is busy; the scan is kept and will be saved"

_SEVERITY = {"ok": 0, "lookup": 0, "queued": 1, "already": 1, "voided": 1}


def severity(kind: str) -> int:
    """0 for a success, 1 for a warning (ALREADY, QUEUED), 2 for an error."""
    return _SEVERITY.get(kind, 2)


@dataclass(frozen=True, slots=True)
class Answer:
    """One scan's answer as the station shows it: `kind` is the outcome's, except a lookup's
    OK, which is "lookup" (it recorded nothing)."""

    ticket: int
    kind: str
    outcome: ScanOutcome

    @property
    def subject(self) -> str:
        return self.outcome.serial_no or self.outcome.event.payload


class Feedback:
    """Owns the banner's words, the problem strip and the bell for one station screen."""

    def __init__(
        self,
        owner: Widget,
        banner: Banner,
        strip: ProblemStrip,
        settings: FeedbackSettings,
        hooks: StationHooks,
        now: Callable[[], datetime],
    ) -> None:
        self._owner = owner  # for timers and the app's bell
        self.banner = banner
        self.strip = strip
        self._settings = settings
        self._hooks = hooks
        self._now = now
        self._bell_timers: list[Timer] = []
        self._waiting: dict[int, tuple[str, float]] = {}  # ticket → (payload, read at)
        self._last_answer_at = 0.0
        self._timer: Timer | None = None

    def start(self) -> None:
        self._timer = self._owner.set_interval(TICK_S, self._tick)

    # -- the banner ----------------------------------------------------------------------------

    def ready(self, state: StationState) -> None:
        """Waiting for the first scan in this mode."""
        self.banner.show_idle(
            f"Ready — {state.mode.value.upper()} at {state.site_label}",
            f"{mode_summary(state.mode, state.site_kind)}. Scan a label.",
        )

    def idle(self, headline: str, sentence: str) -> None:
        self.banner.show_idle(headline, sentence)

    def held(self, count: int, sentence: str) -> None:
        self.banner.show_held(count, sentence)

    def scan_read(self, ticket: int, payload: str) -> None:
        """A scan went to the worker: it shows "SAVING…" if its answer is slow to come."""
        self._waiting[ticket] = (payload, get_time())

    def answers(self, shown: Sequence[Answer]) -> None:
        """A batch of answers, oldest first: the last on the banner, earlier problems in the
        strip, the worst on the bell."""
        for answer in shown:
            self._waiting.pop(answer.ticket, None)
        self._last_answer_at = get_time()
        banner = self.banner
        now = self._now()
        # What leaves the banner: the answer on it now, then all but the last of the batch.
        leaving: list[tuple[str, str, str, int | None, datetime]] = []
        if banner.kind in ERROR_KINDS and banner.shown_at is not None:
            leaving.append(
                (banner.kind, banner.subject, banner.sentence, banner.number, banner.shown_at)
            )
        leaving += [
            (a.kind, a.subject, a.outcome.message, a.ticket, now)
            for a in shown[:-1]
            if a.kind in ERROR_KINDS
        ]
        problems = [item for item in leaving if item[0] in ERROR_KINDS]
        if problems:
            kind, subject, sentence, number, at = problems[-1]
            hold = timedelta(seconds=self._settings.hold_error_s)
            if now < at + hold:
                self.strip.hold(
                    kind,
                    subject,
                    sentence,
                    number=number,
                    at=at,
                    until=max(at + hold, now + timedelta(seconds=1)),
                    more=len(problems) - 1,
                )
        last = shown[-1]
        banner.show_outcome(last.kind, last.subject, last.outcome.message, number=last.ticket)
        self.ring(max((answer.kind for answer in shown), key=severity))

    def correction(self, kind: str, outcome: ScanOutcome) -> None:
        """A void's answer: on the banner like a scan's (no scan number: nothing was read)."""
        subject = outcome.serial_no or outcome.event.payload
        self.banner.show_outcome(kind, subject, outcome.message)
        self.ring(kind)

    def not_saved(self, ticket: int, event: ScanEvent, retry_in: float, waiting: int) -> None:
        """The database refused a scan: it is kept and retried."""
        self._waiting.pop(ticket, None)
        self.banner.show_outcome(
            "not_saved",
            event.payload,
            f"{NOT_SAVED_SENTENCE} (again in {retry_in:.0f} s; F9 tries now) · {waiting} waiting",
            number=ticket,
        )

    def failed(self, reason: str) -> None:
        """The station cannot start."""
        self.banner.show_outcome("not_saved", "", reason)

    def _tick(self) -> None:
        self.strip.tick()
        if not self._waiting or self.banner.kind in ("saving", "not_saved", "held"):
            return
        now = get_time()
        ticket = min(self._waiting)
        payload, read_at = self._waiting[ticket]
        if now - max(read_at, self._last_answer_at) >= SAVING_AFTER_S:
            self.banner.show_saving(payload, len(self._waiting))

    # -- the bell ------------------------------------------------------------------------------

    def ring(self, kind: str) -> None:
        """The pattern for an answer kind (or "not_saved"), as `[feedback]` sets it."""
        settings = self._settings
        if not settings.bell:
            return
        if kind == OutcomeKind.OK:
            count = settings.bells_ok
        elif kind == "lookup":
            count = settings.bells_lookup
        elif kind in (OutcomeKind.ALREADY, OutcomeKind.QUEUED):
            count = settings.bells_already
        else:
            count = settings.bells_error
        for timer in self._bell_timers:
            timer.stop()  # a new answer's pattern replaces the one still ringing
        self._bell_timers = []
        for index in range(count):
            if index == 0:
                # After the answer's frame: the bell then joins the frame's write to the
                # terminal instead of waking the writer thread once more ahead of it.
                self._owner.call_after_refresh(self._ring_once)
            else:
                timer = self._owner.set_timer(index * BELL_SPACING_S, self._ring_once)
                self._bell_timers.append(timer)

    def _ring_once(self) -> None:
        self._hooks.bell()
        self._owner.app.bell()
