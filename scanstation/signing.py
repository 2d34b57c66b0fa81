"""The deployment's Ed25519 key pair: making it, signing secondary QR tokens, checking them.

The private key lives in one file of the planner's machine (mode 0600, `[keys] private_key`),
never in the database a terminal can read and never in any output; a station and
`scanstation verify` need only the public key (PEM). The text form is domain/qr.py's.

Signing costs ~57 µs of CPU a token with `cryptography` (OpenSSL's Ed25519), and base32 with
the standard library another ~18 µs: many tokens are signed in blocks, their signatures
base32-encoded together with numpy (~2 µs each), each block's seals returned as one string of
fixed-width seals (no per-token objects cross the pipe). A generation run of many tokens signs
them in worker processes (each gets the key once, through its start-up pipe).

`cryptography` and numpy load when a key is first read or a block first sealed: every face
imports this module (for KeyRing, Verdict) and the station must start without them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from enum import StrEnum
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Final

from scanstation.domain.qr import (
    KEY_ID_LENGTH,
    SIGNATURE_BYTES,
    SIGNATURE_LENGTH,
    QrFormatError,
    QrKind,
    SignedQr,
    key_id_of,
    looks_signed,
    parse_signed,
    qr_kind,
    signable,
    signed_message,
)

if TYPE_CHECKING:
    import numpy as np
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = [
    "KeyFileError",
    "KeyRing",
    "Signer",
    "Verdict",
    "Verifier",
    "init_keys",
    "load_signer",
    "load_verifier",
    "read_public_key",
]

POOL_FROM: Final = 20_000  # fewer tokens are signed in this process: a pool costs ~0.3 s to start
POOL_CHUNK: Final = 5_000
SEAL_LENGTH: Final = KEY_ID_LENGTH + 1 + SIGNATURE_LENGTH  # `KEYID.SIGNATURE`


@cache
def _base32_tables() -> tuple[np.ndarray, np.ndarray]:
    """(the alphabet's ASCII codes, the shifts of a 40-bit group's 8 characters)."""
    import numpy as np

    alphabet = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", dtype=np.uint8)
    return alphabet, np.arange(35, -1, -5, dtype=np.uint64)


class KeyFileError(Exception):
    """A key file that is missing, unreadable, of the wrong kind or open to other users."""


class Verdict(StrEnum):
    GENUINE = "genuine"
    NOT_GENUINE = "not genuine"
    UNSIGNED = "unsigned"
    UNREADABLE = "unreadable"


def _raw_public(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _public_pem(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _seal(key: Ed25519PrivateKey, key_id: str, token: str) -> str:
    return SignedQr(token, key_id, key.sign(signed_message(token, key_id))).seal


def _base32_signatures(raw: bytes) -> np.ndarray:
    """Each 64-byte signature of `raw` in base32 without padding (domain.qr.b32): one row of
    103 ASCII codes each. The standard library's encoder is a Python loop (~18 µs a
    signature); this is ~2 µs."""
    import numpy as np

    alphabet, shifts = _base32_tables()
    count = len(raw) // SIGNATURE_BYTES
    groups = -(-SIGNATURE_BYTES // 5)  # 13 groups of 5 bytes, the last padded with zeros
    octets = np.zeros((count, groups * 5), dtype=np.uint64)
    octets[:, :SIGNATURE_BYTES] = np.frombuffer(raw, dtype=np.uint8).reshape(count, -1)
    g = octets.reshape(count, groups, 5)
    value = (g[..., 0] << 32) | (g[..., 1] << 24) | (g[..., 2] << 16) | (g[..., 3] << 8) | g[..., 4]
    codes = (value[..., None] >> shifts) & 31
    return alphabet[codes.reshape(count, groups * 8)[:, :SIGNATURE_LENGTH]]


def _seal_block(key: Ed25519PrivateKey, key_id: str, tokens: list[str]) -> str:
    """The seals of `tokens` (`KEYID.SIGNATURE`, as `_seal` makes them) end to end, each
    SEAL_LENGTH characters."""
    import numpy as np

    sign = key.sign
    raw = b"".join([sign(signed_message(token, key_id)) for token in tokens])
    rows = np.empty((len(tokens), SEAL_LENGTH), dtype=np.uint8)
    rows[:, :KEY_ID_LENGTH] = np.frombuffer(key_id.encode("ascii"), dtype=np.uint8)
    rows[:, KEY_ID_LENGTH] = ord(".")
    rows[:, KEY_ID_LENGTH + 1 :] = _base32_signatures(raw)
    return rows.tobytes().decode("ascii")


def _split_seals(blocks: list[str]) -> Iterator[str]:
    for block in blocks:
        for start in range(0, len(block), SEAL_LENGTH):
            yield block[start : start + SEAL_LENGTH]


# -- worker processes ---------------------------------------------------------------------------

_worker_key: Ed25519PrivateKey | None = None
_worker_key_id = ""


def _worker_start(raw: bytes, key_id: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    global _worker_key, _worker_key_id
    _worker_key = Ed25519PrivateKey.from_private_bytes(raw)
    _worker_key_id = key_id


def _worker_seal(tokens: list[str]) -> str:
    assert _worker_key is not None
    return _seal_block(_worker_key, _worker_key_id, tokens)


class Signer:
    """Signs tokens with the private key; `repr` never shows it."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key()
        self.key_id = key_id_of(_raw_public(self.public_key))

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id})"

    def verifier(self) -> Verifier:
        return Verifier(self.public_key)

    def public_pem(self) -> str:
        return _public_pem(self.public_key).decode("ascii")

    def seal(self, token: str) -> str:
        """`KEYID.SIGNATURE` for one token (domain.qr.signed_text makes the QR text)."""
        return _seal(self._key, self.key_id, token)

    def seal_many(self, tokens: list[str]) -> list[str | None]:
        """The seal of each token, None for a token too long or of characters the compact form
        cannot carry (it stays unsigned). Many tokens are signed in worker processes."""
        signable_at = [i for i, token in enumerate(tokens) if signable(token)]
        seals: list[str | None] = [None] * len(tokens)
        todo = [tokens[i] for i in signable_at]
        workers = min(os.cpu_count() or 1, 8)
        if not todo:
            return seals
        if len(todo) < POOL_FROM or workers < 2:
            blocks = [_seal_block(self._key, self.key_id, todo)]
        else:
            blocks = self._seal_in_pool(todo, workers)
        for index, seal in zip(signable_at, _split_seals(blocks), strict=True):
            seals[index] = seal
        return seals

    def _seal_in_pool(self, tokens: list[str], workers: int) -> list[str]:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        from cryptography.hazmat.primitives import serialization

        raw = self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        chunks = [tokens[i : i + POOL_CHUNK] for i in range(0, len(tokens), POOL_CHUNK)]
        # forkserver: the caller may be the station app with threads running (fork would copy
        # their locks half-held); the key goes to each worker once, through its start-up pipe.
        with ProcessPoolExecutor(
            workers,
            mp_context=get_context("forkserver"),
            initializer=_worker_start,
            initargs=(raw, self.key_id),
        ) as pool:
            return list(pool.map(_worker_seal, chunks))


class Verifier:
    """Checks QR texts with a public key only: offline, no database."""

    def __init__(self, key: Ed25519PublicKey) -> None:
        self.public_key = key
        self.key_id = key_id_of(_raw_public(key))

    def public_pem(self) -> str:
        return _public_pem(self.public_key).decode("ascii")

    def check(self, text: str) -> tuple[Verdict, str]:
        """(verdict, why) for a QR text."""
        from cryptography.exceptions import InvalidSignature

        kind = qr_kind(text)
        if kind is QrKind.UNSIGNED:
            return Verdict.UNSIGNED, "a plain token: it carries no signature"
        if kind is QrKind.UNREADABLE and not looks_signed(text):
            return Verdict.UNREADABLE, (
                "not a secondary QR code (neither a plain token nor SQ1.TOKEN.KEYID.SIGNATURE)"
            )
        try:
            signed = parse_signed(text)
        except QrFormatError as error:
            return Verdict.UNREADABLE, f"not a secondary QR code: {error}"
        if signed.key_id != self.key_id:
            return Verdict.NOT_GENUINE, (
                f"signed by key {signed.key_id}, not by this deployment's key {self.key_id}"
            )
        try:
            self.public_key.verify(signed.signature, signed.message)
        except InvalidSignature:
            return Verdict.NOT_GENUINE, "the signature does not match the token"
        return Verdict.GENUINE, f"signed by key {self.key_id}"


# -- key files ------------------------------------------------------------------------------------


def init_keys(private_path: Path, public_path: Path) -> Signer:
    """Make a new key pair: the private key file mode 0600 (created, never overwritten), the
    public key beside it. KeyFileError if either file exists already."""
    for path in (private_path, public_path):
        if path.exists():
            raise KeyFileError(
                f"{path} exists already: new QR codes are signed with it and labels printed "
                "so far verify only with it; move it away first to make a new key pair"
            )
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        private_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        public_path.parent.mkdir(parents=True, exist_ok=True)
        public_path.write_bytes(_public_pem(key.public_key()))
    except OSError as error:
        raise KeyFileError(f"cannot write the key pair: {error.strerror or error}") from error
    return Signer(key)


def load_signer(private_path: Path) -> Signer | None:
    """The private key, or None when there is none (tokens stay unsigned, as before)."""
    if not private_path.exists():
        return None
    try:
        mode = private_path.stat().st_mode
        data = private_path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"{private_path}: cannot be read: {error.strerror}") from error
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if mode & 0o077:
        raise KeyFileError(
            f"{private_path}: the private key is readable by other users; "
            f"`chmod 600 {private_path}`"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{private_path}: not an unencrypted PEM private key") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{private_path}: not an Ed25519 private key")
    return Signer(key)


def read_public_key(path: Path) -> Verifier:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"{path}: cannot be read: {error.strerror}") from error
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{path}: not a PEM public key") from error
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: not an Ed25519 public key")
    return Verifier(key)


def load_verifier(public_path: Path, private_path: Path) -> Verifier | None:
    """The public key file if there is one, else the private key's public half; None when
    neither exists."""
    if public_path.exists():
        return read_public_key(public_path)
    signer = load_signer(private_path)
    return signer.verifier() if signer else None


class KeyRing:
    """The configured key files, each read when first needed: a station that never signs
    never opens the private key."""

    def __init__(self, private_path: Path, public_path: Path) -> None:
        self.private_path = private_path
        self.public_path = public_path

    def __repr__(self) -> str:
        return f"KeyRing({self.private_path}, {self.public_path})"

    @cached_property
    def signer(self) -> Signer | None:
        """None when there is no private key: tokens stay unsigned, as before."""
        return load_signer(self.private_path)

    @cached_property
    def verifier(self) -> Verifier | None:
        return load_verifier(self.public_path, self.private_path)
