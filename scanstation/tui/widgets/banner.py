"""The banner: the last answer, in a colour and one sentence a worker reads from two metres.

OK is green, ALREADY amber, REJECTED/UNKNOWN/CONFLICT and NOT SAVED red, LOOKUP blue (it
recorded nothing, so it never looks like an OK). Each answer carries its running scan number
("#37") and flashes as it arrives, so an answer identical to the last one is still visibly
new; its age ticks on the right, and after `stale_after_s` the banner turns grey ("stale"),
so an old answer is never taken for the answer to the scan just made. A scan kept waiting by
the database shows "SAVING…"; scans held while the mode is being changed show "WAITING".
On a kiosk (`big`) the answer's word is also drawn in letters three rows tall above it.

Everything shown is built from plain strings with control characters made visible: a payload
can never become markup, a link or a terminal escape here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from scanstation.domain.model import utc_now
from scanstation.domain.text import visible
from scanstation.tui.widgets.big_letters import big_width, big_word

__all__ = ["BANNER_LOOKS", "ERROR_KINDS", "Banner", "age_text"]

# kind → (symbol, label, CSS class). The symbol repeats the colour's meaning for people who
# cannot tell red from green.
BANNER_LOOKS: dict[str, tuple[str, str, str]] = {
    "ok": ("✔", "OK", "-ok"),
    "lookup": ("◆", "LOOKUP", "-lookup"),
    "already": ("●", "ALREADY", "-already"),
    "queued": ("…", "QUEUED", "-already"),
    "voided": ("↶", "VOIDED", "-already"),
    "rejected": ("✖", "REJECTED", "-error"),
    "unknown": ("?", "UNKNOWN", "-error"),
    "conflict": ("⚠", "CONFLICT", "-error"),
    "not_genuine": ("✖", "NOT GENUINE", "-error"),
    "not_saved": ("✖", "NOT SAVED", "-error"),
    "saving": ("…", "SAVING", "-waiting"),
    "held": ("⏸", "WAITING", "-waiting"),
}
ERROR_KINDS = frozenset({"rejected", "unknown", "conflict", "not_genuine", "not_saved"})
_CLASSES = ("-ok", "-lookup", "-already", "-error", "-waiting", "-idle")
MAX_SUBJECT = 48  # a long payload is cut: the sentence matters more than its tail
FLASH_S = 0.3  # how long a new answer stands out


def age_text(seconds: float) -> str:
    if seconds < 1:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"


class Banner(Static):
    """Two lines: the answer's symbol and label with the serial (or the payload), its number
    and age on the right; then the sentence."""

    DEFAULT_CSS: ClassVar[str] = """
    Banner {
        width: 1fr;
        height: auto;
        min-height: 3;
        padding: 0 2;
        content-align: left middle;
        background: $panel;
        color: $text;
        &.-roomy {
            padding: 1 2;
        }
        &.-big {
            min-height: 5;
        }
        &.-ok {
            background: $success;
            color: auto 95%;
        }
        &.-lookup {
            background: $primary;
            color: auto 95%;
        }
        &.-already {
            background: $warning;
            color: auto 95%;
        }
        &.-error {
            background: $error;
            color: auto 95%;
        }
        &.-waiting {
            background: $panel-lighten-2;
            color: $text;
        }
        &.-stale {
            background: $panel;
            color: $text-muted;
        }
        &.-flash {
            tint: $foreground 25%;
        }
    }
    """

    def __init__(
        self,
        *,
        now: Callable[[], datetime] = utc_now,
        stale_after_s: float = 10.0,
        big: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.big = big
        self.set_class(big, "-big")
        self._now = now
        self.stale_after_s = stale_after_s
        self.kind = "idle"
        self.subject = ""
        self.sentence = ""
        self.number: int | None = None  # the answer's scan number in this session
        self.shown_at: datetime | None = None  # when an answer was shown (None: no answer)
        self._headline = Content()
        self._badge = ""
        self._height = 0
        self._flash_timer: Timer | None = None

    def on_mount(self) -> None:
        self.show_idle("Ready", "Opening the database…")
        self.set_interval(1.0, self.tick)

    def on_resize(self) -> None:
        self._height = -1  # the wrap may change: the next paint lays out again
        self._paint()

    # -- what it shows -------------------------------------------------------------------------

    def show_idle(self, headline: str, sentence: str) -> None:
        """A neutral state: waiting for the first scan, starting up."""
        self._show("idle", Content.styled(visible(headline), "bold"), sentence, "", None)

    def show_outcome(
        self, kind: str, subject: str, sentence: str, *, number: int | None = None
    ) -> None:
        """An answer: `kind` is an OutcomeKind value, "lookup" or "not_saved"; `subject` the
        serial or the raw payload; `number` the scan's number in the session."""
        symbol, label, _ = BANNER_LOOKS.get(kind, ("?", kind.upper(), "-error"))
        shown = visible(subject)
        if len(shown) > MAX_SUBJECT:
            shown = shown[: MAX_SUBJECT - 1] + "…"
        headline = Content.assemble((f"{symbol} {label}", "bold"), "   ", (shown, "bold"))
        self._show(kind, headline, sentence, subject, number)
        self._flash()

    def show_saving(self, subject: str, waiting: int) -> None:
        """A scan has waited on the database for a moment: it is not answered yet."""
        more = f" ({waiting} waiting)" if waiting > 1 else ""
        self.show_outcome("saving", subject, f"Waiting for the database to save it{more}…")

    def show_held(self, count: int, sentence: str) -> None:
        """Scans read while the mode is being changed: kept, applied once it is chosen."""
        scans = "1 SCAN" if count == 1 else f"{count} SCANS"
        headline = Content.styled(f"⏸ {scans} WAITING", "bold")
        self._show("held", headline, sentence, "", None)

    # -- age, staleness, flash -----------------------------------------------------------------

    def tick(self) -> None:
        """Once a second: the age on the right, and grey once the answer is stale."""
        if self.shown_at is None:
            return
        age = (self._now() - self.shown_at).total_seconds()
        self.set_class(age >= self.stale_after_s, "-stale")
        badge = self._badge_text(age)
        if badge != self._badge:
            self._paint()

    @property
    def stale(self) -> bool:
        return self.has_class("-stale")

    @property
    def flashing(self) -> bool:
        return self.has_class("-flash")

    def _flash(self) -> None:
        self.add_class("-flash")
        if self._flash_timer is not None:
            self._flash_timer.stop()
        self._flash_timer = self.set_timer(FLASH_S, self._end_flash)

    def _end_flash(self) -> None:
        self._flash_timer = None
        self.remove_class("-flash")

    # -- painting ------------------------------------------------------------------------------

    def _show(
        self, kind: str, headline: Content, sentence: str, subject: str, number: int | None
    ) -> None:
        self.kind, self.subject, self.sentence, self.number = kind, subject, sentence, number
        self._headline = headline
        answer = kind not in ("idle", "held")
        self.shown_at = self._now() if answer else None
        css = BANNER_LOOKS[kind][2] if kind in BANNER_LOOKS else "-idle"
        for name in _CLASSES:
            self.set_class(name == css, name)
        self.remove_class("-stale")
        self._paint()

    def _badge_text(self, age: float) -> str:
        if self.shown_at is None:
            return ""
        parts = [f"#{self.number}"] if self.number is not None else []
        parts.append(("stale · " if age >= self.stale_after_s else "") + age_text(age))
        return " · ".join(parts)

    def _paint(self) -> None:
        width = max(1, self.content_region.width or self.size.width or 80)
        age = (self._now() - self.shown_at).total_seconds() if self.shown_at else 0.0
        self._badge = self._badge_text(age)
        headline = self._headline
        if self._badge:
            room = width - headline.cell_length - len(self._badge)
            if room >= 2:
                headline = Content.assemble(headline, " " * room, self._badge)
            else:
                headline = Content.assemble(headline, "  ", self._badge)
        lines = [*self._big_lines(width), headline]
        if self.sentence:
            lines.append(Content(visible(self.sentence)))
        # A layout pass costs the whole screen; only a change of height needs one.
        height = sum(max(1, -(-line.cell_length // width)) for line in lines)
        self.update(Content("\n").join(lines), layout=height != self._height)
        self._height = height

    def _big_lines(self, width: int) -> list[Content]:
        """The answer's word in big letters (a kiosk's), when it fits."""
        if not self.big or self.kind not in BANNER_LOOKS:
            return []
        word = BANNER_LOOKS[self.kind][1]
        if big_width(word) > width:
            return []
        return [Content.styled(line, "bold") for line in big_word(word)]

    @property
    def text(self) -> str:
        """What the banner shows, as plain text (for tests and the e2e check)."""
        return str(self.content)
