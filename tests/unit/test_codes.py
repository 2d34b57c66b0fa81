"""scanstation.domain.codes: what a scan payload means.

Two sources of truth: the GS1 Barcode Syntax Engine's scan-data vectors (shared/gs1), checked
one by one against the engine's reading, and the station's own rules (plain serials, limits,
control characters, serial normalisation) in the edge cases below.
"""

from __future__ import annotations

import dataclasses
import json
import random
import string
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from scanstation.domain.codes import (
    DEFAULT_MAX_LENGTH,
    CodeKind,
    ScanCode,
    gtin_of_plain,
    normalise_serial,
    parse,
    visible,
)

GS = "\x1d"
GTIN = "09506000134352"  # a valid GTIN-14 (GS1's own example)
BAD_GTIN = "09506000134353"  # same, wrong check digit
INTERNAL_ERROR = "Unreadable scan: the station could not read this code"

# --- The engine's vectors ------------------------------------------------------------------------

VECTORS_FILE = Path(__file__).resolve().parents[3] / "shared" / "gs1" / "scan-vectors.json"


def _load_vectors() -> list[dict[str, Any]]:
    if not VECTORS_FILE.is_file():
        return []
    vectors: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return vectors


VECTORS = _load_vectors()
NO_VECTORS = (
    f"GS1 scan vectors not found at {VECTORS_FILE} (the shared/ folder beside the checkout)"
)

if VECTORS:
    VECTOR_PARAMS = [
        pytest.param(vector, id=f"{index:02d}:{visible(vector['scan'])[:32] or 'empty'}")
        for index, vector in enumerate(VECTORS)
    ]
else:
    VECTOR_PARAMS = [pytest.param(None, id="no-vectors", marks=pytest.mark.skip(reason=NO_VECTORS))]

# GS1 General Specifications, figure 7.8.5-2: AIs that begin with these two digits have a
# predefined length and are never followed by FNC1. Kept here, apart from biip, so the
# comparison with the engine does not lean on the library under test.
PREDEFINED_LENGTH_PREFIXES = frozenset(
    {"00", "01", "02", "03", "04", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"}
    | {"31", "32", "33", "34", "35", "36", "41"}
)

# Where the station's verdict differs from the engine's on purpose: the engine checks GS1 scan
# data, the station reads serials. Everything else must agree with the engine.
STATION_DIFFERS: dict[str, tuple[CodeKind, str]] = {
    "ABC": (
        CodeKind.PLAIN,
        "the engine refuses data without a symbology identifier; a station must accept a "
        "plain serial from a reader that sends none",
    ),
    "]Q1": (CodeKind.INVALID, "an empty QR read: the engine accepts it, but it has no serial"),
    "]d1": (CodeKind.INVALID, "an empty Data Matrix read: nothing to look up"),
    "]J0": (CodeKind.INVALID, "an empty DotCode read: nothing to look up"),
    "]Q1HtTps://example.com/01/12312312312333?99=TEST": (
        CodeKind.INVALID,
        "the engine declines it as a Digital Link (mixed-case scheme) and keeps it as plain "
        "text; the station refuses it, as a web address that is no Digital Link names nothing",
    ),
}


def engine_element_string(ais: tuple[tuple[str, str], ...]) -> str:
    """Our AIs written as the engine writes its reading: "^" for FNC1, first and between."""
    parts = ["^"]
    for position, (ai, value) in enumerate(ais):
        parts.append(ai + value)
        if position < len(ais) - 1 and ai[:2] not in PREDEFINED_LENGTH_PREFIXES:
            parts.append("^")
    return "".join(parts)


def engine_plain_data(data: str) -> str:
    # The engine escapes a literal leading "^" in plain data as "\^" (and "\^" as "\\^").
    return data.replace("\\^", "^")


@pytest.mark.parametrize("vector", VECTOR_PARAMS)
def test_engine_vector(vector: dict[str, Any]) -> None:
    scan: str = vector["scan"]
    code = parse(scan)  # must not raise, whatever the vector

    assert code.raw == scan
    assert code.ok == (code.error is None)

    if scan in STATION_DIFFERS:
        kind, _why = STATION_DIFFERS[scan]
        assert code.kind is kind
        if kind is CodeKind.PLAIN:
            assert code.serial == normalise_serial(scan)
        else:
            assert code.error
        return

    digital_link_ais: str | None = vector.get("digital_link_ais")
    if digital_link_ais is not None:
        if digital_link_ais:
            assert code.kind is CodeKind.DIGITAL_LINK, code.error
            assert engine_element_string(code.ais) == digital_link_ais
        else:
            assert code.kind is CodeKind.INVALID
            assert code.error
        return

    if not vector["valid"]:
        assert vector["symbology"] == "NONE"
        assert code.kind is CodeKind.INVALID
        assert code.error
        return

    data: str = vector["data"]
    if data.startswith("^"):  # GS1 element strings
        assert code.kind is CodeKind.GS1, code.error
        assert engine_element_string(code.ais) == data
    elif vector["symbology"] in ("EAN13", "EAN8"):  # a GTIN, maybe with a composite part
        primary, _, composite = data.partition("|")
        assert code.kind is CodeKind.GS1, code.error
        assert code.gtin == primary.zfill(14)
        assert code.serial is None
        assert code.ais[0] == ("01", primary.zfill(14))
        assert engine_element_string(code.ais[1:]) == (composite or "^")
    else:  # plain data from a non-GS1 symbol
        assert code.kind is CodeKind.PLAIN, code.error
        assert code.data == engine_plain_data(data)
        assert code.serial == normalise_serial(code.data)


def test_engine_vectors_agree_but_for_the_station_cases() -> None:
    if not VECTORS:
        pytest.skip(NO_VECTORS)
    assert len(VECTORS) == 54
    differs = sorted(v["scan"] for v in VECTORS if parse(v["scan"]).ok != v["valid"])
    assert differs == sorted(STATION_DIFFERS)
    assert len(VECTORS) - len(differs) == 49


# --- AIM symbology identifiers -------------------------------------------------------------------


@pytest.mark.parametrize("payload", ["]", "]X", "]C", " ]Q "])
def test_incomplete_identifier_is_invalid(payload: str) -> None:
    code = parse(payload)
    assert code.kind is CodeKind.INVALID
    assert code.error is not None and "incomplete symbology identifier" in code.error


@pytest.mark.parametrize("payload", ["]XX", "]Yx", "]Y1ABC", "]Q9ABC", "]E5123", "]7AB", "]c"])
def test_unknown_identifier_is_invalid(payload: str) -> None:
    code = parse(payload)
    assert code.kind is CodeKind.INVALID
    assert code.error is not None and "symbology identifier" in code.error


@pytest.mark.parametrize(
    "payload", ["]C1", "]e0", "]Q3", "]d2", "]J1", "]z1", "]C1 \r\n", "]C1" + GS]
)
def test_bare_gs1_identifier_is_empty_gs1_data(payload: str) -> None:
    # biip alone accepts a bare ]C1 as an empty message.
    code = parse(payload)
    assert code.kind is CodeKind.INVALID
    assert code.error == "Empty GS1 data"
    assert code.symbology == payload[:3]


def test_gs1_dotcode_is_read() -> None:
    code = parse(f"]J101{GTIN}21SN1")
    assert code.kind is CodeKind.GS1
    assert (code.symbology, code.gtin, code.serial) == ("]J1", GTIN, "SN1")


@pytest.mark.parametrize("symbology", ["]Q1", "]C0", "]d1", "]A0", "]J0", "]z0", "]X0"])
def test_non_gs1_identifier_gives_plain_data(symbology: str) -> None:
    code = parse(f"{symbology}sn-0042")
    assert code.kind is CodeKind.PLAIN
    assert code.symbology == symbology
    assert code.data == "sn-0042"
    assert code.serial == "SN-0042"


def test_non_gs1_identifier_with_only_whitespace_is_empty() -> None:
    assert parse("]Q1   ").error == "Empty scan"


# --- GS1 element strings -------------------------------------------------------------------------


def test_gs1_128_with_serial_lot_and_expiry() -> None:
    payload = f"]C101{GTIN}21sn0001{GS}10LOT7{GS}17251231"
    code = parse(payload)
    assert code.kind is CodeKind.GS1
    assert code.symbology == "]C1"
    assert code.data == payload[3:]
    assert code.gtin == GTIN
    assert code.serial == "SN0001"  # upper-cased ...
    assert ("21", "sn0001") in code.ais  # ... in the serial only
    assert code.lot == "LOT7"
    assert code.expiry == date(2025, 12, 31)
    assert code.ais == (("01", GTIN), ("21", "sn0001"), ("10", "LOT7"), ("17", "251231"))
    assert code.error is None and code.ok


def test_gs1_serial_case_preserved_on_request() -> None:
    assert parse(f"]d201{GTIN}21sn0001", case="preserve").serial == "sn0001"


def test_gs1_without_serial_has_no_serial() -> None:
    code = parse(f"]C101{GTIN}10LOT7")
    assert code.kind is CodeKind.GS1
    assert code.serial is None
    assert code.lot == "LOT7"


def test_bad_gtin_check_digit_is_invalid() -> None:
    code = parse(f"]C101{BAD_GTIN}21ABC")
    assert code.kind is CodeKind.INVALID
    assert code.error == f"Unreadable GS1 code: GTIN {BAD_GTIN} has a bad check digit"
    assert code.gtin is None and code.serial is None


def test_missing_gs_after_variable_length_ai_is_invalid() -> None:
    # Lot (X..20) runs straight into (21): without the GS a reader would take the lot as
    # exactly 20 characters and invent a serial from the rest. The engine refuses it too.
    code = parse(f"]C101{GTIN}10ABCDEFGHIJKLMNOPQRST21SN1")
    assert code.kind is CodeKind.INVALID
    assert code.error is not None and "GS separator" in code.error and "(10)" in code.error


def test_missing_gs_after_fixed_length_ai_that_requires_it_is_invalid() -> None:
    # (426) is fixed length but not of predefined length: GS1 still requires FNC1 after it.
    code = parse(f"]C101{GTIN}426528{GS}10X")
    assert code.ok
    assert parse(f"]C101{GTIN}42652810X").kind is CodeKind.INVALID


def test_predefined_length_ai_needs_no_gs() -> None:
    code = parse(f"]C101{GTIN}1725123110LOT7")
    assert code.kind is CodeKind.GS1
    assert (code.expiry, code.lot) == (date(2025, 12, 31), "LOT7")


def test_serial_longer_than_allowed_is_invalid() -> None:
    code = parse(f"]C101{GTIN}21{'A' * 25}")
    assert code.kind is CodeKind.INVALID


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (f"]C101{GTIN}17251332", "(17)"),  # month 13
        (f"]C101{GTIN}21", "(21) has no value"),
        (f"]C101{GTIN}21A{GS}{GS}10B", "no known AI"),
        (f"]C1XYZ{GTIN}", "no known AI"),
        (f"]C101{GTIN}21ABC{GS}21DEF", "appears twice"),
        ("]C100123456789012345678", "SSCC"),
        ("]C1010950600013435٢", "not allow"),  # another script's digit
        ("]C101123123123133^10ABC", "(01)"),
    ],
)
def test_unreadable_gs1_data_says_why(payload: str, fragment: str) -> None:
    code = parse(payload)
    assert code.kind is CodeKind.INVALID
    assert code.error is not None
    assert code.error.startswith("Unreadable GS1 code: ")
    assert fragment in code.error


def test_repeated_ai_with_the_same_value_is_fine() -> None:
    assert parse(f"]C101{GTIN}21ABC{GS}01{GTIN}").serial == "ABC"


def test_leading_gs_for_fnc1_is_tolerated() -> None:
    assert parse(f"]C1{GS}01{GTIN}21X").serial == "X"


def test_unidentified_gs1_data_with_gs_is_read_as_gs1() -> None:
    # A reader set up without AIM identifiers still sends GS between GS1 fields.
    code = parse(f"01{GTIN}21SN1{GS}10L")
    assert code.kind is CodeKind.GS1
    assert code.symbology is None
    assert (code.gtin, code.serial, code.lot) == (GTIN, "SN1", "L")
    assert parse(f"01{BAD_GTIN}21SN1{GS}10L").error == (
        f"Unreadable GS1 code: GTIN {BAD_GTIN} has a bad check digit"
    )


def test_unidentified_digits_without_gs_stay_plain() -> None:
    code = parse(f"01{GTIN}")
    assert code.kind is CodeKind.PLAIN
    assert code.serial == f"01{GTIN}"


# --- The human-readable form ---------------------------------------------------------------------


def test_human_readable_form() -> None:
    code = parse(f"(01){GTIN}(21)sn-42(10)L1(17)250100")
    assert code.kind is CodeKind.GS1
    assert code.symbology is None
    assert code.gtin == GTIN
    assert code.serial == "SN-42"
    assert code.lot == "L1"
    assert code.expiry == date(2025, 1, 31)  # day 00: the last day of the month
    assert code.ais == (("01", GTIN), ("21", "sn-42"), ("10", "L1"), ("17", "250100"))


def test_human_readable_form_with_spaces() -> None:
    assert parse(f"(01) {GTIN} (21) abc").serial == "ABC"


@pytest.mark.parametrize(
    "payload",
    [
        f"(01){BAD_GTIN}(21)X",
        "(01)0950600013435(21)X",  # 13 digits
        "(21)" + "A" * 21,  # too long: never cut to fit
        "(99)",
        "(011)123",
        "(7)1",
        "(hello)",
        f"(01){GTIN}(21)A{GS}B",
    ],
)
def test_bad_human_readable_form_is_invalid(payload: str) -> None:
    code = parse(payload)
    assert code.kind is CodeKind.INVALID
    assert code.error


# --- GS1 Digital Link ----------------------------------------------------------------------------

DIGITAL_LINK = f"https://id.gs1.org/01/{GTIN}/10/L1/21/sn-7?17=251231"


@pytest.mark.parametrize("prefix", ["", "]Q1", "]d1", "]J0"])
def test_digital_link(prefix: str) -> None:
    code = parse(prefix + DIGITAL_LINK)
    assert code.kind is CodeKind.DIGITAL_LINK, code.error
    assert code.symbology == (prefix or None)
    assert code.data == DIGITAL_LINK
    assert (code.gtin, code.serial, code.lot) == (GTIN, "SN-7", "L1")
    assert code.expiry == date(2025, 12, 31)
    assert code.ais == (("01", GTIN), ("10", "L1"), ("21", "sn-7"), ("17", "251231"))


def test_digital_link_in_upper_case() -> None:
    code = parse(f"HTTPS://ID.GS1.ORG/01/{GTIN}/21/SN7")
    assert code.kind is CodeKind.DIGITAL_LINK
    assert code.serial == "SN7"


def test_digital_link_percent_encoded_serial() -> None:
    assert parse(f"https://example.com/01/{GTIN}/21/A%2FB").serial == "A/B"


@pytest.mark.parametrize(
    "payload",
    [
        f"https://id.gs1.org/01/{BAD_GTIN}/21/X",
        "https://example.com/about",
        f"https://id.gs1.org/01/{GTIN}/21",
        f"https://id.gs1.org/01/{GTIN}/21/a/10/b",  # qualifiers out of order
        f"HtTp://id.gs1.org/01/{GTIN}",
        "http://[::1",
    ],
)
def test_bad_digital_link_is_invalid(payload: str) -> None:
    code = parse(payload)
    assert code.kind is CodeKind.INVALID
    assert code.error is not None and code.error.startswith("Unreadable GS1 Digital Link: ")


# --- EAN/UPC and ITF-14 --------------------------------------------------------------------------


def test_ean13_gives_a_gtin_and_no_serial() -> None:
    code = parse("]E09506000134352")
    assert code.kind is CodeKind.GS1
    assert code.gtin == "09506000134352"
    assert code.serial is None
    assert code.ais == (("01", "09506000134352"),)


def test_ean13_with_add_on() -> None:
    code = parse("]E3978020137962451999")
    assert code.kind is CodeKind.GS1
    assert code.gtin == "09780201379624"


def test_add_on_alone_is_invalid() -> None:
    assert parse("]E112").kind is CodeKind.INVALID


def test_itf14_gives_a_gtin() -> None:
    assert parse(f"]I1{GTIN}").gtin == GTIN
    assert parse("]I1123456").kind is CodeKind.PLAIN


@pytest.mark.parametrize(
    ("payload", "gtin"),
    [
        ("9506000134352", "09506000134352"),  # EAN-13
        ("036000291452", "00036000291452"),  # UPC-A
        ("96385074", "00000096385074"),  # EAN-8
        (GTIN, GTIN),  # GTIN-14
        (" 9506000134352\r\n", "09506000134352"),  # as a wedge sends it
    ],
)
def test_a_plain_ean_upc_read_is_recognised_as_a_gtin(payload: str, gtin: str) -> None:
    code = parse(payload)
    assert code.kind is CodeKind.PLAIN  # still a serial candidate: serials may be digits
    assert gtin_of_plain(code) == gtin


def test_a_plain_ean13_means_the_same_gtin_as_with_its_identifier() -> None:
    assert gtin_of_plain(parse("9506000134352")) == parse("]E09506000134352").gtin


@pytest.mark.parametrize(
    "payload",
    [
        "9506000134353",  # bad check digit
        "95060001343",  # 11 digits: no GTIN length
        "123456789012345",  # 15 digits
        "SN0000421",
        "٩٥٠٦٠٠٠١٣٤٣٥٢",  # digits, but not ASCII ones
        "]C09506000134352",  # an identifier said it is Code 128 data, not an EAN
        "]E09506000134352",  # read as GS1 already (its GTIN is in code.gtin)
        f"(01){GTIN}",
        "",
    ],
)
def test_other_reads_are_no_plain_gtin(payload: str) -> None:
    assert gtin_of_plain(parse(payload)) is None


# --- Plain serials, limits and hostile payloads --------------------------------------------------


@pytest.mark.parametrize("payload", ["ABC", "SN0000421", "Q7KX2M9PZT4A", "[red]x[/]", "a b"])
def test_plain_serial(payload: str) -> None:
    code = parse(payload)
    assert code.kind is CodeKind.PLAIN
    assert code.symbology is None
    assert code.data == payload
    assert code.serial == payload.upper()
    assert (code.gtin, code.lot, code.expiry, code.ais, code.error) == (None, None, None, (), None)


def test_plain_serial_is_trimmed_and_upper_cased_but_raw_is_kept() -> None:
    code = parse("  sn0000421\r\n")
    assert code.raw == "  sn0000421\r\n"
    assert code.data == "sn0000421"
    assert code.serial == "SN0000421"
    assert parse("  sn0000421\r\n", case="preserve").serial == "sn0000421"


def test_markup_is_plain_text() -> None:
    code = parse("[@click=app.quit]Q[/]")
    assert code.kind is CodeKind.PLAIN
    assert code.data == "[@click=app.quit]Q[/]"
    assert code.serial == "[@CLICK=APP.QUIT]Q[/]"


@pytest.mark.parametrize("payload", ["", " ", "\t\r\n", "   \n"])
def test_empty_scan(payload: str) -> None:
    code = parse(payload)
    assert code.kind is CodeKind.INVALID
    assert code.error == "Empty scan"


def test_too_long_scan_is_rejected_whole() -> None:
    payload = "X" * 5000
    code = parse(payload)
    assert code.kind is CodeKind.INVALID
    assert code.error == "Scan too long: 5000 characters (the limit is 512)"
    assert code.raw == payload
    assert code.serial is None


def test_length_limit_is_inclusive_and_configurable() -> None:
    assert parse("X" * DEFAULT_MAX_LENGTH).kind is CodeKind.PLAIN
    assert parse("X" * (DEFAULT_MAX_LENGTH + 1)).kind is CodeKind.INVALID
    assert parse("ABCDE", max_length=4).error == "Scan too long: 5 characters (the limit is 4)"


@pytest.mark.parametrize(
    "payload",
    [
        "\x1b[2J",  # clear screen
        "SN1\x1b]0;title\x07",  # set the terminal title
        "\x1b[31mRED",
        "\x9b31mX",  # C1 CSI
        "A\x11B",  # DC1
        "A\x00B",
        "A\x7fB",
        "AB\x1dC",  # GS in a non-GS1 code
        "]Q1AB\x1dC",
        "]Q1A\x1bB",
        "SN1\nSN2",
    ],
)
def test_control_characters_are_refused(payload: str) -> None:
    code = parse(payload)
    assert code.kind is CodeKind.INVALID
    assert code.error == "Scan contains control characters"


def test_error_sentences_show_no_control_characters() -> None:
    code = parse(f"]C101{GTIN}21A{GS}{GS}\x1b[2J")
    assert code.error is not None
    assert "\x1b" not in code.error and GS not in code.error


def test_unknown_case_setting_is_invalid_not_an_exception() -> None:
    code = parse("ABC", case="lower")  # type: ignore[arg-type]
    assert code.kind is CodeKind.INVALID


def test_scan_code_is_frozen() -> None:
    code = parse("ABC")
    with pytest.raises(dataclasses.FrozenInstanceError):
        code.serial = "X"  # type: ignore[misc]


# --- normalise_serial and visible ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "case", "expected"),
    [
        ("  sn1 \t\r\n", "upper", "SN1"),
        ("  sn1 ", "preserve", "sn1"),
        (f"{GS}ab{GS}", "upper", f"{GS}AB{GS}"),  # GS is data: never trimmed
        (f" ab{GS} ", "preserve", f"ab{GS}"),
        ("]Q1abc", "upper", "ABC"),
        (" ]C0 abc ", "preserve", "abc"),
        ("]XXabc", "upper", "]XXABC"),  # not an identifier: kept
        ("", "upper", ""),
    ],
)
def test_normalise_serial(text: str, case: str, expected: str) -> None:
    assert normalise_serial(text, case) == expected  # type: ignore[arg-type]


def test_normalise_serial_refuses_an_unknown_case() -> None:
    with pytest.raises(ValueError, match="upper"):
        normalise_serial("abc", "lower")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (GS, "␝"),
        ("\x1b", "␛"),
        ("\x00", "␀"),
        ("\x7f", "␡"),
        ("\t\r\n", "␉␍␊"),
        ("\x9b", "\\x9b"),
        ("\x80\x9f", "\\x80\\x9f"),
        (f"01{GTIN}10A{GS}21B", f"01{GTIN}10A␝21B"),
        ("[red]x[/] é 中 ␝", "[red]x[/] é 中 ␝"),
    ],
)
def test_visible(text: str, shown: str) -> None:
    assert visible(text) == shown


def test_visible_leaves_no_control_character() -> None:
    every = "".join(map(chr, range(0x00, 0x100)))
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in visible(every))


# --- parse never raises --------------------------------------------------------------------------

_ALPHABET = (
    string.printable
    + "".join(map(chr, range(0x20)))
    + "\x7f\x80\x9b\x9f"
    + "]]]]((((" * 2
    + string.digits * 3
    + "é中\u2028\ud800"  # a lone surrogate, as surrogateescape leaves undecodable bytes
)
_PREFIXES = (
    "",
    "",
    "]",
    "]C1",
    "]C101" + GTIN,
    "]Q1",
    "]Q3",
    "]E0",
    "]E4",
    "]e0",
    "]d2",
    "]J1",
    "]Y",
    "(01)",
    "(21)",
    "01" + GTIN,
    "https://",
    "]Q1http://id.gs1.org/01/",
    "HTTP://x/01/",
)


def _assert_well_formed(code: ScanCode, payload: str) -> None:
    assert isinstance(code, ScanCode)
    assert code.raw == payload
    assert code.ok == (code.kind is not CodeKind.INVALID)
    if code.ok:
        assert code.error is None
    else:
        assert code.error and code.error != INTERNAL_ERROR
        assert "\n" not in code.error and len(code.error) < 160
        assert visible(code.error) == code.error
        assert (code.serial, code.gtin, code.lot, code.expiry, code.ais) == (
            None,
            None,
            None,
            None,
            (),
        )
    if code.kind is CodeKind.PLAIN:
        assert code.serial and visible(code.serial) == code.serial
    if code.gtin is not None:
        assert len(code.gtin) == 14 and code.gtin.isascii() and code.gtin.isdigit()


def test_parse_never_raises_on_random_input() -> None:
    rng = random.Random(20240611)
    for _ in range(2000):
        size = rng.choice((rng.randint(0, 8), rng.randint(0, 40)))
        payload = rng.choice(_PREFIXES) + "".join(rng.choice(_ALPHABET) for _ in range(size))
        _assert_well_formed(parse(payload), payload)


def test_a_bare_serial_reads_as_every_step_of_parse_would_read_it() -> None:
    """parse() takes a payload of letters, digits and . _ / - at once: what it makes is what
    the trimming, identifier, GS1, URI and bracket steps make of the same text."""
    from scanstation.domain import codes

    def every_step(payload: str, case: codes.SerialCase) -> ScanCode:
        body = codes._trim(codes.strip_bom(codes._trim(payload)))
        return codes._read_unidentified(payload, body, case)

    rng = random.Random(13)
    tail = string.ascii_letters + string.digits + "._/-"
    for _ in range(2000):
        length = rng.randint(0, 30)
        payload = rng.choice(string.ascii_letters + string.digits) + "".join(
            rng.choice(tail) for _ in range(length)
        )
        for case in ("upper", "preserve"):
            assert parse(payload, case=case) == every_step(payload, case), (payload, case)
    # Anything else goes every step: a sign first, space, an identifier, a bracket, a URI.
    for other in ("-SN1", ".SN1", " SN1", "SN1\n", "]C1SN1", "(21)SN1", "https://x/21/1", "SN 1"):
        assert codes._BARE_SERIAL(other) is None, other
