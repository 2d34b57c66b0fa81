"""Scan payloads → ScanCode: the one place that reads what a scanner sent.

Owns the AIM symbology identifier, GS1 element strings (GS-separated, and the
"(01)…(21)…" human-readable form), EAN/UPC reads, GS1 Digital Link URIs, plain serials,
serial normalisation and the safe display of payloads. biip does the GS1 work behind this
wrapper; every failure — biip's or ours — becomes an INVALID ScanCode carrying one sentence
a dock worker understands. `parse` never raises.

Pure Python: stdlib and biip only (no Textual, Rich, Peewee or OpenCV).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Final, Literal

from scanstation.domain.quick import quick_init
from scanstation.domain.text import has_invisible, strip_bom, visible

if TYPE_CHECKING:
    from biip import ParseConfig
    from biip.gs1_element_strings import GS1ElementString

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "CodeKind",
    "ScanCode",
    "SerialCase",
    "gtin_of_plain",
    "normalise_serial",
    "parse",
    "visible",
]

_log = logging.getLogger(__name__)


class CodeKind(StrEnum):
    PLAIN = "plain"
    GS1 = "gs1"
    DIGITAL_LINK = "digital_link"
    INVALID = "invalid"


SerialCase = Literal["upper", "preserve"]
DEFAULT_MAX_LENGTH = 512


@quick_init  # every scan makes one: see domain/quick.py
@dataclass(frozen=True, slots=True)
class ScanCode:
    """What one payload means: its kind, the serial to look up, and the GS1 data it carries."""

    raw: str
    """The payload exactly as received."""
    kind: CodeKind
    symbology: str | None
    """AIM symbology identifier as sent ("]C1", "]d2", "]Q1"); None when there was none."""
    data: str
    """The payload without the symbology identifier (and without surrounding whitespace)."""
    serial: str | None
    """The normalised lookup key: PLAIN → the whole data; GS1/DIGITAL_LINK → AI (21)."""
    gtin: str | None
    """14 digits, from AI (01) or from an EAN/UPC read."""
    lot: str | None
    """AI (10)."""
    expiry: date | None
    """AI (17)."""
    ais: tuple[tuple[str, str], ...]
    """Every AI and its value, in the order read."""
    error: str | None
    """INVALID only: one short sentence for the person at the scanner."""

    @property
    def ok(self) -> bool:
        return self.kind is not CodeKind.INVALID


# --- Characters ----------------------------------------------------------------------------------

_GS: Final = "\x1d"  # group separator: what a reader sends for FNC1 inside GS1 data
# Only these are trimmed. str.strip() with no argument would also eat GS (and FS, RS, US),
# cutting a GS1 payload that ends in a separator-terminated field.
_TRIM: Final = " \t\r\n"
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1
_SURROGATE: Final = re.compile("[\ud800-\udfff]")  # undecodable bytes, via surrogateescape


# Letters, digits and . _ / - only, not starting with a sign: read as a plain serial whatever
# the steps of `_parse` (none of them sees anything in such a text).
_BARE_SERIAL: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z._/-]*").fullmatch


def _trim(text: str) -> str:
    return text.strip(_TRIM)


def _show(fragment: str, limit: int = 24) -> str:
    """A short, quoted, control-free excerpt of payload text for an error sentence."""
    if len(fragment) > limit:
        fragment = fragment[: limit - 1] + "…"
    return f"“{visible(fragment)}”"


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit() alone accepts other scripts' digits (and "²"); GS1 numbers are ASCII.
    return text.isascii() and text.isdigit()


def _check_digit_ok(digits: str) -> bool:
    from biip.checksums import gs1_standard_check_digit

    return gs1_standard_check_digit(digits[:-1]) == int(digits[-1])


# --- AIM symbology identifiers (ISO/IEC 15424) ---------------------------------------------------

_HEX: Final = "0123456789ABCDEF"

# Code character → the modifier characters a reader may send after it. "Y" (system expansion)
# is left out on purpose: it is not a symbology and carries a variable-length modifier.
_AIM_MODIFIERS: Final[dict[str, str]] = {
    "A": _HEX,  # Code 39
    "B": _HEX,  # Telepen
    "C": "0124",  # Code 128; 1 = GS1-128
    "D": _HEX,  # Code One
    "E": "01234",  # EAN/UPC; 0 = EAN-13/UPC, 1/2 = add-on only, 3 = with add-on, 4 = EAN-8
    "F": _HEX,  # Codabar
    "G": _HEX,  # Code 93
    "H": _HEX,  # Code 11
    "I": _HEX,  # Interleaved 2 of 5; 1 = check digit verified (ITF-14)
    "J": _HEX,  # DotCode; 1 = GS1 DotCode
    "K": _HEX,  # Code 16K
    "L": _HEX,  # PDF417 / MicroPDF417
    "M": _HEX,  # MSI
    "N": _HEX,  # Anker
    "O": _HEX,  # Codablock
    "P": _HEX,  # Plessey
    "Q": "0123456",  # QR Code; 3 (4 with ECI) = GS1 QR Code
    "R": _HEX,  # Straight 2 of 5, two-bar start/stop
    "S": _HEX,  # Straight 2 of 5, three-bar start/stop
    "T": _HEX,  # Code 49
    "U": _HEX,  # MaxiCode
    "X": _HEX,  # other bar code
    "Z": _HEX,  # not from a bar code (keyed, RFID)
    "c": _HEX,  # Channel Code
    "d": "0123456",  # Data Matrix; 2 (5 with ECI) = GS1 DataMatrix
    "e": "0123",  # GS1 DataBar and GS1 Composite
    "g": _HEX,  # Grid Matrix
    "h": _HEX,  # Han Xin
    "o": _HEX,  # OCR
    "p": _HEX,  # PosiCode
    "s": _HEX,  # SuperCode
    "z": "0123456789ABC",  # Aztec; 1, 4, 7, A = FNC1 in first position (GS1)
}

# Identifiers whose data is a GS1 element string (FNC1 in first position). The ECI variants
# (]d5, ]Q4, ]z4, ]zA) are listed too: data with ECI escapes then fails the GS1 read and is
# rejected, which is right, as nothing here can interpret it.
_GS1_ELEMENT_STRING_IDS: Final = frozenset(
    {"]C1", "]e0", "]e1", "]e2", "]d2", "]d5", "]Q3", "]Q4", "]J1", "]z1", "]z4", "]z7", "]zA"}
)
_EAN_UPC_LENGTHS: Final[dict[str, tuple[int, ...]]] = {
    "]E0": (13,),  # EAN-13, and UPC-A/UPC-E sent as 13 digits
    "]E4": (8,),  # EAN-8
    "]E3": (15, 18),  # EAN-13/UPC followed by its 2- or 5-digit add-on
}
_EAN_COMPOSITE: Final = "|]e0"  # an EAN/UPC read followed by its GS1 Composite component


def _is_aim_identifier(text: str) -> bool:
    return len(text) == 3 and text[0] == "]" and text[2] in _AIM_MODIFIERS.get(text[1], "")


# --- Serials -------------------------------------------------------------------------------------


def normalise_serial(text: str, case: SerialCase = "upper") -> str:
    """The lookup key for a serial: trimmed, AIM identifier removed, upper-cased if asked.

    GS and other control characters are kept: they are data, and a serial that carries them
    is refused by `parse`, not silently altered.
    """
    if case not in ("upper", "preserve"):
        raise ValueError(f"serial case must be 'upper' or 'preserve', not {case!r}")
    serial = _trim(text)
    if _is_aim_identifier(serial[:3]):
        serial = _trim(serial[3:])
    return serial.upper() if case == "upper" else serial


# --- parse ---------------------------------------------------------------------------------------


class _Unreadable(Exception):
    """Internal: why GS1 data cannot be read, as the end of a sentence."""


def load_gs1_reader() -> None:
    """Import biip now. It loads at the first GS1 read otherwise (~0.15 s, most of it GS1's
    company prefix table): the station's first frame and plain serials never need it, so the
    station loads it once its database is open, before a GS1 scan can wait for it."""
    _biip_config()


@cache
def _biip_config() -> ParseConfig:
    from biip import ParseConfig

    # Dates in GS1 data must be real dates; biip checks that by default, said here for the reader.
    return ParseConfig(gs1_element_strings_verify_date=True)


def parse(
    payload: str, *, case: SerialCase = "upper", max_length: int = DEFAULT_MAX_LENGTH
) -> ScanCode:
    """Read one scan payload. Never raises: any failure is an INVALID ScanCode."""
    try:
        return _parse(payload, case, max_length)
    except Exception:  # a bug here, or in biip, must not take the station down
        preview = visible(payload[:80]) if isinstance(payload, str) else type(payload).__name__
        _log.exception("Could not read scan payload %r", preview)
        return _invalid(payload, "Unreadable scan: the station could not read this code")


def _parse(payload: str, case: SerialCase, max_length: int) -> ScanCode:
    if not isinstance(payload, str):
        return _invalid(str(payload), "Unreadable scan: the scan is not text")
    if case not in ("upper", "preserve"):
        return _invalid(payload, "Station setting error: serial case must be upper or preserve")
    # Rejected whole: a truncated payload could match the wrong serial.
    if len(payload) > max_length:
        return _invalid(
            payload, f"Scan too long: {len(payload)} characters (the limit is {max_length})"
        )
    if _BARE_SERIAL(payload):
        # The usual scan, a bare serial: nothing to trim, no identifier, GS, control, URI or
        # bracket, so what the steps below would make of it, made at once.
        serial = payload.upper() if case == "upper" else payload
        return ScanCode(payload, CodeKind.PLAIN, None, payload, serial, None, None, None, (), None)
    # A leading byte-order mark (some scanners and editors send one) is not data.
    body = _trim(strip_bom(_trim(payload)))
    if not body:
        return _invalid(payload, "Empty scan")
    if has_invisible(body) or _SURROGATE.search(body):
        # Bidi or zero-width characters make a code look like another; undecodable bytes
        # are no serial at all. Shown, never looked up.
        return _invalid(
            payload, f"Scan contains invisible characters: {_show(body, 40)}", data=body
        )
    if not body.startswith("]"):
        return _read_unidentified(payload, body, case)

    symbology = body[:3]
    if len(symbology) < 3:
        return _invalid(
            payload, f"Unreadable scan: incomplete symbology identifier {_show(body)}", data=body
        )
    if not _is_aim_identifier(symbology):
        return _invalid(
            payload, f"Unreadable scan: unknown symbology identifier {_show(symbology)}", data=body
        )
    data = body[3:]
    if symbology in _GS1_ELEMENT_STRING_IDS:
        return _read_gs1(payload, symbology, data, case)
    if symbology[1] == "E":
        return _read_ean_upc(payload, symbology, data, case)
    if symbology == "]I1" and len(data) == 14 and _is_ascii_digits(data) and _check_digit_ok(data):
        # ITF-14 carries a GTIN; other ]I1 reads are plain Interleaved 2 of 5 data.
        return _gs1_code(payload, CodeKind.GS1, symbology, data, [("01", data)], None, case)
    return _read_non_gs1(payload, symbology, data, case)


def _read_unidentified(payload: str, data: str, case: SerialCase) -> ScanCode:
    """A payload with no AIM identifier: a plain serial, unless it shows itself to be GS1."""
    if _GS in data and _starts_with_element_string(data):
        # A reader set up without AIM identifiers still sends GS between GS1 fields; GS never
        # belongs in a plain serial, so data that opens with a well-formed element string is
        # read as GS1 (and any later fault reported as such).
        return _read_gs1(payload, None, data, case)
    if _CONTROL.search(data):
        return _invalid(payload, "Scan contains control characters", data=data)
    if _looks_like_uri(data):
        return _read_digital_link(payload, None, data, case)
    if data.startswith("("):
        return _read_gs1_hri(payload, data, case)
    return _plain(payload, None, data, case)


def _read_non_gs1(payload: str, symbology: str, data: str, case: SerialCase) -> ScanCode:
    """Data from a symbol that declared itself non-GS1 (]Q1, ]d1, ]C0, ]A0, ...)."""
    if not _trim(data):
        return _invalid(payload, "Empty scan", symbology=symbology)
    if _CONTROL.search(data):
        return _invalid(payload, "Scan contains control characters", symbology=symbology, data=data)
    if _looks_like_uri(data):
        return _read_digital_link(payload, symbology, data, case)
    return _plain(payload, symbology, data, case)


def _plain(payload: str, symbology: str | None, data: str, case: SerialCase) -> ScanCode:
    # Nothing in the data is interpreted: "[red]x[/]" is a serial like any other.
    return ScanCode(
        raw=payload,
        kind=CodeKind.PLAIN,
        symbology=symbology,
        data=data,
        serial=normalise_serial(data, case),
        gtin=None,
        lot=None,
        expiry=None,
        ais=(),
        error=None,
    )


def _invalid(payload: str, error: str, *, symbology: str | None = None, data: str = "") -> ScanCode:
    return ScanCode(
        raw=payload,
        kind=CodeKind.INVALID,
        symbology=symbology,
        data=data,
        serial=None,
        gtin=None,
        lot=None,
        expiry=None,
        ais=(),
        error=error,
    )


def _gs1_code(
    payload: str,
    kind: CodeKind,
    symbology: str | None,
    data: str,
    pairs: list[tuple[str, str]],
    expiry: date | None,
    case: SerialCase,
) -> ScanCode:
    """The ScanCode for checked GS1 data; the first instance of an AI gives its field."""
    first: dict[str, str] = {}
    for ai, value in pairs:
        first.setdefault(ai, value)
    serial = first.get("21")
    return ScanCode(
        raw=payload,
        kind=kind,
        symbology=symbology,
        data=data,
        serial=None if serial is None else normalise_serial(serial, case),
        gtin=first.get("01"),
        lot=first.get("10"),
        expiry=expiry,
        ais=tuple(pairs),
        error=None,
    )


# --- GS1 element strings -------------------------------------------------------------------------


def _read_gs1(payload: str, symbology: str | None, data: str, case: SerialCase) -> ScanCode:
    # biip accepts a bare "]C1" as an empty message; a station must not.
    if not data.strip(_TRIM + _GS):
        return _invalid(payload, "Empty GS1 data", symbology=symbology, data=data)
    try:
        elements = _element_strings(data)
        pairs = _checked_pairs(elements)
    except _Unreadable as exc:
        return _invalid(payload, f"Unreadable GS1 code: {exc}", symbology=symbology, data=data)
    return _gs1_code(payload, CodeKind.GS1, symbology, data, pairs, _expiry(elements), case)


def _starts_with_element_string(data: str) -> bool:
    from biip import ParseError
    from biip.gs1_element_strings import GS1ElementString

    try:
        GS1ElementString.extract(data.removeprefix(_GS), config=_biip_config())
    except ParseError:
        return False
    return True


def _element_strings(data: str) -> list[GS1ElementString]:
    """Split GS-separated GS1 data into element strings, as strictly as a GS1 reader must.

    biip alone would read a variable-length field that lacks its GS as far as the field's
    maximum length and carry on from there, silently giving wrong values; here that is an error.
    """
    from biip import ParseError
    from biip.gs1_application_identifiers import GS1ApplicationIdentifier
    from biip.gs1_element_strings import GS1ElementString

    rest = data.removeprefix(_GS)  # some readers send the leading FNC1 as a GS too
    elements: list[GS1ElementString] = []
    while rest:
        try:
            ai = GS1ApplicationIdentifier.extract(rest)
        except ParseError:
            raise _Unreadable(f"no known AI at {_show(rest)}") from None
        try:
            element = GS1ElementString.extract(rest, config=_biip_config())
        except ParseError:
            value = rest[len(ai.ai) :].split(_GS, 1)[0]
            raise _Unreadable(_bad_value(ai.ai, value)) from None
        rest = rest[len(element) :]
        if rest and ai.separator_required and not rest.startswith(_GS):
            raise _Unreadable(f"AI ({ai.ai}) is too long or the GS separator after it is missing")
        rest = rest.removeprefix(_GS)
        elements.append(element)
    return elements


# "(AI)value" with the AI 2 to 4 digits; a value runs to the next "(".
_HRI_ELEMENT: Final = re.compile(r"\((\d{2,4})\)([^(]*)")


def _read_gs1_hri(payload: str, data: str, case: SerialCase) -> ScanCode:
    """The human-readable form "(01)09506000134352(21)ABC", as typed or pasted."""
    from biip import ParseError
    from biip.gs1_application_identifiers import GS1ApplicationIdentifier
    from biip.gs1_element_strings import GS1ElementString

    # GS1 values never contain spaces, so spaces typed between fields can go.
    text = data.replace(" ", "").replace("\t", "")
    elements: list[GS1ElementString] = []
    try:
        position = 0
        while position < len(text):
            match = _HRI_ELEMENT.match(text, position)
            if match is None:
                raise _Unreadable(f"expected (AI) and a value at {_show(text[position:])}")
            ai, value = match.groups()
            try:
                known = GS1ApplicationIdentifier.extract(ai).ai == ai
            except ParseError:
                known = False
            if not known:
                raise _Unreadable(f"unknown AI ({ai})")
            try:
                # parse(), not extract(): the whole value must fit the AI, nothing is cut.
                elements.append(GS1ElementString.parse(ai + value, config=_biip_config()))
            except ParseError:
                raise _Unreadable(_bad_value(ai, value)) from None
            position = match.end()
        pairs = _checked_pairs(elements)
    except _Unreadable as exc:
        return _invalid(payload, f"Unreadable GS1 code: {exc}", data=data)
    return _gs1_code(payload, CodeKind.GS1, None, data, pairs, _expiry(elements), case)


def _bad_value(ai: str, value: str) -> str:
    return (
        f"AI ({ai}) has no value" if not value else f"AI ({ai}) value {_show(value)} is not valid"
    )


def _checked_pairs(elements: list[GS1ElementString]) -> list[tuple[str, str]]:
    """(AI, value) pairs, once every key's check digit is right and no AI contradicts itself."""
    pairs: list[tuple[str, str]] = []
    for element in elements:
        ai, value = element.ai.ai, element.value
        # Python's \d in biip's patterns also matches other scripts' digits.
        if not value.isascii():
            raise _Unreadable(f"AI ({ai}) holds characters GS1 does not allow")
        # biip records a bad key on the element instead of raising: refuse it here.
        for label, key_error in (
            ("GTIN", element.gtin_error),
            ("SSCC", element.sscc_error),
            ("GLN", element.gln_error),
        ):
            if key_error is not None:
                if _is_ascii_digits(value) and not _check_digit_ok(value):
                    raise _Unreadable(f"{label} {value} has a bad check digit")
                raise _Unreadable(f"{label} {value} is not valid")
        pairs.append((ai, value))
    _check_repeats(pairs)
    return pairs


def _check_repeats(pairs: list[tuple[str, str]]) -> None:
    # Two different serials (or GTINs) in one scan: any choice would be a guess.
    seen: dict[str, str] = {}
    for ai, value in pairs:
        if seen.setdefault(ai, value) != value:
            raise _Unreadable(f"AI ({ai}) appears twice with different values")


def _expiry(elements: list[GS1ElementString]) -> date | None:
    for element in elements:
        if element.ai.ai == "17":
            return element.date
    return None


# --- EAN/UPC -------------------------------------------------------------------------------------


def _read_ean_upc(payload: str, symbology: str, data: str, case: SerialCase) -> ScanCode:
    """An EAN/UPC read gives a GTIN only (no serial), plus any GS1 Composite AIs after "|]e0"."""
    if not data:
        return _invalid(payload, "Empty GS1 data", symbology=symbology)

    def refuse(reason: str) -> ScanCode:
        return _invalid(
            payload, f"Unreadable EAN/UPC code: {reason}", symbology=symbology, data=data
        )

    lengths = _EAN_UPC_LENGTHS.get(symbology)
    if lengths is None:  # ]E1, ]E2
        return refuse("an add-on symbol alone carries no GTIN")
    primary, composite_mark, composite = data.partition(_EAN_COMPOSITE)
    if not _is_ascii_digits(primary):
        return refuse("it must be digits only")
    if len(primary) not in lengths:
        expected = " or ".join(str(length) for length in lengths)
        return refuse(f"{len(primary)} digits instead of {expected}")
    main = primary[:13] if symbology == "]E3" else primary  # an add-on is not part of the GTIN
    if not _check_digit_ok(main):
        return refuse(f"{main} has a bad check digit")

    pairs: list[tuple[str, str]] = [("01", main.zfill(14))]
    elements: list[GS1ElementString] = []
    if composite_mark:
        if not composite:
            return _invalid(payload, "Empty GS1 data", symbology=symbology, data=data)
        try:
            elements = _element_strings(composite)
            pairs = pairs + _checked_pairs(elements)
            _check_repeats(pairs)
        except _Unreadable as exc:
            return _invalid(payload, f"Unreadable GS1 code: {exc}", symbology=symbology, data=data)
    return _gs1_code(payload, CodeKind.GS1, symbology, data, pairs, _expiry(elements), case)


# Digits-only reads a scanner sends without an AIM identifier (most scanners' default):
# EAN-8, UPC-A, EAN-13 and GTIN-14. An 8-digit read is taken as EAN-8 (a UPC-E would have to
# be expanded first, and scanners send UPC-E expanded to UPC-A unless told otherwise).
_PLAIN_GTIN_LENGTHS: Final = frozenset({8, 12, 13, 14})


def gtin_of_plain(code: ScanCode) -> str | None:
    """The GTIN-14 a plain read may be: digits only, an EAN/UPC/GTIN length, a valid check
    digit, and no symbology identifier (one would have said what it is). None otherwise.

    A plain read stays a serial candidate first (serials may be all digits); a caller asks
    this only when no serial matched, to tell "a product barcode" from "not a known serial"."""
    if code.kind is not CodeKind.PLAIN or code.symbology is not None:
        return None
    data = code.data
    if len(data) not in _PLAIN_GTIN_LENGTHS or not _is_ascii_digits(data):
        return None
    return data.zfill(14) if _check_digit_ok(data) else None


# --- GS1 Digital Link ----------------------------------------------------------------------------

# A GS1 Digital Link URI scheme is all lower or all upper case (upper case lets a QR code use
# its compact alphanumeric mode); "HtTps://" is not one.
_DIGITAL_LINK_SCHEMES: Final = ("https://", "HTTPS://", "http://", "HTTP://")


def _looks_like_uri(data: str) -> bool:
    return data[:8].lower().startswith(("https://", "http://"))


def _read_digital_link(
    payload: str, symbology: str | None, data: str, case: SerialCase
) -> ScanCode:
    def refuse(reason: str) -> ScanCode:
        return _invalid(
            payload, f"Unreadable GS1 Digital Link: {reason}", symbology=symbology, data=data
        )

    if not data.startswith(_DIGITAL_LINK_SCHEMES):
        return refuse("the address must start with http:// or https:// in one case")
    from biip import ParseError
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI

    try:
        uri = GS1DigitalLinkURI.parse(data, config=_biip_config())
    except ParseError as exc:
        return refuse(_digital_link_reason(str(exc)))
    except ValueError:  # urllib refuses some addresses outright (e.g. a broken IPv6 host)
        return refuse("the web address is not valid")
    elements = list(uri.element_strings)
    try:
        pairs = _checked_pairs(elements)
    except _Unreadable as exc:
        return refuse(str(exc))
    return _gs1_code(
        payload, CodeKind.DIGITAL_LINK, symbology, data, pairs, _expiry(elements), case
    )


_AI_IN_MESSAGE: Final = re.compile(r"GS1 AI \((\d+)\)")


def _digital_link_reason(message: str) -> str:
    """A short reason from biip's message; its wording may change, so fall back to a generic one."""
    if message.startswith("Expected a primary identifier"):
        return "no GTIN or other GS1 key in the address"
    if message.startswith("Expected even number of path segments"):
        return "a key in the address has no value"
    if "qualifier" in message:
        return "the parts of the address are in the wrong order"
    found = _AI_IN_MESSAGE.search(message)
    if found is not None:
        return f"the value for AI ({found.group(1)}) is not valid"
    return "the address is not a valid GS1 Digital Link"
