"""Records out, one way for every command that prints rows: a table for people, CSV with a
header row, or JSON lines (ASCII, one record a line). Rows are written as they come, so a
long report streams instead of waiting for its last row.

Table and CSV cells are shown like every other output (a control character made visible);
JSON is the data as recorded.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click

from scanstation.cli.common import json_line, shown

FORMATS = ("table", "csv", "json")
_FORMAT_WORDS = {"table": "table for people", "csv": "csv with a header row", "json": "JSON lines"}


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    width: int  # in the table; a wider cell pushes the next one along
    right: bool = False  # numbers


def format_option(default: str = "table", choices: tuple[str, ...] = FORMATS) -> Any:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help=", ".join(_FORMAT_WORDS[name] for name in choices) + ".",
    )


class When(click.ParamType):
    """A date (2026-11-30) or a time (2026-11-30T14:00); without a zone, this terminal's."""

    name = "when"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(
                f"{shown(value)!r} is not a date (2026-11-30) or a time (2026-11-30T14:00)",
                param,
                ctx,
            )
        return moment if moment.tzinfo is not None else moment.astimezone()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return shown(value)


def _table_cell(value: object) -> str:
    """A time to the minute in this terminal's zone; nothing as a dash."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    return shown(value)


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def table_line(columns: Sequence[Column], cells: Sequence[object]) -> str:
    parts = []
    for column, value in zip(columns, cells, strict=True):
        text = _table_cell(value)
        parts.append(text.rjust(column.width) if column.right else text.ljust(column.width))
    return "  ".join(parts).rstrip()


def write_records(records: Iterable[Mapping[str, Any]], columns: Sequence[Column], fmt: str) -> int:
    """Write every record in `fmt`; the number written."""
    out = sys.stdout
    count = 0
    if fmt == "json":
        for record in records:
            json_line({key: _json_value(value) for key, value in record.items()}, out)
            count += 1
        return count
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([column.key for column in columns])
        for record in records:
            writer.writerow([_cell(record.get(column.key)) for column in columns])
            count += 1
        out.flush()
        return count
    click.echo(table_line(columns, [column.header for column in columns]))
    for record in records:
        click.echo(table_line(columns, [record.get(column.key) for column in columns]))
        count += 1
    return count
