"""How values are stored: times as ISO 8601 text in UTC (the same on SQLite and PostgreSQL,
and they sort as text)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["from_iso", "iso"]


def iso(moment: datetime) -> str:
    if moment.tzinfo is not UTC:  # a moment made by utc_now() is UTC already: no copy
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


# datetime's own parser, not a function around it: a scan's read parses two.
from_iso = datetime.fromisoformat
