"""F1: every key of the station, read from the bindings themselves so it cannot drift."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from scanstation.tui.screens.dialog import StationDialog

__all__ = ["HelpScreen", "KeyHelp"]

KeyHelp = tuple[str, str]  # (key as shown, what it does)

# Keys Textual or the capture give meaning to, which no BINDINGS list names.
EXTRA_KEYS: tuple[tuple[str, tuple[KeyHelp, ...]], ...] = (
    (
        "Everywhere",
        (
            ("^p", "command palette: modes, documents, every action by name"),
            ("tab / shift+tab", "move between the manual field and the portlets"),
            ("esc", "restore a maximised portlet; close a dialog"),
        ),
    ),
    (
        "Manual entry field",
        (
            ("/", "jump to the field (from a portlet)"),
            ("⏎", "scan what was typed"),
            ("esc", "back to the scanned list"),
        ),
    ),
    (
        "Scanning",
        (
            ("scanner", "scans are caught whatever has focus; no need to click anywhere"),
            ("paste", "each pasted line is one scan"),
        ),
    ),
)


def binding_rows(
    bindings: Iterable[BindingType], display: Callable[[Binding], str] | None = None
) -> list[KeyHelp]:
    """(key, description) for each Binding; `display` is the app's key display (F1, ^o)."""
    rows = []
    for binding in bindings:
        if isinstance(binding, Binding):
            shown = display(binding) if display else binding.key.replace(",", " / ")
            rows.append((shown, binding.tooltip or binding.description or binding.action))
    return rows


class HelpScreen(StationDialog[None]):
    """Any of F1, Escape or q closes it."""

    @classmethod
    def for_station(
        cls, keys: Iterable[BindingType], display: Callable[[Binding], str]
    ) -> HelpScreen:
        """The station's keys, then the lists', then what every dialog takes."""
        from scanstation.tui.widgets.activity import ActivityLog
        from scanstation.tui.widgets.scanned import ScannedList

        return cls(
            [
                ("Station", binding_rows(keys, display)),
                ("Scanned list", binding_rows(ScannedList.BINDINGS, display)),
                ("Activity Log", binding_rows(ActivityLog.BINDINGS, display)),
                ("Dialogs", [("⏎", "choose / save"), ("esc", "cancel")]),
            ]
        )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close help"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > VerticalScroll {
            width: 86;
            max-width: 96%;
            height: auto;
            max-height: 94%;
            border: thick $accent;
            border-title-style: bold;
            background: $surface;
            padding: 0 2;
        }
    }
    """

    def __init__(self, sections: list[tuple[str, list[KeyHelp]]]) -> None:
        super().__init__()
        self.sections = sections + [(title, list(rows)) for title, rows in EXTRA_KEYS]

    def compose(self) -> ComposeResult:
        box = VerticalScroll()
        box.border_title = "Keys — F1, Escape or q closes"
        with box:
            yield Static(self.text(), id="help-text")

    def text(self) -> Content:
        width = max(len(key) for _, rows in self.sections for key, _ in rows)
        lines: list[Content] = []
        for title, rows in self.sections:
            if lines:
                lines.append(Content(""))
            lines.append(Content.styled(title, "bold $text-accent"))
            for key, description in rows:
                lines.append(Content.assemble((f"  {key:<{width}}", "bold"), "  ", description))
        return Content("\n").join(lines)

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
