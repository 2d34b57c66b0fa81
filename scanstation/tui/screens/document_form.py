"""Creates a document at the station: a DC from a plant, an invoice from a godown."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.content import Content
from textual.widgets import Input, Label, Static

from scanstation.domain.stages import DocumentKind
from scanstation.domain.text import visible
from scanstation.tui.screens.dialog import StationDialog

__all__ = ["DocumentDraft", "DocumentForm", "parse_lines"]


@dataclass(frozen=True, slots=True)
class DocumentDraft:
    kind: DocumentKind
    reference_no: str
    dc_no: str
    invoice_no: str
    to: str
    lines_text: str
    lines: tuple[tuple[str, int], ...] = ()


def parse_lines(text: str) -> list[tuple[str, int]]:
    """ "PUMP-1HP=50, FAN-1200=20" (commas, semicolons or spaces between lines)."""
    lines = []
    for part in re.split(r"[,;\s]+", text.strip()):
        if not part:
            continue
        sku, sep, quantity = part.rpartition("=")
        if not sep or not sku or not quantity.isdigit():
            raise ValueError(f"“{visible(part)}”: write each line as SKU=QTY")
        lines.append((sku, int(quantity)))
    if not lines:
        raise ValueError("A document needs at least one line, e.g. PUMP-1HP=50")
    return lines


class DocumentForm(StationDialog[DocumentDraft | None]):
    """Enter in the last field (or ctrl+s) creates it; Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Create"),
    ]

    DEFAULT_CSS = """
    DocumentForm {
        align: center middle;
        & > Vertical {
            width: 80;
            max-width: 95%;
            height: auto;
            border: thick $accent;
            background: $surface;
            padding: 1 2;
        }
        #form-title {
            text-style: bold;
            margin-bottom: 1;
        }
        Grid {
            grid-size: 2;
            grid-columns: 16 1fr;
            grid-rows: auto;
            height: auto;
        }
        Grid > Label {
            padding-top: 0;
            color: $text-muted;
        }
        Input {
            width: 1fr;
        }
        #form-error {
            color: $text-error;
            height: auto;
        }
    }
    """

    def __init__(
        self,
        kind: DocumentKind,
        from_site: str,
        draft: DocumentDraft | None = None,
        error: str = "",
    ) -> None:
        super().__init__()
        self.kind = kind
        self.from_site = from_site
        self.initial_error = error
        self.fields = {
            "reference_no": Input(
                value=draft.reference_no if draft else "", placeholder="REF-2001", compact=True
            ),
            "dc_no": Input(value=draft.dc_no if draft else "", placeholder="DC-2001", compact=True),
            "invoice_no": Input(
                value=draft.invoice_no if draft else "",
                placeholder="INV-2001" if kind is DocumentKind.INVOICE else "(invoices only)",
                compact=True,
            ),
            "to": Input(
                value=draft.to if draft else "",
                placeholder="G1" if kind is DocumentKind.DC else "customer name or godown code",
                compact=True,
            ),
            "lines": Input(
                value=draft.lines_text if draft else "",
                placeholder="PUMP-1HP=50, FAN-1200=20",
                compact=True,
            ),
        }
        for key, field in self.fields.items():
            field.id = f"form-{key}"
        self.error = Static(Content(visible(error)), id="form-error")

    def compose(self) -> ComposeResult:
        kind = "DC (delivery challan)" if self.kind is DocumentKind.DC else "Invoice"
        with Vertical():
            yield Label(
                Content(f"New {kind} from {visible(self.from_site)} — Escape cancels"),
                id="form-title",
            )
            yield self.waiting
            with Grid():
                for label, key in (
                    ("Reference No", "reference_no"),
                    ("DC No", "dc_no"),
                    ("Invoice No", "invoice_no"),
                    ("To", "to"),
                    ("Lines", "lines"),
                ):
                    yield Label(Content(label))
                    yield self.fields[key]
            yield self.error

    def on_mount(self) -> None:
        self.fields["reference_no"].focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input is self.fields["lines"]:
            self.action_save()
        else:
            self.focus_next()

    def action_save(self) -> None:
        values = {key: field.value.strip() for key, field in self.fields.items()}
        if not values["reference_no"]:
            self._fail("The Reference No is needed")
            return
        if not values["to"]:
            self._fail("Where does it go? Fill in To")
            return
        try:
            lines = parse_lines(values["lines"])
        except ValueError as error:
            self._fail(str(error))
            return
        self.dismiss(
            DocumentDraft(
                self.kind,
                values["reference_no"],
                values["dc_no"],
                values["invoice_no"],
                values["to"],
                values["lines"],
                tuple(lines),
            )
        )

    def _fail(self, message: str) -> None:
        self.error.update(Content(message))

    def action_cancel(self) -> None:
        self.dismiss(None)
