"""How values are stored: times as ISO 8601 text in UTC (the same on SQLite and PostgreSQL,
and they sort as text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["from_iso", "iso", "micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def iso(moment: datetime) -> str:
    if moment.tzinfo is not UTC:  # a moment made by utc_now() is UTC already: no copy
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def micros(moment: datetime) -> int:
    """`moment` as whole microseconds since the epoch: `iso`'s moment, as a number (a naive
    one taken as local time, as `iso` takes it)."""
    if moment.tzinfo is None:
        moment = moment.astimezone(UTC)
    return (moment - _EPOCH) // _MICROSECOND


# datetime's own parser, not a function around it: a scan's read parses two.
from_iso = datetime.fromisoformat
