"""Scanning: parse the payload (domain.codes) → read the serial → decide (domain.stages) → write
the transition and its event in one transaction → answer. The answer is given only after
commit, and carries what the faces need (the event's id, whether an override would apply), so
nothing reads back after a scan.

The usual scan folds the read, the decision and the write into one call (one round trip on
PostgreSQL): the station's decision table, made by decide() (domain/rules.py), goes with the
scan, and the database moves the serial when a row matches it (store/scan_rules.py); a
dispatch's rows count the unit on the station's document's line in the same call. What no row
settles (a refusal, ALREADY, a full line or closed document, a return, an override, a replay)
goes on from the serial that call read, as below.

CONFLICT means the same on both databases: another station changed the serial at this very
moment (between this scan's first read and its lock) and the scan, which would have applied to
the serial as first read, no longer fits. A scan replayed from an offline journal is judged
against what happened since it was read: another station's change recorded after it wins.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from scanstation.domain import limits
from scanstation.domain.codes import ScanCode, gtin_of_plain, parse, visible
from scanstation.domain.corrections import RETURN_MODE
from scanstation.domain.model import ScanEvent, SerialView, SiteView, utc_now
from scanstation.domain.outcome import OutcomeKind, ScanOutcome
from scanstation.domain.qr import QrFormatError, looks_signed, parse_signed
from scanstation.domain.rules import MODES_READING_DOCUMENTS, already_table, decision_table
from scanstation.domain.stages import (
    Decision,
    Mode,
    SerialState,
    Stage,
    StationContext,
    Verdict,
    decide,
)
from scanstation.domain.wording import site_label
from scanstation.service.checks import check_setup, check_text
from scanstation.service.setup import ServiceError, StationSetup
from scanstation.signing import Verdict as QrVerdict
from scanstation.store.errors import DuplicateScan, VersionChanged
from scanstation.store.scan_function import AppliedScan, ScanWrite
from scanstation.store.scan_rules import RuledScan, Scanned, ScanRules
from scanstation.store.serials import LoadedSerial
from scanstation.store.tries import Tries

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from scanstation.domain.model import DocumentView, ItemView
    from scanstation.service.station import StationService

__all__ = ["Scanning"]


class Scanning:
    """The scan path of StationService."""

    def parse(self: StationService, payload: str) -> ScanCode:
        return parse(payload, case=self.serial_case, max_length=self.max_payload)

    def lookup_key(self: StationService, key: str) -> str:
        """What a serial is looked up by: a signed QR code's token (its signature is kept beside
        the token, not in the lookup key), else the key itself."""
        if looks_signed(key):
            try:
                return parse_signed(key).token
            except QrFormatError:
                return key
        return key

    def check_station(self: StationService, setup: StationSetup) -> SiteView:
        """The station's texts fit the store, its site and document exist: a usage error
        (ServiceError) otherwise."""
        check_setup(setup)
        site = self.repo.site(setup.site_code)
        if site is None:
            known = ", ".join(s.code for s in self.repo.sites()) or "none yet"
            raise ServiceError(f"Unknown site {visible(setup.site_code)!r} (known sites: {known})")
        if setup.document and self.repo.document(setup.document) is None:
            raise ServiceError(f"No document with reference no {visible(setup.document)!r}")
        return site

    def scan(
        self: StationService, event: ScanEvent, station: StationSetup, *, replay: bool = False
    ) -> ScanOutcome:
        """Decide and record one scan. Never raises for a bad payload. Raises ServiceError
        for a setup the store cannot hold or an unknown site (nothing recorded; do not retry),
        StoreError when the database failed (`transient`: nothing was recorded, retry or
        journal it).

        `replay`: the scan was read offline and kept in a journal. If another station changed
        the serial after the scan was read, it is not applied: CONFLICT, logged as refused for
        a supervisor."""
        if station is not self._setup_checked:
            check_setup(station)
            self._setup_checked = station
        self.require_signed_in(station.role)
        check_text(limits.REQUEST_ID, event.scan_id)
        check_text(limits.SCAN_SOURCE, event.source)
        site = self.repo.site(station.site_code)
        if site is None:
            raise ServiceError(f"Unknown site {visible(station.site_code)!r}")
        code = self.parse(event.payload)
        if not code.ok:
            return self._record_refusal(
                event, station, OutcomeKind.REJECTED, code.error or "Unreadable code"
            )
        key = code.serial
        if key is None:
            message = (
                self._product_barcode(code.gtin)
                if code.gtin
                else "This code carries no serial number"
            )
            return self._record_refusal(event, station, OutcomeKind.REJECTED, message)
        signed = looks_signed(key)
        if signed:
            forged = self._not_genuine(key)
            if forged:
                return self._record_refusal(
                    event, station, OutcomeKind.NOT_GENUINE, forged, even_in_lookup=True
                )
            key = parse_signed(key).token
        if station.mode is Mode.LOOKUP:
            return _qr_said(self._lookup(event, code, key, signed), key, signed)
        try:
            scanned = self._first_call(event, station, site, code, key, signed, replay)
        except DuplicateScan:
            return self._already_recorded(event, self._recorded_outcome_or(event, "ok"))
        if isinstance(scanned, ScanOutcome):  # moved by the station's table
            return _qr_said(scanned, key, signed)
        before = scanned.serial
        if before is None:
            return self._record_refusal(event, station, *self._unmatched(event, code))
        if scanned.status == "recorded":
            return self._already_recorded(event, scanned.earlier or "ok")
        stripped = _signature_stripped(before.view, key, signed)
        # ALREADY from the station's table before any document is read: of the serial as
        # read, or (another station came first) of the serial as it is now.
        known = None
        if not stripped and not replay:
            if scanned.status == "read":
                known = self._already_by_table(event, station, site, code, before)
            elif scanned.status == "changed":
                known = self._already_since(event, station, site, code, key)
        if known is not None:
            return _qr_said(known, key, signed)
        context, document_id = self._context(station, site)
        try:
            if stripped:
                return self._write_locked(
                    event,
                    lambda: self._refuse_locked(
                        event, station, OutcomeKind.NOT_GENUINE, stripped, before, document_id
                    ),
                )
            if scanned.status == "changed":
                answered = None  # not ALREADY now: the lock tells CONFLICT apart
            elif not replay:
                answered = self._scan_in_one_call(
                    event, station, code, before, context, document_id
                )
            else:
                answered = None
            if answered is not None:
                return _qr_said(answered, key, signed)
            # Anything else is decided again under the lock, where CONFLICT is told apart.
            outcome = self._write_locked(
                event,
                lambda: self._scan_locked(
                    event, station, code, before, context, document_id, replay
                ),
            )
        except DuplicateScan:
            return self._already_recorded(event, self._recorded_outcome_or(event, "ok"))
        return _qr_said(outcome, key, signed)

    def _first_call(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        site: SiteView,
        code: ScanCode,
        key: str,
        signed: bool,
        replay: bool,
    ) -> ScanOutcome | Scanned:
        """The scan's first call to the database: the answer when the station's table moved
        the serial; else what it read (`unknown`: no serial matched). A replayed scan, or a
        mode with no table, only reads."""
        scanned = None if replay else self._scan_by_rules(event, station, site, code, key, signed)
        if scanned is not None:
            return scanned
        read = self.repo.read_for_scan(key, event.scan_id)
        if read is None:
            return Scanned("unknown")
        status = "read" if read.earlier is None else "recorded"
        return Scanned(status, read.current, earlier=read.earlier)

    def _scan_by_rules(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        site: SiteView,
        code: ScanCode,
        key: str,
        signed: bool,
    ) -> ScanOutcome | Scanned | None:
        """The usual scan in one call (one round trip on PostgreSQL: store/scan_rules.py): the
        serial found and, when a row of this station's decision table moves it, moved. The
        answer when it moved; else what the call read (the caller decides on that serial);
        None when this mode has no table."""
        rules = self._scan_rules(station, site)
        if rules is None:
            return None
        # Positional (keywords cost a frozen dataclass a microsecond): key, scan_id, gtin,
        # signed, rules, at, recorded_at, source, payload.
        ruled = RuledScan(
            key, event.scan_id, code.gtin or None, signed, rules, event.read_at, utc_now(),
            event.source, visible(event.payload),
        )  # fmt: skip
        scanned = self.repo.scan_by_rules(ruled)
        if scanned.status == "resent":
            return self._resent(event, scanned)
        serial, number, message = scanned.serial, scanned.rule, scanned.message
        if scanned.status != "ok" or serial is None or number is None or message is None:
            return scanned
        rule = rules.rules[number]
        if scanned.moved is not None:  # SQLite: the store made the view as `_applied` would
            return ScanOutcome(
                OutcomeKind.OK, message, event, scanned.moved, rule.from_stage, rule.to_stage,
                scanned.event_id,
            )  # fmt: skip
        # The move as the row made it, told from the row itself (the store said its sentence),
        # not from a whole ScanWrite.
        return self._applied(
            event,
            station,
            serial,
            rule.to_stage,
            rules.site_after[number],
            rules.document_id if rule.fills_line else None,
            message,
            scanned.event_id,
            rules.document_reference,
        )

    def _resent(self: StationService, event: ScanEvent, scanned: Scanned) -> ScanOutcome | Scanned:
        """OK, as the try whose answer was lost would have said it: its event's move and
        sentence, the serial as that try left it (read by the retry)."""
        move = self.repo.scan_move(event.scan_id)
        if move is None or scanned.serial is None:
            return scanned._replace(status="recorded")
        event_id, before, after, message = move
        view = scanned.serial.view
        return ScanOutcome(OutcomeKind.OK, message, event, view, before, after, event_id)

    def _scan_rules(
        self: StationService, station: StationSetup, site: SiteView
    ) -> ScanRules | None:
        """This station's decision table (domain/rules.py), made once per station setup. A
        dispatch or a receive reads the station's document for it once: what the table takes
        from it (its kind, its sites, the items of its lines) never changes, and what does
        (open or closed, the lines' counts) the database checks at each scan."""
        last = self._last_rules
        if last is not None and last[0] is station and last[1] is site:
            return last[2]  # the same setup as the last scan (sites are cached objects)
        approver = station.approver_role if station.approved_by else None
        documents = station.mode in MODES_READING_DOCUMENTS
        document = station.document if documents else None
        key = (
            station.mode, site, station.reason, station.role, approver, document,
            station.station_id, station.operator, station.approved_by,
        )  # fmt: skip
        if key in self._rule_tables:
            rules = self._rule_tables[key]
            self._last_rules = (station, site, rules)
            return rules
        site_id = self.repo.site_id(site.code)
        context, document_id = self._context(station, site, with_document=documents)
        table = decision_table(context)
        rules = None
        if table and site_id is not None:
            # A row for a serial on record anywhere is a receive's: it puts it here.
            after = tuple(
                self._site_after(station, rule.to_stage, site_id if rule.here else None)
                for rule in table
            )
            items = tuple(self.repo.item_id(rule.sku) if rule.sku else None for rule in table)
            rules = ScanRules(
                table,
                site_id,
                after,
                items,
                document_id,
                context.document.reference_no if context.document else None,
                mode=station.mode.value,
                station=station.station_id,
                site=station.site_code,
                operator=station.operator,
                comment=station.reason,
                approved_by=station.approved_by,
                answers=already_table(context),
            )
        if len(self._rule_tables) >= 64:  # a station changes setup now and then; keep a few
            self._rule_tables.clear()
        self._rule_tables[key] = rules
        self._last_rules = (station, site, rules)
        return rules

    def _already_by_table(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        site: SiteView,
        code: ScanCode,
        serial: LoadedSerial,
    ) -> ScanOutcome | None:
        """ALREADY for the serial the one call read, from the station's table (made by
        decide(): domain/rules.py) without reading a document: what `_scan_in_one_call`
        answers, nothing written. None when no row answers it."""
        rules = self._scan_rules(station, site)
        if rules is None or _other_gtin(code, serial):
            return None  # a label of another item is refused and recorded under the lock
        message = rules.already(serial)
        if message is None:
            return None
        stage = serial.view.stage
        return ScanOutcome(OutcomeKind.ALREADY, message, event, serial.view, stage, stage)

    def _scan_in_one_call(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        code: ScanCode,
        before: LoadedSerial,
        context: StationContext,
        station_document_id: int | None,
    ) -> ScanOutcome | None:
        """The usual scan: decide() on the serial as read, and the transition it chose applied
        in one call that checks nothing changed meanwhile (one round trip on PostgreSQL: see
        store/scan_function.py), or the refusal it chose logged while the serial is as read.
        None when that did not settle it (the serial changed or the document's line filled
        meanwhile, a return): the transactional path then decides again under the lock, where
        CONFLICT is told apart."""
        if _other_gtin(code, before):
            return None
        decision = self._decide(before, station, context)
        stage = before.view.stage
        if decision.verdict is Verdict.ALREADY:  # as read: nothing to write
            return ScanOutcome(
                OutcomeKind.ALREADY, decision.message, event, before.view, stage, stage
            )
        if decision.verdict is Verdict.REJECTED:
            return self._refuse_unchanged(
                event, station, before, decision, context, station_document_id
            )
        if decision.frees_line_on is not None:
            return None  # a return also frees a line: the transactional path writes both
        write = self._transition_write(event, station, before, decision, station_document_id)
        tries = Tries()
        applied = self.repo.apply_scan(write, tries)
        if applied.status == "recorded":
            own = self._own_event(
                event, tries, "ok", write.message, write.recorded_at, write.station
            )
            if own is None:
                return self._already_recorded(event, applied.earlier or "ok")
            # This call committed the move and its answer was lost: answered as it would have.
            applied = AppliedScan("ok", own)
        if applied.status != "ok":
            return None
        return self._applied_write(
            event, station, before, write, applied.event_id, _reference(context.document)
        )

    def _already_since(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        site: SiteView,
        code: ScanCode,
        key: str,
    ) -> ScanOutcome | None:
        """A serial the one call found changed meanwhile (stations racing for it), read again
        as committed: ALREADY (or this scan id recorded meanwhile) when the station's table or
        decide() says so of it now, answered as the locked path answers it, which writes
        nothing for either; None otherwise (the locked path decides). Saves racing stations a
        transaction, the usual loser's answer, and a dispatch's loser its documents' reads."""
        read = self.repo.read_for_scan(key, event.scan_id)
        if read is None:
            return None
        if read.earlier is not None:
            return self._already_recorded(event, read.earlier)
        current = read.current
        if _other_gtin(code, current):
            return None  # refused and recorded under the lock
        known = self._already_by_table(event, station, site, code, current)
        if known is not None:
            return known
        context, _ = self._context(station, site)
        decision = self._decide(current, station, context)
        if decision.verdict is not Verdict.ALREADY:
            return None
        stage = current.view.stage
        return ScanOutcome(OutcomeKind.ALREADY, decision.message, event, current.view, stage, stage)

    def _not_genuine(self: StationService, text: str) -> str | None:
        """Why a scanned signed QR code is not genuine (the sentence of a NOT GENUINE), or
        None when its signature holds. Checked with the public key only."""
        verifier = self.verifier()
        if verifier is None:
            return (
                "NOT GENUINE: this signed QR code cannot be checked here — no public key "
                "([keys] public_key); nothing changed"
            )
        verdict, why = verifier.check(text)
        if verdict is QrVerdict.GENUINE:
            return None
        return f"NOT GENUINE: {why} — a copied or made-up label; nothing changed"

    def _product_barcode(self: StationService, gtin: str, item: ItemView | None = None) -> str:
        """`item`: the GTIN's item when the caller has read it already."""
        item = item or self.repo.item_by_gtin(gtin)
        what = f"GTIN {gtin}, {item.name}" if item else f"GTIN {gtin}"
        return f"This is a product barcode ({what}), not a serial label — scan the serial"

    def _unmatched(
        self: StationService, event: ScanEvent, code: ScanCode
    ) -> tuple[OutcomeKind, str]:
        """A code no serial matched: a plain EAN/UPC/GTIN of a known item is a product barcode
        (most scanners send one without a symbology prefix); anything else is not known."""
        gtin = gtin_of_plain(code)
        item = self.repo.item_by_gtin(gtin) if gtin is not None else None
        if gtin is not None and item is not None:
            return OutcomeKind.REJECTED, self._product_barcode(gtin, item)
        return OutcomeKind.UNKNOWN, _not_known(event)

    def _lookup(
        self: StationService, event: ScanEvent, code: ScanCode, key: str, signed: bool
    ) -> ScanOutcome:
        found = self.repo.find_serial(key)
        if found is None:
            return ScanOutcome(*self._unmatched(event, code), event)
        view = found.view
        stripped = _signature_stripped(view, key, signed)
        if stripped:
            kind = OutcomeKind.NOT_GENUINE
            return ScanOutcome(kind, stripped, event, view, view.stage, view.stage)
        where = ""
        if view.site:
            where = f", on record at {site_label(view.site, self._site_name(view.site))}"
        return ScanOutcome(
            OutcomeKind.OK,
            f"{view.serial_no} · {view.item_name} — {view.stage}{where}",
            event,
            view,
            view.stage,
            view.stage,
        )

    def _recorded_outcome_or(self: StationService, event: ScanEvent, default: str) -> str:
        """The outcome recorded for this scan id by the delivery that won the race."""
        recorded = self.repo.scan_already_recorded(event.scan_id)
        return recorded[0] if recorded else default

    def _own_event(
        self: StationService,
        event: ScanEvent,
        tries: Tries,
        outcome: str,
        message: str,
        recorded_at: datetime,
        station_id: str,
    ) -> int | None:
        """A write that commits by itself found this scan id recorded, after one of its tries
        was cut off by a lost connection (`tries`): when the recorded event is the one that
        try was writing (the same outcome and sentence, and the same moment of recording and
        station, made once a delivery), that try committed and only its answer was lost: the
        event's id. None otherwise: another delivery of the scan id (one whose request, not
        answer, the dropped connection lost committed nothing)."""
        if not tries.lost:
            return None
        recorded = self.repo.scan_answer(event.scan_id)
        if recorded is None:
            return None
        event_id, *written = recorded
        return event_id if written == [outcome, message, recorded_at, station_id] else None

    def _write_locked(
        self: StationService, event: ScanEvent, work: Callable[[], ScanOutcome]
    ) -> ScanOutcome:
        """`work` (a scan decided and written under the serial's lock) in a write transaction,
        retried by the store. When a try's COMMIT reached the server and the connection
        dropped before its answer (PostgreSQL), the retry finds this scan id recorded: the
        event that try wrote (the same id) is this scan's own, and the answer is that try's,
        not ALREADY."""
        tries = Tries()
        answered: list[ScanOutcome] = []

        def attempt() -> ScanOutcome:
            outcome = work()
            answered.append(outcome)
            return outcome

        try:
            outcome = self.repo.write(attempt, tries=tries)
        except DuplicateScan:
            if not tries.lost:
                raise
            outcome = None
        if tries.lost and (outcome is None or outcome.kind is OutcomeKind.ALREADY):
            recorded = self.repo.scan_answer(event.scan_id)
            for earlier in answered:
                if recorded is not None and earlier.event_id == recorded[0]:
                    return earlier
        if outcome is None:
            raise DuplicateScan(event.scan_id)
        return outcome

    def _already_recorded(self: StationService, event: ScanEvent, earlier: str) -> ScanOutcome:
        """The same scan (same id) came again, e.g. a retry after a lost answer."""
        code = self.parse(event.payload)
        loaded = self.repo.find_serial(code.serial) if code.ok and code.serial else None
        view = loaded.view if loaded else None
        stage = view.stage if view else None
        return ScanOutcome(
            OutcomeKind.ALREADY,
            f"This scan was already recorded ({earlier})",
            event,
            view,
            stage,
            stage,
        )

    def _scan_locked(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        code: ScanCode,
        before: LoadedSerial,
        context: StationContext,
        station_document_id: int | None,
        replay: bool,
    ) -> ScanOutcome:
        locked = self.repo.lock_for_scan(before, event.scan_id)
        current = locked.current
        if locked.earlier is not None:
            return self._already_recorded(event, locked.earlier)
        if _other_gtin(code, current):
            return self._refuse_locked(
                event,
                station,
                OutcomeKind.REJECTED,
                f"GTIN {code.gtin} on the label is not {current.view.sku}'s "
                f"({current.view.gtin}) — {current.view.serial_no} not changed",
                current,
                station_document_id,
            )
        decision = self._decide(current, station, context)
        stage = current.view.stage
        if decision.verdict is Verdict.ALREADY:
            return ScanOutcome(
                OutcomeKind.ALREADY, decision.message, event, current.view, stage, stage
            )
        if decision.verdict is Verdict.REJECTED:
            return self._refuse_decision(
                event,
                station,
                locked,
                decision.message,
                context,
                station_document_id,
                decision.needs_role,
            )
        if replay:
            changed = self.repo.changed_since(current.id, station.station_id, event.read_at)
            if changed is not None:
                other_station, other_operator, now, when = changed
                return self._refuse_locked(
                    event,
                    station,
                    OutcomeKind.CONFLICT,
                    f"{current.view.serial_no} changed since this scan was read offline: now "
                    f"{now} by {other_operator} at {other_station}, "
                    f"{when.astimezone():%H:%M} — not applied",
                    current,
                    station_document_id,
                )
        write = self._transition_write(event, station, current, decision, station_document_id)
        applied = self.repo.apply_scan_locked(write)
        if applied.status == "line":
            reference = context.document.reference_no if context.document else "The document"
            return self._refuse_locked(
                event,
                station,
                OutcomeKind.CONFLICT,
                f"{reference} filled up or was closed at this moment — "
                f"{current.view.serial_no} was not dispatched",
                current,
                write.document_id,
            )
        if applied.status == "recorded":
            return self._already_recorded(event, applied.earlier or "ok")
        if applied.status != "ok":
            raise VersionChanged(current.view.serial_no)  # not under this lock: try again
        freed = self._freed_document(decision)
        if freed is not None:  # a return: one unit off the line it left on, in this transaction
            self.repo.count_line(freed, current.item_id, -1)
        return self._applied_write(
            event, station, current, write, applied.event_id, _reference(context.document)
        )

    def _transition_write(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        serial: LoadedSerial,
        decision: Decision,
        station_document_id: int | None,
    ) -> ScanWrite:
        """The write of the transition decide() chose, and of the event that records it."""
        to_stage = decision.to_stage
        assert to_stage is not None
        dispatching = station.mode is Mode.DISPATCH and station_document_id is not None
        site_id = self._site_after(station, to_stage, serial.site_id)
        # A receive may cite a document (a return's original invoice): the event names it. A
        # return citing the document it frees (or none) is recorded as a return on it.
        cited = station_document_id if station.mode is Mode.RECEIVE else None
        freed = self._freed_document(decision)
        returning = freed is not None and cited in (None, freed)
        cited = freed if returning else cited
        return ScanWrite(
            serial_id=serial.id,
            version=serial.view.version,
            from_stage=serial.view.stage,
            to_stage=to_stage,
            site_id=site_id,
            document_id=station_document_id if dispatching else serial.document_id,
            fill_document_id=station_document_id if dispatching else None,
            item_id=serial.item_id,
            scan_id=event.scan_id,
            mode=RETURN_MODE if returning else station.mode.value,
            station=station.station_id,
            site=station.site_code,
            operator=station.operator,
            at=event.read_at,
            recorded_at=utc_now(),
            event_document_id=station_document_id if dispatching else cited,
            source=event.source,
            payload=visible(event.payload),
            comment=station.reason,
            message=decision.message,
            approved_by=station.approved_by if decision.approved else None,
        )

    def _site_after(
        self: StationService, station: StationSetup, to_stage: Stage, site_id: int | None
    ) -> int | None:
        """Where a serial on record at `site_id` is on record after this move: a receive or a
        registration puts it at the station's site; any other move leaves it."""
        if station.mode is Mode.RECEIVE or to_stage is Stage.REGISTERED:
            return self.repo.site_id(station.site_code)
        return site_id

    def _freed_document(self: StationService, decision: Decision) -> int | None:
        """The id of the document a return frees a line of (None: no return)."""
        if decision.frees_line_on is None:
            return None
        return self.repo.document_id(decision.frees_line_on)

    def _applied_write(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        serial: LoadedSerial,
        write: ScanWrite,
        event_id: int | None,
        station_document: str | None,
    ) -> ScanOutcome:
        """`_applied` of a move the service wrote."""
        return self._applied(
            event, station, serial, write.to_stage, write.site_id, write.fill_document_id,
            write.message, event_id, station_document,
        )  # fmt: skip

    def _applied(
        self: StationService,
        event: ScanEvent,
        station: StationSetup,
        serial: LoadedSerial,
        to_stage: Stage,
        site_id: int | None,
        filled: int | None,
        message: str,
        event_id: int | None,
        station_document: str | None,
    ) -> ScanOutcome:
        """The answer to a scan whose transition was written (to `to_stage`, on record at
        `site_id`, `filled`: the id of the document whose line it filled): the serial as it
        is now (`station_document`: the reference no of the station's document)."""
        view = serial.view
        document = station_document if filled is not None else None
        # Made whole rather than by dataclasses.replace (which walks the fields: 2x the time,
        # at every scan), positionally as serials.serial_from_row makes one (keywords cost a
        # microsecond): serial_no, sku, item_name, gtin, generation_no, secondary_qr, stage,
        # site, document, created_at, created_by, updated_at, updated_by, version,
        # print_count, printed_at.
        after = SerialView(
            view.serial_no, view.sku, view.item_name, view.gtin, view.generation_no,
            view.secondary_qr, to_stage,
            station.site_code if site_id != serial.site_id else view.site,
            document if document is not None else view.document,
            view.created_at, view.created_by, event.read_at, station.operator, view.version + 1,
            view.print_count, view.printed_at,
        )  # fmt: skip
        return ScanOutcome(OutcomeKind.OK, message, event, after, view.stage, to_stage, event_id)

    def _state(self: StationService, serial: LoadedSerial, station: StationSetup) -> SerialState:
        view = serial.view
        document = None
        if serial.document_id is not None and station.mode in MODES_READING_DOCUMENTS:
            document = self.repo.document_by_id(serial.document_id)
        return SerialState(
            view.serial_no, view.sku, view.stage, view.site, document, self._site_name(view.site)
        )

    def _site_name(self: StationService, code: str | None) -> str | None:
        """A site's name for the sentences (sites are cached by the repository)."""
        site = self.repo.site(code) if code else None
        return site.name if site else None

    def _decide(
        self: StationService, serial: LoadedSerial, station: StationSetup, context: StationContext
    ) -> Decision:
        """decide(), with the names of every site its sentence may mention."""
        state = self._state(serial, station)
        codes: set[str | None] = set()
        for document in (state.document, context.document):
            if document is not None:
                codes |= {document.from_site, document.to_site}
        names = {code: name for code in codes if code and (name := self._site_name(code))}
        return decide(state, replace(context, site_names=names) if names else context)

    def _context(
        self: StationService, station: StationSetup, site: SiteView, *, with_document: bool = True
    ) -> tuple[StationContext, int | None]:
        """The station as decide() sees it, and the id of its document (read once a scan;
        the line-fill guard catches a document that fills up or closes meanwhile)."""
        wanted = station.document if with_document else None
        found = self.repo.document_with_id(wanted) if wanted else None
        document_id, document = found if found else (None, None)
        context = StationContext(
            station.mode,
            site.code,
            site.kind,
            document,
            station.reason,
            site_name=site.name,
            role=station.role,
            approver_role=station.approver_role if station.approved_by else None,
        )
        return context, document_id


def _reference(document: DocumentView | None) -> str | None:
    return document.reference_no if document is not None else None


def _other_gtin(code: ScanCode, serial: LoadedSerial) -> bool:
    """The label's GTIN is not the serial's item's."""
    return bool(code.gtin and serial.view.gtin and code.gtin != serial.view.gtin)


def _signature_stripped(view: SerialView, key: str, signed: bool) -> str | None:
    """A bare token scanned for a serial whose secondary QR is signed: the label printed for
    it carries the signature, so this one was not (a NOT GENUINE sentence); else None."""
    if signed or view.serial_no == key or not looks_signed(view.secondary_qr or ""):
        return None
    return (
        f"NOT GENUINE: {view.serial_no}'s secondary QR is signed, this one carries no "
        "signature — a copied or made-up label; nothing changed"
    )


def _qr_said(outcome: ScanOutcome, key: str, signed: bool) -> ScanOutcome:
    """A serial found by its secondary QR says whether the QR was signed (and held)."""
    view = outcome.serial
    if view is None or outcome.kind is OutcomeKind.NOT_GENUINE:
        return outcome
    if view.serial_no == key and not signed:
        return outcome  # scanned by its serial number
    said = "secondary QR genuine" if signed else "secondary QR unsigned"
    return replace(outcome, message=f"{outcome.message} ({said})")


def _not_known(event: ScanEvent) -> str:
    shown = visible(event.payload.strip(" \t\r\n"))
    if len(shown) > 40:
        shown = shown[:39] + "…"
    return f"{shown} is not a known serial or secondary QR code"
