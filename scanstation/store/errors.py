"""What the store raises. Every driver error (sqlite3, psycopg2, Peewee's wrappers of them)
leaves the store as one of these, classed by what the caller should do with it; a driver
traceback never reaches a face."""

from __future__ import annotations

__all__ = ["StoreBusy", "StoreError"]


class StoreError(Exception):
    """A database problem, said in a sentence a person can act on.

    `transient`: the database failed, not the request — unreachable, locked, timed out, out of
    disk, damaged. The same request may succeed later, so a station retries it or keeps it in
    its offline journal. Otherwise (permanent) the request itself can never succeed as it is
    (a value the database refuses, a row someone else wrote meanwhile): the sentence says why,
    and it must not be retried, nor block the scans behind it.
    """

    transient: bool = False

    def __init__(self, message: str, *, transient: bool | None = None) -> None:
        super().__init__(message)
        if transient is not None:
            self.transient = transient


class StoreBusy(StoreError):
    """The database stayed locked, timed out or unreachable after the bounded retries;
    nothing was saved."""

    transient = True


class VersionChanged(Exception):
    """Inside the store: the row changed between our locked read and our write; the write is
    retried whole."""


class DuplicateScan(Exception):
    """Inside the store: this scan id (or request id) is already recorded; the transaction was
    rolled back, nothing applied."""
