"""The Invoice Details portlet: the station's open document (a DC or an invoice) and how far
each of its lines has been scanned; while receiving, how much of what was dispatched on it
has arrived and which serials are still missing; and the returns that freed its lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from scanstation.domain.model import DocumentLineView, DocumentProgress, DocumentView
from scanstation.domain.stages import DocumentKind
from scanstation.domain.text import visible
from scanstation.tui.widgets.portlet import (
    MUTED,
    Bar,
    Column,
    FieldGrid,
    Portlet,
    RowTable,
    data_text,
    local_time,
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
MISSING_SHOWN = 12  # serials listed as missing; the rest are counted


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
        self.progress: DocumentProgress | None = None
        # Receive mode: each line shows what arrived of what was dispatched on the document.
        self.receiving = False
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
        self._after = Static(id="invoice-after")  # the serials still missing, the returns
        self._after.display = False
        self.set_shown(False)

    def compose(self) -> ComposeResult:
        yield self.placeholder("No open document — F3 to pick or create one")
        with Vertical(classes="portlet--body"):
            yield self._fields
            yield self._lines_title
            yield self._lines
            yield self._after

    def on_resize(self, event: events.Resize) -> None:
        super().on_resize(event)
        self.set_class(event.size.width >= WIDE_WIDTH, "-wide")

    def show_details(self, details: DetailsLoaded) -> None:
        self.show(details.document, details.progress)

    def names_changed(self) -> None:
        self._again()

    def set_receiving(self, receiving: bool) -> None:
        if receiving != self.receiving:
            self.receiving = receiving
            self._again()

    def _again(self) -> None:
        document, self.document = self.document, None
        if document is not None:
            self.show(document, self.progress)

    def show(self, document: DocumentView | None, progress: DocumentProgress | None = None) -> None:
        """Show `document` (with its arrivals and returns, when read), or the placeholder."""
        if progress is not None and progress.document != document:
            progress = None
        if document == self.document and progress == self.progress and document is not None:
            return
        self.document, self.progress = document, progress
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

        if self.receiving and progress is not None:
            self._show_arrivals(progress)
        else:
            scanned = sum(line.scanned for line in document.lines)
            expected = sum(line.quantity for line in document.lines)
            note = f"{scanned:,}/{expected:,} scanned"
            if document.shortfall:
                note += f" · {document.shortfall:,} to go"
            update_static(self._lines_title, section_title("Lines", note))
            self._lines.set_rows(_line_row(line) for line in document.lines)
            self._show_after(_returns(progress))

    def _show_arrivals(self, progress: DocumentProgress) -> None:
        """Receiving: per line, received / dispatched on the document; then what is missing."""
        lines = progress.document.lines
        received = sum(progress.received(line) for line in lines)
        dispatched = sum(line.scanned for line in lines)
        note = f"{received:,} of {dispatched:,} dispatched"
        if progress.missing:
            note += f" · {len(progress.missing):,} missing"
        update_static(self._lines_title, section_title("Received", note))
        self._lines.set_rows(
            _count_row(line, progress.received(line), line.scanned) for line in lines
        )
        missing = [visible(serial_no) for serial_no, _ in progress.missing]
        text = section_title("Still missing", "none" if not missing else "")
        if missing:
            more = len(missing) - MISSING_SHOWN
            listed = " ".join(missing[:MISSING_SHOWN]) + (
                f" … and {more:,} more" if more > 0 else ""
            )
            text = Content.assemble(text, "\n", listed)
        returned = _returns(progress)
        self._show_after(Content.assemble(text, "\n", returned) if returned else text)

    def _show_after(self, content: Content) -> None:
        """What follows the lines (missing serials, returns); no line at all when nothing."""
        self._after.display = bool(content)
        update_static(self._after, content)

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
    return _count_row(line, line.scanned, line.quantity)


def _count_row(line: DocumentLineView, done: int, expected: int) -> tuple[Content | Bar, ...]:
    if done > expected:
        bar_style, count_style = "$error", "bold $text-error"
    elif not expected:  # nothing to count yet (none dispatched on it)
        bar_style, count_style = "$primary", MUTED
    elif done >= expected:
        bar_style, count_style = "$success", "bold $text-success"
    else:
        bar_style, count_style = "$primary", ""
    return (
        data_text(line.sku),
        data_text(line.item_name, MUTED),
        Bar(done, expected, bar_style),
        Content.styled(f"{done:,}/{expected:,}", count_style),
    )


def _returns(progress: DocumentProgress | None) -> Content:
    """ "Returned  SN… 10:02 by op-1": the returns that freed a line (empty: none)."""
    if progress is None or not progress.returns:
        return Content()
    listed = ", ".join(
        f"{visible(back.serial_no)} {local_time(back.at, '%d %b %H:%M')} by {visible(back.by)}"
        for back in progress.returns
    )
    return Content.assemble(section_title("Returned", f"{len(progress.returns)}"), "\n", listed)
