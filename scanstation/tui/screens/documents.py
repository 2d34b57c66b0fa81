"""Ctrl+K: every document with its state and receipt progress, searchable by a piece of its
reference, DC or invoice no or destination (`open` as a word: open ones only); Enter opens it
in Invoice Details."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from scanstation.domain.reports import DocumentSummary
from scanstation.domain.text import visible
from scanstation.tui.screens.paged import Page, PagedScreen

if TYPE_CHECKING:
    from scanstation.station import Station

__all__ = ["DocumentsScreen", "progress_bar"]

BAR, NARROW_BAR = 10, 5


def progress_bar(done: int, total: int, width: int = BAR) -> Text:
    """`███████░░░ 70/100`: how much of `total` is done."""
    filled = round(width * done / total) if total else 0
    bar = Text("█" * filled, style="green")
    bar.append("░" * (width - filled), style="dim")
    bar.append(f" {done}/{total}")
    return bar


def _row(summary: DocumentSummary, bar: int) -> tuple[str | Text, ...]:
    return (
        visible(summary.reference_no),
        "DC" if summary.kind == "dc" else "INV",
        Text(summary.state, style="bold" if summary.state == "open" else "dim"),
        visible(f"{summary.from_site} → {summary.destination}"),
        progress_bar(summary.dispatched, summary.expected, bar),
        progress_bar(summary.received, summary.dispatched, bar),
    )


class DocumentsScreen(PagedScreen[int]):
    TITLE_TEXT = "Documents"
    HINT = "a piece of the reference, DC or invoice no or destination; `open`: open ones only"
    PLACEHOLDER = "DC-1042 open"
    GROUP = "documents"
    HOLDS_SCANS_AS = "Documents"
    _bar = NARROW_BAR

    def columns(self) -> list[tuple[str, int | None]]:
        bar = self.bar_width()
        wide = bar == BAR
        return [
            ("Reference", 10),
            ("Kind", 4),
            ("State", 6),
            ("From → to", 28 if wide else 18),
            ("Dispatched", bar + 8),
            ("Received", bar + 8),
        ]

    def bar_width(self) -> int:
        return BAR if self.app.size.width >= 120 else NARROW_BAR

    def prepare(self) -> None:
        self._bar = self.bar_width()  # read here: `fetch` runs on a reader thread

    def criteria(self, text: str) -> dict[str, Any]:
        words = text.split()
        only_open = any(word.lower() == "open" for word in words)
        rest = " ".join(word for word in words if word.lower() != "open")
        return {"state": "open" if only_open else None, "search": rest or None}

    def fetch(self, door: Station, criteria: Any, after: int | None, limit: int) -> Page[int]:
        found = door.document_list(**criteria, after_id=after or 0, limit=limit)
        rows = [(summary.reference_no, _row(summary, self._bar)) for _, summary in found]
        last = found[-1][0] if found else None
        return Page(rows, last, len(found) == limit)
