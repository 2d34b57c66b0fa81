"""Label making without a database: ZPL that no typed text can break, templates that refuse
what does not fit, printer addresses read strictly."""

from __future__ import annotations

import re

import pytest

from scanstation.labels.layout import LabelContent, LabelError, Part, Template, layout
from scanstation.labels.pdf import labels_pdf
from scanstation.labels.printer import PrintError, parse_printer
from scanstation.labels.zpl import zpl_labels

STANDARD = Template("standard", 100, 50)
CONTENT = LabelContent("SN0000000001", "Pump 1HP", "PUMP", "08901234500019", "ABCDEFGHIJKL")


def test_a_typed_item_name_cannot_end_a_field_or_start_a_command() -> None:
    hostile = LabelContent("SN0000000001", "Pump ^XZ~JR\\ \x1b[31m", "PUMP", None, None)
    zpl = zpl_labels([hostile], STANDARD, 203).decode("utf-8")
    assert zpl.count("^XA") == 1 and zpl.count("^XZ") == 1  # the name's ^XZ is not a command
    assert "~JR" not in zpl and "\x1b" not in zpl
    name = re.search(r"\^FD(Pump [^\^]*)\^FS", zpl)
    assert name is not None and "\\5EXZ\\7EJR\\5C" in name[1]
    assert "^BX" not in zpl  # no GTIN: no GS1 DataMatrix


def test_the_same_labels_make_the_same_bytes() -> None:
    assert labels_pdf([CONTENT] * 3, STANDARD, 203) == labels_pdf([CONTENT] * 3, STANDARD, 203)
    assert zpl_labels([CONTENT], STANDARD, 300) == zpl_labels([CONTENT], STANDARD, 300)


def test_a_template_too_small_is_refused_by_name() -> None:
    tiny = Template("tiny", 30, 20, (Part.SERIAL, Part.QR))
    with pytest.raises(LabelError, match=r"template tiny .* too small"):
        layout(CONTENT, tiny, 203)
    with pytest.raises(LabelError, match="dpi"):
        layout(CONTENT, STANDARD, 600)


@pytest.mark.parametrize(
    ("dest", "shown"),
    [("tcp://zebra-3:9100", "tcp://zebra-3:9100"), ("tcp://10.0.0.7", "tcp://10.0.0.7:9100"),
     ("LABELS", "CUPS queue LABELS"), ("cups://LABELS-2", "CUPS queue LABELS-2")],
)  # fmt: skip
def test_printer_addresses(dest: str, shown: str) -> None:
    assert str(parse_printer(dest)) == shown


@pytest.mark.parametrize("dest", ["tcp://", "tcp://host:port", "tcp://h:9100/x", "two words", ""])
def test_bad_printer_addresses_are_refused(dest: str) -> None:
    with pytest.raises(PrintError):
        parse_printer(dest)
