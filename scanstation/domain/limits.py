"""The one limit table: how long each text a person, a scanner or a file gives may be, and the
range of quantities.

The service checks every value it writes against this table and refuses with a sentence naming
the field and the limit, before anything reaches a database; the store sizes its columns from
the same numbers. So SQLite (which would store anything) and PostgreSQL (which would raise
`StringDataRightTruncation` on the 101st character of an operator name) refuse exactly the same
values with the same words, and a value the database cannot hold never becomes a write that is
retried forever behind the station's other scans. Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "BADGE",
    "COMMENT",
    "DC_NO",
    "DESTINATION_NAME",
    "GENERATION_NO",
    "GTIN",
    "INVOICE_NO",
    "ITEM_NAME",
    "MAX_QUANTITY",
    "MODEL_NO",
    "OPERATOR",
    "QR_SEAL",
    "REASON",
    "REFERENCE_NO",
    "REQUEST_ID",
    "SCAN_SOURCE",
    "SECONDARY_QR",
    "SERIAL_NO",
    "SITE_CODE",
    "SITE_NAME",
    "SKU",
    "STATION_ID",
    "USER_NAME",
    "TextLimit",
    "quantity_problem",
]


@dataclass(frozen=True, slots=True)
class TextLimit:
    """A text field: how a person names it, and how many characters it may have."""

    label: str
    max_length: int

    def problem(self, value: str) -> str | None:
        """Why `value` cannot be stored in this field, as a sentence; None when it can."""
        if "\x00" in value:
            return f"The {self.label} contains a NUL character, which cannot be stored"
        # ASCII (a scan's every field, nearly always) holds no surrogate: one C call, not a
        # Python loop over each character of five fields a scan.
        if not value.isascii() and any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            # What `surrogateescape` makes of bytes that are not UTF-8 (argv, a file name).
            return f"The {self.label} is not valid UTF-8 text"
        if len(value) > self.max_length:
            return (
                f"The {self.label} is {len(value):,} characters long; "
                f"at most {self.max_length:,} are allowed"
            )
        return None


STATION_ID: Final = TextLimit("station id", 64)
OPERATOR: Final = TextLimit("operator name", 100)
USER_NAME: Final = TextLimit("user name", 100)  # a user's name is the events' operator
BADGE: Final = TextLimit("badge", 64)
SITE_CODE: Final = TextLimit("site code", 32)
SITE_NAME: Final = TextLimit("site name", 200)
SKU: Final = TextLimit("SKU", 64)
ITEM_NAME: Final = TextLimit("item name", 200)
MODEL_NO: Final = TextLimit("model", 64)
GTIN: Final = TextLimit("GTIN", 14)
REFERENCE_NO: Final = TextLimit("reference no", 64)
DC_NO: Final = TextLimit("DC no", 64)
INVOICE_NO: Final = TextLimit("invoice no", 64)
DESTINATION_NAME: Final = TextLimit("destination name", 200)
GENERATION_NO: Final = TextLimit("generation no", 32)
# GS1 AI 21 holds at most 20 characters: a serial must fit the label's element string.
SERIAL_NO: Final = TextLimit("serial no", 20)
SECONDARY_QR: Final = TextLimit("secondary QR code", 64)
# A signed QR token's `KEYID.SIGNATURE` (domain/qr.py: 8 + 1 + 103 characters).
QR_SEAL: Final = TextLimit("QR signature", 128)
COMMENT: Final = TextLimit("comment", 2000)
REASON: Final = TextLimit("reason", 500)
# A scan id or a request id: made where the scan was read or the request was sent.
REQUEST_ID: Final = TextLimit("request id", 64)
SCAN_SOURCE: Final = TextLimit("scan source", 16)

# Quantities and counts are INTEGER columns: 32-bit signed on PostgreSQL.
MAX_QUANTITY: Final = 2**31 - 1


def quantity_problem(label: str, value: int, *, minimum: int = 1) -> str | None:
    """Why `value` is not a quantity the store can hold, as a sentence; None when it is."""
    if value < minimum:
        return f"The {label} must be at least {minimum:,}; it is {value:,}"
    if value > MAX_QUANTITY:
        return f"The {label} is {value:,}; at most {MAX_QUANTITY:,} is allowed"
    return None
