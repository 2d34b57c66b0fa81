"""What every dialog over the station shares: it never covers the header, the banner or the
"last problem" strip (the station keeps them clear above every screen pushed over it, see
`TopRowsClear`), and it can say how many scans wait for it to close."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

__all__ = ["StationDialog", "TopRowsClear", "WaitingNote", "keep_below"]

CHECK_S = 0.2  # while a screen is over the station: how often its top rows are checked

ResultT = TypeVar("ResultT")


def keep_below(screen: Screen[object], rows: int) -> None:
    """Move `screen`'s box (its first child of its own) below the top `rows` of the terminal.
    By margin: padding the screen would move the station drawn through it as well."""
    # Textual may mount its notifications' rack first: the box is the first child of ours.
    box = next((c for c in screen.children if not c.has_class("-textual-system")), None)
    if not rows or box is None:
        return
    margin = box.styles.margin
    if margin.top != rows:
        box.styles.margin = (rows, margin.right, margin.bottom, margin.left)
        box.styles.max_height = max(3, screen.size.height - rows)


class TopRowsClear:
    """Whatever screen is over the station (a dialog, help, the command palette) keeps its box
    below the station's top rows (the header, the banner and the problem strip), so they stay
    readable. Checked again every CHECK_S while covered: a screen may lay its box out anew."""

    def __init__(self, station: Screen[Any], rows: Callable[[], int]) -> None:
        self._station = station
        self._rows = rows  # how many rows to keep clear, now
        self._timer = station.set_interval(CHECK_S, self.check, pause=True)

    def covered(self) -> None:
        self._station.add_class("-behind")  # dims the station under the screen over it
        self._station.call_after_refresh(self.check)
        self._timer.resume()

    def uncovered(self) -> None:
        self._station.remove_class("-behind")
        self._timer.pause()

    def check(self) -> None:
        top = self._station.app.screen
        if top is not self._station:
            keep_below(top, self._rows())


class WaitingNote(Static):
    """ "2 scans waiting — they are applied in the mode you choose"; hidden while none wait."""

    DEFAULT_CSS: ClassVar[str] = """
    WaitingNote {
        width: 1fr;
        height: auto;
        padding: 0 1;
        background: $warning-muted;
        color: $text-warning;
        text-style: bold;
        display: none;
        &.-shown {
            display: block;
        }
    }
    """

    def __init__(self) -> None:
        super().__init__(classes="waiting-note")
        self.count = 0

    def show_count(self, count: int, then: str) -> None:
        self.count = count
        self.set_class(count > 0, "-shown")
        if count:
            scans = "1 scan waiting" if count == 1 else f"{count} scans waiting"
            self.update(Content(f"⏸ {scans} — {then}"))


class StationDialog(ModalScreen[ResultT]):
    """A dialog over the station. `waiting` counts the scans held until it closes (shown
    only by dialogs that put it in their layout). A small dialog lays itself out with the
    classes dialog-box, dialog-title and dialog-note."""

    DEFAULT_CSS: ClassVar[str] = """
    StationDialog {
        align: center middle;
        & > .dialog-box {
            width: 72;
            max-width: 95%;
            height: auto;
            padding: 1 2;
            border: thick $accent;
            background: $surface;
        }
        & .dialog-title {
            text-style: bold;
            width: 1fr;
        }
        & .dialog-note {
            color: $text-muted;
            width: 1fr;
            margin-bottom: 1;
        }
    }
    """

    # Scans read while it is open wait for it to close, named so in the banner ("while
    # Overview is open"); None: only the dialog flow that opened it holds them.
    HOLDS_SCANS_AS: ClassVar[str | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.waiting = WaitingNote()

    def take_scan(self, payload: str) -> bool:
        """A scan read while this dialog is on top: True when the dialog made it its own (it
        is then no scan of the station's)."""
        return False
