"""Importing serials from a CSV file: `serial_no,sku,generation_no,secondary_qr` with a header;
all or nothing; every problem reported as FILE:LINE with the physical line where its record
starts.

The file is streamed, never held whole, so memory stays bounded (a 200 MB file is checked and
imported in well under 300 MB):

1. Check: every record is read with the `csv` module from physical lines split on LF only
   (a quoted cell may hold line breaks, VT or U+2028 and the line numbers stay true); each
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
"""

from __future__ import annotations

import hashlib
import pickle
import re
import tempfile
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import starmap
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

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
)
from scanstation.service.setup import ServiceError, login_name
from scanstation.signing import Signer, Verdict
from scanstation.store.errors import StoreError
from scanstation.store.runs import ImportRow, SerialCollision

if TYPE_CHECKING:
    from scanstation.service.station import StationService

__all__ = ["ImportProblem", "ImportReport", "Imports"]

HEADER: Final = ("serial_no", "sku", "generation_no", "secondary_qr")
MAX_GENERATION_RUNS: Final = 10_000  # distinct generation nos one file may name
CHUNK: Final = 20_000  # rows checked, spooled or inserted at a time
DIGEST_BLOCK: Final = 1 << 20
# The usual cell: nothing a scan parser would read as GS1, a URI or an AIM identifier, so
# parse() would return it as it is (case aside), ten times slower.
_simple: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*").fullmatch


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
    ) -> ImportReport:
        """All or nothing: every problem is listed with its line number and nothing is written.
        `request_id` (made here when not given): a retry after a lost COMMIT applies once."""
        request = check_text(limits.REQUEST_ID, request_id) if request_id else new_scan_id()
        operator = check_text(limits.OPERATOR, by or login_name())
        skus = self.repo.sku_ids()
        problems = Problems()
        hashes: array[int] = array("Q")
        runs: dict[str, tuple[str, int]] = {}
        chunk: list[ImportRow] = []
        rows = 0
        checked_at = self.repo.codes_written()  # before any check: a later write shows
        with (
            self._open_import(path) as handle,
            tempfile.TemporaryFile(prefix="scanstation-import-") as spool,
        ):
            lines = Lines(handle, problems)
            for row in self._read_rows(path, lines, skus, runs, problems):
                rows += 1
                hashes.append(_code_hash(row.serial_no))
                if row.secondary_qr:
                    hashes.append(_code_hash(row.secondary_qr))
                chunk.append(row)
                if len(chunk) >= CHUNK:
                    self._check_taken(chunk, problems, None if dry_run else spool)
                    chunk = []
            self._check_taken(chunk, problems, None if dry_run else spool)
            digest = lines.digest.digest()
            self._check_runs(runs, problems)
            repeated = _repeated(hashes)
            del hashes
            if repeated:
                self._name_repeats(path, skus, repeated, problems)
            if problems or dry_run or not rows:
                return ImportReport(rows, problems.report(), False)
            written = self._write_import(
                path, spool, runs, digest, operator, request, progress, checked_at
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
        codes = [r.serial_no for r in chunk] + [r.secondary_qr for r in chunk if r.secondary_qr]
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
    ) -> int | ImportReport:
        if _file_digest(self._open_import(path)) != digest:
            raise ServiceError(
                f"{visible(str(path))} changed while it was imported: nothing was "
                "written; import it again"
            )

        def chunks() -> Iterator[list[ImportRow]]:
            # The rows step 1 checked and spooled (this process's own file), read again on
            # each try of the transaction.
            spool.seek(0)
            while True:
                try:
                    chunk = list(starmap(ImportRow, pickle.load(spool)))
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
    plain = [i for i, row in enumerate(chunk) if row.secondary_qr and row.qr_seal is None]
    seals = signer.seal_many([chunk[i].secondary_qr or "" for i in plain])
    for index, seal in zip(plain, seals, strict=True):
        chunk[index] = chunk[index]._replace(qr_seal=seal)
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
