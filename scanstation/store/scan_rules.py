"""A scan in one round trip: the serial found, and moved by the station's decision table
(domain/rules.py, made by `decide()`), in one call.

`scanstation_scan` (PostgreSQL, schema 10; since schema 11 with the write inline) does what the
service's first read did, then, when a row of the table matches the serial as read, what
`scanstation_apply_scan` does:

1. find the serial by number, else by secondary QR code, as committed (no lock): none is
   `unknown`;
2. this scan id recorded already: `recorded`, with what was recorded;
3. the first row whose stage and place (on record at the station's site, or nowhere) are the
   serial's, unless the label's GTIN is another item's or a bare QR token was scanned for a
   serial whose QR is signed: no row is `read`, nothing written;
4. move the serial by that row, in one UPDATE that holds only while the serial is at the
   version and in the stage step 1 read (it waits for another station's lock on the row, then
   sees what that station committed): else `changed`, nothing written;
5. append the event with the row's sentence (`ok`). A delivery of the same scan id recorded
   since step 2 either moved the serial (then step 4 said `changed`) or is caught by the
   event's unique scan id (DuplicateScan), so the answer is the same as under
   `scanstation_apply_scan`'s lock-then-check, with two statements and a nested call fewer.

Every status returns the serial as read in step 1, so the answer needs no other statement, and
anything but `ok` goes on exactly as the separate read did: `decide()` on that serial, and a
serial `changed` meanwhile decided again under the lock, where CONFLICT is told apart. SQLite
has no round trips: `RuledScan.match` and `write` do the same steps in Python around its own
read and `apply_scan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from scanstation.domain.qr import PREFIX
from scanstation.domain.rules import SERIAL_MARK, Rule
from scanstation.store.codec import iso
from scanstation.store.scan_function import ScanWrite
from scanstation.store.serials import SERIAL_COLUMNS, SERIAL_FROM, LoadedSerial, serial_from_row

if TYPE_CHECKING:
    from scanstation.store.repository import Repository

__all__ = ["RULES_SQL", "SCAN_FUNCTION", "RuledScan", "RuledScanStore", "ScanRules", "Scanned"]


@dataclass(frozen=True, slots=True)
class ScanRules:
    """A station's decision table, with where each row leaves the serial's site."""

    rules: tuple[Rule, ...]
    site_id: int  # the station's site
    site_after: tuple[int | None, ...]  # by row

    def arrays(self) -> tuple[list[object], ...]:
        """The function's parallel arrays (a site of None travels as 0: no site has id 0)."""
        return (
            [rule.from_stage.value for rule in self.rules],
            [rule.here for rule in self.rules],
            [rule.to_stage.value for rule in self.rules],
            [site or 0 for site in self.site_after],
            [rule.message for rule in self.rules],
            [rule.approved for rule in self.rules],
        )


@dataclass(frozen=True, slots=True)
class RuledScan:
    """One scan for `scanstation_scan`: what identifies it, what its event records."""

    key: str  # a serial number or secondary QR token
    scan_id: str
    gtin: str | None  # the label's GTIN, if it carries one
    signed: bool  # the QR code scanned was signed (and its signature held)
    rules: ScanRules
    mode: str
    station: str
    site: str
    operator: str
    at: datetime
    recorded_at: datetime
    source: str | None
    payload: str
    comment: str | None
    approved_by: str | None

    def params(self, table: tuple[object, ...]) -> tuple[object, ...]:
        """In the order of the function's parameters; `table`: the station's `arrays()`, as
        the driver sends them."""
        return (
            self.key, self.scan_id, self.gtin, self.signed, self.rules.site_id, *table,
            self.mode, self.station, self.site, self.operator, iso(self.at),
            iso(self.recorded_at), self.source, self.payload, self.comment, self.approved_by,
        )  # fmt: skip

    def match(self, serial: LoadedSerial) -> int | None:
        """Step 3 of the function (for SQLite): the number of the row that moves this serial."""
        view = serial.view
        if self.gtin and view.gtin and view.gtin != self.gtin:
            return None
        by_qr = view.serial_no != self.key
        if by_qr and not self.signed and (view.secondary_qr or "").upper().startswith(_SIGNED):
            return None
        for number, rule in enumerate(self.rules.rules):
            place = self.rules.site_id if rule.here else None
            if rule.from_stage is view.stage and serial.site_id == place:
                return number
        return None

    def write(self, serial: LoadedSerial, number: int) -> ScanWrite:
        """Step 4's arguments: row `number`'s move of this serial."""
        rule = self.rules.rules[number]
        return ScanWrite(
            serial_id=serial.id,
            version=serial.view.version,
            from_stage=serial.view.stage,
            to_stage=rule.to_stage,
            site_id=self.rules.site_after[number],
            document_id=serial.document_id,
            fill_document_id=None,
            item_id=serial.item_id,
            scan_id=self.scan_id,
            mode=self.mode,
            station=self.station,
            site=self.site,
            operator=self.operator,
            at=self.at,
            recorded_at=self.recorded_at,
            event_document_id=None,
            source=self.source,
            payload=self.payload,
            comment=self.comment,
            message=rule.message_for(serial.view.serial_no),
            approved_by=self.approved_by if rule.approved else None,
        )


@dataclass(frozen=True, slots=True)
class Scanned:
    """`ok` (moved by row `rule`: `event_id`), `recorded` (`earlier` is what this scan id
    recorded), `read` (no row moves it), `changed` (it moved since it was read) or `unknown`
    (no serial has this key). `serial` is the serial as read (None when `unknown`)."""

    status: str
    serial: LoadedSerial | None = None
    event_id: int | None = None
    earlier: str | None = None
    rule: int | None = None


_SIGNED: Final = f"{PREFIX}."
_INTEGER_COLUMNS: Final = {0, 14, 15, 16, 17, 19}  # of SERIAL_COLUMNS; the rest are text
_COLUMNS: Final = SERIAL_COLUMNS.split(", ")
_OUTS: Final = ", ".join(f"r{n}" for n in range(len(_COLUMNS)))
_OUT_PARAMS: Final = ", ".join(
    f"OUT r{n} {'integer' if n in _INTEGER_COLUMNS else 'text'}" for n in range(len(_COLUMNS))
)
# r1 serial_no, r4 gtin, r6 secondary_qr, r7 stage, r14 version, r15 item_id, r16 site_id,
# r17 document_id, r18 qr_seal (serials.serial_from_row reads them in this order too).
SCAN_FUNCTION: Final = f"""
CREATE OR REPLACE FUNCTION scanstation_scan(
    p_key text, p_scan_id text, p_gtin text, p_signed boolean, p_site_id integer,
    p_from text[], p_here boolean[], p_to text[], p_site_after integer[], p_message text[],
    p_approved boolean[], p_mode text, p_station text, p_site text, p_operator text,
    p_at text, p_recorded_at text, p_source text, p_payload text, p_comment text,
    p_approved_by text,
    OUT status text, OUT event_id integer, OUT earlier text, OUT rule_no integer, {_OUT_PARAMS})
LANGUAGE plpgsql AS $fn$
DECLARE
    v_by_qr boolean := false;
BEGIN
    SELECT {SERIAL_COLUMNS} INTO {_OUTS}{SERIAL_FROM} WHERE s.serial_no = p_key;
    IF NOT FOUND THEN
        SELECT {SERIAL_COLUMNS} INTO {_OUTS}{SERIAL_FROM} WHERE s.secondary_qr = p_key;
        IF NOT FOUND THEN
            status := 'unknown';
            RETURN;
        END IF;
        v_by_qr := true;
    END IF;
    SELECT e.outcome INTO earlier FROM event e WHERE e.scan_id = p_scan_id;
    IF FOUND THEN
        status := 'recorded';
        RETURN;
    END IF;
    status := 'read';
    IF coalesce(p_gtin, '') <> '' AND coalesce(r4, '') <> '' AND r4 <> p_gtin THEN
        RETURN;
    END IF;
    IF v_by_qr AND NOT p_signed
        AND (r18 IS NOT NULL OR upper(left(r6, {len(_SIGNED)})) = '{_SIGNED}') THEN
        RETURN;
    END IF;
    FOR n IN 1 .. coalesce(array_length(p_from, 1), 0) LOOP
        IF p_from[n] = r7 AND (CASE WHEN p_here[n] THEN r16 IS NOT DISTINCT FROM p_site_id
                                    ELSE r16 IS NULL END) THEN
            rule_no := n - 1;
            -- Waits for another station's lock on the serial, then sees what it committed.
            UPDATE serial SET stage = p_to[n], site_id = nullif(p_site_after[n], 0),
                updated_at = p_at, updated_by = p_operator, version = version + 1
                WHERE id = r0 AND version = r14 AND stage = r7;
            IF NOT FOUND THEN
                status := 'changed';
                RETURN;
            END IF;
            INSERT INTO event (scan_id, kind, serial_id, mode, from_stage, to_stage, station,
                site, operator, at, recorded_at, document_id, source, payload, comment,
                outcome, message, approved_by)
            VALUES (p_scan_id, 'scan', r0, p_mode, r7, p_to[n], p_station, p_site,
                p_operator, p_at, p_recorded_at, NULL, p_source, p_payload, p_comment, 'ok',
                replace(p_message[n], '{SERIAL_MARK}', r1),
                CASE WHEN p_approved[n] THEN p_approved_by END)
            RETURNING id INTO event_id;
            status := 'ok';
            RETURN;
        END IF;
    END LOOP;
END
$fn$
"""

RULES_SQL: Final[dict[str, str]] = {
    "scan": "SELECT * FROM scanstation_scan(" + ", ".join(["?"] * 21) + ")",
}


class RuledScanStore:
    """The one-call scan (a part of Repository)."""

    def scan_by_rules(self: Repository, scan: RuledScan) -> Scanned:
        """Find the serial and, if a row of the station's table moves it, move it: one round
        trip on PostgreSQL, committed by itself. A scan id another delivery recorded meanwhile
        raises DuplicateScan."""
        if self.dialect.scan_function:
            return self.write(lambda: self._call_scan(scan), transaction=False)
        read = self.read_for_scan(scan.key, scan.scan_id)
        if read is None:
            return Scanned("unknown")
        serial = read.current
        if read.earlier is not None:
            return Scanned("recorded", serial, earlier=read.earlier)
        number = scan.match(serial)
        if number is None:
            return Scanned("read", serial)
        applied = self.apply_scan(scan.write(serial, number))
        return Scanned(applied.status, serial, applied.event_id, applied.earlier, number)

    def _call_scan(self: Repository, scan: RuledScan) -> Scanned:
        table = self._quoted_tables.get(scan.rules)
        if table is None:
            if len(self._quoted_tables) >= 64:  # a station changes setup now and then
                self._quoted_tables.clear()
            table = self.dialect.quoted(self._db, scan.rules.arrays())
            self._quoted_tables[scan.rules] = table
        params = scan.params(table)
        try:
            cursor = self.dialect.execute_hot(self._db, "scan", self._hot["scan"], params)
        except Exception as error:
            self.raise_if_duplicate(scan.scan_id, error)
            raise
        row = cursor.fetchone()
        status, event_id, earlier, rule = row[:4]
        serial = serial_from_row(row[4:]) if status != "unknown" else None
        return Scanned(status, serial, event_id, earlier, rule)
