"""How values are stored: times as ISO 8601 text in UTC (the same on SQLite and PostgreSQL,
and they sort as text)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["from_iso", "iso"]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)
