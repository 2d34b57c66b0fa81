"""What putting a mistake right reads and writes: a serial's latest change (to void it), the
document it was on before a voided dispatch, a document line counted down (a return, a voided
dispatch) or up again (a voided return); and a document's arrivals (what is still missing)
and returns. Reopening a document is with closing it, in store/documents.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from scanstation.domain.corrections import RETURN_MODE, VOID_MODE
from scanstation.domain.model import DocumentProgress, DocumentReturn, DocumentView
from scanstation.domain.reports import DocumentUnit
from scanstation.domain.stages import Stage
from scanstation.store.codec import from_iso
from scanstation.store.reports import missing_units

if TYPE_CHECKING:
    from scanstation.store.repository import Repository

__all__ = ["RETURN_MODE", "VOID_MODE", "CorrectionStore", "RecordedChange"]

_CHANGE_SELECT: Final = (
    "SELECT e.id, e.serial_id, e.operator, e.at, e.from_stage, e.to_stage, e.mode, "
    "e.document_id, d.reference_no, e.outcome FROM event e "
    "LEFT JOIN document d ON d.id = e.document_id"
)


@dataclass(frozen=True, slots=True)
class RecordedChange:
    """An event of a serial as the void rules need it."""

    id: int
    serial_id: int | None
    operator: str
    at: datetime
    from_stage: Stage | None
    to_stage: Stage | None
    mode: str | None
    document_id: int | None
    document: str | None
    outcome: str

    @property
    def is_void(self) -> bool:
        return self.mode == VOID_MODE


def _change(row: tuple) -> RecordedChange:  # type: ignore[type-arg]
    return RecordedChange(
        id=row[0],
        serial_id=row[1],
        operator=row[2],
        at=from_iso(row[3]),
        from_stage=Stage(row[4]) if row[4] else None,
        to_stage=Stage(row[5]) if row[5] else None,
        mode=row[6],
        document_id=row[7],
        document=row[8],
        outcome=row[9],
    )


class CorrectionStore:
    """Voids, freed lines, reopened documents and a DC's arrivals (a part of Repository)."""

    def last_change(self: Repository, serial_id: int) -> RecordedChange | None:
        """The serial's latest event that moved it (a scan or a void), if any."""
        row = self._cursor(
            f"{_CHANGE_SELECT} WHERE e.serial_id = ? AND e.to_stage IS NOT NULL "
            "ORDER BY e.id DESC LIMIT 1",
            (serial_id,),
        ).fetchone()
        return _change(row) if row else None

    def change_by_id(self: Repository, event_id: int) -> RecordedChange | None:
        row = self._cursor(f"{_CHANGE_SELECT} WHERE e.id = ?", (event_id,)).fetchone()
        return _change(row) if row else None

    def document_before(self: Repository, serial_id: int, event_id: int) -> int | None:
        """The document the serial was on before change `event_id` (a dispatch being
        voided): that of its latest earlier dispatch that no void undid; None if none."""
        rows = self._cursor(
            "SELECT mode, to_stage, document_id FROM event WHERE serial_id = ? AND id < ? "
            "AND to_stage IS NOT NULL ORDER BY id DESC",
            (serial_id, event_id),
        ).fetchall()
        undone = 0
        for mode, to_stage, document_id in rows:
            if mode == VOID_MODE:
                undone += 1
            elif undone:
                undone -= 1
            elif Stage(to_stage) in (Stage.DISPATCHED_FROM_PLANT, Stage.DISPATCHED_FROM_GODOWN):
                return int(document_id) if document_id is not None else None
        return None

    def count_line(self: Repository, document_id: int, item_id: int, step: int) -> bool:
        """One unit off (step -1: a return, a voided dispatch) or back on (+1: a voided
        return) a document's line, open or closed; never below 0 or above its quantity.
        False when the line is absent or at that bound."""
        guard = "scanned > 0" if step < 0 else "scanned < quantity"
        cursor = self._cursor(
            f"UPDATE document_line SET scanned = scanned + ? "
            f"WHERE document_id = ? AND item_id = ? AND {guard}",
            (1 if step > 0 else -1, document_id, item_id),
        )
        return bool(cursor.rowcount == 1)

    def missing_on(self: Repository, document_id: int) -> list[DocumentUnit]:
        """The units dispatched on the document and not arrived (store/reports.py's
        `missing_units`), each with when its dispatch was, by serial no."""
        rows = self._cursor(
            "SELECT s.serial_no, i.sku, s.stage, st.code, e.at "
            f"FROM ({missing_units('?')}) u JOIN event e ON e.id = u.id "
            "JOIN serial s ON s.id = u.serial_id JOIN item i ON i.id = s.item_id "
            "LEFT JOIN site st ON st.id = s.site_id ORDER BY s.serial_no",
            (document_id, document_id),
        ).fetchall()
        return [
            DocumentUnit(serial_no, sku, stage, site, from_iso(at))
            for serial_no, sku, stage, site, at in rows
        ]

    def document_arrivals(
        self: Repository, document_id: int, view: DocumentView
    ) -> DocumentProgress:
        """The document with what has not arrived of it and the returns that freed its lines:
        what `doc show`, the station and `report document` all count from."""
        missing = tuple((unit.serial_no, unit.sku) for unit in self.missing_on(document_id))
        returns = tuple(DocumentReturn(*row) for row in self.returns_on(document_id))
        return DocumentProgress(view, missing, returns)

    def returns_on(self: Repository, document_id: int) -> list[tuple[str, datetime, str]]:
        """(serial no, when, by) of the returns that freed a line of this document, oldest
        first; a return voided since is not listed."""
        rows = self._cursor(
            "SELECT s.serial_no, e.at, e.operator, e.mode FROM event e "
            "JOIN serial s ON s.id = e.serial_id WHERE e.document_id = ? AND (e.mode = ? "
            "OR (e.mode = ? AND e.to_stage = ?)) ORDER BY e.id",
            (document_id, RETURN_MODE, VOID_MODE, Stage.DISPATCHED_FROM_GODOWN.value),
        ).fetchall()
        kept: list[tuple[str, datetime, str]] = []
        for serial_no, at, operator, mode in rows:
            if mode == RETURN_MODE:
                kept.append((serial_no, from_iso(at), operator))
            elif undone := [row for row in kept if row[0] == serial_no]:
                kept.remove(undone[-1])  # a void of the return (it went back to dispatched)
        return kept
