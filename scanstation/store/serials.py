"""Serials: found by serial number or secondary QR code (serial number first, always), locked
for a scan, moved to a stage under their version, exported page by page."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from scanstation.domain.model import SerialView
from scanstation.domain.stages import Stage
from scanstation.store.codec import from_iso, iso
from scanstation.store.errors import VersionChanged

if TYPE_CHECKING:
    from scanstation.store.repository import Repository

__all__ = ["NOT_READ", "SERIAL_SQL", "LoadedSerial", "ScanLock", "SerialStore"]

SERIAL_COLUMNS: Final = (
    "s.id, s.serial_no, i.sku, i.name, i.gtin, g.generation_no, s.secondary_qr, s.stage, "
    "st.code, d.reference_no, s.created_at, s.created_by, s.updated_at, s.updated_by, "
    "s.version, s.item_id, s.site_id, s.document_id"
)
SERIAL_FROM: Final = (
    " FROM serial s JOIN item i ON i.id = s.item_id"
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
    # The scan id is checked under the same lock, so two deliveries of one scan cannot both
    # pass the check.
    "lock_serial": f"{_SELECT}, {_RECORDED}{SERIAL_FROM} WHERE s.id = ?{{lock}}",
    # Find and lock in one round trip (a dialect that does not read before the write). The
    # row is picked by serial number first, never by whichever index answers first; SKIP
    # LOCKED, so a row another station holds at this moment is noticed (then waited for).
    "lock_by_key_skip": (
        f"{_SELECT}, {_RECORDED}{SERIAL_FROM} WHERE s.id = (SELECT id FROM serial "
        "WHERE serial_no = ? OR secondary_qr = ? ORDER BY serial_no = ? DESC LIMIT 1)"
        "{lock} SKIP LOCKED"
    ),
    "update_serial": (
        "UPDATE serial SET stage = ?, site_id = ?, document_id = ?, updated_at = ?, "
        "updated_by = ?, version = version + 1 WHERE id = ? AND version = ?"
    ),
}


@dataclass(frozen=True, slots=True)
class LoadedSerial:
    """A serial as read for a scan: its view plus the ids the write needs."""

    id: int
    view: SerialView
    item_id: int
    site_id: int | None
    document_id: int | None


class _NotRead:
    def __repr__(self) -> str:
        return "NOT_READ"


# The dialect does not read a serial before the write transaction: the transaction finds it.
NOT_READ: Final = _NotRead()
Probe = LoadedSerial | None | _NotRead


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


def serial_from_row(row: Sequence[Any]) -> LoadedSerial:
    view = SerialView(
        serial_no=row[1],
        sku=row[2],
        item_name=row[3],
        gtin=row[4],
        generation_no=row[5],
        secondary_qr=row[6],
        stage=Stage(row[7]),
        site=row[8],
        document=row[9],
        created_at=from_iso(row[10]),
        created_by=row[11],
        updated_at=from_iso(row[12]),
        updated_by=row[13],
        version=row[14],
    )
    return LoadedSerial(row[0], view, row[15], row[16], row[17])


class SerialStore:
    """Reading, locking and moving serials (a part of Repository)."""

    def find_serial(self: Repository, key: str) -> LoadedSerial | None:
        """By serial number, else by secondary QR code."""
        row = self._run("serial_by_no", (key,)).fetchone()
        if row is None:
            row = self._run("serial_by_qr", (key,)).fetchone()
        return serial_from_row(row) if row else None

    def probe_serial(self: Repository, key: str) -> Probe:
        """Before a scan's write transaction: the serial (None: no such serial), or NOT_READ
        when the dialect finds it inside the transaction instead."""
        return self.find_serial(key) if self.dialect.probe_before_write else NOT_READ

    def lock_for_scan(self: Repository, key: str, probe: Probe, scan_id: str) -> ScanLock | None:
        """Inside a scan's write transaction: the serial, locked; None when none matches."""
        if isinstance(probe, LoadedSerial):
            current, earlier = self.lock_serial(probe.id, scan_id)
            return ScanLock(current, probe, earlier)
        row = self._run("lock_by_key_skip", (scan_id, key, key, key)).fetchone()
        if row is not None:
            return ScanLock(serial_from_row(row), None, row[18])
        # Nothing free: no such serial, or another station holds it. Read it as committed
        # (without waiting), then wait for the lock: if the holder changed it meanwhile, the
        # scan is judged against both (CONFLICT), as on SQLite.
        before = self.find_serial(key)
        if before is None:
            return None
        current, earlier = self.lock_serial(before.id, scan_id)
        return ScanLock(current, before, earlier)

    def lock_serial(
        self: Repository, serial_id: int, scan_id: str
    ) -> tuple[LoadedSerial, str | None]:
        """Read a serial inside a write transaction (locked), with the outcome already
        recorded for this scan id, if any."""
        row = self._run("lock_serial", (scan_id, serial_id)).fetchone()
        return serial_from_row(row), row[18]

    def move_serial(
        self: Repository,
        serial: LoadedSerial,
        to_stage: Stage,
        site_id: int | None,
        document_id: int | None,
        by: str,
        at: datetime,
    ) -> None:
        cursor = self._run(
            "update_serial",
            (to_stage.value, site_id, document_id, iso(at), by, serial.id, serial.view.version),
        )
        if cursor.rowcount != 1:
            raise VersionChanged(serial.view.serial_no)

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
