"""Serials: found by serial number or secondary QR code (serial number first, always), locked
for a scan, moved to a stage under their version, exported page by page."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from scanstation.domain.model import SerialView
from scanstation.domain.qr import signed_text
from scanstation.domain.stages import Stage
from scanstation.store.codec import from_iso, iso
from scanstation.store.errors import VersionChanged
from scanstation.store.scan_function import APPLY_SCAN_CALL, AppliedScan, ScanWrite

if TYPE_CHECKING:
    from scanstation.store.repository import Repository
    from scanstation.store.tries import Tries

__all__ = ["SERIAL_SQL", "LoadedSerial", "ScanLock", "SerialStore"]

SERIAL_COLUMNS: Final = (
    "s.id, s.serial_no, i.sku, i.name, i.gtin, g.generation_no, s.secondary_qr, s.stage, "
    "st.code, d.reference_no, s.created_at, s.created_by, s.updated_at, s.updated_by, "
    "s.version, s.item_id, s.site_id, s.document_id, s.qr_seal, s.print_count, s.printed_at"
)
# Where a scan read's extra column (the outcome already recorded for its scan id) is.
RECORDED_AT: Final = SERIAL_COLUMNS.count(",") + 1
# Every read here starts from the serials (by number, QR, id, run or a walk by id); the `+`
# keeps the planner from starting at the items instead and reading each one's serials through
# the (item, id) index, then sorting them all (SQLite chose that for Find by stage, once
# ANALYZE had measured few serials an item).
SERIAL_FROM: Final = (
    " FROM serial s JOIN item i ON i.id = +s.item_id"
    " LEFT JOIN generation_run g ON g.id = s.generation_id"
    " LEFT JOIN site st ON st.id = s.site_id"
    " LEFT JOIN document d ON d.id = s.document_id"
)
_SELECT: Final = f"SELECT {SERIAL_COLUMNS}"
_RECORDED: Final = "(SELECT outcome FROM event WHERE scan_id = ?)"

# Hot-path statements, written once with `?` ({lock}: the dialect's row lock).
SERIAL_SQL: Final[dict[str, str]] = {
    "serial_by_no": f"{_SELECT}{SERIAL_FROM} WHERE s.serial_no = ?",
    "serial_by_qr": f"{_SELECT}{SERIAL_FROM} WHERE s.secondary_qr = ?",
    # A scan's first read, outside any transaction: the serial as committed, and the outcome
    # already recorded for this scan id, if any.
    "scan_by_no": f"{_SELECT}, {_RECORDED}{SERIAL_FROM} WHERE s.serial_no = ?",
    "scan_by_qr": f"{_SELECT}, {_RECORDED}{SERIAL_FROM} WHERE s.secondary_qr = ?",
    # The scan id is checked under the same lock, so two deliveries of one scan cannot both
    # pass the check.
    "lock_serial": f"{_SELECT}, {_RECORDED}{SERIAL_FROM} WHERE s.id = ?{{lock}}",
    # Applying a transition (store/scan_function.py): PostgreSQL calls the function; SQLite
    # runs the same checks as statements, under its write lock.
    "apply_scan": APPLY_SCAN_CALL,
    "scan_check": "SELECT version, stage, " + _RECORDED + " FROM serial WHERE id = ?",
    "update_serial": (
        "UPDATE serial SET stage = ?, site_id = ?, document_id = ?, updated_at = ?, "
        "updated_by = ?, version = version + 1 WHERE id = ? AND version = ?"
    ),
}


class LoadedSerial(NamedTuple):
    """A serial as read for a scan: its view plus the ids the write needs. (A named tuple:
    every read makes one, and a frozen dataclass sets each field by a call.)"""

    id: int
    view: SerialView
    item_id: int
    site_id: int | None
    document_id: int | None


@dataclass(frozen=True, slots=True)
class ScanLock:
    """A serial locked for a scan. `before` is the serial as it was read before the lock when
    another station's change was waited for (or, on SQLite, the read before the write lock);
    `earlier` the outcome already recorded for this scan id, if any."""

    current: LoadedSerial
    before: LoadedSerial | None
    earlier: str | None

    @property
    def changed_meanwhile(self) -> bool:
        """Another station changed the serial between our first read and our lock."""
        return self.before is not None and self.before.view.version != self.current.view.version


# A stage by its stored name without Enum's call (a scan reads one each); Stage(name) still
# says what is wrong with a name that is none.
_STAGES: Final = {stage.value: stage for stage in Stage}


def serial_from_row(row: Sequence[Any]) -> LoadedSerial:
    # Positional, in SerialView's field order: keywords cost a scan's read a microsecond.
    (id_, serial_no, sku, item_name, gtin, generation_no, qr, stage, site, document, created_at,
     created_by, updated_at, updated_by, version, item_id, site_id, document_id, seal,
     print_count, printed_at) = row[:21]  # fmt: skip
    view = SerialView(
        serial_no, sku, item_name, gtin, generation_no,
        signed_text(qr, seal) if seal else qr,
        _STAGES.get(stage) or Stage(stage), site, document,
        from_iso(created_at), created_by, from_iso(updated_at), updated_by, version,
        print_count, from_iso(printed_at) if printed_at else None,
    )  # fmt: skip
    return LoadedSerial(id_, view, item_id, site_id, document_id)


class SerialStore:
    """Reading, locking and moving serials (a part of Repository)."""

    def find_serial(self: Repository, key: str) -> LoadedSerial | None:
        """By serial number, else by secondary QR code."""
        row = self._run("serial_by_no", (key,)).fetchone()
        if row is None:
            row = self._run("serial_by_qr", (key,)).fetchone()
        return serial_from_row(row) if row else None

    def read_for_scan(self: Repository, key: str, scan_id: str) -> ScanLock | None:
        """A scan's first read, outside any transaction (by serial number, else by secondary
        QR code): the serial as committed, with the outcome already recorded for this scan id;
        None when no serial matches."""
        row = self._run("scan_by_no", (scan_id, key)).fetchone()
        if row is None:
            row = self._run("scan_by_qr", (scan_id, key)).fetchone()
        return ScanLock(serial_from_row(row), None, row[RECORDED_AT]) if row else None

    def lock_for_scan(self: Repository, before: LoadedSerial, scan_id: str) -> ScanLock:
        """Inside a scan's write transaction: the serial read before, locked now (and read
        again: another station may have changed it meanwhile)."""
        current, earlier = self.lock_serial(before.id, scan_id)
        return ScanLock(current, before, earlier)

    def apply_scan(self: Repository, write: ScanWrite, tries: Tries | None = None) -> AppliedScan:
        """Outside any transaction: apply the transition decide() chose (see
        store/scan_function.py): one round trip on PostgreSQL, committed by itself; one write
        transaction on SQLite. A scan id another delivery recorded meanwhile raises
        DuplicateScan. `tries`: as `write`'s (a `recorded` answer after a lost connection may
        be this very call's)."""
        if self.dialect.scan_function:
            return self.write(lambda: self._call_apply_scan(write), transaction=False, tries=tries)
        return self.write(lambda: self.apply_scan_locked(write), tries=tries)

    def apply_scan_locked(self: Repository, write: ScanWrite) -> AppliedScan:
        """The same, inside the caller's write transaction."""
        if self.dialect.scan_function:
            return self._call_apply_scan(write)
        # SQLite: the function's steps, in its order, under the transaction's write lock.
        # Statements go straight to the dialect: the caller's write() turns a driver's error
        # into a StoreError, and nothing under a transaction is retried by itself.
        db, hot, execute = self._db, self._hot, self.dialect.execute_hot
        version, stage, earlier = execute(
            db, "scan_check", hot["scan_check"], (write.scan_id, write.serial_id)
        ).fetchone()
        if earlier is not None:
            return AppliedScan("recorded", earlier=earlier)
        from_stage, to_stage = write.from_stage.value, write.to_stage.value
        if version != write.version or stage != from_stage:
            return AppliedScan("changed")
        if write.fill_document_id is not None and not self.fill_document_line(
            write.fill_document_id, write.item_id
        ):
            return AppliedScan("line")
        at = iso(write.at)
        moved = execute(
            db, "update_serial", hot["update_serial"],
            (to_stage, write.site_id, write.document_id, at, write.operator, write.serial_id,
             write.version),
        )  # fmt: skip
        if moved.rowcount != 1:
            raise VersionChanged(str(write.serial_id))
        event_id = self.insert_event(
            (write.scan_id, "scan", write.serial_id, write.mode, from_stage, to_stage,
             write.station, write.site, write.operator, at, iso(write.recorded_at),
             write.event_document_id, write.source, write.payload, write.comment, "ok",
             write.message, None, None, write.approved_by)
        )  # fmt: skip
        return AppliedScan("ok", event_id)

    def _call_apply_scan(self: Repository, write: ScanWrite) -> AppliedScan:
        try:
            cursor = self.dialect.execute_hot(
                self._db, "apply_scan", self._hot["apply_scan"], write.params()
            )
        except Exception as error:
            self.raise_if_duplicate(write.scan_id, error)
            raise
        status, event_id, earlier = cursor.fetchone()
        return AppliedScan(status, event_id, earlier)

    def lock_serial(
        self: Repository, serial_id: int, scan_id: str
    ) -> tuple[LoadedSerial, str | None]:
        """Read a serial inside a write transaction (locked), with the outcome already
        recorded for this scan id, if any."""
        row = self._run("lock_serial", (scan_id, serial_id)).fetchone()
        return serial_from_row(row), row[RECORDED_AT]

    def serial_id(self: Repository, serial_no: str) -> int | None:
        row = self._cursor("SELECT id FROM serial WHERE serial_no = ?", (serial_no,)).fetchone()
        return int(row[0]) if row else None

    def iter_serials(
        self: Repository, stage: Stage | None, site: str | None, *, page: int = 5000
    ) -> Iterator[SerialView]:
        """Every serial (of a stage, at a site) in id order, a page at a time: each page is
        one short statement, so an export of millions never holds one long query open."""
        clauses: list[str] = ["s.id > ?"]
        params: list[Any] = []
        if stage is not None:
            clauses.append("s.stage = ?")
            params.append(stage.value)
        if site is not None:
            clauses.append("st.code = ?")
            params.append(site)
        sql = (
            f"{_SELECT}{SERIAL_FROM} WHERE {' AND '.join(clauses)} ORDER BY s.id LIMIT {int(page)}"
        )
        last = 0
        while True:
            rows = self._cursor(sql, (last, *params)).fetchall()
            for row in rows:
                yield serial_from_row(row).view
            if len(rows) < page:
                return
            last = rows[-1][0]
