"""StationService: the one place that applies the rules and writes. Every face goes through it.

A scan: parse the payload (domain.codes) → read the serial → decide (domain.stages) → write the
transition and its event in one transaction → answer. The answer is given only after commit.
"""

from __future__ import annotations

import csv
import getpass
import re
import secrets
from base64 import b32encode
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from scanstation.domain.codes import CodeKind, ScanCode, SerialCase, parse, visible
from scanstation.domain.model import (
    DocumentView,
    EventView,
    ItemView,
    ScanEvent,
    SerialView,
    SiteView,
    utc_now,
)
from scanstation.domain.outcome import OutcomeKind, ScanOutcome
from scanstation.domain.stages import (
    DocumentKind,
    Mode,
    SerialState,
    SiteKind,
    Stage,
    StationContext,
    Verdict,
    decide,
)
from scanstation.store.database import StoreBusy, StoreError, redacted_url
from scanstation.store.repository import ChangeWatcher, DuplicateScan, LoadedSerial, Repository

__all__ = [
    "ImportProblem",
    "ImportReport",
    "ServiceError",
    "StationService",
    "StationSetup",
    "StoreBusy",
    "StoreError",
    "normalise_gtin",
    "redacted_url",
]

# GS1 AI 82 (the character set of AI 21): letters, digits and these marks.
AI82_CHARACTERS = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
SERIAL_MAX_LENGTH = 20
SERIAL_DIGITS = 10
SECONDARY_QR_LENGTH = 12


class ServiceError(Exception):
    """A request the service cannot carry out; the message says why (usage errors, exit 2)."""


@dataclass(frozen=True, slots=True)
class StationSetup:
    """Who scans, where and how: fixed for one scan (the TUI may change it between scans)."""

    station_id: str
    site_code: str
    mode: Mode = Mode.LOOKUP
    operator: str = field(default_factory=lambda: _login_name())
    document: str | None = None  # reference no of the open document
    reason: str | None = None


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "operator"


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    rows: int
    problems: tuple[ImportProblem, ...]
    written: bool


class StationService:
    def __init__(
        self,
        repository: Repository,
        *,
        serial_case: SerialCase = "upper",
        max_payload: int = 512,
    ) -> None:
        self.repo = repository
        self.serial_case: SerialCase = serial_case
        self.max_payload = max_payload

    @classmethod
    def open(
        cls,
        url: str,
        *,
        create: bool = False,
        serial_case: SerialCase = "upper",
        max_payload: int = 512,
    ) -> StationService:
        return cls(
            Repository.open(url, create=create), serial_case=serial_case, max_payload=max_payload
        )

    def close(self) -> None:
        """Let go of this thread's connection (each thread has its own)."""
        self.repo.close()

    # -- the database, for faces that must not reach the store --------------------------------

    @property
    def database_display(self) -> str:
        """The database as a person reads it: a file path, or a URL without its password."""
        return self.repo.target.display

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.repo.target.backend

    @property
    def database_path(self) -> Path | None:
        """The SQLite file (None on PostgreSQL): a face checks it is still there before a
        background thread reconnects, as connecting would create an empty file."""
        return self.repo.target.path

    def watcher(self) -> ChangeWatcher:
        """Wakes the caller's (background) thread when another station commits."""
        return self.repo.watcher()

    def change_cursor(self) -> Any:
        """Where the change feed stands now: pass it to `changes_since`."""
        return self.repo.last_event_id()

    def changes_since(self, cursor: Any) -> tuple[Any, set[str], set[str]]:
        """(new cursor, serials, documents) that got events committed after `cursor`."""
        return self.repo.changes_since(cursor)

    def recorded_outcome(self, scan_id: str) -> str | None:
        """The outcome the database recorded for this scan id (`ok`, `rejected`, …), if any."""
        recorded = self.repo.scan_already_recorded(scan_id)
        return recorded[0] if recorded else None

    def recent_events(
        self, *, station: str | None = None, limit: int = 50, before_id: int | None = None
    ) -> list[tuple[int, EventView]]:
        """Scan events newest first (a station's history, paged by event id)."""
        return self.repo.recent_events(station=station, limit=limit, before_id=before_id)

    def site(self, code: str) -> SiteView | None:
        return self.repo.site(code)

    def sites(self) -> list[SiteView]:
        return self.repo.sites()

    def relaxed_durability(self) -> AbstractContextManager[None]:
        """For building throw-away data fast (the demo): see Repository.relaxed_durability."""
        return self.repo.relaxed_durability()

    # -- the station --------------------------------------------------------------------------

    def check_station(self, setup: StationSetup) -> SiteView:
        """The station's site and document must exist: a usage error otherwise."""
        site = self.repo.site(setup.site_code)
        if site is None:
            known = ", ".join(s.code for s in self.repo.sites()) or "none yet"
            raise ServiceError(f"Unknown site {setup.site_code!r} (known sites: {known})")
        if setup.document and self.repo.document(setup.document) is None:
            raise ServiceError(f"No document with reference no {setup.document!r}")
        return site

    # -- scanning -----------------------------------------------------------------------------

    def parse(self, payload: str) -> ScanCode:
        return parse(payload, case=self.serial_case, max_length=self.max_payload)

    def scan(self, event: ScanEvent, station: StationSetup, *, replay: bool = False) -> ScanOutcome:
        """Decide and record one scan. Never raises for a bad payload; raises StoreError/StoreBusy
        only when the database itself failed (then nothing was recorded).

        `replay`: the scan was read offline and kept in a journal. It is judged against what
        happened since it was read: if another station changed the serial after `read_at`,
        it is not applied (CONFLICT, logged as refused for a supervisor)."""
        site = self.repo.site(station.site_code)
        if site is None:
            raise ServiceError(f"Unknown site {station.site_code!r}")
        code = self.parse(event.payload)
        if not code.ok:
            return self._record_refusal(
                event, station, OutcomeKind.REJECTED, code.error or "Unreadable code"
            )
        key = code.serial
        if key is None:
            if code.gtin:
                message = (
                    f"This is a product barcode (GTIN {code.gtin}), not a serial label — "
                    "scan the serial"
                )
            else:
                message = "This code carries no serial number"
            return self._record_refusal(event, station, OutcomeKind.REJECTED, message)

        if station.mode is Mode.LOOKUP:
            found = self.repo.find_serial(key)
            if found is None:
                return ScanOutcome(OutcomeKind.UNKNOWN, _not_known(event), event)
            view = found.view
            return ScanOutcome(
                OutcomeKind.OK,
                f"{view.serial_no} · {view.item_name} — {view.stage}",
                event,
                view,
                view.stage,
                view.stage,
            )
        # SQLite: a cheap in-process read before the write lock, to tell a CONFLICT (the serial
        # changed between this read and the lock) from a plain refusal. PostgreSQL: that read
        # would be a network round trip; the locked read itself says whether another station
        # held the row at that moment.
        snapshot = self.repo.find_serial(key) if self.repo.is_sqlite else None
        if self.repo.is_sqlite and snapshot is None:
            return self._record_refusal(event, station, OutcomeKind.UNKNOWN, _not_known(event))
        context, document_id = self._context(station, site)
        try:
            return self.repo.write(
                lambda: self._scan_locked(
                    event, station, code, key, snapshot, context, document_id, replay
                )
            )
        except DuplicateScan:
            return self._already_recorded(event, self._recorded_outcome_or(event, "ok"))

    def _recorded_outcome_or(self, event: ScanEvent, default: str) -> str:
        """The outcome recorded for this scan id by the delivery that won the race."""
        recorded = self.repo.scan_already_recorded(event.scan_id)
        return recorded[0] if recorded else default

    def _already_recorded(self, event: ScanEvent, earlier: str) -> ScanOutcome:
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
        self,
        event: ScanEvent,
        station: StationSetup,
        code: ScanCode,
        key: str,
        snapshot: LoadedSerial | None,
        context: StationContext,
        station_document_id: int | None,
        replay: bool = False,
    ) -> ScanOutcome:
        if snapshot is not None:
            current, earlier = self.repo.lock_serial(snapshot.id, event.scan_id)
            contended = current.view.version != snapshot.view.version
        else:
            locked = self.repo.lock_serial_by_key(key, event.scan_id)
            if locked is None:
                return self._refuse_locked(
                    event,
                    station,
                    OutcomeKind.UNKNOWN,
                    _not_known(event),
                    None,
                    station_document_id,
                )
            current, earlier, contended = locked
        if earlier is not None:
            # The same scan (same id) came again, e.g. a retry after a lost answer.
            return ScanOutcome(
                OutcomeKind.ALREADY,
                f"This scan was already recorded ({earlier})",
                event,
                current.view,
                current.view.stage,
                current.view.stage,
            )
        if code.gtin and current.view.gtin and code.gtin != current.view.gtin:
            return self._refuse_locked(
                event,
                station,
                OutcomeKind.REJECTED,
                f"GTIN {code.gtin} on the label is not {current.view.sku}'s "
                f"({current.view.gtin}) — {current.view.serial_no} not changed",
                current,
                station_document_id,
            )
        decision = decide(self._state(current, station), context)
        before = current.view.stage
        if replay and decision.verdict is Verdict.APPLY:
            # Read offline: another station's change recorded since this scan was read wins;
            # the scan was decided against a serial that no longer exists as it was seen.
            changed = self.repo.changed_since(current.id, station.station_id, event.read_at)
            if changed is not None:
                other_station, other_operator, stage, when = changed
                return self._refuse_locked(
                    event,
                    station,
                    OutcomeKind.CONFLICT,
                    f"{current.view.serial_no} changed since this scan was read offline: now "
                    f"{stage} by {other_operator} at {other_station}, "
                    f"{when.astimezone():%H:%M} — not applied",
                    current,
                    station_document_id,
                )
        if decision.verdict is Verdict.ALREADY:
            return ScanOutcome(
                OutcomeKind.ALREADY, decision.message, event, current.view, before, before
            )
        if decision.verdict is Verdict.REJECTED:
            kind = OutcomeKind.REJECTED
            message = decision.message
            override = self._override_allowed(current, station, context)
            # Another station changed the serial at this very moment, and the scan that would
            # have applied before no longer fits (on PostgreSQL: it held the row as we came).
            if contended and (
                snapshot is None
                or decide(self._state(snapshot, station), context).verdict is Verdict.APPLY
            ):
                kind = OutcomeKind.CONFLICT
                message = (
                    f"{current.view.serial_no} changed at this moment: now {before} "
                    f"by {current.view.updated_by} — {decision.message}"
                )
            return self._refuse_locked(
                event, station, kind, message, current, station_document_id, override
            )

        to_stage = decision.to_stage
        assert to_stage is not None
        document = context.document if station.mode is Mode.DISPATCH else None
        document_id = current.document_id
        if document is not None and station_document_id is not None:
            document_id = station_document_id
            if not self.repo.fill_document_line(document_id, current.item_id):
                message = (
                    f"{document.reference_no} filled up or was closed at this moment — "
                    f"{current.view.serial_no} was not dispatched"
                )
                event_id = self._append(
                    event,
                    station,
                    current,
                    OutcomeKind.CONFLICT,
                    message,
                    before,
                    None,
                    document_id,
                )
                return ScanOutcome(
                    OutcomeKind.CONFLICT, message, event, current.view, before, before, event_id
                )
        site_id = current.site_id
        if station.mode is Mode.RECEIVE or to_stage is Stage.REGISTERED:
            site_id = self.repo.site_id(station.site_code)
        self.repo.move_serial(
            current, to_stage, site_id, document_id, station.operator, event.read_at
        )
        # A receive may cite a document (a return's original invoice): the event names it.
        cited = station_document_id if station.mode is Mode.RECEIVE else None
        event_id = self._append(
            event,
            station,
            current,
            OutcomeKind.OK,
            decision.message,
            before,
            to_stage,
            document_id if document is not None else cited,
        )
        after = replace(
            current.view,
            stage=to_stage,
            site=station.site_code if site_id != current.site_id else current.view.site,
            document=document.reference_no if document is not None else current.view.document,
            updated_at=event.read_at,
            updated_by=station.operator,
            version=current.view.version + 1,
        )
        return ScanOutcome(
            OutcomeKind.OK, decision.message, event, after, before, to_stage, event_id
        )

    def _override_allowed(
        self, serial: LoadedSerial, station: StationSetup, context: StationContext
    ) -> bool:
        """Would this refused scan be applied by override if the worker gave a reason?"""
        if (context.reason or "").strip():
            return False
        with_reason = replace(context, reason="override")
        decision = decide(self._state(serial, station), with_reason)
        return decision.verdict is Verdict.APPLY and decision.override

    def _state(self, serial: LoadedSerial, station: StationSetup) -> SerialState:
        view = serial.view
        document = None
        if serial.document_id is not None and station.mode in (Mode.DISPATCH, Mode.RECEIVE):
            document = self.repo.document_by_id(serial.document_id)
        return SerialState(view.serial_no, view.sku, view.stage, view.site, document)

    def _context(self, station: StationSetup, site: SiteView) -> tuple[StationContext, int | None]:
        """The station as decide() sees it, and the id of its document (read once a scan;
        the line-fill guard catches a document that fills up or closes meanwhile)."""
        found = self.repo.document_with_id(station.document) if station.document else None
        document_id, document = found if found else (None, None)
        context = StationContext(station.mode, site.code, site.kind, document, station.reason)
        return context, document_id

    def _append(
        self,
        event: ScanEvent,
        station: StationSetup,
        serial: LoadedSerial | None,
        kind: OutcomeKind,
        message: str,
        from_stage: Stage | None,
        to_stage: Stage | None,
        document_id: int | None,
    ) -> int:
        return self.repo.append_event(
            scan_id=event.scan_id,
            kind="scan",
            serial_id=serial.id if serial else None,
            mode=station.mode.value,
            from_stage=from_stage,
            to_stage=to_stage,
            station=station.station_id,
            site=station.site_code,
            operator=station.operator,
            at=event.read_at,
            recorded_at=utc_now(),
            document_id=document_id,
            source=event.source,
            payload=visible(event.payload),
            comment=station.reason if to_stage is not None else None,
            outcome=kind.value,
            message=message,
        )

    def _refuse_locked(
        self,
        event: ScanEvent,
        station: StationSetup,
        kind: OutcomeKind,
        message: str,
        serial: LoadedSerial | None,
        document_id: int | None,
        override_allowed: bool = False,
    ) -> ScanOutcome:
        """Inside the scan's transaction: log the refusal, answer it."""
        stage = serial.view.stage if serial else None
        if serial is None and (earlier := self.repo.scan_already_recorded(event.scan_id)):
            return self._already_recorded(event, earlier[0])
        event_id = self._append(event, station, serial, kind, message, stage, None, document_id)
        return ScanOutcome(
            kind,
            message,
            event,
            serial.view if serial else None,
            stage,
            stage,
            event_id,
            override_allowed,
        )

    def _record_refusal(
        self, event: ScanEvent, station: StationSetup, kind: OutcomeKind, message: str
    ) -> ScanOutcome:
        """Log a scan that matched no serial (rejected or unknown: who, where, when, the
        payload) for supervisors, in a transaction of its own."""
        if station.mode is Mode.LOOKUP:
            return ScanOutcome(kind, message, event)
        document_id = self.repo.document_id(station.document) if station.document else None
        try:
            return self.repo.write(
                lambda: self._refuse_locked(event, station, kind, message, None, document_id)
            )
        except DuplicateScan:
            return self._already_recorded(event, self._recorded_outcome_or(event, kind.value))

    # -- comments -----------------------------------------------------------------------------

    def comment(self, serial_no: str, text: str, station: StationSetup) -> EventView:
        text = text.strip()
        if not text:
            raise ServiceError("A comment needs some text")
        serial = self.repo.find_serial(serial_no)
        if serial is None:
            raise ServiceError(f"{visible(serial_no)} is not a known serial")
        now = utc_now()

        def work() -> None:
            self.repo.append_event(
                scan_id=None,
                kind="comment",
                serial_id=serial.id,
                mode=None,
                from_stage=None,
                to_stage=None,
                station=station.station_id,
                site=station.site_code,
                operator=station.operator,
                at=now,
                recorded_at=now,
                document_id=None,
                source=None,
                payload=None,
                comment=text,
                outcome="ok",
                message=None,
            )

        self.repo.write(work)
        return self.repo.events(serial.view.serial_no)[-1]

    # -- reading ------------------------------------------------------------------------------

    def serial(self, key: str) -> SerialView | None:
        """By serial number or secondary QR code, normalised like a scan."""
        code = self.parse(key)
        lookup = code.serial if code.ok and code.serial else key
        loaded = self.repo.find_serial(lookup)
        return loaded.view if loaded else None

    def events(self, serial_no: str) -> list[EventView]:
        return self.repo.events(serial_no)

    def item(self, sku: str) -> ItemView | None:
        return self.repo.item_detail(sku)

    def export(self, stage: Stage | None = None, site: str | None = None) -> Iterator[SerialView]:
        return self.repo.iter_serials(stage, site)

    def info(self) -> dict[str, object]:
        return self.repo.info()

    # -- sites, items, documents --------------------------------------------------------------

    def add_site(self, code: str, name: str, kind: SiteKind) -> SiteView:
        code = code.strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", code):
            raise ServiceError(f"Site code {code!r}: use 1-32 letters, digits, '-' or '_'")
        return self.repo.add_site(code, name.strip() or code, kind)

    def add_item(
        self, sku: str, name: str, gtin: str | None = None, model_no: str | None = None
    ) -> ItemView:
        sku = sku.strip()
        if not sku or len(sku) > 64 or any(ch.isspace() or not ch.isprintable() for ch in sku):
            raise ServiceError(f"SKU {sku!r}: 1-64 printable characters without spaces")
        if gtin is not None:
            gtin = normalise_gtin(gtin)
        return self.repo.add_item(sku, name.strip() or sku, gtin, model_no or None)

    def add_document(
        self,
        *,
        kind: DocumentKind,
        reference_no: str,
        from_site: str,
        to: str,
        lines: list[tuple[str, int]],
        dc_no: str | None = None,
        invoice_no: str | None = None,
        by: str | None = None,
    ) -> DocumentView:
        reference_no = reference_no.strip()
        if not reference_no:
            raise ServiceError("A document needs a reference no")
        if not lines:
            raise ServiceError("A document needs at least one line (--line SKU=QTY)")
        skus = [sku for sku, _ in lines]
        if len(set(skus)) != len(skus):
            raise ServiceError("Each SKU may appear on one line only")
        for sku, quantity in lines:
            if quantity <= 0:
                raise ServiceError(f"Line {sku}={quantity}: the quantity must be positive")
        source = self.repo.site(from_site)
        if source is None:
            raise ServiceError(f"Unknown site {from_site!r}")
        destination = self.repo.site(to)
        if kind is DocumentKind.DC:
            if source.kind is not SiteKind.PLANT:
                raise ServiceError(f"A DC goes from a plant; {from_site} is a {source.kind}")
            if destination is None or destination.kind is not SiteKind.GODOWN:
                raise ServiceError(f"A DC goes to a godown; {to!r} is not a godown site")
        elif source.kind is not SiteKind.GODOWN:
            raise ServiceError(f"An invoice goes from a godown; {from_site} is a {source.kind}")
        try:
            return self.repo.add_document(
                kind=kind,
                reference_no=reference_no,
                dc_no=dc_no or None,
                invoice_no=invoice_no or None,
                from_site=from_site,
                to_site=destination.code if destination else None,
                to_name=None if destination else to.strip(),
                lines=lines,
                by=by or _login_name(),
                at=utc_now(),
            )
        except StoreError as error:
            raise ServiceError(str(error)) from error

    def document(self, reference_no: str) -> DocumentView | None:
        return self.repo.document(reference_no)

    def documents(
        self, *, state: str | None = "open", from_site: str | None = None
    ) -> list[DocumentView]:
        return self.repo.documents(state=state, from_site=from_site)

    def close_document(
        self, reference_no: str, reason: str | None = None, by: str | None = None
    ) -> DocumentView:
        document = self.repo.document(reference_no)
        if document is None:
            raise ServiceError(f"No document with reference no {reference_no!r}")
        if not document.is_open:
            raise ServiceError(f"{reference_no} is already closed")
        if document.shortfall and not (reason or "").strip():
            raise ServiceError(
                f"{reference_no} is {document.shortfall} short: closing it needs --reason"
            )
        self.repo.close_document(
            reference_no, (reason or "").strip() or None, by or _login_name(), utc_now()
        )
        closed = self.repo.document(reference_no)
        assert closed is not None
        return closed

    # -- generation runs and imports ----------------------------------------------------------

    def generate(
        self,
        sku: str,
        count: int,
        site_code: str,
        *,
        prefix: str = "SN",
        by: str | None = None,
        at: datetime | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[str, list[str]]:
        if count <= 0:
            raise ServiceError("--count must be at least 1")
        if count > 10_000_000:
            raise ServiceError("--count is limited to 10,000,000 serials a run")
        prefix = prefix.strip()
        if self.serial_case == "upper":
            prefix = prefix.upper()
        bad = sorted(set(prefix) - AI82_CHARACTERS)
        if bad:
            raise ServiceError(
                f"--prefix {prefix!r}: {''.join(bad)!r} is not allowed in a "
                "GS1 serial (AI 82 character set)"
            )
        if len(prefix) + SERIAL_DIGITS > SERIAL_MAX_LENGTH:
            raise ServiceError(
                f"--prefix {prefix!r} is too long: at most "
                f"{SERIAL_MAX_LENGTH - SERIAL_DIGITS} characters, so a serial fits GS1 (21)"
            )
        site = self.repo.site(site_code)
        if site is None:
            raise ServiceError(f"Unknown site {site_code!r}")
        if site.kind is not SiteKind.PLANT:
            raise ServiceError(f"Serials are generated for a plant; {site_code} is a {site.kind}")
        if self.repo.item(sku) is None:
            raise ServiceError(f"Unknown SKU {sku!r}")

        def make_serials(first: int, n: int) -> list[tuple[str, str]]:
            tokens = new_secondary_qrs(n)
            return [
                (f"{prefix}{number:0{SERIAL_DIGITS}d}", token)
                for number, token in zip(range(first, first + n), tokens, strict=True)
            ]

        try:
            return self.repo.create_generation(
                sku, site_code, make_serials, count, by or _login_name(), at or utc_now(), progress
            )
        except StoreError as error:
            raise ServiceError(str(error)) from error

    def import_csv(
        self,
        path: Path,
        *,
        dry_run: bool = False,
        by: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """All or nothing: every problem is listed with its line number and nothing is written."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise ServiceError(f"{path}: cannot be read: {error}") from error
        reader = csv.reader(text.splitlines(keepends=False))
        problems: list[ImportProblem] = []
        header = next(reader, None)
        expected = ["serial_no", "sku", "generation_no", "secondary_qr"]
        if header is None:
            raise ServiceError(f"{path}: the file is empty")
        if [h.strip().lower() for h in header] != expected:
            raise ServiceError(f"{path}: line 1: the header must be {','.join(expected)}")
        skus = self.repo.sku_ids()
        rows: list[tuple[str, str, str | None, str | None]] = []
        lines: list[int] = []
        seen_serial: dict[str, int] = {}
        seen_qr: dict[str, int] = {}
        for line_no, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != 4:
                problems.append(ImportProblem(line_no, f"expected 4 columns, found {len(record)}"))
                continue
            raw_sn, sku, generation_no, qr = (cell.strip() for cell in record)
            problem = self._check_import_row(raw_sn, sku, qr, skus)
            if problem:
                problems.append(ImportProblem(line_no, problem))
                continue
            serial_no = self.parse(raw_sn).serial or raw_sn
            secondary = self.parse(qr).serial if qr else None
            if serial_no in seen_serial:
                problems.append(
                    ImportProblem(
                        line_no, f"serial {serial_no} repeats line {seen_serial[serial_no]}"
                    )
                )
                continue
            if secondary and secondary in seen_qr:
                problems.append(
                    ImportProblem(
                        line_no, f"secondary QR {secondary} repeats line {seen_qr[secondary]}"
                    )
                )
                continue
            seen_serial[serial_no] = line_no
            if secondary:
                seen_qr[secondary] = line_no
            rows.append((serial_no, sku, generation_no or None, secondary))
            lines.append(line_no)
        taken = self.repo.existing("serial_no", [r[0] for r in rows])
        taken_qr = self.repo.existing("secondary_qr", [r[3] for r in rows if r[3]])
        # A secondary QR must not collide with a serial number either way.
        taken_qr |= self.repo.existing("serial_no", [r[3] for r in rows if r[3]])
        for line_no, (serial_no, _sku, _gen, secondary) in zip(lines, rows, strict=True):
            if serial_no in taken:
                problems.append(
                    ImportProblem(line_no, f"serial {serial_no} is already in the database")
                )
            if secondary and secondary in taken_qr:
                problems.append(
                    ImportProblem(line_no, f"secondary QR {secondary} is already in the database")
                )
        problems.sort(key=lambda p: p.line)
        if problems or dry_run or not rows:
            return ImportReport(len(rows), tuple(problems), False)
        try:
            self.repo.import_serials(rows, by or _login_name(), utc_now(), path.name, progress)
        except StoreError as error:
            raise ServiceError(str(error)) from error
        return ImportReport(len(rows), (), True)

    def _check_import_row(self, serial_no: str, sku: str, qr: str, skus: dict[str, int]) -> str:
        if not serial_no:
            return "serial_no is empty"
        code = self.parse(serial_no)
        if code.kind is not CodeKind.PLAIN or not code.serial:
            return f"serial {visible(serial_no)!r} is not a plain serial number"
        if len(code.serial) > SERIAL_MAX_LENGTH:
            return f"serial {code.serial} is longer than {SERIAL_MAX_LENGTH} characters"
        bad = sorted(set(code.serial) - AI82_CHARACTERS)
        if bad:
            return f"serial {visible(code.serial)!r} has characters outside GS1 AI 82: {bad}"
        if sku not in skus:
            return f"unknown SKU {visible(sku)!r}"
        if qr:
            qr_code = self.parse(qr)
            if qr_code.kind is not CodeKind.PLAIN or not qr_code.serial:
                return f"secondary QR {visible(qr)!r} is not a plain code"
        return ""


def _not_known(event: ScanEvent) -> str:
    shown = visible(event.payload.strip(" \t\r\n"))
    if len(shown) > 40:
        shown = shown[:39] + "…"
    return f"{shown} is not a known serial or secondary QR code"


def new_secondary_qrs(count: int) -> list[str]:
    """`count` random tokens from one call to the CSPRNG and one base32 encoding: 15 random
    bytes are exactly 24 base32 characters, two tokens (per-token calls cost 2.6 s a million)."""
    text = b32encode(secrets.token_bytes(15 * ((count + 1) // 2))).decode("ascii")
    size = SECONDARY_QR_LENGTH
    return [text[i : i + size] for i in range(0, count * size, size)]


def normalise_gtin(text: str) -> str:
    """GTIN-8/12/13/14 → 14 digits, check digit verified."""
    digits = text.strip()
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        raise ServiceError(f"GTIN {text!r}: expected 8, 12, 13 or 14 digits")
    digits = digits.zfill(14)
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    if (10 - total % 10) % 10 != check:
        raise ServiceError(f"GTIN {text}: the check digit is wrong")
    return digits
