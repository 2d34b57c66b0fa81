"""Where each part of a label goes, in printer dots: one description both writers (ZPL and PDF)
draw, so the two carry the same codes at the same places.

A label: the item name and SKU over the serial as Code 128 with its text (left), the secondary
QR code and, when the item has a GTIN, the GS1 DataMatrix `(01)GTIN(21)SERIAL` (right). Module
sizes are whole printer dots (a Code 128 bar of 0.25 mm at 203 dpi), which scanners need.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
import zxingcpp

from scanstation.domain.text import visible

__all__ = [
    "DPIS",
    "Box",
    "LabelContent",
    "LabelError",
    "Part",
    "Template",
    "barcode_matrix",
    "dots",
    "layout",
]

DPIS: Final = (203, 300)
MARGIN_MM: Final = 3.0
GAP_MM: Final = 2.0
# Dots a module, per printer resolution: Code 128 bars 0.25 mm, 2D modules ~0.35 mm.
LINEAR_MODULE: Final = {203: 2, 300: 3}
MATRIX_MODULE: Final = {203: 3, 300: 4}
QUIET_MODULES: Final = {"code128": 10, "qr": 4, "datamatrix": 2}


class LabelError(Exception):
    """A label that cannot be made as asked (it does not fit, a code cannot be encoded)."""


class Part(StrEnum):
    NAME = "name"  # the item name and the SKU
    SERIAL = "serial"  # Code 128 with the serial's text under it
    DATAMATRIX = "datamatrix"  # GS1 (01)GTIN(21)SERIAL, when the item has a GTIN
    QR = "qr"  # the secondary QR code


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    width_mm: float
    height_mm: float
    parts: tuple[Part, ...] = tuple(Part)


@dataclass(frozen=True, slots=True)
class LabelContent:
    serial_no: str
    item_name: str
    sku: str
    gtin: str | None
    secondary_qr: str | None

    @property
    def gs1(self) -> str | None:
        """The DataMatrix's element string in its human-readable form."""
        return f"(01){self.gtin}(21){self.serial_no}" if self.gtin else None


@dataclass(frozen=True, slots=True)
class Box:
    """One thing drawn: text, or a barcode (`value` is what it encodes) with its module size in
    dots and its size in modules (quiet zone included)."""

    part: str  # "text" | "code128" | "datamatrix" | "qr"
    x: int
    y: int
    width: int
    height: int
    value: str
    module: int = 0
    font: int = 0  # text height in dots


def dots(mm: float, dpi: int) -> int:
    return round(mm * dpi / 25.4)


def barcode_matrix(kind: str, value: str) -> np.ndarray:
    """The symbol's modules (0 dark, 255 light), quiet zone included: one module a pixel."""
    try:
        if kind == "code128":
            if not value.isascii() or not value.isprintable():
                raise LabelError(f"{visible(value)!r} cannot be a Code 128 (ASCII only)")
            symbol = zxingcpp.create_barcode(value, zxingcpp.Code128)
        elif kind == "datamatrix":
            symbol = zxingcpp.create_barcode(value, zxingcpp.DataMatrix, gs1=True)
        else:
            symbol = zxingcpp.create_barcode(value, zxingcpp.QRCode, ec_level="M")
    except (ValueError, RuntimeError) as error:
        raise LabelError(f"{visible(value)!r} cannot be encoded as {kind}: {error}") from error
    image = np.array(symbol.to_image(scale=1, add_quiet_zones=False))
    quiet = QUIET_MODULES[kind]
    if kind == "code128":
        return np.pad(image[:1], ((0, 0), (quiet, quiet)), constant_values=255)
    return np.pad(image, quiet, constant_values=255)


def layout(content: LabelContent, template: Template, dpi: int) -> list[Box]:
    """The boxes of one label, in dots from its top-left corner; LabelError when it does not
    fit the template."""
    if dpi not in DPIS:
        raise LabelError(f"--dpi must be one of {', '.join(map(str, DPIS))}")
    width, height = dots(template.width_mm, dpi), dots(template.height_mm, dpi)
    margin, gap = dots(MARGIN_MM, dpi), dots(GAP_MM, dpi)
    matrix_module, linear_module = MATRIX_MODULE[dpi], LINEAR_MODULE[dpi]
    boxes: list[Box] = []
    right = width - margin  # the right column grows leftwards from here
    y_right = margin
    column_left = width - margin
    if Part.QR in template.parts and content.secondary_qr:
        modules = barcode_matrix("qr", content.secondary_qr).shape[0]
        size = modules * matrix_module
        boxes.append(
            Box("qr", right - size, y_right, size, size, content.secondary_qr, matrix_module)
        )
        y_right += size + gap
        column_left = min(column_left, right - size)
    if Part.DATAMATRIX in template.parts and content.gs1:
        rows, columns = barcode_matrix("datamatrix", content.gs1).shape
        w, h = columns * matrix_module, rows * matrix_module
        boxes.append(Box("datamatrix", right - w, y_right, w, h, content.gs1, matrix_module))
        y_right += h + gap
        column_left = min(column_left, right - w)
    y = margin
    text_right = column_left - gap
    if Part.NAME in template.parts:
        font = dots(3.5, dpi)
        boxes.append(Box("text", margin, y, text_right - margin, font, content.item_name, 0, font))
        y += font + gap // 2
        boxes.append(
            Box("text", margin, y, text_right - margin, font, f"SKU {content.sku}", 0, font)
        )
        y += font + gap
    if Part.SERIAL in template.parts:
        modules = barcode_matrix("code128", content.serial_no).shape[1]
        bar_w, bar_h = modules * linear_module, dots(12, dpi)
        boxes.append(Box("code128", margin, y, bar_w, bar_h, content.serial_no, linear_module))
        if margin + bar_w > text_right + gap and y < y_right:
            raise LabelError(_too_small(template, content, "the Code 128 and the 2D codes"))
        y += bar_h + gap // 2
        font = dots(3.5, dpi)
        boxes.append(Box("text", margin, y, bar_w, font, content.serial_no, 0, font))
        y += font
    if max(y, y_right - gap) > height - margin or any(b.x + b.width > width for b in boxes):
        raise LabelError(_too_small(template, content, "its codes"))
    return boxes


def _too_small(template: Template, content: LabelContent, what: str) -> str:
    return (
        f"template {template.name} ({template.width_mm:g} x {template.height_mm:g} mm) is too "
        f"small for {what} of {content.serial_no}: use a larger [labels.templates] size"
    )
