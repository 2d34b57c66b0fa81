"""The Invoice Details portlet: the station's open document (a DC or an invoice) and how far
each of its lines has been scanned."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from scanstation.domain.codes import visible
from scanstation.domain.model import DocumentLineView, DocumentView
from scanstation.domain.stages import DocumentKind
from scanstation.tui.widgets.portlet import (
    MUTED,
    Bar,
    Column,
    FieldGrid,
    Portlet,
    RowTable,
    data_text,
    section_title,
    update_static,
)

if TYPE_CHECKING:
    from scanstation.tui.messages import DetailsLoaded

__all__ = ["InvoiceDetails"]

FIELDS: tuple[tuple[str, str], ...] = (
    ("reference_no", "Reference No"),
    ("state", "State"),
    ("dc_no", "DC No"),
    ("invoice_no", "Invoice No"),
    ("route", "From → To"),
)

KIND_NAMES: dict[DocumentKind, str] = {
    DocumentKind.DC: "DC",
    DocumentKind.INVOICE: "invoice",
}

WIDE_WIDTH = 72
"""From this width the header fields sit two to a row."""


class InvoiceDetails(Portlet):
    """Reference No, DC No, Invoice No, from → to and state; then each line: SKU, item name,
    a progress bar and "scanned/expected". The border subtitle is "REF · DC · INV"."""

    PORTLET_ID: ClassVar[str] = "invoice"
    TITLE: ClassVar[str] = "Invoice Details"

    DEFAULT_CSS = """
    InvoiceDetails {
        &.-wide FieldGrid {
            grid-size: 4;
            grid-columns: auto 1fr auto 1fr;
        }
        #value-reference_no {
            text-style: bold;
        }
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.document: DocumentView | None = None
        self._fields = FieldGrid(FIELDS)
        self._lines_title = Static(classes="portlet--section")
        self._lines = RowTable(
            (
                Column(max_width=16),  # SKU
                Column(min_width=6, max_width=30, flex=1, drop=1),  # item name
                Column(min_width=8, flex=2),  # bar
                Column(align="right"),  # scanned/expected
            ),
            empty="No lines",
            id="invoice-lines",
        )
        self.set_shown(False)

    def compose(self) -> ComposeResult:
        yield self.placeholder("No open document — F3 to pick or create one")
        with Vertical(classes="portlet--body"):
            yield self._fields
            yield self._lines_title
            yield self._lines

    def on_resize(self, event: events.Resize) -> None:
        super().on_resize(event)
        self.set_class(event.size.width >= WIDE_WIDTH, "-wide")

    def show_details(self, details: DetailsLoaded) -> None:
        self.show(details.document)

    def names_changed(self) -> None:
        document, self.document = self.document, None
        if document is not None:
            self.show(document)

    def show(self, document: DocumentView | None) -> None:
        """Show `document`, or the placeholder for None."""
        if document == self.document and document is not None:
            return
        self.document = document
        self.set_shown(document is not None)
        if document is None:
            self.border_subtitle = None
            return
        numbers = (document.reference_no, document.dc_no, document.invoice_no)
        self.border_subtitle = Content(" · ".join(visible(number) for number in numbers if number))

        fields = self._fields
        fields.set("reference_no", data_text(document.reference_no))
        fields.set("state", _state(document))
        fields.set("dc_no", data_text(document.dc_no))
        fields.set("invoice_no", data_text(document.invoice_no))
        fields.set("route", self._route(document))

        scanned = sum(line.scanned for line in document.lines)
        expected = sum(line.quantity for line in document.lines)
        note = f"{scanned:,}/{expected:,} scanned"
        if document.shortfall:
            note += f" · {document.shortfall:,} to go"
        update_static(self._lines_title, section_title("Lines", note))
        self._lines.set_rows(_line_row(line) for line in document.lines)

    def _route(self, document: DocumentView) -> Content:
        """ "Pune Plant (P1) → Mumbai Godown (G1)"; a customer by the name on the document."""
        if document.to_site:
            to = self.site_text(document.to_site, document.to_name)
        else:
            to = data_text(document.to_name)
        return Content.assemble(self.site_text(document.from_site), (" → ", MUTED), to)

    def field(self, key: str) -> Content:
        """What a field shows now (for tests and the app's own checks)."""
        return self._fields.value(key)


def _state(document: DocumentView) -> Content:
    kind = KIND_NAMES.get(document.kind, str(document.kind))
    if document.is_open:
        state = Content.assemble(("●", "$success"), " ", (document.state, "bold $text-success"))
    else:
        state = Content.assemble(("●", "$foreground-muted"), " ", data_text(document.state))
    state = Content.assemble(state, (f" · {kind}", MUTED))
    if document.closed_reason:
        state = Content.assemble(state, (" — ", MUTED), data_text(document.closed_reason))
    return state


def _line_row(line: DocumentLineView) -> tuple[Content | Bar, ...]:
    if line.scanned > line.quantity:
        bar_style, count_style = "$error", "bold $text-error"
    elif line.is_full:
        bar_style, count_style = "$success", "bold $text-success"
    else:
        bar_style, count_style = "$primary", ""
    return (
        data_text(line.sku),
        data_text(line.item_name, MUTED),
        Bar(line.scanned, line.quantity, bar_style),
        Content.styled(f"{line.scanned:,}/{line.quantity:,}", count_style),
    )
