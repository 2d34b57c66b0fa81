"""The "last problem" strip under the banner: a red answer that later scans pushed off the
banner stays readable here for `[feedback] hold_error_s`, without holding those scans back.
One line; hidden while there is nothing to hold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from textual.content import Content
from textual.widgets import Static

from scanstation.domain.text import visible
from scanstation.tui.widgets.banner import BANNER_LOOKS, age_text

__all__ = ["ProblemStrip"]

MAX_SUBJECT = 32


class ProblemStrip(Static):
    DEFAULT_CSS: ClassVar[str] = """
    ProblemStrip {
        width: 1fr;
        height: 1;
        padding: 0 2;
        background: $error-muted;
        color: $text-error;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        display: none;
        &.-shown {
            display: block;
        }
    }
    """

    def __init__(self, now: Callable[[], datetime], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._now = now
        self.kind = ""
        self.subject = ""
        self.sentence = ""
        self.number: int | None = None
        self.at: datetime | None = None  # when the problem was answered
        self.until: datetime | None = None  # shown until then
        self.more = 0  # other problems held back at the same time

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")

    def hold(
        self,
        kind: str,
        subject: str,
        sentence: str,
        *,
        number: int | None,
        at: datetime,
        until: datetime,
        more: int = 0,
    ) -> None:
        """Show this problem until `until` (a newer one replaces it)."""
        self.kind, self.subject, self.sentence, self.number = kind, subject, sentence, number
        self.at, self.until, self.more = at, until, more
        self.add_class("-shown")
        self._paint()

    def tick(self) -> None:
        """Hide once its time is up; otherwise keep its age current."""
        if not self.shown or self.until is None:
            return
        if self._now() >= self.until:
            self.remove_class("-shown")
            self.until = None
            return
        self._paint()

    def _paint(self) -> None:
        if self.at is None:
            return
        symbol, label, _ = BANNER_LOOKS.get(self.kind, ("✖", self.kind.upper(), ""))
        subject = visible(self.subject)
        if len(subject) > MAX_SUBJECT:
            subject = subject[: MAX_SUBJECT - 1] + "…"
        age = age_text((self._now() - self.at).total_seconds())
        number = f"#{self.number} · " if self.number is not None else ""
        more = f" (+{self.more} more)" if self.more else ""
        self.update(
            Content.assemble(
                ("last problem: ", "bold"),
                (f"{symbol} {label}", "bold"),
                f"  {subject}  — ",
                visible(self.sentence),
                f"  · {number}{age}{more}",
            ),
            layout=False,
        )

    @property
    def text(self) -> str:
        return str(self.content) if self.shown else ""
