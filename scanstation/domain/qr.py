"""The secondary QR's text: a plain token (unsigned, as before), or a token signed with the
deployment's Ed25519 key in one compact, documented form:

    SQ1.<TOKEN>.<KEYID>.<SIGNATURE>

- `SQ1`: this form, version 1.
- TOKEN: the serial's secondary QR token (the generated ones: 12 characters of base32).
- KEYID: 8 base32 characters, the first 5 bytes of SHA-256 of the raw 32-byte public key: which
  key signed it (a token signed by another key is told apart without trying the signature).
- SIGNATURE: the 64-byte Ed25519 signature of the ASCII text `SQ1.<TOKEN>.<KEYID>`, base32
  without padding (103 characters).

Base32 upper-case letters, digits and `.` are all in the QR alphanumeric set, so a generated
token's 129 characters fit a QR code of version 6 at level M (154 alphanumeric characters), and
the text survives a station that upper-cases what it scans. Pure Python: the signature itself is
made and checked in scanstation.signing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "KEY_ID_LENGTH",
    "MAX_SIGNED_TOKEN",
    "PREFIX",
    "SIGNATURE_BYTES",
    "SIGNATURE_LENGTH",
    "QrFormatError",
    "QrKind",
    "SignedQr",
    "b32",
    "key_id_of",
    "looks_signed",
    "parse_signed",
    "qr_kind",
    "signable",
    "signed_message",
    "signed_text",
]

PREFIX: Final = "SQ1"
KEY_ID_LENGTH: Final = 8
SIGNATURE_BYTES: Final = 64
SIGNATURE_LENGTH: Final = 103  # 64 bytes in base32, padding dropped
# The longest token signed: the whole text still fits a version 6-M QR code (154 characters).
MAX_SIGNED_TOKEN: Final = 24
_TOKEN: Final = re.compile(rf"[A-Z0-9-]{{1,{MAX_SIGNED_TOKEN}}}")  # QR alphanumeric, no "."
_BASE32: Final = re.compile(r"[A-Z2-7]+")
# A plain (unsigned) code: GS1 AI 82 characters, as a serial or a token may hold.
_PLAIN: Final = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,64}")


class QrFormatError(ValueError):
    """Text that starts like a signed QR but is not one (a damaged or made-up code)."""


class QrKind(StrEnum):
    SIGNED = "signed"
    UNSIGNED = "unsigned"
    UNREADABLE = "unreadable"


def b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def _unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def key_id_of(public_key: bytes) -> str:
    """The key id of a raw 32-byte Ed25519 public key."""
    return b32(hashlib.sha256(public_key).digest()[:5])


def signable(token: str) -> bool:
    """Can this token be signed and still fit a version 6-M QR code in alphanumeric mode?"""
    return _TOKEN.fullmatch(token) is not None


_SIGNED_START: Final = f"{PREFIX}."  # made once: every scan asks


def looks_signed(text: str) -> bool:
    return text[: len(_SIGNED_START)].upper() == _SIGNED_START


@dataclass(frozen=True, slots=True)
class SignedQr:
    token: str
    key_id: str
    signature: bytes

    @property
    def message(self) -> bytes:
        """The bytes the signature covers."""
        return signed_message(self.token, self.key_id)

    @property
    def seal(self) -> str:
        """What the store keeps beside the token: `KEYID.SIGNATURE`."""
        return f"{self.key_id}.{b32(self.signature)}"

    @property
    def text(self) -> str:
        """Exactly what the QR code carries."""
        return signed_text(self.token, self.seal)


def signed_message(token: str, key_id: str) -> bytes:
    return f"{PREFIX}.{token}.{key_id}".encode("ascii")


def signed_text(token: str, seal: str) -> str:
    """The QR text of a token and its stored seal (`KEYID.SIGNATURE`)."""
    return f"{PREFIX}.{token}.{seal}"


def parse_signed(text: str) -> SignedQr:
    """`SQ1.<TOKEN>.<KEYID>.<SIGNATURE>` → its parts (case-insensitive: a station may upper-case
    what it scans); QrFormatError naming what is wrong."""
    text = text.strip().upper()
    if not looks_signed(text):
        raise QrFormatError(f"a signed QR code starts with {PREFIX}.")
    parts = text[len(PREFIX) + 1 :].rsplit(".", 2)
    if len(parts) != 3:
        raise QrFormatError(f"a signed QR code has four parts: {PREFIX}.TOKEN.KEYID.SIGNATURE")
    token, key_id, signature = parts
    if not signable(token):
        raise QrFormatError(f"its token must be 1-{MAX_SIGNED_TOKEN} letters, digits or '-'")
    if len(key_id) != KEY_ID_LENGTH or not _BASE32.fullmatch(key_id):
        raise QrFormatError(f"its key id must be {KEY_ID_LENGTH} base32 characters")
    if len(signature) != SIGNATURE_LENGTH or not _BASE32.fullmatch(signature):
        raise QrFormatError(f"its signature must be {SIGNATURE_LENGTH} base32 characters")
    try:
        raw = _unb32(signature)
    except (binascii.Error, ValueError) as error:
        raise QrFormatError("its signature is not valid base32") from error
    if b32(raw) != signature:  # the unused low bits of the last character must be zero
        raise QrFormatError("its signature is not valid base32")
    return SignedQr(token, key_id, raw)


def qr_kind(text: str) -> QrKind:
    """What a secondary QR text is, before any key is tried."""
    text = text.strip()
    if looks_signed(text):
        try:
            parse_signed(text)
        except QrFormatError:
            return QrKind.UNREADABLE
        return QrKind.SIGNED
    return QrKind.UNSIGNED if _PLAIN.fullmatch(text) else QrKind.UNREADABLE
