"""Picks the station's document: an open one, a new one, or none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from scanstation.domain.codes import visible
from scanstation.domain.model import DocumentView

__all__ = ["DocumentChoice", "DocumentPicker"]

_NEW = "new"
_NONE = "none"


@dataclass(frozen=True, slots=True)
class DocumentChoice:
    action: Literal["pick", "new", "none"]
    reference_no: str | None = None


def _describe(document: DocumentView) -> Content:
    scanned = sum(line.scanned for line in document.lines)
    expected = sum(line.quantity for line in document.lines)
    numbers = " · ".join(visible(n) for n in (document.dc_no, document.invoice_no) if n)
    return Content.assemble(
        (f"{visible(document.reference_no):<10}", "bold"),
        "  ",
        (document.kind.value.upper(), "$text-accent"),
        "  ",
        f"{visible(document.from_site)} → {visible(document.destination)}",
        "  ",
        (f"{scanned}/{expected}", "bold"),
        ("" if document.is_open else "  closed", "$text-muted"),
        (f"  {numbers}" if numbers else "", "$text-muted"),
    )


class DocumentPicker(ModalScreen[DocumentChoice | None]):
    """Enter picks; Escape leaves the document as it was."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    DocumentPicker {
        align: center middle;
        & > Vertical {
            width: 90;
            max-width: 95%;
            height: auto;
            max-height: 90%;
            border: thick $accent;
            background: $surface;
            padding: 0 1;
        }
        #document-title {
            text-style: bold;
            padding: 1 0 0 1;
        }
        OptionList {
            height: auto;
            max-height: 24;
            border: none;
        }
    }
    """

    def __init__(
        self,
        title: str,
        documents: list[DocumentView],
        *,
        current: str | None = None,
        allow_new: bool = True,
    ) -> None:
        super().__init__()
        self.picker_title = title
        self.documents = documents
        self.current = current
        options = [
            Option(_describe(document), id=f"doc:{index}")
            for index, document in enumerate(documents)
        ]
        if allow_new:
            options.append(Option(Content.styled("+ New document…", "bold $text-success"), id=_NEW))
        options.append(Option(Content.styled("No document", "$text-muted"), id=_NONE))
        self.options = OptionList(*options, id="document-options")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content(self.picker_title), id="document-title")
            yield self.options

    def on_mount(self) -> None:
        for index, document in enumerate(self.documents):
            if document.reference_no == self.current:
                self.options.highlighted = index
        self.options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or _NONE
        if option_id == _NEW:
            self.dismiss(DocumentChoice("new"))
        elif option_id == _NONE:
            self.dismiss(DocumentChoice("none"))
        else:
            document = self.documents[int(option_id.removeprefix("doc:"))]
            self.dismiss(DocumentChoice("pick", document.reference_no))

    def action_cancel(self) -> None:
        self.dismiss(None)
