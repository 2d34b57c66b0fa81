"""PDF: label sheets (A4, or one 4 x 6 in label a page for a roll) and document sheets, drawn
with fpdf2; every barcode is zxing-cpp's writer's symbol, drawn at whole printer dots a module
so it prints and renders sharp at the chosen resolution.

The bytes depend only on what is drawn (no creation time), so the same labels make the same
file: what a printer is sent equals what `--out` writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np
from fpdf import FPDF
from PIL import Image

from scanstation.domain.model import DocumentView
from scanstation.domain.text import visible
from scanstation.labels.layout import (
    Box,
    LabelContent,
    LabelError,
    Template,
    barcode_matrix,
    layout,
)

__all__ = ["PAPERS", "document_pdf", "labels_pdf"]

# Paper (width, height) in mm: an A4 sheet of labels, or a 4 x 6 in label a page (a roll).
PAPERS: Final = {"a4": (210.0, 297.0), "4x6": (101.6, 152.4)}
SHEET_MARGIN_MM: Final = 5.0
FONT_FILE: Final = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_FIXED_DATE: Final = datetime(2000, 1, 1, tzinfo=UTC)


def _new_pdf(paper: str) -> tuple[FPDF, str]:
    width, height = PAPERS[paper]
    pdf = FPDF(unit="mm", format=(width, height))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0)
    pdf.set_creation_date(_FIXED_DATE)  # the same labels, the same bytes
    if FONT_FILE.is_file():  # any script an item name is written in
        pdf.add_font("label", "", str(FONT_FILE))
        return pdf, "label"
    return pdf, "helvetica"


def _text(pdf: FPDF, font: str, text: str) -> str:
    """Shown text: invisible characters made visible; Latin-1 only in the built-in font."""
    shown = visible(text)
    if font == "helvetica":
        shown = shown.encode("latin-1", "replace").decode("latin-1")
    return shown


def _image(kind: str, value: str, module: int) -> Image.Image:
    matrix = barcode_matrix(kind, value).astype(np.uint8)
    return Image.fromarray(np.kron(matrix, np.ones((module, module), dtype=np.uint8)))


def _draw(pdf: FPDF, font: str, box: Box, left: float, top: float, dpi: int) -> None:
    mm = 25.4 / dpi
    x, y, w, h = left + box.x * mm, top + box.y * mm, box.width * mm, box.height * mm
    if box.part == "text":
        pdf.set_font(font, size=box.font * mm * 72 / 25.4)
        pdf.set_xy(x, y)
        shown = _text(pdf, font, box.value)
        while shown and pdf.get_string_width(shown) > w:
            shown = shown[:-2] + "…" if font != "helvetica" else shown[:-1]
        pdf.cell(w, h, shown)
        return
    pdf.image(_image(box.part, box.value, box.module), x=x, y=y, w=w, h=h)


def labels_pdf(
    contents: Iterable[LabelContent], template: Template, dpi: int, paper: str = "a4"
) -> bytes:
    """Label sheets: on A4 as many labels a page as fit, with cut lines; on "4x6" one a page."""
    page_w, page_h = PAPERS[paper]
    margin = SHEET_MARGIN_MM if paper == "a4" else 0.0
    columns = int((page_w - 2 * margin) // template.width_mm)
    rows = int((page_h - 2 * margin) // template.height_mm)
    if paper != "a4":
        columns = rows = 1
    if columns < 1 or rows < 1:
        raise LabelError(
            f"template {template.name} ({template.width_mm:g} x {template.height_mm:g} mm) "
            f"does not fit {paper} paper"
        )
    pdf, font = _new_pdf(paper)
    pdf.set_draw_color(200, 200, 200)
    pdf.set_line_width(0.1)
    for index, content in enumerate(contents):
        boxes = layout(content, template, dpi)
        slot = index % (columns * rows)
        if slot == 0:
            pdf.add_page()
        left = margin + (slot % columns) * template.width_mm
        top = margin + (slot // columns) * template.height_mm
        if paper == "a4":
            pdf.rect(left, top, template.width_mm, template.height_mm)
        for box in boxes:
            _draw(pdf, font, box, left, top, dpi)
    if pdf.page == 0:
        raise LabelError("no labels to print")
    return bytes(pdf.output())


def document_pdf(document: DocumentView, dpi: int = 203) -> bytes:
    """A document's sheet for the gate: reference no, DC no and invoice no each as Code 128
    (a scan picks the document), where it goes, and its lines with their quantities."""
    pdf, font = _new_pdf("a4")
    pdf.add_page()
    left, y = 15.0, 15.0
    title = "Delivery challan" if document.kind.value == "dc" else "Invoice"
    pdf.set_font(font, size=18)
    pdf.set_xy(left, y)
    pdf.cell(180, 9, _text(pdf, font, f"{title} {document.reference_no}"))
    y += 12
    pdf.set_font(font, size=11)
    pdf.set_xy(left, y)
    pdf.cell(180, 6, _text(pdf, font, f"From {document.from_site} to {document.destination}"))
    y += 10
    codes: Sequence[tuple[str, str | None]] = (
        ("Reference no", document.reference_no),
        ("DC no", document.dc_no),
        ("Invoice no", document.invoice_no),
    )
    mm = 25.4 / dpi
    for caption, value in codes:
        if not value:
            continue
        image = _image("code128", value, 2)
        width, height = image.width * mm, 15.0
        pdf.set_font(font, size=10)
        pdf.set_xy(left, y)
        pdf.cell(180, 5, _text(pdf, font, f"{caption}: {value}"))
        pdf.image(image, x=left, y=y + 6, w=width, h=height)
        y += height + 12
    y += 4
    pdf.set_font(font, size=11)
    widths = (40.0, 90.0, 25.0, 25.0)
    rows = [
        (line.sku, line.item_name, str(line.quantity), str(line.scanned)) for line in document.lines
    ]
    for row in [("SKU", "Item", "Quantity", "Scanned"), *rows]:
        if y > 280:
            pdf.add_page()
            y = 15.0
        x = left
        for width, cell in zip(widths, row, strict=True):
            pdf.set_xy(x, y)
            pdf.cell(width, 7, _text(pdf, font, cell), border=1)
            x += width
        y += 7
    return bytes(pdf.output())
