"""Picks the station's document: an existing one, a new one, or none.

Every document the station may use is handed in (read from the database by the worker); the
list shows this site's open documents first, then the other open ones, then closed ones,
and narrows as the worker types: a reference no, DC no, invoice
no, site or customer. Only the best matches are drawn, so thousands of documents cost no
more than a page. A scanned reference no, DC no or invoice no picks its document at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from scanstation.domain.model import DocumentView
from scanstation.domain.text import visible
from scanstation.tui.screens.dialog import StationDialog

__all__ = ["DocumentChoice", "DocumentPicker", "document_numbers", "match_document"]

_NEW = "new"
_NONE = "none"
SHOWN = 50  # rows drawn at once; typing narrows the rest


@dataclass(frozen=True, slots=True)
class DocumentChoice:
    action: Literal["pick", "new", "none"]
    reference_no: str | None = None
    scanned: str | None = None  # the code scanned to pick it, if it was picked by a scan


def document_numbers(document: DocumentView) -> tuple[str, ...]:
    """The numbers a document is known by: reference no, DC no, invoice no."""
    return tuple(n for n in (document.reference_no, document.dc_no, document.invoice_no) if n)


def _key(text: str) -> str:
    return text.strip(" \t").casefold()


def match_document(documents: list[DocumentView], code: str) -> DocumentView | None:
    """The document whose reference no, DC no or invoice no is `code` (case aside)."""
    wanted = _key(code)
    if not wanted:
        return None
    return next(
        (d for d in documents if any(_key(number) == wanted for number in document_numbers(d))),
        None,
    )


def _order(documents: list[DocumentView], site: str | None) -> list[DocumentView]:
    """This site's open documents, the other open ones, then closed ones; each group in the
    order the documents were made."""

    def rank(document: DocumentView) -> int:
        here = site is not None and site in (document.from_site, document.to_site)
        return 0 if document.is_open and here else 1 if document.is_open else 2

    return sorted(documents, key=rank)


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


def _haystack(document: DocumentView) -> str:
    words = [*document_numbers(document), document.from_site, document.destination]
    return " ".join(words).casefold()


class DocumentPicker(StationDialog[DocumentChoice | None]):
    """Type to narrow the list; ↓/↑ and Enter pick; Escape leaves the document as it was."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("up", "cursor(-1)", "Up", show=False),
    ]

    DEFAULT_CSS = """
    DocumentPicker {
        align: center middle;
        & > Vertical {
            width: 90;
            max-width: 95%;
            height: auto;
            max-height: 100%;
            border: thick $accent;
            background: $surface;
            padding: 0 1;
        }
        #document-title {
            text-style: bold;
            padding: 1 0 0 1;
        }
        #document-search {
            margin: 0 1;
        }
        #document-count {
            color: $text-muted;
            padding: 0 1;
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
        site: str | None = None,
    ) -> None:
        super().__init__()
        self.picker_title = title
        self.all_documents = _order(documents, site)
        self.documents = self.all_documents[:SHOWN]  # those listed now, in order
        self.current = current
        self.allow_new = allow_new
        self.search = Input(
            placeholder="type to search: reference, DC or invoice no, site, customer",
            id="document-search",
            compact=True,
        )
        self.count = Label(id="document-count")
        self._searched = ""
        self.options = OptionList(*self._options(), id="document-options")
        self._count_text("")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content(self.picker_title), id="document-title")
            yield self.waiting
            yield self.search
            yield self.count
            yield self.options

    def on_mount(self) -> None:
        for index, document in enumerate(self.documents):
            if document.reference_no == self.current:
                self.options.highlighted = index
        self.search.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.value != self._searched:
            self._searched = event.value
            self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.options.action_select()

    def _found(self, text: str) -> list[DocumentView]:
        words = text.casefold().split()
        return [d for d in self.all_documents if all(w in _haystack(d) for w in words)]

    def _options(self) -> list[Option]:
        options = [Option(_describe(d), id=f"doc:{i}") for i, d in enumerate(self.documents)]
        if self.allow_new:
            options.append(Option(Content.styled("+ New document…", "bold $text-success"), id=_NEW))
        options.append(Option(Content.styled("No document", "$text-muted"), id=_NONE))
        return options

    def _fill(self, text: str) -> None:
        self.documents = self._found(text)[:SHOWN]
        self.options.set_options(self._options())
        self.options.highlighted = 0
        self._count_text(text)

    def _count_text(self, text: str) -> None:
        total, everything = len(self._found(text)), len(self.all_documents)
        more = f" — the first {SHOWN} shown; type to narrow" if total > SHOWN else ""
        found = f"{total} of {everything}" if text.split() else f"{everything}"
        self.count.update(Content(f"{found} document{'' if everything == 1 else 's'}{more}"))

    def action_cursor(self, step: int) -> None:
        if step > 0:
            self.options.action_cursor_down()
        else:
            self.options.action_cursor_up()

    def pick_scanned(self, code: str) -> bool:
        """A scan while the picker is open: True (and picked) when it is one of the
        documents' numbers."""
        document = match_document(self.all_documents, code)
        if document is None:
            return False
        self.dismiss(DocumentChoice("pick", document.reference_no, scanned=code))
        return True

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
