"""Applying a scan's transition: the one write every scan that moves a serial makes, on both
databases, with the same checks in the same order.

The rules are not here. `decide()` (domain/stages.py) is the only place that says whether a
scan may move a serial and to which stage; the service reads the serial, asks `decide()`, and
hands the transition it chose to the store as a `ScanWrite`. The store only checks what the
database must check at the moment of writing, because another station may have written since
the service read:

1. lock the serial (PostgreSQL: FOR UPDATE; SQLite: the transaction's write lock);
2. the scan id is not recorded yet (else: `recorded`, with what was recorded);
3. the serial is still at the version and in the stage `decide()` saw (else: `changed`: the
   service decides again under the lock, which is where CONFLICT is told apart);
4. on a dispatch, the document's line has room and the document is open (else: `line`);
5. move the serial, append the event.

On PostgreSQL the five steps are one PL/pgSQL function, `scanstation_apply_scan`, installed by
schema migration 4 and called as one prepared statement: a scan is one round trip, committed
by itself (autocommit). On SQLite (in-process, no round trips) they are statements in one
BEGIN IMMEDIATE transaction. tests/unit/test_scan_function.py runs every row of the transition
table through this path and through the transactional one and compares what they wrote.

Since schema 10 the usual scan does not read first: `scanstation_scan` (store/scan_rules.py)
finds the serial and, when the station's decision table moves it, writes the same move itself
(since schema 11 inline: an UPDATE guarded by the version and stage it read, then the event).
This function stays the write of every scan the table does not settle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from scanstation.domain.stages import Stage
from scanstation.store.codec import iso

__all__ = [
    "APPLY_SCAN_CALL",
    "APPLY_SCAN_FUNCTION",
    "APPLY_SCAN_FUNCTION_4",
    "AppliedScan",
    "ScanWrite",
]


@dataclass(frozen=True, slots=True)
class ScanWrite:
    """The transition `decide()` chose, and the event that records it."""

    serial_id: int
    version: int  # the serial's version when the service read it
    from_stage: Stage
    to_stage: Stage
    site_id: int | None  # where the serial is on record after the move
    document_id: int | None  # the serial's document after the move
    fill_document_id: int | None  # a dispatch: the document whose line counts one more
    item_id: int
    scan_id: str
    mode: str
    station: str
    site: str
    operator: str
    at: datetime  # when the scan was read, also the serial's updated_at
    recorded_at: datetime
    event_document_id: int | None
    source: str | None
    payload: str
    comment: str | None
    message: str
    approved_by: str | None = None  # the supervisor who approved it on the spot

    def params(self) -> tuple[object, ...]:
        """In the order of the function's parameters."""
        return (
            self.serial_id, self.version, self.from_stage.value, self.to_stage.value,
            self.site_id, self.document_id, self.fill_document_id, self.item_id, self.scan_id,
            self.mode, self.station, self.site, self.operator, iso(self.at),
            iso(self.recorded_at),
            self.event_document_id, self.source, self.payload, self.comment, self.message,
            self.approved_by,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class AppliedScan:
    """`ok` (written: `event_id`), `recorded` (this scan id was recorded before: `earlier` is
    its outcome), `changed` (the serial moved since it was read) or `line` (the document's line
    is full or the document closed). Only `ok` wrote anything."""

    status: str
    event_id: int | None = None
    earlier: str | None = None


# PostgreSQL. Text and integer parameters, as the columns are; the same statements, in the
# same order, as the SQLite path in store/serials.py.
APPLY_SCAN_FUNCTION: Final = """
CREATE OR REPLACE FUNCTION scanstation_apply_scan(
    p_serial_id integer, p_version integer, p_from_stage text, p_to_stage text,
    p_site_id integer, p_document_id integer, p_fill_document_id integer, p_item_id integer,
    p_scan_id text, p_mode text, p_station text, p_site text, p_operator text,
    p_at text, p_recorded_at text, p_event_document_id integer, p_source text,
    p_payload text, p_comment text, p_message text, p_approved_by text,
    OUT status text, OUT event_id integer, OUT earlier text)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_version integer;
    v_stage text;
BEGIN
    SELECT s.version, s.stage INTO v_version, v_stage
        FROM serial s WHERE s.id = p_serial_id FOR UPDATE;
    SELECT e.outcome INTO earlier FROM event e WHERE e.scan_id = p_scan_id;
    IF FOUND THEN
        status := 'recorded';
        RETURN;
    END IF;
    IF v_version IS DISTINCT FROM p_version OR v_stage IS DISTINCT FROM p_from_stage THEN
        status := 'changed';
        RETURN;
    END IF;
    IF p_fill_document_id IS NOT NULL THEN
        UPDATE document_line l SET scanned = l.scanned + 1
            WHERE l.document_id = p_fill_document_id AND l.item_id = p_item_id
            AND l.scanned < l.quantity
            AND (SELECT d.state FROM document d WHERE d.id = p_fill_document_id) = 'open';
        IF NOT FOUND THEN
            status := 'line';
            RETURN;
        END IF;
    END IF;
    UPDATE serial SET stage = p_to_stage, site_id = p_site_id, document_id = p_document_id,
        updated_at = p_at, updated_by = p_operator, version = version + 1
        WHERE id = p_serial_id;
    INSERT INTO event (scan_id, kind, serial_id, mode, from_stage, to_stage, station, site,
        operator, at, recorded_at, document_id, source, payload, comment, outcome, message,
        approved_by)
    VALUES (p_scan_id, 'scan', p_serial_id, p_mode, p_from_stage, p_to_stage, p_station,
        p_site, p_operator, p_at, p_recorded_at, p_event_document_id, p_source, p_payload,
        p_comment, 'ok', p_message, p_approved_by)
    RETURNING id INTO event_id;
    status := 'ok';
END
$fn$
"""

APPLY_SCAN_CALL: Final = (
    "SELECT status, event_id, earlier FROM scanstation_apply_scan("
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# Schema 4's signature (before the event named its approver): dropped by migration 5, as
# CREATE OR REPLACE with one more parameter makes a second function instead of replacing it.
APPLY_SCAN_FUNCTION_4: Final = (
    "scanstation_apply_scan(integer, integer, text, text, integer, integer, integer, integer, "
    "text, text, text, text, text, text, text, integer, text, text, text, text)"
)
