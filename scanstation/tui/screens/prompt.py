"""A modal that asks for one line of text: the base of the reason and comment prompts."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Label, Static

from scanstation.domain.text import visible
from scanstation.tui.screens.dialog import StationDialog

__all__ = ["TextPrompt"]


class TextPrompt(StationDialog[str | None]):
    """Enter gives the text (it must not be blank); Escape gives None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    TextPrompt {
        #prompt-error {
            color: $text-error;
            width: 1fr;
            height: auto;
        }
    }
    """

    def __init__(
        self, title: str, note: str = "", *, placeholder: str = "", value: str = ""
    ) -> None:
        super().__init__()
        self.prompt_title = title
        self.note = note
        self.input = Input(value=value, placeholder=placeholder, id="prompt-input", max_length=500)
        self.error = Static("", id="prompt-error")

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box", classes="dialog-box"):
            yield Label(
                Content(visible(self.prompt_title)), id="prompt-title", classes="dialog-title"
            )
            yield Label(Content(visible(self.note)), id="prompt-note", classes="dialog-note")
            yield self.waiting
            yield self.input
            yield self.error
            yield Label(Content("Enter: save · Escape: cancel"), id="prompt-keys")

    def on_mount(self) -> None:
        self.input.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip(" \t")
        if not text:
            self.error.update(Content("Please type something first (Escape cancels)"))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
