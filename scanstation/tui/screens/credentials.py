"""Who is there: a badge or a name, then a PIN. The sign-in screen and a supervisor's approval
are this one dialog with different words.

Scanning a badge fills the name (the station hands a scan that is a known badge over with
`take_badge`); a PIN is typed in a masked field. The dialog stays open while the PIN is
checked (off the UI thread) and says why when it is refused; only then does it close.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Input, Label, Static

from scanstation.domain.text import visible
from scanstation.tui.screens.dialog import StationDialog

__all__ = ["CredentialsPrompt"]

PIN_LENGTHS = range(4, 13)


class CredentialsPrompt(StationDialog[str | None]):
    """Dismissed with the name of the person once the station accepted them (None: Escape,
    where `cancellable`)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    DEFAULT_CSS = """
    CredentialsPrompt {
        & > #credentials-box {
            width: 64;
            border: thick $primary;
        }
        &.-approval > #credentials-box {
            border: thick $warning;
        }
        #credentials-error {
            color: $text-error;
            text-style: bold;
            width: 1fr;
            height: auto;
        }
        .credentials-row {
            height: 1;
            margin-top: 1;
        }
        .credentials-label {
            width: 16;
        }
        #credentials-pin-row {
            display: none;
            &.-shown {
                display: block;
            }
        }
    }
    """

    def __init__(
        self,
        title: str,
        note: str,
        *,
        on_entered: Callable[[CredentialsPrompt, str, str], None],
        cancellable: bool,
        approval: bool = False,
    ) -> None:
        super().__init__()
        self._on_entered = on_entered  # (this dialog, name or badge, PIN): check them
        self.prompt_title = title
        self.note = note
        self.cancellable = cancellable
        self.checking = False
        self.name_input = Input(
            placeholder="scan your badge, or type your name and Enter",
            id="credentials-name",
            max_length=100,
            compact=True,
        )
        self.pin_input = Input(
            placeholder="PIN, then Enter",
            password=True,
            restrict=r"[0-9]*",
            max_length=max(PIN_LENGTHS),
            id="credentials-pin",
            compact=True,
        )
        self.error = Static("", id="credentials-error")
        if approval:
            self.add_class("-approval")

    def compose(self) -> ComposeResult:
        with Vertical(id="credentials-box", classes="dialog-box"):
            yield Label(Content(visible(self.prompt_title)), classes="dialog-title")
            yield Label(Content(visible(self.note)), classes="dialog-note")
            yield self.waiting
            with Horizontal(classes="credentials-row"):
                yield Label(Content("Badge or name ›"), classes="credentials-label")
                yield self.name_input
            with Horizontal(id="credentials-pin-row", classes="credentials-row"):
                yield Label(Content("PIN ›"), classes="credentials-label")
                yield self.pin_input
            yield self.error
            keys = "Enter: next · Escape: cancel" if self.cancellable else "Enter: next"
            yield Label(Content(keys), classes="dialog-note")

    def on_mount(self) -> None:
        self.name_input.focus()

    # -- steps ---------------------------------------------------------------------------------

    @property
    def at_pin(self) -> bool:
        return self.query_one("#credentials-pin-row").has_class("-shown")

    def take_badge(self, badge: str) -> None:
        """A scanned badge: the name step is done."""
        self.name_input.value = badge
        self._to_pin()

    def take_pin(self, pin: str) -> None:
        """A PIN that arrived as fast as a scan (typed quickly): never a scan."""
        self.pin_input.value = pin
        self._submit()

    def _to_pin(self) -> None:
        self.error.update("")
        self.query_one("#credentials-pin-row").add_class("-shown")
        self.pin_input.value = ""
        self.pin_input.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input is self.name_input:
            if event.value.strip():
                self._to_pin()
            else:
                self.error.update(Content("Scan your badge or type your name first"))
        else:
            self._submit()

    def _submit(self) -> None:
        name, pin = self.name_input.value.strip(), self.pin_input.value
        if self.checking:
            return
        if len(pin) not in PIN_LENGTHS or not pin.isdigit():
            self.error.update(Content("A PIN is 4 to 12 digits"))
            self.pin_input.value = ""
            return
        self.checking = True
        self.error.update(Content("Checking…"))
        self._on_entered(self, name, pin)

    def refused(self, sentence: str) -> None:
        """The station refused the PIN (or the name): say why, ask for the PIN again."""
        self.checking = False
        self.error.update(Content(visible(sentence)))
        self.pin_input.value = ""
        if self.at_pin:
            self.pin_input.focus()

    def action_back(self) -> None:
        """Escape: from the PIN back to the name; from the name, cancel where allowed."""
        if self.checking:
            return
        if self.at_pin:
            self.query_one("#credentials-pin-row").remove_class("-shown")
            self.pin_input.value = ""
            self.error.update("")
            self.name_input.focus()
        elif self.cancellable:
            self.dismiss(None)
