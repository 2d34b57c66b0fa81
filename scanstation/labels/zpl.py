"""ZPL II for Zebra printers: one `^XA … ^XZ` format a label, drawn from layout.py's boxes.

- the serial: `^BC` (Code 128, automatic subsets) with its text as a field of its own;
- the GS1 DataMatrix: `^BX` quality 200 with `#` as the escape character, so `#1` is FNC1: the
  symbol starts with FNC1 (a scanner sends `]d2`), then `01` GTIN `21` serial;
- the secondary QR: `^BQ` model 2, error correction M, automatic input (`MA,`).

Every field goes through `^FH\\` with `\\`, `^` and `~` hex-escaped, so no text on a label (an
item name someone typed) can end a field or start a command; `^CI28`: text is UTF-8.
"""

from __future__ import annotations

from collections.abc import Iterable

from scanstation.domain.text import visible
from scanstation.labels.layout import QUIET_MODULES, Box, LabelContent, Template, dots, layout

__all__ = ["DATAMATRIX_ESCAPE", "field_data", "zpl_labels"]

DATAMATRIX_ESCAPE = "#"  # not a GS1 AI 82 character, so never part of a serial


def field_data(text: str) -> str:
    """Text safe inside `^FH\\^FD … ^FS`."""
    return visible(text).replace("\\", "\\5C").replace("^", "\\5E").replace("~", "\\7E")


def _box(box: Box) -> str:
    quiet = QUIET_MODULES.get(box.part, 0) * box.module
    x, y = box.x + quiet, box.y + (0 if box.part == "code128" else quiet)
    if box.part == "text":
        return (
            f"^FO{box.x},{box.y}^A0N,{box.font},{box.font}^FB{box.width},1,0,L,0"
            f"^FH\\^FD{field_data(box.value)}^FS"
        )
    if box.part == "code128":
        return (
            f"^FO{x},{y}^BY{box.module}^BCN,{box.height},N,N,N,A^FH\\^FD{field_data(box.value)}^FS"
        )
    if box.part == "datamatrix":
        gtin, serial = box.value.removeprefix("(01)").split("(21)", 1)
        data = f"{DATAMATRIX_ESCAPE}101{gtin}21{serial}"
        return (
            f"^FO{x},{y}^BXN,{box.module},200,,,,{DATAMATRIX_ESCAPE},1^FH\\^FD{field_data(data)}^FS"
        )
    return f"^FO{x},{y}^BQN,2,{box.module}^FH\\^FDMA,{field_data(box.value)}^FS"


def zpl_labels(contents: Iterable[LabelContent], template: Template, dpi: int) -> bytes:
    """The ZPL of the labels, one format each, in order (LabelError when one cannot be made)."""
    width, height = dots(template.width_mm, dpi), dots(template.height_mm, dpi)
    formats = []
    for content in contents:
        fields = "\n".join(_box(box) for box in layout(content, template, dpi))
        formats.append(f"^XA\n^CI28\n^PW{width}\n^LL{height}\n^LH0,0\n{fields}\n^PQ1\n^XZ\n")
    return "".join(formats).encode("utf-8")
