"""Inputs checked at the edge, against the one limit table (domain/limits.py): every text and
number the service writes, so both databases refuse the same things with the same sentence
and nothing the database would refuse ever becomes a write that fails (or is retried) later.
Also the shapes of codes the service makes or accepts: GS1 serials, GTINs, secondary QR
tokens, generation nos."""

from __future__ import annotations

import secrets
from typing import Final

from scanstation.domain import limits
from scanstation.domain.limits import TextLimit
from scanstation.domain.text import has_invisible, visible
from scanstation.service.setup import ServiceError, StationSetup

__all__ = [
    "AI82_CHARACTERS",
    "SECONDARY_QR_LENGTH",
    "SERIAL_DIGITS",
    "SERIAL_MAX_LENGTH",
    "check_quantity",
    "check_setup",
    "check_text",
    "code_problem",
    "generation_no_problem",
    "new_secondary_qrs",
    "normalise_gtin",
    "optional_text",
    "storable",
]

# GS1 AI 82 (the character set of AI 21): letters, digits and these marks.
AI82_CHARACTERS: Final = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
SERIAL_MAX_LENGTH: Final = limits.SERIAL_NO.max_length
SERIAL_DIGITS: Final = 10
SECONDARY_QR_LENGTH: Final = 12
_BASE32: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648's alphabet
_BASE32_OF_BYTE: Final = bytes(_BASE32[byte % 32] for byte in range(256))


def check_text(limit: TextLimit, value: str) -> str:
    """`value` if the store can hold it in this field; else ServiceError naming the field and
    the limit."""
    problem = limit.problem(value)
    if problem:
        raise ServiceError(problem)
    return value


def optional_text(limit: TextLimit, value: str | None) -> str | None:
    """A field that may be left out: blank is None, anything else is checked."""
    if value is None or not value.strip():
        return None
    return check_text(limit, value.strip())


def check_quantity(label: str, value: int, *, minimum: int = 1) -> int:
    problem = limits.quantity_problem(label, value, minimum=minimum)
    if problem:
        raise ServiceError(problem)
    return value


def storable(value: str, limit: TextLimit) -> bool:
    """Could `value` be a stored value of this field at all (a lookup of anything else
    finds nothing, without asking the database)?"""
    return limit.problem(value) is None


def check_setup(setup: StationSetup) -> None:
    """Every text of a station's setup, before its first write: an operator name the database
    cannot hold is a clear refusal now, not a NOT SAVED retried behind every later scan."""
    check_text(limits.STATION_ID, setup.station_id)
    check_text(limits.SITE_CODE, setup.site_code)
    check_text(limits.OPERATOR, setup.operator)
    if setup.document is not None:
        check_text(limits.REFERENCE_NO, setup.document)
    if setup.reason is not None:
        check_text(limits.REASON, setup.reason)


def code_problem(field: str, code: str, limit: TextLimit) -> str | None:
    """Why `code` cannot be a serial number or secondary QR code: GS1 AI 82 characters only,
    within the field's length."""
    if not code:
        return f"{field} is empty"
    bad = sorted(set(code) - AI82_CHARACTERS)
    if bad:
        shown = visible("".join(bad))
        return f"{field} {visible(code)!r} has characters outside GS1 AI 82: {shown!r}"
    if len(code) > limit.max_length:
        return f"{field} {code} is longer than {limit.max_length} characters"
    return None


def generation_no_problem(generation_no: str) -> str | None:
    """A generation no: 1-32 characters of GS1 AI 82 (no space, control, bidi or zero-width
    character), as it is printed on labels and typed into searches."""
    if has_invisible(generation_no):
        return f"generation no {visible(generation_no)!r} has invisible characters"
    return code_problem("generation no", generation_no, limits.GENERATION_NO)


def new_secondary_qrs(count: int) -> list[str]:
    """`count` random base32 tokens from one call to the CSPRNG: each random byte's low 5 bits
    pick a character (256 is a multiple of 32, so each of the 32 is equally likely), in C by
    one bytes.translate. Per-token calls cost 2.6 s a million, and b32encode (pure Python
    here) 1.9 s; this 0.4 s."""
    size = SECONDARY_QR_LENGTH
    text = secrets.token_bytes(count * size).translate(_BASE32_OF_BYTE).decode("ascii")
    return [text[i : i + size] for i in range(0, count * size, size)]


def normalise_gtin(text: str) -> str:
    """GTIN-8/12/13/14 → 14 digits, check digit verified."""
    digits = text.strip()
    if not digits.isascii() or not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        raise ServiceError(f"GTIN {visible(text)!r}: expected 8, 12, 13 or 14 digits")
    digits = digits.zfill(14)
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    if (10 - total % 10) % 10 != check:
        raise ServiceError(f"GTIN {text}: the check digit is wrong")
    return digits
