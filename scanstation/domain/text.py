"""The one escaping function for every text that came from a person, a file or a scanner.

Payloads, operator and station names, site and document names, CSV cells and file names are
all untrusted: any of them may carry ESC/OSC sequences, C1 controls (0x9b is CSI), bidi
overrides that reorder what a person reads (U+202E) or zero-width characters that make two
different strings look alike. `visible()` turns each of those into something a person can see
and a terminal cannot act on, so every face (TUI, CLI, logs, error sentences) shows the same
thing. Pure Python.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BOM", "INVISIBLE", "has_invisible", "strip_bom", "visible"]

BOM: Final = "\ufeff"

# Bidi controls: they reorder the text around them on screen.
_BIDI: Final = (
    "\u061c"  # ARABIC LETTER MARK
    "\u200e\u200f"  # LRM, RLM
    "\u202a\u202b\u202c\u202d\u202e"  # LRE, RLE, PDF, LRO, RLO
    "\u2066\u2067\u2068\u2069"  # LRI, RLI, FSI, PDI
)
# Zero-width and other invisible format characters: two strings that look alike differ.
_ZERO_WIDTH: Final = (
    "\u00ad"  # SOFT HYPHEN
    "\u180e"  # MONGOLIAN VOWEL SEPARATOR
    "\u200b\u200c\u200d"  # ZWSP, ZWNJ, ZWJ
    "\u2060\u2061\u2062\u2063\u2064"  # WORD JOINER, invisible operators
    "\ufeff"  # ZERO WIDTH NO-BREAK SPACE (BOM)
    "\u2028\u2029"  # LINE / PARAGRAPH SEPARATOR: a line break to some readers
)
INVISIBLE: Final = frozenset(_BIDI + _ZERO_WIDTH)

# C0 and DEL become their Unicode Control Pictures (GS → ␝); C1 controls, which a terminal may
# still act on, become plain-text escapes; invisible format characters become ⟨U+XXXX⟩.
_TABLE: Final[dict[int, str]] = {
    **{code: chr(0x2400 + code) for code in range(0x20)},
    0x7F: "\u2421",
    **{code: f"\\x{code:02x}" for code in range(0x80, 0xA0)},
    **{ord(ch): f"⟨U+{ord(ch):04X}⟩" for ch in INVISIBLE},
    # Lone surrogates: what `surrogateescape` makes of invalid UTF-8 in argv or a file name.
    **{code: f"\\x{code - 0xDC00:02x}" for code in range(0xDC80, 0xDD00)},
}


def visible(text: str) -> str:
    """`text` with every control, bidi, zero-width and undecodable character made visible."""
    shown = text.translate(_TABLE)
    if not shown.isascii() and any(0xD800 <= ord(ch) <= 0xDFFF for ch in shown):
        # Any other lone surrogate cannot be encoded for a terminal at all.
        shown = "".join(f"\\u{ord(ch):04x}" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in shown)
    return shown


def has_invisible(text: str) -> bool:
    """Does `text` carry a bidi or zero-width character (which `visible` would expose)?"""
    return not text.isascii() and any(ch in INVISIBLE for ch in text)


def strip_bom(text: str) -> str:
    """Drop one leading byte-order mark: editors and some scanners put it before the data."""
    return text[1:] if text.startswith(BOM) else text
