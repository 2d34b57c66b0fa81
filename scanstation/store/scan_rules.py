"""A scan in one round trip: the serial found, and moved by the station's decision table
(domain/rules.py, made by `decide()`), in one call.

`scanstation_scan` (PostgreSQL, schema 10; since schema 11 with the write inline; since schema 12
with the document rows; since schema 13 steps 1 and 2 in one statement, the serial joined to
its item only; since schema 14 answering in one JSON array, not 25 columns) does what the
service's first read did, then, when a row of the table matches the serial as read, what
`scanstation_apply_scan` does:

1. find the serial by number, else by secondary QR code, as committed (no lock): none is
   `unknown`; the ids of its run, site and document come back, which the store names
   (`ScanNames`);
2. this scan id recorded already (read in step 1's statement): `recorded`, with what was
   recorded;
3. the first row whose stage, place (on record at the station's site, nowhere, or anywhere),
   item (a dispatch row: a line of the station's document) and document (a receive row: the
   serial's is addressed to this site) are the serial's, unless the label's GTIN is another
   item's or a bare QR token was scanned for a serial whose QR is signed: no row is `read`,
   nothing written;
4. a row that fills a line: lock the serial while it is at the version and in the stage step
   1 read (else `changed`), then count the unit on the station's document's line while the
   document is open and the line has room (else `line`: nothing written, the service decides
   on the document as it is now); the row's sentence gets the line's count and quantity;
5. move the serial by that row, in one UPDATE that holds only while the serial is at the
   version and in the stage step 1 read (it waits for another station's lock on the row, then
   sees what that station committed): else `changed`, nothing written;
6. append the event with the row's sentence (`ok`). A delivery of the same scan id recorded
   since step 2 either moved the serial (then step 4 or 5 said `changed`) or is caught by the
   event's unique scan id (DuplicateScan), so the answer is the same as under
   `scanstation_apply_scan`'s lock-then-check (the same checks, in its order: serial, then
   line), with two statements and a nested call fewer.

Every status returns the serial as read in step 1 (its run, site and document by id, named
by `ScanNames` from what the station has read before: a name not seen yet is one more read),
and anything but `ok` goes on exactly as the separate read did: `decide()` on that serial, and
a serial `changed` meanwhile decided again under the lock, where CONFLICT is told apart. SQLite
has no round trips: `RuledScan.match` finds the row in Python from the values its own read
returned, and `_move_by_rule` does steps 4–6 in one write transaction: a row that fills a line
with `apply_scan_locked`'s checks first, any other as the function does steps 5 and 6 (the
UPDATE under the version and stage read, the event under its unique scan id), and makes the
view of the serial as moved, the only one a moved serial's answer needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from json import dumps as _dumps
from json import loads as _loads
from json.encoder import c_make_encoder, encode_basestring_ascii
from typing import TYPE_CHECKING, Any, Final, NamedTuple, cast

from scanstation.domain.model import SerialView
from scanstation.domain.qr import PREFIX, signed_text
from scanstation.domain.rules import (
    COUNT_MARK,
    QUANTITY_MARK,
    SERIAL_MARK,
    Already,
    Rule,
    first_already,
    first_rule,
)
from scanstation.domain.stages import Stage
from scanstation.store.codec import from_iso, iso, micros
from scanstation.store.errors import StoreError, VersionChanged
from scanstation.store.serials import (
    _STAGES,
    RECORDED_AT,
    LoadedSerial,
    serial_from_row,
)
from scanstation.store.sqlite_dialect import connection_of
from scanstation.store.tries import Tries

if TYPE_CHECKING:
    from scanstation.store.postgresql_dialect import PostgresDialect
    from scanstation.store.repository import Repository

__all__ = [
    "RULES_SQL",
    "SCAN_FUNCTION",
    "SCAN_FUNCTION_11",
    "SCAN_FUNCTION_12",
    "SCAN_FUNCTION_13",
    "RuledScan",
    "RuledScanStore",
    "ScanNames",
    "ScanRules",
    "Scanned",
]


# Compared by identity (eq=False): the service makes one a station setup and keeps it, and the
# store keys that station's prepared call by it without hashing the whole table every scan.
@dataclass(frozen=True, slots=True, eq=False)
class ScanRules:
    """A station's decision table, with where each row leaves the serial's site, and what
    every event of this station records of it: the same for each of its scans."""

    rules: tuple[Rule, ...]
    site_id: int  # the station's site
    site_after: tuple[int | None, ...]  # by row
    item_ids: tuple[int | None, ...] = ()  # by row: a row's item (None: any); () all None
    # The station's document on a dispatch or a receive (its event names it; a dispatch row
    # counts the unit on its line and puts the serial on it), and its reference no.
    document_id: int | None = None
    document_reference: str | None = None
    _: KW_ONLY
    mode: str
    station: str
    site: str
    operator: str
    comment: str | None
    approved_by: str | None
    # What decide() answers ALREADY (domain/rules.py): told from the serial the call read, by
    # the service, on both databases; nothing is written for it, so the database needs none.
    answers: tuple[Already, ...] = ()

    def already(self, serial: LoadedSerial) -> str | None:
        """The ALREADY sentence for this serial as read, when a row answers it; else None."""
        place = None if serial.site_id is not None else False
        if serial.site_id == self.site_id:
            place = True
        on_document = serial.document_id is not None and serial.document_id == self.document_id
        number = first_already(self.answers, serial.view.stage, place, on_document)
        if number is None:
            return None
        return self.answers[number].message.replace(SERIAL_MARK, serial.view.serial_no)

    def item_id(self, number: int) -> int | None:
        return self.item_ids[number] if self.item_ids else None

    def constants(self) -> tuple[object, ...]:
        """The function's parameters every scan of this station sends the same, in the order
        of `_SCAN_CALL`'s blanks: the site and document, the table's parallel arrays (a site
        or item of None travels as 0: no row has id 0), then what the events record of the
        station."""
        return (
            self.site_id,
            self.document_id,
            [rule.from_stage.value for rule in self.rules],
            [rule.here for rule in self.rules],
            [rule.to_stage.value for rule in self.rules],
            [site or 0 for site in self.site_after],
            [rule.message for rule in self.rules],
            [rule.approved for rule in self.rules],
            [self.item_id(n) or 0 for n in range(len(self.rules))],
            [rule.fills_line for rule in self.rules],
            [rule.addressed_here for rule in self.rules],
            self.mode,
            self.station,
            self.site,
            self.operator,
            self.comment,
            self.approved_by,
        )


class RuledScan(NamedTuple):
    """One scan for `scanstation_scan`: what identifies it, what its event records. (A named
    tuple: every scan makes one, and a frozen dataclass sets each field by a call.)"""

    key: str  # a serial number or secondary QR token
    scan_id: str
    gtin: str | None  # the label's GTIN, if it carries one
    signed: bool  # the QR code scanned was signed (and its signature held)
    rules: ScanRules
    at: datetime
    recorded_at: datetime
    source: str | None
    payload: str

    def values(self) -> tuple[str]:
        """What differs from scan to scan, as `_SCAN_CALL`'s one parameter: a JSON array, in
        the order of `_PER_SCAN`."""
        return (
            _json((
                self.key, self.scan_id, self.gtin, self.signed, micros(self.at),
                micros(self.recorded_at), self.source, self.payload,
            )),
        )  # fmt: skip

    def match(
        self,
        gtin: str | None,
        serial_no: str,
        qr: str | None,
        stage: Stage,
        sku: str,
        site_id: int | None,
        addressed_here: bool,
    ) -> int | None:
        """Step 3 of the function (for SQLite): the number of the row that moves the serial
        read with these values (`qr`: its secondary QR text, signed or not), before any view
        of it is made; `addressed_here`: its document is addressed to the station's site."""
        if self.gtin and gtin and gtin != self.gtin:
            return None
        if serial_no != self.key and not self.signed and (qr or "").upper().startswith(_SIGNED):
            return None
        place = None if site_id is not None else False
        if site_id == self.rules.site_id:
            place = True
        # A row's item is compared by id in the database, by SKU here: one item, one SKU.
        return first_rule(self.rules.rules, stage, place, sku, addressed_here)


class Scanned(NamedTuple):
    """`ok` (moved by row `rule`: `event_id`; `line`: the count of the line it filled, with
    this unit, and its quantity), `recorded` (`earlier` is what this scan id recorded),
    `resent` (recorded `ok` by this scan's own try, whose answer the dropped connection lost:
    `serial` is the serial as moved), `read`
    (no row moves it), `changed` (it moved since it was read), `line` (the station's
    document's line is full or the document closed: nothing written) or `unknown` (no serial
    has this key). `serial` is the serial as read (None when `unknown`)."""

    status: str
    serial: LoadedSerial | None = None
    event_id: int | None = None
    earlier: str | None = None
    rule: int | None = None
    line: tuple[int, int] | None = None
    # `ok`: the event's sentence, as written.
    message: str | None = None
    # `ok` on SQLite: the serial as this scan left it (the store read it and moved it: it
    # makes the answer's view from the row, and `serial` holds it instead of the serial as
    # read, whose view no one reads after a move).
    moved: SerialView | None = None


_SIGNED: Final = f"{PREFIX}."


def _json_of(encode: Callable[[object, int], list[str]]) -> Callable[[object], str]:
    def json_text(values: object) -> str:
        return "".join(encode(values, 0))

    return json_text


# A scan's values as JSON text (ASCII, compact): json's C encoder called as json.dumps would
# call it, without dumps's Python layers around it (2.7 -> 0.9 us a scan).
_json: Final[Callable[[object], str]] = (
    _json_of(
        c_make_encoder(None, None, encode_basestring_ascii, None, ":", ",", False, False, True)
    )
    if c_make_encoder is not None
    else lambda values: _dumps(values, separators=(",", ":"))
)
# A stage's stored text without Enum's `value` property (two Python calls each time).
_TEXT: Final = {stage: stage.value for stage in Stage}
# The serial as the call reads it (schema 13): its own columns and its item's, by name; the
# generation's number, the site's code and the document's reference no are not joined but
# named from their ids by the store (`ScanNames`), which keeps them once read.
_SCAN_COLUMNS: Final = (
    ("id", "s.id", "integer"),
    ("serial_no", "s.serial_no", "text"),
    ("sku", "i.sku", "text"),
    ("item_name", "i.name", "text"),
    ("gtin", "i.gtin", "text"),
    ("generation_id", "s.generation_id", "integer"),
    ("qr", "s.secondary_qr", "text"),
    ("stage", "s.stage", "text"),
    ("created_at", "s.created_at", "text"),
    ("created_by", "s.created_by", "text"),
    ("updated_at", "s.updated_at", "text"),
    ("updated_by", "s.updated_by", "text"),
    ("version", "s.version", "integer"),
    ("item_id", "s.item_id", "integer"),
    ("site_id", "s.site_id", "integer"),
    ("document_id", "s.document_id", "integer"),
    ("qr_seal", "s.qr_seal", "text"),
    ("print_count", "s.print_count", "integer"),
    ("printed_at", "s.printed_at", "text"),
)
# What the call answers, in this order, as one JSON array (schema 14): the status and what goes
# with it, then the serial as read. One text column: psycopg2 describes every column of a result
# (its name decoded by a Python call, a Column object made) before the row is read, which cost
# the station ~3,000 instructions a column, 25 columns a scan (callgrind: ~80k of its 374k).
# A later schema that changes what the array holds must also retype the function's result
# (`answer text`; a second result makes it a record): a station still running this version
# then fails its prepared call ("cached plan must not change result type", told as "restart")
# instead of reading the new array as old. The call takes the function's value, so a renamed
# result alone is told only by a new connection's check of the function (_SCHEMA_CHECK) and by
# the answer's length.
_ANSWERS: Final = (
    ("status", "text"),
    ("event_id", "integer"),
    ("earlier", "text"),
    ("rule_no", "integer"),
    ("line_scanned", "integer"),
    ("line_quantity", "integer"),
    *((f"o_{name}", kind) for name, _, kind in _SCAN_COLUMNS),
)
_DECLARED: Final = "".join(f"{name} {kind};\n    " for name, kind in _ANSWERS)
_ANSWER_LIST: Final = ", ".join(name for name, _ in _ANSWERS)
_ANSWER_COUNT: Final = len(_ANSWERS)
# Step 1 and 2 in one statement: the serial, and the outcome this scan id recorded, if any.
_READ: Final = (
    f"SELECT {', '.join(column for _, column, _ in _SCAN_COLUMNS)}, "
    "(SELECT e.outcome FROM event e WHERE e.scan_id = p_scan_id) "
    f"INTO {', '.join(f'o_{name}' for name, _, _ in _SCAN_COLUMNS)}, earlier "
    "FROM serial s JOIN item i ON i.id = +s.item_id WHERE"
)
SCAN_FUNCTION: Final = f"""
CREATE OR REPLACE FUNCTION scanstation_scan(
    p_key text, p_scan_id text, p_gtin text, p_signed boolean, p_site_id integer,
    p_document_id integer, p_from text[], p_here boolean[], p_to text[],
    p_site_after integer[], p_message text[], p_approved boolean[], p_item integer[],
    p_fills boolean[], p_addressed boolean[], p_mode text, p_station text, p_site text,
    p_operator text, p_at text, p_recorded_at text, p_source text, p_payload text,
    p_comment text, p_approved_by text,
    OUT answer text)
LANGUAGE plpgsql AS $fn$
DECLARE
    {_DECLARED}v_by_qr boolean := false;
    v_addressed boolean := false;
    v_message text;
BEGIN
<<scan>>
BEGIN
    {_READ} s.serial_no = p_key;
    IF NOT FOUND THEN
        {_READ} s.secondary_qr = p_key;
        IF NOT FOUND THEN
            status := 'unknown';
            EXIT scan;
        END IF;
        v_by_qr := true;
    END IF;
    IF earlier IS NOT NULL THEN  -- an event's outcome is never NULL
        status := 'recorded';
        EXIT scan;
    END IF;
    status := 'read';
    IF coalesce(p_gtin, '') <> '' AND coalesce(o_gtin, '') <> '' AND o_gtin <> p_gtin THEN
        EXIT scan;
    END IF;
    IF v_by_qr AND NOT p_signed
        AND (o_qr_seal IS NOT NULL OR upper(left(o_qr, {len(_SIGNED)})) = '{_SIGNED}') THEN
        EXIT scan;
    END IF;
    IF o_document_id IS NOT NULL AND true = ANY(p_addressed) THEN
        SELECT coalesce(d.to_site_id = p_site_id, false) INTO v_addressed
            FROM document d WHERE d.id = o_document_id;
    END IF;
    FOR n IN 1 .. coalesce(array_length(p_from, 1), 0) LOOP
        IF p_from[n] = o_stage
            AND (CASE WHEN p_here[n] IS NULL THEN true
                      WHEN p_here[n] THEN o_site_id IS NOT DISTINCT FROM p_site_id
                      ELSE o_site_id IS NULL END)
            AND (p_item[n] = 0 OR p_item[n] = o_item_id)
            AND (v_addressed OR NOT p_addressed[n]) THEN
            rule_no := n - 1;
            v_message := p_message[n];
            IF p_fills[n] THEN
                -- The serial first, then the line: the order the locked path takes them in.
                PERFORM 1 FROM serial WHERE id = o_id AND version = o_version AND stage = o_stage
                    FOR UPDATE;
                IF NOT FOUND THEN
                    status := 'changed';
                    EXIT scan;
                END IF;
                UPDATE document_line l SET scanned = l.scanned + 1
                    WHERE l.document_id = p_document_id AND l.item_id = o_item_id
                    AND l.scanned < l.quantity
                    AND (SELECT d.state FROM document d WHERE d.id = p_document_id) = 'open'
                    RETURNING l.scanned, l.quantity INTO line_scanned, line_quantity;
                IF NOT FOUND THEN
                    status := 'line';
                    EXIT scan;
                END IF;
                v_message := replace(replace(v_message, '{COUNT_MARK}', line_scanned::text),
                    '{QUANTITY_MARK}', line_quantity::text);
            END IF;
            -- Waits for another station's lock on the serial, then sees what it committed.
            UPDATE serial SET stage = p_to[n], site_id = nullif(p_site_after[n], 0),
                document_id = CASE WHEN p_fills[n] THEN p_document_id ELSE document_id END,
                updated_at = p_at, updated_by = p_operator, version = version + 1
                WHERE id = o_id AND version = o_version AND stage = o_stage;
            IF NOT FOUND THEN
                status := 'changed';
                EXIT scan;
            END IF;
            INSERT INTO event (scan_id, kind, serial_id, mode, from_stage, to_stage, station,
                site, operator, at, recorded_at, document_id, source, payload, comment,
                outcome, message, approved_by)
            VALUES (p_scan_id, 'scan', o_id, p_mode, o_stage, p_to[n], p_station, p_site,
                p_operator, p_at, p_recorded_at, p_document_id, p_source, p_payload,
                p_comment, 'ok', replace(v_message, '{SERIAL_MARK}', o_serial_no),
                CASE WHEN p_approved[n] THEN p_approved_by END)
            RETURNING id INTO event_id;
            status := 'ok';
            EXIT scan;
        END IF;
    END LOOP;
END scan;
answer := json_build_array({_ANSWER_LIST})::text;
END
$fn$
"""

# Schema 12's signature (the same parameters; it returned the serial joined to its generation,
# site and document): dropped by migration 13, as CREATE OR REPLACE cannot change what a
# function returns. Schema 13's has the same parameters too (it returned 25 columns, not one
# text): dropped by migration 14 for the same reason.
SCAN_FUNCTION_12: Final = (
    "scanstation_scan(text, text, text, boolean, integer, integer, text[], boolean[], text[], "
    "integer[], text[], boolean[], integer[], boolean[], boolean[], text, text, text, text, "
    "text, text, text, text, text, text)"
)

# Schema 10 and 11's signature (before the document rows): dropped by migration 12, as CREATE
# OR REPLACE with more parameters makes a second function instead of replacing it.
SCAN_FUNCTION_11: Final = (
    "scanstation_scan(text, text, text, boolean, integer, text[], boolean[], text[], "
    "integer[], text[], boolean[], text, text, text, text, text, text, text, text, text, text)"
)

SCAN_FUNCTION_13: Final = SCAN_FUNCTION_12

RULES_SQL: Final[dict[str, str]] = {
    "line_count": "SELECT scanned, quantity FROM document_line WHERE document_id = ? "
    "AND item_id = ?",
    "document_to_site": "SELECT to_site_id FROM document WHERE id = ?",
    # SQLite's step 5 (`_move_by_rule`): the move, only while the serial is at the version and
    # in the stage the scan read, as the function's UPDATE.
    "move_serial": "UPDATE serial SET stage = ?, site_id = ?, document_id = ?, updated_at = ?, "
    "updated_by = ?, version = version + 1 WHERE id = ? AND version = ? AND stage = ?",
    # ScanNames: a name not seen yet.
    "generation_no": "SELECT generation_no FROM generation_run WHERE id = ?",
    "site_code": "SELECT code FROM site WHERE id = ?",
    "reference_no": "SELECT reference_no FROM document WHERE id = ?",
    # After a lost connection: which delivery of a scan id wrote its event.
    "scan_delivery": "SELECT recorded_at, station FROM event WHERE scan_id = ?",
}

# A station's call, prepared once per connection with the station's constants written in
# (the blanks, filled by ScanRules.constants() as SQL literals), so each scan sends only what
# differs: one text parameter, a JSON array (RuledScan.values()), taken apart by the server
# into the function's parameters (`_PER_SCAN`). A scan sent 25 parameters, the table's nine
# arrays among them, for the driver to quote and the server to parse every time; then eight,
# which psycopg2 adapted one by one (~6,000 instructions each on the station: callgrind); one
# JSON text costs it one adaptation and json's C encoder. The subquery is kept (OFFSET 0), so
# the text is parsed once, not once a parameter.
# A time travels as microseconds since the epoch (UTC), made text by the server exactly as
# `iso()` makes it: isoformat cost the station ~13,000 instructions a time (callgrind), two a
# scan. The server's share: ~2 us to parse the text, ~1.3 us a to_char (a loop of 100,000 on
# this 2-core machine, loaded); the station's saved ~51,000 instructions a call. The integer
# is exact (interval_mul is exact below 2**53 microseconds, year 2255), so the event records
# the moment the station decided to the microsecond, as before (tests/unit/test_scan_function.py
# compares them).
_ISO: Final = (
    "to_char(timestamp 'epoch' + ({})::bigint * interval '1 microsecond', "
    """'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
)
_PER_SCAN: Final = (
    "a.v->>0",  # key
    "a.v->>1",  # scan id
    "a.v->>2",  # gtin
    "(a.v->>3)::boolean",  # signed
    _ISO.format("a.v->>4"),  # at
    _ISO.format("a.v->>5"),  # recorded at
    "a.v->>6",  # source
    "a.v->>7",  # payload
)
# The function is called for its value (its one result, `answer`), not as a table in FROM,
# which ran it through a function scan that stored its row before handing it on: ~12 us less
# of the server's CPU a scan (a PL/pgSQL loop of 2,500 scans, 6 rounds alternated, each round
# lower: medians 194 vs 206 us).
_SCAN_CALL: Final = (
    "SELECT scanstation_scan({}, {}, {}, {}, "
    "{{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, "
    "{}, {}, {}, {}, {{}}, {{}}) FROM (SELECT $1::jsonb AS v OFFSET 0) AS a"
).format(*_PER_SCAN)


class RuledScanStore:
    """The one-call scan (a part of Repository)."""

    def scan_by_rules(self: Repository, scan: RuledScan) -> Scanned:
        """Find the serial and, if a row of the station's table moves it, move it: one round
        trip on PostgreSQL, committed by itself. A scan id another delivery recorded meanwhile
        raises DuplicateScan."""
        if self.dialect.scan_function:
            # Named after the call, outside its retry: the call may have committed, and calling
            # again because a name could not be read would answer "already recorded".
            tries = Tries()
            row = self.write(lambda: self._call_scan(scan), transaction=False, tries=tries)
            scanned = self._scanned_from_call(scan, row)
            # The connection dropped after a try committed, before its answer came: the retry
            # found this scan id recorded by that try, i.e. by this very scan. Or the first
            # statement on a connection the server had already closed failed having committed
            # nothing, and the event is an earlier delivery's (a resend): ALREADY.
            if (
                tries.lost
                and scanned.status == "recorded"
                and scanned.earlier == "ok"
                and self._recorded_by(scan)
            ):
                return scanned._replace(status="resent")
            return scanned
        # read_for_scan's statements, without its ScanLock: the serial as committed, with the
        # outcome already recorded for this scan id.
        row = self._run("scan_by_no", (scan.scan_id, scan.key)).fetchone()
        if row is None:
            row = self._run("scan_by_qr", (scan.scan_id, scan.key)).fetchone()
            if row is None:
                return Scanned("unknown")
        if row[RECORDED_AT] is not None:
            return Scanned("recorded", serial_from_row(row), None, row[RECORDED_AT])
        # Matched on the row's values (SERIAL_COLUMNS), before any view is made: a serial a
        # row moves is answered with the view of it as moved (`_move_by_rule`), the one its
        # outcome shows, and the view of it as read is made only when something reads it.
        qr, seal, stage = row[6], row[18], row[7]
        number = scan.match(
            row[4], row[1], signed_text(qr, seal) if seal else qr,
            _STAGES.get(stage) or Stage(stage), row[2], row[16],
            self._addressed_here(scan.rules, row[17]),
        )  # fmt: skip
        if number is None:
            return Scanned("read", serial_from_row(row))
        return self.write(lambda: self._move_by_rule(scan, row, number))

    def _recorded_by(self: Repository, scan: RuledScan) -> bool:
        """The event of `scan`'s scan id was written by this delivery (one of its tries):
        the same moment of recording (made once a delivery, the same on each of its tries)
        and station. Asked only after a lost connection."""
        row = self._run("scan_delivery", (scan.scan_id,)).fetchone()
        if row is None or row[0] is None:
            return False
        return from_iso(row[0]) == scan.recorded_at and row[1] == scan.rules.station

    def _addressed_here(self: Repository, rules: ScanRules, document_id: int | None) -> bool:
        """SQLite: the serial's document (`document_id`) is addressed to the station's site
        (asked only when a row needs to know)."""
        if document_id is None or not any(r.addressed_here for r in rules.rules):
            return False
        row = self._run("document_to_site", (document_id,)).fetchone()
        return row is not None and row[0] == rules.site_id

    def _move_by_rule(
        self: Repository, scan: RuledScan, row: Sequence[Any], number: int
    ) -> Scanned:
        """SQLite, inside the write transaction: the function's steps 4 to 6 for the serial
        read as `row` (SERIAL_COLUMNS), written straight from the scan and the row (no
        ScanWrite between: this is every usual scan's write).

        A row that fills no line (a registration, a receive, most moves) is steps 5 and 6 as
        the function takes them: the UPDATE holds only while the serial is at the version and
        in the stage the scan read (else `changed`, nothing written), and a scan id recorded
        since the read is refused by the event's unique index (DuplicateScan: the transaction
        is rolled back, the service answers with what that delivery recorded). A separate
        SELECT of the version, stage and scan id under the lock told the same two cases apart
        and cost every scan a statement. A row that fills a line checks them first, in
        `apply_scan_locked`'s order, so that a serial changed meanwhile counts no unit on the
        line; it reads the line's count with this unit, for the sentence.

        `ok` answers with the serial as moved (`Scanned.moved`), made from the row once, as the
        service's `_applied` makes it from the serial as read; anything else with the serial
        as read."""
        rules, hot = scan.rules, self._hot
        rule = rules.rules[number]
        serial_id, serial_no, version, item_id = row[0], row[1], row[14], row[15]
        cursor = connection_of(self._db).cursor()  # one for the transaction's statements
        from_stage, to_stage = row[7], _TEXT[rule.to_stage]
        document_id = row[17]
        line = None
        filled = None
        if rule.fills_line and rules.document_id is not None:
            filled = rules.document_id
            counted = cursor.execute(hot["line_count"], (filled, item_id)).fetchone()
            if counted is None:
                return Scanned("line", serial_from_row(row), None, None, number, line)
            line = (int(counted[0]) + 1, int(counted[1]))
            now_version, now_stage, earlier = cursor.execute(
                hot["scan_check"], (scan.scan_id, serial_id)
            ).fetchone()
            if earlier is not None:
                return Scanned("recorded", serial_from_row(row), None, earlier, number, line)
            if now_version != version or now_stage != from_stage:
                return Scanned("changed", serial_from_row(row), None, None, number, line)
            if cursor.execute(hot["fill_line"], (filled, item_id)).rowcount != 1:
                return Scanned("line", serial_from_row(row), None, None, number, line)
            document_id = filled
        at = iso(scan.at)
        site_id = rules.site_after[number]
        moved = cursor.execute(
            hot["move_serial"],
            (to_stage, site_id, document_id, at, rules.operator, serial_id, version,
             from_stage),
        )  # fmt: skip
        if moved.rowcount != 1:
            if line is not None:  # checked under this lock a moment ago
                raise VersionChanged(str(serial_id))
            return Scanned("changed", serial_from_row(row), None, None, number, line)
        message = rule.message_for(serial_no, line)
        values = (
            scan.scan_id, "scan", serial_id, rules.mode, from_stage, to_stage, rules.station,
            rules.site, rules.operator, at, iso(scan.recorded_at), rules.document_id,
            scan.source, scan.payload, rules.comment, "ok", message, None, None,
            rules.approved_by if rule.approved else None,
        )  # fmt: skip
        try:
            cursor.execute(hot["insert_event"], values)
        except Exception as error:
            self.raise_if_duplicate(scan.scan_id, error)
            raise
        # The serial as moved, as the service's `_applied` tells it from the serial as read
        # (a site named when the row put it at another, the station's document when the row
        # filled its line): positionally, in SerialView's field order.
        qr, seal, printed_at = row[6], row[18], row[20]
        after = SerialView(
            serial_no, row[2], row[3], row[4], row[5], signed_text(qr, seal) if seal else qr,
            rule.to_stage, rules.site if site_id != row[16] else row[8],
            rules.document_reference if filled is not None else row[9],
            from_iso(row[10]), row[11], scan.at, rules.operator, version + 1, row[19],
            from_iso(printed_at) if printed_at else None,
        )  # fmt: skip
        return Scanned(
            "ok", LoadedSerial(serial_id, after, item_id, site_id, document_id), cursor.lastrowid,
            None, number, line, message, after,
        )  # fmt: skip

    def _call_scan(self: Repository, scan: RuledScan) -> Sequence[Any]:
        call = self._scan_calls.get(scan.rules)
        if call is None:
            if len(self._scan_calls) >= 64:  # a station changes setup now and then
                self._scan_calls.clear()
            self._scan_names.load(self)
            body = _SCAN_CALL.format(*self.dialect.literals(self._db, scan.rules.constants()))
            # Named by its text: a name always means the same statement on every connection.
            name = "scan_" + hashlib.blake2b(body.encode(), digest_size=10).hexdigest()
            call = self._scan_calls[scan.rules] = (name, body)
        try:
            cursor = self.dialect.execute_prepared(self._db, *call, scan.values())
        except Exception as error:
            self.raise_if_duplicate(scan.scan_id, error)
            raise
        # One JSON array (_ANSWERS): json's C parser reads it faster than psycopg2 reads 25
        # columns; its numbers are ints, its nulls None, as the columns' were.
        row: Sequence[Any] = _loads(cursor.fetchone()[0])
        if len(row) != _ANSWER_COUNT:
            # A newer function that kept `answer text` (no cached-plan error): not read by the
            # old positions. Not retried: the call ran.
            raise cast("PostgresDialect", self.dialect).answer_unreadable()
        return row

    def _scanned_from_call(self: Repository, scan: RuledScan, row: Sequence[Any]) -> Scanned:
        status = row[0]
        if status == "unknown":
            return Scanned(status)
        event_id, earlier, rule, scanned, quantity = row[1:6]
        serial = self._scanned_serial(row, committed=status == "ok")
        line = (scanned, quantity) if scanned is not None else None
        # The function wrote this sentence: the row's, with the serial and the line's count.
        message = (
            scan.rules.rules[rule].message_for(serial.view.serial_no, line)
            if status == "ok"
            else None
        )
        return Scanned(status, serial, event_id, earlier, rule, line, message)

    def _scanned_serial(self: Repository, row: Sequence[Any], *, committed: bool) -> LoadedSerial:
        """The serial `scanstation_scan` read (`_SCAN_COLUMNS`, after its six answers, as in
        `_ANSWERS`), with the names of its generation, site and document told from their ids.
        After a call that `committed` a move, a name the database cannot give now is left
        blank: the scan is recorded, and saying "nothing was saved" for a name shown beside it
        would be false."""
        (id_, serial_no, sku, item_name, gtin, generation_id, qr, stage, created_at, created_by,
         updated_at, updated_by, version, item_id, site_id, document_id, seal, print_count,
         printed_at) = row[6:25]  # fmt: skip
        names = self._scan_names

        def name(read: Callable[[Repository, int], str | None], id_: int | None) -> str | None:
            if id_ is None:
                return None
            try:
                return read(self, id_)
            except StoreError:
                if committed:
                    return None
                raise

        return serial_from_row((
            id_, serial_no, sku, item_name, gtin,
            name(names.generation_no, generation_id),
            qr, stage,
            name(names.site_code, site_id),
            name(names.reference_no, document_id),
            created_at, created_by, updated_at, updated_by, version, item_id, site_id,
            document_id, seal, print_count, printed_at,
        ))  # fmt: skip


class ScanNames:
    """What a scan shows of the rows a serial points at, by their ids: a generation run's
    number, a site's code, a document's reference no. None of them ever changes once the row
    is written (the store updates only a document's state, a site never, a run never), no such
    row is ever deleted (the serials' foreign keys restrict it) and PostgreSQL never hands out
    an id twice, so a name once read is right for good. An id not seen yet (a run, site or
    document another terminal made since) is read from the database: never guessed."""

    _LIMIT: Final = 4096  # runs and documents accrue; a station sees few of them at a time

    def __init__(self) -> None:
        self._names: dict[tuple[str, int], str | None] = {}
        self._loaded = False

    def load(self, repo: Repository) -> None:
        """Once, when the first station call is set up (in that station's first scan, three
        reads before the call; its later scans send the call alone): every site, and the
        newest runs and documents, those its serials most likely point at."""
        if self._loaded:
            return
        self._loaded = True
        newest = self._LIMIT // 4
        for what, sql in (
            ("site_code", "SELECT id, code FROM site"),
            ("generation_no", f"SELECT id, generation_no FROM generation_run ORDER BY id DESC "
             f"LIMIT {newest}"),
            ("reference_no", f"SELECT id, reference_no FROM document ORDER BY id DESC "
             f"LIMIT {newest}"),
        ):  # fmt: skip
            for id_, name in repo._cursor(sql, ()).fetchall():
                self._names[(what, id_)] = name

    def generation_no(self, repo: Repository, generation_id: int) -> str | None:
        return self._name(repo, "generation_no", generation_id)

    def site_code(self, repo: Repository, site_id: int) -> str | None:
        return self._name(repo, "site_code", site_id)

    def reference_no(self, repo: Repository, document_id: int) -> str | None:
        return self._name(repo, "reference_no", document_id)

    def _name(self, repo: Repository, what: str, id_: int) -> str | None:
        key = (what, id_)
        name = self._names.get(key)
        if name is None:
            row = repo._run(what, (id_,)).fetchone()
            name = row[0] if row else None
            if name is not None:  # a row not found is asked again next time
                if len(self._names) >= self._LIMIT:
                    self._names.clear()
                self._names[key] = name
        return name
