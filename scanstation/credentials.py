"""PINs and tokens: how they are checked for shape, hashed, and compared. Nothing here keeps,
prints or logs a secret; the store keeps only what `hash_pin` and `token_digest` return.

A PIN (4–12 digits) is hashed with scrypt (`hashlib.scrypt`, in the standard library: nothing
to install, memory-hard like argon2id), n = 2**15, r = 8, p = 1: 32 MiB and, on this 2-core
machine, about 100–190 ms a check (`benchmarks/pin_hash.py`). A PIN has at most 10**12
values, so the hash only slows a thief of the database; the lockout after a few wrong PINs
stops guessing at a terminal. The parameters travel in the stored text, so they can be raised
later without breaking old hashes.

A token is 32 random bytes (256 bits): no guess can find one, so its SHA-256 digest is enough
to store it and to look it up, and checking it costs nothing on every command of a script.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

__all__ = [
    "PIN_MAX_DIGITS",
    "PIN_MIN_DIGITS",
    "TOKEN_PREFIX",
    "PinHasher",
    "hash_pin",
    "looks_like_token",
    "new_pin",
    "new_token",
    "pin_problem",
    "token_digest",
    "verify_pin",
]

PIN_MIN_DIGITS: Final = 4
PIN_MAX_DIGITS: Final = 12
TOKEN_PREFIX: Final = "sst_"
_TOKEN_BYTES: Final = 32
_SALT_BYTES: Final = 16
_KEY_BYTES: Final = 32
_SCHEME: Final = "scrypt"


def pin_problem(pin: str) -> str | None:
    """What is wrong with a new PIN (a sentence that never repeats it), or None."""
    if not pin.isascii() or not pin.isdigit():
        return "a PIN is digits only"
    if not PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS:
        return f"a PIN has {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits"
    return None


@dataclass(frozen=True, slots=True)
class PinHasher:
    """scrypt's cost: n (a power of two), r and p. 128 * n * r bytes of memory a check."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    @property
    def memory(self) -> int:
        return 128 * self.n * self.r * self.p

    def derive(self, pin: str, salt: bytes) -> bytes:
        return hashlib.scrypt(
            pin.encode("ascii", "replace"),
            salt=salt,
            n=self.n,
            r=self.r,
            p=self.p,
            maxmem=self.memory + 16 * 2**20,
            dklen=_KEY_BYTES,
        )

    def hash(self, pin: str) -> str:
        salt = secrets.token_bytes(_SALT_BYTES)
        key = self.derive(pin, salt)
        return f"{_SCHEME}${self.n},{self.r},{self.p}${_b64(salt)}${_b64(key)}"


DEFAULT_HASHER: Final = PinHasher()


def hash_pin(pin: str) -> str:
    """The text stored for a PIN: scheme, cost, salt and key (never the PIN)."""
    problem = pin_problem(pin)
    if problem is not None:
        raise ValueError(problem)  # the sentence never holds the PIN
    return DEFAULT_HASHER.hash(pin)


def verify_pin(pin: str, stored: str | None) -> bool:
    """Does `pin` match the stored hash? Without one (no PIN set, or no such user) the same
    hashing work is done anyway and the answer is False, so the time a check takes does not
    tell whether the name exists."""
    hasher, salt, key = _parse(stored) if stored else (None, b"", b"")
    if hasher is None:
        DEFAULT_HASHER.derive(pin, b"\0" * _SALT_BYTES)
        return False
    return hmac.compare_digest(hasher.derive(pin, salt), key)


def _parse(stored: str) -> tuple[PinHasher | None, bytes, bytes]:
    try:
        scheme, cost, salt, key = stored.split("$")
        n, r, p = (int(part) for part in cost.split(","))
        if scheme != _SCHEME or n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16:
            return None, b"", b""
        return PinHasher(n, r, p), _unb64(salt), _unb64(key)
    except ValueError:
        return None, b"", b""


def new_pin(digits: int = 6) -> str:
    """A random PIN (the demo's people): shown once to whoever asked, stored only hashed."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def new_token() -> str:
    """A new API token: shown to its owner once, stored only as its digest."""
    return TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def looks_like_token(text: str) -> bool:
    return text.startswith(TOKEN_PREFIX) and 16 <= len(text) <= 128 and text.isascii()


def token_digest(token: str) -> str:
    """What is stored of a token, and how it is found again: SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
