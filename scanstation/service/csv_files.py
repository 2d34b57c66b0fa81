"""Reading a CSV file that people made, the one way every import does it: streamed from
physical lines split on LF only (a quoted cell may hold line breaks and the line numbers stay
true), each line decoded on its own (bytes that are not UTF-8 are a problem at their line), a
header checked, and every problem kept as FILE:LINE with the line where its record starts."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from scanstation.domain.text import visible
from scanstation.service.setup import ServiceError

__all__ = [
    "MAX_LINE_BYTES",
    "ImportProblem",
    "Lines",
    "Problems",
    "add_problem",
    "csv_records",
    "records_after_header",
]

MAX_LINE_BYTES: Final = 1 << 20  # no record of a few bounded cells comes near a MiB a line
MAX_LISTED_PROBLEMS: Final = 1000
_BOM: Final = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int
    message: str


@dataclass
class Problems:
    """Problems in line order, at most MAX_LISTED_PROBLEMS listed; the rest counted."""

    listed: list[ImportProblem] = field(default_factory=list)
    unlisted: int = 0
    first_unlisted: int = 0

    def add(self, line: int, message: str) -> None:
        if len(self.listed) < MAX_LISTED_PROBLEMS:
            self.listed.append(ImportProblem(line, message))
            return
        if not self.unlisted or line < self.first_unlisted:
            self.first_unlisted = line
        self.unlisted += 1

    def __bool__(self) -> bool:
        return bool(self.listed)

    def report(self) -> tuple[ImportProblem, ...]:
        listed = sorted(self.listed, key=lambda p: p.line)
        if self.unlisted:
            listed.append(
                ImportProblem(
                    self.first_unlisted,
                    f"{self.unlisted:,} more problems from here on are not listed",
                )
            )
        return tuple(listed)


class Lines:
    """A binary file as decoded physical lines (split on LF only, line ends kept, as the csv
    module wants with newline=''), counting lines and hashing every byte."""

    def __init__(self, handle: IO[bytes], problems: Problems | None) -> None:
        self.handle = handle
        self.problems = problems
        self.number = 0
        self.last_bad = 0  # the last line that had a problem of its own
        self.digest = hashlib.blake2b(digest_size=16)

    def _bad(self, message: str) -> None:
        self.last_bad = self.number
        if self.problems is not None:
            self.problems.add(self.number, message)

    def __iter__(self) -> Iterator[str]:
        read = self.handle.readline
        while raw := read(MAX_LINE_BYTES + 1):
            self.number += 1
            self.digest.update(raw)
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                self._bad(f"the line is longer than {MAX_LINE_BYTES:,} bytes")
                while (rest := read(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    self.digest.update(rest)
                self.digest.update(rest)
                yield "\n"
                continue
            if self.number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]  # an editor's byte-order mark is not data
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                self._bad(f"not valid UTF-8 (byte {error.start + 1} of the line)")
                yield raw.decode("utf-8", "replace")


def csv_records(
    path: Path, lines: Lines, header_names: tuple[str, ...], problems: Problems | None
) -> Iterator[tuple[int, list[str]]]:
    """(line where it starts, cells) of every record after the header, skipping blank lines
    and lines that had a problem of their own. A wrong header or an empty file is a
    ServiceError; a malformed record is a problem (with None: raised, as the file changed
    since it was checked)."""
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ServiceError(f"{visible(str(path))}: line 1: {error}") from error
    if header is None:
        raise ServiceError(f"{visible(str(path))}: the file is empty")
    if tuple(h.strip().lower() for h in header) != header_names:
        raise ServiceError(
            f"{visible(str(path))}: line 1: the header must be {','.join(header_names)}"
        )
    yield from records_after_header(reader, lines, problems)


def records_after_header(
    reader: Iterator[list[str]], lines: Lines, problems: Problems | None
) -> Iterator[tuple[int, list[str]]]:
    """csv_records from the record after the header on: `reader` is a csv.reader of `lines`
    (which may start in the middle of a file, its `number` set to the line before)."""
    while True:
        start = lines.number + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            message = str(error)
            if "field larger than field limit" in message:
                message = (
                    f"a cell is longer than {csv.field_size_limit():,} characters "
                    "(the rest of the file was not read)"
                )
            add_problem(problems, start, message)
            return
        if lines.last_bad >= start or not "".join(record).strip():
            continue  # the line's own problem is reported; a blank line is no row
        yield start, record


def add_problem(problems: Problems | None, line: int, message: str) -> None:
    if problems is None:
        raise ServiceError(f"line {line}: {message} (the file changed while it was imported)")
    problems.add(line, message)
