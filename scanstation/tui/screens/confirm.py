"""Asks yes or no before something a worker cannot take back with one key (closing a
document): Enter or y says yes, Escape or n says no."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Label

from scanstation.domain.text import visible
from scanstation.tui.screens.dialog import StationDialog

__all__ = ["ConfirmPrompt"]


class ConfirmPrompt(StationDialog[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,y", "answer(True)", "Yes"),
        Binding("escape,n", "answer(False)", "No"),
    ]

    DEFAULT_CSS = """
    ConfirmPrompt {
        & > #confirm-box {
            width: 64;
            border: thick $warning;
        }
        #confirm-buttons {
            height: auto;
            & > Button {
                margin-right: 2;
            }
        }
    }
    """

    def __init__(
        self, title: str, note: str, *, confirm: str = "Yes", deny: str = "Keep it"
    ) -> None:
        super().__init__()
        self.prompt_title = title
        self.note = note
        self.confirm = confirm
        self.deny = deny

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="dialog-box"):
            yield Label(Content(visible(self.prompt_title)), classes="dialog-title")
            yield Label(Content(visible(self.note)), classes="dialog-note")
            with Horizontal(id="confirm-buttons"):
                yield self._button(f"{self.confirm} (Enter)", "yes", "warning")
                yield self._button(f"{self.deny} (Escape)", "no", "default")

    @staticmethod
    def _button(label: str, id: str, variant: Literal["default", "warning"]) -> Button:
        # Not focusable: Enter and Escape answer for the whole dialog, whatever has focus.
        button = Button(Content(label), variant=variant, id=id)
        button.can_focus = False
        return button

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
