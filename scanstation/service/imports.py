"""Importing serials from a CSV file: `serial_no,sku,generation_no,secondary_qr` with a header;
all or nothing; every problem reported as FILE:LINE with the physical line where its record
starts.

The file is streamed, never held whole, so memory stays bounded (a 200 MB file is checked and
imported in well under 300 MB):

1. Check: a block of whole lines (1 MiB) that are all plain rows (no quote, no blank line,
   four plain cells, known SKUs, no signed QR) is checked a column at a time by C code; from
   the first block that is not, to the end of the file, every record is read with the `csv`
   module from physical lines split on LF only (a quoted cell may hold line breaks, VT or
   U+2028 and the line numbers stay true); each
   line is decoded on its own, so bytes that are not UTF-8 are reported at their line; a
   cell over the csv module's field limit is a problem, not a traceback. Each serial number
   and QR code is checked against the database a chunk at a time, and its 64-bit hash kept
   in a flat array. Sorting the array finds codes used twice in the file (a serial repeated,
   or one row's QR equal to another row's serial: serials and QR codes share a namespace).
   While no problem is found, the checked rows are spooled, a chunk at a time, to a
   temporary file of this process (pickled), so the write need not parse the CSV again.
2. Only if step 1 found hashes twice: a second read names the rows that repeat.
3. Write: the file's digest must still be step 1's, or nothing is written; the spooled rows
   are inserted a chunk at a time inside one transaction, checked against the database once
   more under the serial namespace lock (another writer may have taken a code since step 1).

PostgreSQL streams the write (_StreamedWrite): its transaction starts with step 1, on its own
connection and thread, and inserts each chunk once step 1 has checked it, so the server works
while Python checks; it commits after step 3's digest check, and is rolled back at step 1's
first problem. The checks and the problems they report are the same.
"""

from __future__ import annotations

import csv
import hashlib
import operator
import os
import pickle
import queue
import re
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, cast

from scanstation.domain import limits
from scanstation.domain.codes import CodeKind
from scanstation.domain.model import new_scan_id, utc_now
from scanstation.domain.qr import looks_signed, parse_signed
from scanstation.domain.text import visible
from scanstation.service.checks import check_text, code_problem, generation_no_problem
from scanstation.service.csv_files import (
    ImportProblem,
    Lines,
    Problems,
    add_problem,
    csv_records,
    records_after_header,
)
from scanstation.service.setup import ServiceError, login_name
from scanstation.signing import Signer, Verdict
from scanstation.store.errors import StoreError
from scanstation.store.runs import (
    ROW_QR_SEAL,
    ROW_SECONDARY_QR,
    ROW_SERIAL_NO,
    ChecksOutdated,
    ImportRow,
    SerialCollision,
)

if TYPE_CHECKING:
    from scanstation.service.station import StationService

__all__ = ["ImportProblem", "ImportReport", "Imports"]

HEADER: Final = ("serial_no", "sku", "generation_no", "secondary_qr")
MAX_GENERATION_RUNS: Final = 10_000  # distinct generation nos one file may name
CHUNK: Final = 20_000  # rows checked, spooled or inserted at a time
BLOCK: Final = 1 << 20  # bytes of whole lines checked at once (~40,000 plain rows)
DIGEST_BLOCK: Final = 1 << 20
QUEUED_CHUNKS: Final = 1  # chunks a streamed write holds in memory (~9 MB: 40,000 rows)
# The usual cell: nothing a scan parser would read as GS1, a URI or an AIM identifier, so
# parse() would return it as it is (case aside), ten times slower.
_PLAIN: Final = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_simple: Final = re.compile(_PLAIN).fullmatch
_plain_lines: Final = re.compile(rf"{_PLAIN}(?:\n{_PLAIN})*").fullmatch  # a column, joined
# A block of lines of four cells (three commas a line), every line ended.
_four_cells: Final = re.compile(r"(?:[^,\n]*,[^,\n]*,[^,\n]*,[^,\n]*\n)*").fullmatch
_signed_line: Final = re.compile(r"^sq1\.", re.IGNORECASE | re.MULTILINE).search


@dataclass(frozen=True, slots=True)
class ImportReport:
    rows: int
    problems: tuple[ImportProblem, ...]
    written: bool


def _code_hash(code: str) -> int:
    """A 64-bit hash, stable within this process (both reads of the file happen in it)."""
    return hash(code) & 0xFFFF_FFFF_FFFF_FFFF


class Imports:
    """The CSV import of StationService."""

    def import_csv(
        self: StationService,
        path: Path,
        *,
        dry_run: bool = False,
        by: str | None = None,
        progress: Callable[[int], None] | None = None,
        request_id: str | None = None,
        streamed: bool = True,
    ) -> ImportReport:
        """All or nothing: every problem is listed with its line number and nothing is written.
        `request_id` (made here when not given): a retry after a lost COMMIT applies once.
        `streamed`: where the dialect allows it, rows are written while the file is checked
        (_StreamedWrite); False writes them after every check (the way out when a stream
        cannot finish)."""
        request = check_text(limits.REQUEST_ID, request_id) if request_id else new_scan_id()
        if progress is not None and not isinstance(progress, _Onward):
            progress = _Onward(progress)  # the same one if the file is written again below
        operator = check_text(limits.OPERATOR, by or login_name())
        skus = self.repo.sku_ids()
        problems = Problems()
        # hash() of each code as a signed 64-bit int: the same bits as _code_hash.
        hashes: array[int] = array("q")
        runs: dict[str, tuple[str, int]] = {}
        rows = 0
        checked_at = self.repo.codes_written()  # before any check: a later write shows
        file_digest = hashlib.blake2b(digest_size=16)
        with (
            self._open_import(path) as handle,
            tempfile.TemporaryFile(prefix="scanstation-import-") as spool,
        ):
            stream = None
            if streamed and not dry_run and self.repo.dialect.streamed_import:
                stream = _StreamedWrite(
                    self, runs, operator, request, progress, checked_at, path, spool
                )
            try:
                for chunk in self._row_chunks(path, handle, skus, runs, problems, file_digest):
                    rows += len(chunk)
                    hashes.extend(map(hash, map(itemgetter(ROW_SERIAL_NO), chunk)))
                    hashes.extend(map(hash, filter(None, map(itemgetter(ROW_SECONDARY_QR), chunk))))
                    self._check_taken(chunk, problems, None if dry_run or stream else spool)
                    if stream is not None:
                        stream.give(chunk, problems)
                digest = file_digest.digest()
                self._check_runs(runs, problems)
                qr_rows = len(hashes) - rows  # the hashes are every serial's and every QR's
                repeated = _repeated(hashes)
                del hashes
                if repeated:
                    self._name_repeats(path, skus, repeated, problems)
                if problems or dry_run or not rows:
                    return ImportReport(rows, problems.report(), False)
                written = self._write_import(
                    path,
                    spool,
                    runs,
                    digest,
                    operator,
                    request,
                    progress,
                    checked_at,
                    qr_rows,
                    stream,
                )
            finally:
                if stream is not None:
                    stream.abandon()  # after a commit, nothing; else its transaction is undone
        if written is None:  # the stream could not finish: the file is imported unstreamed
            return self.import_csv(
                path, by=by, progress=progress, request_id=request, streamed=False
            )
        if isinstance(written, ImportReport):
            return written
        return ImportReport(written, (), True)

    def _open_import(self: StationService, path: Path) -> IO[bytes]:
        try:
            return path.open("rb")
        except OSError as error:
            reason = error.strerror or str(error)
            raise ServiceError(f"{visible(str(path))}: cannot be read: {reason}") from error

    def _row_chunks(
        self: StationService,
        path: Path,
        handle: IO[bytes],
        skus: dict[str, int],
        runs: dict[str, tuple[str, int]],
        problems: Problems,
        file_digest: Any,
    ) -> Iterator[list[ImportRow]]:
        """The file's checked rows, a block at a time, every byte into `file_digest`. A block
        of whole lines that are all plain rows is checked column by column (_plain_block);
        from the first block that is not (a quote, a problem, ...) to the end of the file,
        each record is read by the csv module and checked on its own (_read_rows, which
        says what is wrong and where)."""
        offset, line = 0, 1  # where the next block starts: its byte and its line
        pending = b""
        while True:
            raw = pending + handle.read(BLOCK - len(pending))
            at_end = len(raw) < BLOCK
            end = len(raw) if at_end else raw.rfind(b"\n") + 1
            rows = self._plain_block(raw[:end], line, skus, runs) if end else None
            if rows is None:
                break
            file_digest.update(raw[:end])
            offset += end
            line += raw.count(b"\n", 0, end)
            pending = raw[end:]
            if rows:
                yield rows
            if at_end:
                return
        handle.seek(offset)
        lines = Lines(handle, problems)
        lines.number, lines.digest = line - 1, file_digest
        if offset:
            records = records_after_header(csv.reader(lines), lines, problems)
        else:
            records = csv_records(path, lines, HEADER, problems)
        chunk: list[ImportRow] = []
        for start, record in records:
            row, problem = self._import_row(start, record, skus, runs)
            if problem:
                problems.add(start, problem)
            elif row is not None:
                chunk.append(row)
                if len(chunk) >= CHUNK:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def _plain_block(
        self: StationService,
        block: bytes,
        first_line: int,
        skus: dict[str, int],
        runs: dict[str, tuple[str, int]],
    ) -> list[ImportRow] | None:
        """The rows of a block of whole lines (the header's too, when it starts the file)
        when every line is a plain row the per-row check would take as it is: no quote, CR
        only before LF, no NUL, no blank line, four cells of plain codes, known SKUs, no
        signed QR code. Checked a column at a time by C code (joined texts, one regular
        expression, sets); None when any line is not so: the caller reads the block again
        record by record (rare: a file made by a program has none)."""
        if b'"' in block or b"\x00" in block:
            return None
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if "\r" in text:
            if text.count("\r") != text.count("\r\n"):
                return None
            text = text.replace("\r\n", "\n")
        if not text.endswith("\n"):
            text += "\n"  # the file's last line, without its line end
        if first_line == 1:
            header, _, text = text.partition("\n")
            if _header(header) != HEADER:
                return None  # csv_records says what is wrong with it
            first_line = 2
        if not _four_cells(text):
            return None  # a blank line, a line of another shape
        count = text.count("\n")
        cells = text.replace("\n", ",").split(",")  # one list: a list a line costs 2x
        cells.pop()  # after the last line end
        limit = csv.field_size_limit()
        if len(text) > limit and max(map(len, cells)) > limit:
            return None
        serials, sku_cells, generation_nos, qr_cells = (cells[i :: len(HEADER)] for i in range(4))
        if " " in text or "\t" in text:
            serials, sku_cells, generation_nos, qr_cells = (
                [cell.strip(" \t") for cell in column]
                for column in (serials, sku_cells, generation_nos, qr_cells)
            )
        serials = self._plain_column(serials, limits.SERIAL_NO.max_length)
        if serials is None or not skus.keys() >= set(sku_cells):
            return None
        present = list(filter(None, qr_cells))
        secondary_qrs: list[str | None] = [None] * count
        if present:
            if _signed_line("\n".join(present)):
                return None
            plain = self._plain_column(present, limits.SECONDARY_QR.max_length)
            if plain is None:
                return None
            codes = iter(plain)
            secondary_qrs = [next(codes) if cell else None for cell in qr_cells]
            if any(map(operator.eq, serials, secondary_qrs)):
                return None  # a row's QR is its own serial
        generations: list[str | None] = [None] * count
        if any(generation_nos):
            new_runs = _new_runs(generation_nos, sku_cells, first_line, runs)
            if new_runs is None:
                return None
            runs.update(new_runs)
            generations = [name or None for name in generation_nos]
        rows = zip(
            range(first_line, first_line + count),
            serials,
            sku_cells,
            generations,
            secondary_qrs,
            repeat(None),
        )
        return cast("list[ImportRow]", list(rows))

    def _plain_column(self: StationService, cells: list[str], longest: int) -> list[str] | None:
        """Codes that are each plain (what parse() returns unchanged, case aside) and at
        most `longest` characters, as a scan would store them; else None."""
        joined = "\n".join(cells)
        if not _plain_lines(joined) or max(map(len, cells)) > longest:
            return None
        return joined.upper().split("\n") if self.serial_case == "upper" else cells

    def _read_rows(
        self: StationService,
        path: Path,
        lines: Lines,
        skus: dict[str, int],
        runs: dict[str, tuple[str, int]],
        problems: Problems | None,
    ) -> Iterator[ImportRow]:
        """The file's rows, each checked on its own; `runs` collects the generation nos named
        (generation no → SKU, first line). Problems go to `problems`, or with None any
        problem raises: the file changed since it was checked."""
        for start, record in csv_records(path, lines, HEADER, problems):
            row, problem = self._import_row(start, record, skus, runs)
            if problem:
                add_problem(problems, start, problem)
            elif row is not None:
                yield row

    def _import_row(
        self: StationService,
        line: int,
        record: list[str],
        skus: dict[str, int],
        runs: dict[str, tuple[str, int]],
    ) -> tuple[ImportRow | None, str]:
        if len(record) != len(HEADER):
            return None, f"expected {len(HEADER)} columns, found {len(record)}"
        raw_sn, sku, generation_no, raw_qr = record
        raw_sn, sku = raw_sn.strip(" \t"), sku.strip(" \t")
        generation_no, raw_qr = generation_no.strip(" \t"), raw_qr.strip(" \t")
        if not raw_sn:
            return None, "serial_no is empty"
        upper = self.serial_case == "upper"
        if _simple(raw_sn) and len(raw_sn) <= limits.SERIAL_NO.max_length:
            serial_no = raw_sn.upper() if upper else raw_sn  # what parse() would make of it
        else:
            serial_no, problem = self._plain_code(raw_sn, "serial", "a plain serial number")
            if problem:
                return None, problem
        if sku not in skus:
            return None, f"unknown SKU {visible(sku)!r}"
        secondary, seal = None, None
        if raw_qr and looks_signed(raw_qr):
            secondary, seal, problem = self._signed_cell(raw_qr)
            if problem:
                return None, problem
        elif raw_qr:
            if _simple(raw_qr) and len(raw_qr) <= limits.SECONDARY_QR.max_length:
                secondary = raw_qr.upper() if upper else raw_qr
            else:
                secondary, problem = self._plain_code(raw_qr, "secondary QR", "a plain code")
                if problem:
                    return None, problem
            if secondary == serial_no:
                return None, f"secondary QR {secondary} is the row's own serial"
        if generation_no:
            known = runs.get(generation_no)
            if known is None:
                problem = generation_no_problem(generation_no)  # once a generation no
                if problem:
                    return None, problem
                if len(runs) >= MAX_GENERATION_RUNS:
                    return None, f"a file may name at most {MAX_GENERATION_RUNS:,} generation nos"
                runs[generation_no] = (sku, line)
            elif known[0] != sku:
                return None, (
                    f"generation no {generation_no} is a run of {known[0]} "
                    f"(line {known[1]}), not of {sku}"
                )
        return ImportRow(line, serial_no, sku, generation_no or None, secondary, seal), ""

    def _signed_cell(self: StationService, raw: str) -> tuple[str, str, str]:
        """A cell that is a signed QR code: (token, seal, "") when this deployment's public key
        verifies it, else ("", "", why not)."""
        verifier = self.verifier()
        if verifier is None:
            return (
                "",
                "",
                (
                    f"secondary QR {visible(raw)!r} is signed, but no public key is configured "
                    "to check it (`scanstation keys init`, or [keys] public_key)"
                ),
            )
        verdict, why = verifier.check(raw)
        if verdict is not Verdict.GENUINE:
            return "", "", f"secondary QR {visible(raw)!r} is {verdict}: {why}"
        signed = parse_signed(raw)
        return signed.token, signed.seal, ""

    def _plain_code(self: StationService, raw: str, what: str, shape: str) -> tuple[str, str]:
        """A cell as a serial number or QR code, normalised like a scan; or why it is none."""
        limit = limits.SERIAL_NO if what == "serial" else limits.SECONDARY_QR
        code = self.parse(raw)
        if code.kind is not CodeKind.PLAIN or not code.serial:
            return "", f"{what} {visible(raw)!r} is not {shape}"
        return code.serial, code_problem(what, code.serial, limit) or ""

    def _check_taken(
        self: StationService, chunk: list[ImportRow], problems: Problems, spool: IO[bytes] | None
    ) -> None:
        """Codes already in the database, as serial numbers or as QR codes. While the file
        has no problem, the chunk goes to `spool` for the write."""
        if not chunk:
            return
        codes = list(map(itemgetter(ROW_SERIAL_NO), chunk))
        codes += filter(None, map(itemgetter(ROW_SECONDARY_QR), chunk))
        taken = self.repo.taken_codes(codes)
        if taken:
            for line, message in SerialCollision.describe(chunk, taken).problems:
                problems.add(line, message)
        if spool is not None and not problems:
            # Plain tuples: a NamedTuple pickles through Python code, row by row (2.6x slower).
            pickle.dump(list(map(tuple, chunk)), spool, protocol=pickle.HIGHEST_PROTOCOL)

    def _check_runs(
        self: StationService, runs: dict[str, tuple[str, int]], problems: Problems
    ) -> None:
        """A row may add to a generation run of its own SKU only."""
        for name, (_run_id, run_sku) in self.repo.generation_runs(runs).items():
            sku, line = runs[name]
            if run_sku != sku:
                problems.add(line, f"generation no {name} is a run of {run_sku}, not of {sku}")

    def _name_repeats(
        self: StationService,
        path: Path,
        skus: dict[str, int],
        repeated: set[int],
        problems: Problems,
    ) -> None:
        """Second read: the rows whose codes were seen twice (hash collisions of distinct
        codes drop out here, where the codes themselves are compared)."""
        first: dict[str, tuple[int, str]] = {}
        ignored = Problems()  # each was reported by the first read already
        with self._open_import(path) as handle:
            rows = self._read_rows(path, Lines(handle, ignored), skus, {}, ignored)
            for row in rows:
                for code, what in ((row.serial_no, "serial"), (row.secondary_qr, "secondary QR")):
                    if code is None or _code_hash(code) not in repeated:
                        continue
                    line, was = first.setdefault(code, (row.line, what))
                    if line == row.line and was == what:
                        continue
                    if was == what:
                        problems.add(row.line, f"{what} {code} repeats line {line}")
                    else:
                        problems.add(row.line, f"{what} {code} is the {was} of line {line}")

    def _write_import(
        self: StationService,
        path: Path,
        spool: IO[bytes],
        runs: dict[str, tuple[str, int]],
        digest: bytes,
        by: str,
        request_id: str,
        progress: Callable[[int], None] | None,
        checked_at: int,
        qr_rows: int,
        stream: _StreamedWrite | None = None,
    ) -> int | ImportReport | None:
        """The rows written, or the problems found under the lock; None when `stream` (which
        has the rows already) could not finish."""
        if _file_digest(self._open_import(path)) != digest:
            raise ServiceError(
                f"{visible(str(path))} changed while it was imported: nothing was "
                "written; import it again"
            )
        if stream is not None:
            return stream.finish()

        def chunks() -> Iterator[list[ImportRow]]:
            # The rows step 1 checked and spooled (this process's own file), read again on
            # each try of the transaction.
            spool.seek(0)
            while True:
                try:
                    chunk: list[ImportRow] = pickle.load(spool)  # tuples of ImportRow's fields
                except EOFError:
                    return
                yield _sealed(chunk, signer)

        signer = self.signer()
        try:
            return self.repo.import_serials(
                chunks=chunks,
                runs=runs,
                by=by,
                at=utc_now(),
                source_name=visible(path.name),
                request_id=request_id,
                progress=progress,
                checked_at=checked_at,
                qr_rows=qr_rows,
            )
        except SerialCollision as collision:
            problems = Problems()
            for line, message in collision.problems:
                problems.add(line, message)
            return ImportReport(0, problems.report(), False)
        except StoreError as error:
            if error.transient:
                raise
            raise ServiceError(f"Import failed, nothing was written: {error}") from error


class _Onward:
    """A progress callback that never goes back: when a streamed write cannot finish and
    the file is written again unstreamed, counting from 0, the caller's bar holds where it
    was until the new count passes it."""

    __slots__ = ("_call", "_high")

    def __init__(self, call: Callable[[int], None]) -> None:
        self._call = call
        self._high = 0

    def __call__(self, done: int) -> None:
        if done > self._high:
            self._high = done
            self._call(done)


class _Unfinished(Exception):
    """A streamed write's rows stop before their end (a problem was found, or the transaction
    was tried again and they cannot be read twice): its transaction is undone."""


_END: Final[list[ImportRow]] = []  # after the last chunk (no chunk is empty): commit
_CANCEL_EVERY_S: Final = 0.5  # an abandoned writer's statement is cancelled again this often
_CTRL_C_EVERY_S: Final = 0.1  # how late a Ctrl-C may be seen while the writer finishes


class _StreamedWrite:
    """An import's write on its own thread and connection, given each chunk as soon as it is
    checked: the server inserts chunk N while Python reads and checks chunk N+1 (psycopg2
    lets go of the GIL while it waits). Still one transaction under the namespace lock: it
    commits only when every check of the whole file passed (finish), and is undone at the
    first problem (give) or when the import stops (abandon). The checks are the unstreamed
    ones; the rows they pass are written as they would have been."""

    def __init__(
        self,
        service: StationService,
        runs: dict[str, tuple[str, int]],
        by: str,
        request_id: str,
        progress: Callable[[int], None] | None,
        checked_at: int,
        path: Path,
        spool: IO[bytes],
    ) -> None:
        self._signer = service.signer()
        # A chunk, or where the spool holds it pickled (offset, length); None: stop.
        self._chunks: queue.SimpleQueue[list[ImportRow] | tuple[int, int] | None] = (
            queue.SimpleQueue()
        )
        self._spool = spool
        self._read = False
        self._done = False
        # The writer stops at its next chunk, at the end of the rows, as a try starts or
        # before it commits, whichever comes first; also once finish() began.
        self._abandoned = False
        self._ended = threading.Event()  # the writer's last act (not Thread.join: see abandon)
        # The writer's connection while it may run a statement (for cancel()); the lock keeps
        # a cancel off a connection the writer has given back to the pool.
        self._connection: Any = None
        self._connection_lock = threading.Lock()
        self.outcome: int | BaseException | None = None
        repo = service.repo

        def write() -> None:
            try:
                self.outcome = repo.import_serials(
                    chunks=self._rows,
                    runs=runs,
                    by=by,
                    at=utc_now(),
                    source_name=visible(path.name),
                    request_id=request_id,
                    progress=progress,
                    checked_at=checked_at,
                    streamed=True,
                    halt=self._halt,
                )
            except BaseException as error:  # handed to the checking thread, raised there
                self.outcome = error
            finally:
                with self._connection_lock:
                    self._connection = None
                try:
                    repo.close()  # this thread's connection, back to the pool
                finally:
                    self._ended.set()

        self._thread = threading.Thread(target=write, name="scanstation-import", daemon=True)
        self._thread.start()

    def _rows(self) -> Iterator[list[ImportRow]]:
        if self._read:
            raise _Unfinished  # a second try of the transaction: the rows were given once
        self._read = True
        while True:
            item = self._chunks.get()
            # Not after the chunks queued before it, nor at the end of the rows: abandon()
            # may come after finish() put the end (Ctrl-C while the writer finishes).
            if item is None or self._abandoned:
                raise _Unfinished
            if item is _END:
                return
            if isinstance(item, tuple):  # read where it is: the checks go on appending
                item = pickle.loads(os.pread(self._spool.fileno(), item[1], item[0]))
            yield item

    def _halt(self, connection: Any) -> None:
        """On the writer's thread, as a try of its transaction starts and before it commits:
        ends the write once abandoned; else notes the connection a cancel() would stop."""
        if self._abandoned:
            raise _Unfinished
        with self._connection_lock:
            self._connection = connection

    def _cancel(self) -> None:
        """Stops the statement the writer's connection runs, if any (a wait for the namespace
        lock another terminal holds, a COPY): one round trip to the server."""
        with self._connection_lock:
            if self._connection is not None:
                with suppress(Exception):  # closed meanwhile, the server gone: nothing runs
                    self._connection.cancel()

    def _stop(self) -> None:
        """Tells the writer to stop, and returns at once: its transaction is undone at its
        next chunk, the end of the rows, its next try or before it commits."""
        if not self._abandoned:
            self._done = self._abandoned = True
            self._chunks.put(None)
            if not self._ended.is_set():
                self._cancel()

    def give(self, chunk: list[ImportRow], problems: Problems) -> None:
        """A checked chunk, written while the next is checked; after a problem, nothing more
        is written (the transaction is undone at once, and the namespace lock let go)."""
        if problems:
            self.abandon()
        elif not self._done:
            sealed = _sealed(chunk, self._signer)
            if self._chunks.qsize() < QUEUED_CHUNKS:
                self._chunks.put(sealed)  # as it is: pickling cost the checks 0.2 s a 1M rows
                return
            # The server is behind: the chunk waits in the spool file, not in memory.
            pickled = pickle.dumps(list(map(tuple, sealed)), pickle.HIGHEST_PROTOCOL)
            offset = self._spool.seek(0, os.SEEK_END)
            self._spool.write(pickled)
            self._spool.flush()
            self._chunks.put((offset, len(pickled)))

    def abandon(self) -> None:
        """The import ends (a problem, an error, Ctrl-C, or after finish()): unless the writer
        committed already, its transaction is undone, also when finish() had begun. Waits
        for the writer's end, cancelling its statement in flight (a lock wait ends at once),
        so the wait is a round trip or so. Waits on an event, not Thread.join: on Python 3.11
        a join interrupted by Ctrl-C marks the thread ended, and the next join returns while
        it runs."""
        self._stop()
        while not self._ended.wait(_CANCEL_EVERY_S):
            self._cancel()  # a cancel that came between two statements stopped nothing
        self._thread.join()

    def finish(self) -> int | ImportReport | None:
        """Every check passed: the rows written, committed; the problems the database found
        under the lock; or None when the stream could not finish (nothing was written)."""
        self._done = True
        self._chunks.put(_END)
        # Woken now and then: a Ctrl-C the kernel gave the writer's thread is raised here (a
        # wait with no timeout saw it only once the writer had committed).
        while not self._ended.wait(_CTRL_C_EVERY_S):
            pass
        outcome = self.outcome
        if isinstance(outcome, int):
            return outcome
        if isinstance(outcome, _Unfinished | ChecksOutdated):
            return None
        if isinstance(outcome, SerialCollision):
            problems = Problems()
            for line, message in outcome.problems:
                problems.add(line, message)
            return ImportReport(0, problems.report(), False)
        if isinstance(outcome, StoreError):
            if outcome.transient:
                raise outcome
            raise ServiceError(f"Import failed, nothing was written: {outcome}") from outcome
        assert outcome is not None
        raise outcome


def _header(line: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in line.split(","))


def _new_runs(
    generation_nos: list[str],
    sku_cells: list[str],
    first_line: int,
    runs: dict[str, tuple[str, int]],
) -> dict[str, tuple[str, int]] | None:
    """The generation nos a plain block names for the first time → (SKU, first line); None
    when a name is not a valid one, names runs of two SKUs, or the file names too many."""
    pairs = {(name, sku) for name, sku in zip(generation_nos, sku_cells, strict=True) if name}
    last = len(generation_nos) - 1
    first_index = dict(zip(reversed(generation_nos), range(last, -1, -1), strict=True))
    new: dict[str, tuple[str, int]] = {}
    for name, sku in pairs:
        known = runs.get(name) or new.get(name)
        if known is not None:
            if known[0] != sku:
                return None
            continue
        if generation_no_problem(name):
            return None
        new[name] = (sku, first_line + first_index[name])
    if len(runs) + len(new) > MAX_GENERATION_RUNS:
        return None
    return new


def _file_digest(handle: IO[bytes]) -> bytes:
    """The digest Lines makes of the same bytes (every byte once, in order)."""
    digest = hashlib.blake2b(digest_size=16)
    with handle:
        while block := handle.read(DIGEST_BLOCK):
            digest.update(block)
    return digest.digest()


def _sealed(chunk: list[ImportRow], signer: Signer | None) -> list[ImportRow]:
    """The chunk with each plain token signed (a token the compact form cannot carry stays
    unsigned); a cell that was signed already keeps its signature."""
    if signer is None:
        return chunk
    plain = [i for i, row in enumerate(chunk) if row[ROW_SECONDARY_QR] and row[ROW_QR_SEAL] is None]
    seals = signer.seal_many([chunk[i][ROW_SECONDARY_QR] or "" for i in plain])
    for index, seal in zip(plain, seals, strict=True):
        chunk[index] = cast("ImportRow", (*chunk[index][:ROW_QR_SEAL], seal))
    return chunk


def _repeated(hashes: array[int]) -> set[int]:
    """The hashes that occur more than once: sorted in place (8 bytes a code, no copy)."""
    if len(hashes) < 2:
        return set()
    import numpy as np  # only an import needs it

    values = np.frombuffer(hashes, dtype=np.uint64)
    values.sort()
    twice = values[1:][values[1:] == values[:-1]]
    return {int(v) for v in np.unique(twice)}
