"""The files of a station's offline journal: where it lives, the key that seals its entries,
and the lock that lets one process replay it at a time.

The journal (journal.py) is an ordinary SQLite file a person can edit; without a seal, an
edited entry (another operator, a payload, a mode or a backdated read time) would be replayed
as if it had been scanned. Each journal has its own random key in a file next to it
(`<journal>.key`, mode 0600, never printed): per station and per site database like the journal.
An entry is sealed with HMAC-SHA256 over what a replay applies, and an entry whose seal does
not match is never applied.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sys
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO

from platformdirs import user_data_dir

from scanstation.store.database import StoreError, parse_url

__all__ = [
    "JournalError",
    "database_identity",
    "default_journal_dir",
    "journal_path",
    "key_path",
    "load_or_create_key",
    "seal",
    "seal_matches",
    "try_lock",
    "unlock",
]


class JournalError(Exception):
    """The journal file cannot be used (another station's or database's, unreadable, full).

    Not a StoreError: that means the *site* database failed, which is what the journal is for.
    """


# -- where a journal lives ---------------------------------------------------------------------


def default_journal_dir() -> Path:
    return Path(user_data_dir("scanstation", appauthor=False)) / "journal"


def database_identity(url: str) -> str:
    """The site database a journal belongs to, as it is shown (never with a password).

    A SQLite file by its absolute path, so `--db station.db` from two working directories are
    two databases; a PostgreSQL database by host, port and name.
    """
    try:
        target = parse_url(url)
    except StoreError as error:
        raise JournalError(str(error)) from error
    if target.path is not None:
        return str(target.path.expanduser().resolve())
    return target.display


def journal_path(station_id: str, database_url: str, directory: Path | None = None) -> Path:
    """`<dir>/<station>-<sha256(database)[:12]>.db`: keyed by both, readable by a person."""
    identity = database_identity(database_url)
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:12]
    # Station ids are free text; the file name keeps a safe form of it, the meta table the
    # exact id (two ids that map to one safe form are refused there, never mixed).
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", station_id).strip(".")[:64] or "station"
    return (directory or default_journal_dir()) / f"{safe}-{digest}.db"


# -- the key and the seal ----------------------------------------------------------------------

KEY_BYTES = 32


def key_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".key")


def load_or_create_key(path: Path) -> tuple[bytes, bool]:
    """(the key, whether it was created now). OSError or ValueError when it cannot be had."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    else:
        key = bytes.fromhex(text)
        if len(key) != KEY_BYTES:
            raise ValueError(f"{path} does not hold a journal key")
        return key, False
    key = secrets.token_bytes(KEY_BYTES)
    try:
        # O_EXCL: two processes starting at once agree on one key; 0600: only this user.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_key(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key, True


def seal(key: bytes, fields: Sequence[object]) -> str:
    """The MAC of one entry's fields, exactly as they are stored."""
    text = json.dumps(list(fields), ensure_ascii=True, separators=(",", ":"))
    return hmac.new(key, text.encode("ascii"), hashlib.sha256).hexdigest()


def seal_matches(key: bytes, fields: Sequence[object], mac: str | None) -> bool:
    return mac is not None and hmac.compare_digest(seal(key, fields), mac)


# -- the replay lock ---------------------------------------------------------------------------

if sys.platform == "win32":  # pragma: no cover - the kiosks may run Windows; CI runs Linux
    import msvcrt

    def try_lock(handle: IO[bytes]) -> bool:
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def unlock(handle: IO[bytes]) -> None:
        with suppress(OSError):
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def try_lock(handle: IO[bytes]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def unlock(handle: IO[bytes]) -> None:
        with suppress(OSError):
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
