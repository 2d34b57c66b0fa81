"""Generation runs and imports: the only writes that create serials.

Serial numbers and secondary QR codes share one namespace: a code is at most one serial's
number or one serial's QR, never both, so a scan can only ever mean one serial. Both writes
hold the serial namespace (the SQLite write lock, or a PostgreSQL advisory lock) while they
check and insert, so two of them cannot interleave; each carries a request id, checked under
the transaction like a scan id, so a retry after a lost COMMIT applies once and answers the
same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from scanstation.domain.model import GenerationView
from scanstation.domain.stages import Stage
from scanstation.store.codec import from_iso, iso
from scanstation.store.errors import StoreError
from scanstation.store.tally import ADD_TO_TALLY, BULK_SLOT

if TYPE_CHECKING:
    from scanstation.store.repository import Repository

__all__ = [
    "ROW_GENERATION_NO",
    "ROW_LINE",
    "ROW_QR_SEAL",
    "ROW_SECONDARY_QR",
    "ROW_SERIAL_NO",
    "ROW_SKU",
    "SERIAL_DIGITS",
    "ChecksOutdated",
    "ImportRow",
    "RunStore",
    "SerialCollision",
]

SERIAL_DIGITS: Final = 10
PROBE_CHUNK: Final = 20_000  # codes looked up in one statement
CODES_WRITTEN: Final = "codes_written"  # a meta counter: bulk writes of serials so far


class ImportRow(NamedTuple):
    """One checked row of an import file. Millions are made: the file's plain blocks make
    them as plain tuples of these fields (a NamedTuple costs a Python call a row), so the
    code that reads rows in bulk indexes them (ROW_* below)."""

    line: int  # the physical line of the file where the record starts
    serial_no: str
    sku: str
    generation_no: str | None
    secondary_qr: str | None
    qr_seal: str | None = None  # the token's signature (domain/qr.py), when it is signed


# ImportRow's fields by position.
ROW_LINE, ROW_SERIAL_NO, ROW_SKU, ROW_GENERATION_NO, ROW_SECONDARY_QR, ROW_QR_SEAL = range(6)


class ChecksOutdated(Exception):
    """A streamed import found, under the namespace lock, that another bulk write committed
    codes since its caller's checks began: it wrote nothing, and the caller imports the
    file the unstreamed way (which checks the rows again under the lock)."""


class SerialCollision(Exception):
    """Codes of an import already taken in the database (found under the namespace lock):
    (line, message) each; the import is rolled back whole."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(problems)} codes are taken")
        self.problems = problems

    @classmethod
    def describe(cls, chunk: Sequence[ImportRow], taken: dict[str, str]) -> SerialCollision:
        """The rows of `chunk` whose codes are in `taken` (code → what it is already)."""
        problems = []
        for line, serial_no, _sku, _generation_no, secondary_qr, _seal in chunk:
            for code, what in ((serial_no, "serial"), (secondary_qr, "secondary QR")):
                if code is not None and code in taken:
                    problems.append(
                        (line, f"{what} {code} is already a {taken[code]} in the database")
                    )
        return cls(problems)


class RunStore:
    """Generation runs and imports (a part of Repository)."""

    # -- the serial namespace -----------------------------------------------------------------

    def taken_codes(self: Repository, codes: Iterable[str]) -> dict[str, str]:
        """Which of `codes` are already a serial number or a secondary QR code in the
        database: code → "serial" | "secondary QR" (a code that is both is a serial: a scan
        of it means the serial). Each unique index is read a chunk at a time."""
        taken: dict[str, str] = {}
        # Once each, in order: the chunks then walk each index from one end to the other
        # (random codes probed in random order read a page of a big index each).
        values = sorted(codes if isinstance(codes, set) else set(codes))
        for start in range(0, len(values), PROBE_CHUNK):
            chunk = values[start : start + PROBE_CHUNK]
            taken.update((qr, "secondary QR") for qr in self._taken_in("secondary_qr", chunk))
            taken.update((sn, "serial") for sn in self._taken_in("serial_no", chunk))
        return taken

    def _taken_in(self: Repository, column: str, chunk: list[str]) -> list[str]:
        """The codes of `chunk` (sorted) found in `column`'s unique index. One step first
        asks whether the index has any code between the chunk's lowest and highest: an
        import's new numbers, or a run's tokens against the serial numbers, usually have none
        there, and then no code is probed."""
        if not self._cursor(*self.dialect.any_in_range(column, chunk)).fetchone()[0]:
            return []
        rows = self._cursor(*self.dialect.codes_in(column, chunk)).fetchall()
        return [code for (code,) in rows]

    def _taken_numbers(self: Repository, prefix: str, first: int, last: int) -> set[str]:
        """Serial numbers `prefix` + 10 digits from `first` to `last` already taken (as a
        serial or a QR code): two range reads of the unique indexes."""
        low, high = f"{prefix}{first:0{SERIAL_DIGITS}d}", f"{prefix}{last:0{SERIAL_DIGITS}d}"
        width = len(prefix) + SERIAL_DIGITS
        taken: set[str] = set()
        for column in ("serial_no", "secondary_qr"):
            rows = self._cursor(
                f"SELECT {column} FROM serial WHERE {column} >= ? AND {column} <= ?", (low, high)
            ).fetchall()
            taken.update(code for (code,) in rows if len(code) == width)
        return taken

    def codes_written(self: Repository) -> int:
        """How many generation runs and imports have written serials so far: read before an
        import's checks and again under the namespace lock, unchanged means no code was
        taken in between (nothing else writes serial numbers or QR codes)."""
        row = self.t.meta.get_or_none(self.t.meta.key == CODES_WRITTEN)
        return int(row.value) if row else 0

    def _next_counter(self: Repository, key: str, step: int) -> int:
        """Reserve `step` numbers of a counter kept in meta; returns the first. In a write tx."""
        meta = self.t.meta
        row = meta.get_or_none(meta.key == key)
        first = int(row.value) + 1 if row else 1
        if row:
            meta.update(value=str(first + step - 1)).where(meta.key == key).execute()
        else:
            meta.create(key=key, value=str(first + step - 1))
        return first

    # -- generation runs ----------------------------------------------------------------------

    def create_generation(
        self: Repository,
        *,
        sku: str,
        site_code: str,
        prefix: str,
        count: int,
        new_tokens: Callable[[int], list[str]],
        by: str,
        at: datetime,
        request_id: str,
        progress: Callable[[int], None] | None = None,
        seal: Callable[[list[str]], list[str | None]] | None = None,
    ) -> tuple[str, list[str]]:
        """One generation run of `count` serials `prefix` + 10 digits, each with a secondary
        QR token from `new_tokens`, signed by `seal` when given. Numbers and generation nos
        already taken (by an import) are skipped; a token that is already a code is drawn
        again (and signed again). The tokens are drawn and signed before the transaction, so
        the namespace lock is not held while a million signatures are made."""
        item_id, site_id = self.item_id(sku), self.site_id(site_code)
        if item_id is None:
            raise StoreError(f"Unknown SKU {sku}")
        if site_id is None:
            raise StoreError(f"Unknown site {site_code}")

        tokens = new_tokens(count)
        seals: list[str | None] = seal(tokens) if seal else []

        def work() -> tuple[str, list[str]]:
            done = self.request_event(request_id)
            if done is not None:
                return self._generation_result(done)
            self.dialect.lock_serial_namespace(self._db)
            generation_no = self._free_generation_no()
            serials = self._free_serial_numbers(prefix, count)
            drawn_again = self._free_tokens(tokens, new_tokens, serials)
            if drawn_again and seal:
                resealed = seal([tokens[i] for i in drawn_again])
                for index, new_seal in zip(drawn_again, resealed, strict=True):
                    seals[index] = new_seal
            run = self.t.generation_run.create(
                generation_no=generation_no,
                item=item_id,
                count=count,
                site=site_id,
                created_at=iso(at),
                created_by=by,
            )
            with self.dialect.random_index_set_aside(self._db, count):
                self._insert_serials(
                    [serials, tokens, item_id, run.id, site_id, seals if seal else None],
                    iso(at),
                    by,
                    progress,
                )
            self.append_admin_event(
                request_id=request_id,
                kind="generate",
                site=site_code,
                by=by,
                at=at,
                comment=f"Generation run {generation_no}: {count} serials of {sku}",
                generation_id=run.id,
                count=count,
            )
            return generation_no, serials

        with self.dialect.bulk_write(self._db):
            return self.write_request(work)

    def _free_generation_no(self: Repository) -> str:
        run = self.t.generation_run
        while True:
            generation_no = f"G-{self._next_counter('generation_seq', 1):06d}"
            if run.get_or_none(run.generation_no == generation_no) is None:
                return generation_no

    def _free_serial_numbers(self: Repository, prefix: str, count: int) -> list[str]:
        serials: list[str] = []
        while len(serials) < count:
            need = count - len(serials)
            first = self._next_counter("serial_seq", need)
            last = first + need - 1
            if last >= 10**SERIAL_DIGITS:
                raise StoreError(
                    f"Serial numbers {prefix} + {SERIAL_DIGITS} digits are used up: "
                    "generate with another --prefix"
                )
            taken = self._taken_numbers(prefix, first, last)
            numbered = map(f"{prefix}{{:0{SERIAL_DIGITS}d}}".format, range(first, last + 1))
            serials.extend(numbered if not taken else (sn for sn in numbered if sn not in taken))
        return serials

    def _free_tokens(
        self: Repository,
        tokens: list[str],
        new_tokens: Callable[[int], list[str]],
        serials: list[str],
    ) -> list[int]:
        """Draw again, in place, each token that is already a code (in the database, a serial
        of this run, or an earlier token of this run); the indexes drawn again. Checked
        set-wise: the Python loop runs only when something was found."""
        drawn_again: set[int] = set()
        own = set(serials)
        while True:
            unique = set(tokens)
            bad_codes = unique & own
            bad_codes.update(self.taken_codes(unique))
            if not bad_codes and len(unique) == len(tokens):
                return sorted(drawn_again)
            seen: set[str] = set()
            bad = []
            for index, token in enumerate(tokens):
                if token in bad_codes or token in seen:
                    bad.append(index)
                seen.add(token)
            drawn_again.update(bad)
            for index, token in zip(bad, new_tokens(len(bad)), strict=True):
                tokens[index] = token

    def _generation_result(self: Repository, done: Any) -> tuple[str, list[str]]:
        run = self.t.generation_run
        generation_no = run.get_by_id(done.generation_id).generation_no
        rows = self._cursor(
            "SELECT serial_no FROM serial WHERE generation_id = ? "
            f"ORDER BY id LIMIT {int(done.count)}",
            (done.generation_id,),
        ).fetchall()
        return generation_no, [sn for (sn,) in rows]

    def generations_of(self: Repository, item_id: int) -> Iterator[GenerationView]:
        rows = self._cursor(
            "SELECT g.generation_no, i.sku, g.count, st.code, g.created_at, g.created_by "
            "FROM generation_run g JOIN item i ON i.id = g.item_id "
            "LEFT JOIN site st ON st.id = g.site_id WHERE g.item_id = ? ORDER BY g.id",
            (item_id,),
        ).fetchall()
        for generation_no, sku, count, site, created_at, created_by in rows:
            yield GenerationView(generation_no, sku, count, site, from_iso(created_at), created_by)

    def generation_runs(self: Repository, names: Iterable[str]) -> dict[str, tuple[int, str]]:
        """The named generation runs that exist: generation no → (id, SKU)."""
        found: dict[str, tuple[int, str]] = {}
        ordered = sorted(set(names))
        for start in range(0, len(ordered), PROBE_CHUNK):
            where, params = self.dialect.any_of(
                "g.generation_no", ordered[start : start + PROBE_CHUNK]
            )
            rows = self._cursor(
                "SELECT g.generation_no, g.id, i.sku FROM generation_run g "
                f"JOIN item i ON i.id = g.item_id WHERE {where}",
                params,
            ).fetchall()
            found.update((name, (run_id, sku)) for name, run_id, sku in rows)
        return found

    # -- imports ------------------------------------------------------------------------------

    def import_serials(
        self: Repository,
        *,
        chunks: Callable[[], Iterator[list[ImportRow]]],
        runs: dict[str, tuple[str, int]],
        by: str,
        at: datetime,
        source_name: str,
        request_id: str,
        progress: Callable[[int], None] | None = None,
        checked_at: int | None = None,
        qr_rows: int = 0,
        streamed: bool = False,
        halt: Callable[[Any], None] | None = None,
    ) -> int:
        """All or nothing, in one transaction: the rows (checked by the caller, given again by
        `chunks()` for each try) are checked once more against the database under the
        namespace lock — a concurrent writer may have taken a code since — and inserted.
        `checked_at`: codes_written() before the caller's checks; when no bulk write came
        since, the rows are not checked again. `runs`: generation no → (SKU, first line) for
        every run the rows name; `qr_rows`: how many rows carry a secondary QR code. Returns
        the rows written; raises SerialCollision with every taken code.
        `streamed`: `chunks()` gives the rows while the caller still checks them (each run a
        chunk names is in `runs` before it comes); rather than check them again it raises
        ChecksOutdated, as its rows cannot be read twice.
        `halt`: called with the try's DB-API connection before it takes the lock and again
        before it commits; it raises to end the write, undone (a streamed write's caller that
        stopped it; it may cancel the connection's statement in flight from its own thread)."""
        skus = self.sku_ids()

        def work() -> int:
            done = self.request_event(request_id)
            if done is not None:
                return int(done.count or 0)
            if halt is not None:
                halt(self._db.connection())
            self.dialect.lock_serial_namespace(self._db)
            recheck = checked_at is None or self.codes_written() != checked_at
            if recheck and streamed:
                raise ChecksOutdated
            # Unstreamed, every run is made (or refused) before the first row is written.
            run_ids = {} if streamed else self._runs_for_import(runs, skus, at, by)
            written = 0
            per_run: dict[int, int] = {}
            # Rows checked again probe the QR index: it stays while they are written.
            set_aside = 0 if recheck else qr_rows
            with self.dialect.random_index_set_aside(self._db, set_aside):
                for chunk in chunks():
                    serial_nos = list(map(itemgetter(ROW_SERIAL_NO), chunk))
                    secondary_qrs = list(map(itemgetter(ROW_SECONDARY_QR), chunk))
                    taken = (
                        self.taken_codes(serial_nos + list(filter(None, secondary_qrs)))
                        if recheck
                        else {}
                    )
                    if taken:
                        raise SerialCollision.describe(chunk, taken)
                    # Streamed, a run is made (or found) before the first row naming it.
                    named = dict.fromkeys(map(itemgetter(ROW_GENERATION_NO), chunk))
                    new_runs = {n: runs[n] for n in named if n is not None and n not in run_ids}
                    if new_runs:
                        run_ids.update(self._runs_for_import(new_runs, skus, at, by))
                    # Columns made in C: a Python expression a row cost more than the insert.
                    added = self._insert_serials(
                        [
                            serial_nos,
                            secondary_qrs,
                            list(map(skus.__getitem__, map(itemgetter(ROW_SKU), chunk))),
                            list(map(run_ids.get, map(itemgetter(ROW_GENERATION_NO), chunk))),
                            None,
                            list(map(itemgetter(ROW_QR_SEAL), chunk)),
                        ],
                        iso(at),
                        by,
                        None,
                    )
                    for run_id, n in added.items():
                        per_run[run_id] = per_run.get(run_id, 0) + n
                    written += len(chunk)
                    if progress:
                        progress(written)
            for run_id, n in per_run.items():
                self._cursor(
                    "UPDATE generation_run SET count = count + ? WHERE id = ?", (n, run_id)
                )
            self.append_admin_event(
                request_id=request_id,
                kind="import",
                site=None,
                by=by,
                at=at,
                comment=f"Imported {written} serials from {source_name}",
                count=written,
            )
            if halt is not None:
                halt(self._db.connection())
            return written

        with self.dialect.bulk_write(self._db):
            return self.write_request(work)

    def _runs_for_import(
        self: Repository,
        runs: dict[str, tuple[str, int]],
        skus: dict[str, int],
        at: datetime,
        by: str,
    ) -> dict[str, int]:
        """The id of every generation run the import names, creating the new ones; a run of
        another SKU is refused (an import may add to a run of its own SKU only)."""
        existing = self.generation_runs(runs)
        problems = [
            (line, f"generation no {name} is a run of {existing[name][1]}, not of {sku}")
            for name, (sku, line) in runs.items()
            if name in existing and existing[name][1] != sku
        ]
        if problems:
            raise SerialCollision(problems)
        ids = {name: run_id for name, (run_id, _sku) in existing.items()}
        for name, (sku, _line) in runs.items():
            if name not in ids:
                ids[name] = self.t.generation_run.create(
                    generation_no=name,
                    item=skus[sku],
                    count=0,
                    site=None,
                    created_at=iso(at),
                    created_by=by,
                ).id
        return ids

    def _insert_serials(
        self: Repository,
        columns: list[Any],
        stamp: str,
        by: str,
        progress: Callable[[int], None] | None,
    ) -> dict[int, int]:
        """Bulk insert of serials given a column at a time (serial_no, secondary_qr, item_id,
        generation_id, site_id, qr_seal), each a list of one value a row or one value for
        every row; a chunk a statement (the dialect's), the serials counted in the tally.
        Returns how many serials each generation run got."""
        stage = Stage.NOT_REGISTERED.value
        fixed = (stage, stamp, by, stamp, by, 1)
        cursor = self._db.cursor()
        count = len(columns[0])  # the serial numbers: always one a row
        step = self.dialect.insert_chunk
        for start in range(0, count, step):
            rows = slice(start, start + step)
            chunk = [columns[0][rows]] + [
                _same_or_all(column[rows]) if isinstance(column, list) else column
                for column in columns[1:]
            ]
            self.dialect.insert_serials(cursor, chunk, fixed)
            if progress:
                progress(min(count, start + step))
        # The tally counts them in the same transaction (store/tally.py).
        self._cursor(ADD_TO_TALLY, (stage, BULK_SLOT, count))
        self._next_counter(CODES_WRITTEN, 1)
        runs = columns[3]
        per_run = Counter(runs) if isinstance(runs, list) else {runs: count}
        return {run_id: n for run_id, n in per_run.items() if run_id is not None}


def _same_or_all(values: list[Any]) -> Any:
    """A column's values: the one value when every row has it (the dialect then writes it
    once, not a row at a time), else the list."""
    return values[0] if values.count(values[0]) == len(values) else values
