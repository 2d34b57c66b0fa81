"""The banner: the last outcome, in a colour and one sentence a worker reads from two metres.

OK is green, ALREADY amber, REJECTED/UNKNOWN/CONFLICT and NOT SAVED red. Everything shown is
built from plain strings with control characters made visible: a payload can never become
markup, a link or a terminal escape here.
"""

from __future__ import annotations

from typing import ClassVar

from textual.content import Content
from textual.widgets import Static

from scanstation.domain.codes import visible

__all__ = ["BANNER_LOOKS", "Banner"]

# kind → (symbol, label, CSS class). The symbol repeats the colour's meaning for people who
# cannot tell red from green.
BANNER_LOOKS: dict[str, tuple[str, str, str]] = {
    "ok": ("✔", "OK", "-ok"),
    "already": ("●", "ALREADY", "-already"),
    "queued": ("…", "QUEUED", "-already"),
    "rejected": ("✖", "REJECTED", "-error"),
    "unknown": ("?", "UNKNOWN", "-error"),
    "conflict": ("⚠", "CONFLICT", "-error"),
    "not_saved": ("✖", "NOT SAVED", "-error"),
}
_CLASSES = ("-ok", "-already", "-error", "-idle")
MAX_SUBJECT = 48  # a long payload is cut: the sentence matters more than its tail


class Banner(Static):
    """Two lines: the outcome's symbol and label with the serial (or the payload), then the
    service's sentence."""

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
        &.-ok {
            background: $success;
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
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.kind = "idle"
        self._height = 0
        self.subject = ""
        self.sentence = ""

    def on_mount(self) -> None:
        self.show_idle("Ready", "Opening the database…")

    def on_resize(self) -> None:
        self._height = -1  # the wrap may change: the next update lays out again

    def show_idle(self, headline: str, sentence: str) -> None:
        """A neutral state: waiting for the first scan, starting up."""
        self._paint("idle", Content.styled(visible(headline), "bold"), sentence, "")

    def show_outcome(self, kind: str, subject: str, sentence: str) -> None:
        """`kind` is an OutcomeKind value or "not_saved"; `subject` the serial or raw payload."""
        symbol, label, _ = BANNER_LOOKS.get(kind, ("?", kind.upper(), "-error"))
        shown = visible(subject)
        if len(shown) > MAX_SUBJECT:
            shown = shown[: MAX_SUBJECT - 1] + "…"
        headline = Content.assemble((f"{symbol} {label}", "bold"), "   ", (shown, "bold"))
        self._paint(kind, headline, sentence, subject)

    def _paint(self, kind: str, headline: Content, sentence: str, subject: str) -> None:
        self.kind, self.subject, self.sentence = kind, subject, sentence
        css = BANNER_LOOKS[kind][2] if kind in BANNER_LOOKS else "-idle"
        for name in _CLASSES:
            self.set_class(name == css, name)
        lines = [headline]
        if sentence:
            lines.append(Content(visible(sentence)))
        # A layout pass costs the whole screen; only a change of height needs one.
        width = max(1, self.content_region.width or self.size.width or 80)
        height = sum(max(1, -(-line.cell_length // width)) for line in lines)
        self.update(Content("\n").join(lines), layout=height != self._height)
        self._height = height

    @property
    def text(self) -> str:
        """What the banner shows, as plain text (for tests and the e2e check)."""
        return str(self.content)
