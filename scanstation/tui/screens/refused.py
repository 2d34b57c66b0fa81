"""Ctrl+R: the scans saved offline that the rules refused when they were replayed.

They are never dropped: each stays in the station's journal, listed here (and by `scanstation
journal show`) until a supervisor has followed it up and acknowledged it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Label, Static

from scanstation.domain.text import visible
from scanstation.tui.screens.dialog import StationDialog
from scanstation.tui.widgets.portlet import local_time

if TYPE_CHECKING:
    from scanstation.station import JournalEntry

__all__ = ["RefusedScreen"]

TIME_FORMAT = "%d %b %H:%M:%S"


class RefusedScreen(StationDialog[list[int] | None]):
    """`a` acknowledges every listed scan (dismissed with their seqs); Escape closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,ctrl+r", "close", "Close"),
        Binding("a", "acknowledge", "Acknowledge all"),
    ]

    DEFAULT_CSS = """
    RefusedScreen {
        align: center middle;
        & > #refused-box {
            width: 110;
            max-width: 95%;
            height: auto;
            max-height: 90%;
            padding: 1 2;
            border: thick $error;
            background: $surface;
        }
        #refused-title {
            text-style: bold;
            width: 1fr;
        }
        #refused-note, #refused-keys {
            color: $text-muted;
            width: 1fr;
        }
        #refused-list {
            height: auto;
            max-height: 30;
            margin: 1 0;
        }
    }
    """

    def __init__(self, entries: list[JournalEntry]) -> None:
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        count = len(self.entries)
        with Vertical(id="refused-box"):
            yield Label(
                Content(f"Refused on replay: {count} scan{'' if count == 1 else 's'}"),
                id="refused-title",
            )
            yield Label(
                Content(
                    "Saved on this terminal while the site database was unreachable, then "
                    "refused by the rules when they were sent. Follow each up, then acknowledge."
                ),
                id="refused-note",
            )
            with VerticalScroll(id="refused-list"):
                if not self.entries:
                    yield Static(Content("Nothing refused: every saved scan went through."))
                for entry in self.entries:
                    yield Static(_line(entry), classes="refused-entry")
            keys = "a: acknowledge all · Escape: close" if self.entries else "Escape: close"
            yield Label(Content(keys), id="refused-keys")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_acknowledge(self) -> None:
        self.dismiss([entry.seq for entry in self.entries] or None)


def _line(entry: JournalEntry) -> Content:
    """Scanned when, what (made visible), in which mode, by whom, and the rules' sentence."""
    outcome = entry.outcome.value.upper() if entry.outcome else "REFUSED"
    return Content.assemble(
        (local_time(entry.read_at, TIME_FORMAT), "$text-muted"),
        "  ",
        (visible(entry.serial_no or entry.payload), "bold"),
        "  ",
        (outcome, "bold $text-error"),
        f"  {entry.mode.value} at {visible(entry.site_code)} by {visible(entry.operator)}",
        "\n    ",
        visible(entry.message or ""),
    )
