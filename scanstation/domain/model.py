"""Frozen values the faces see: what a scan is and what a serial, an item, a document and an
event look like once read from the store. Pure Python: no Textual, Rich, Peewee or OpenCV."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from scanstation.domain.quick import quick_init
from scanstation.domain.roles import Role
from scanstation.domain.stages import DocumentKind, SiteKind, Stage


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_scan_id() -> str:
    """An id made where the scan was read, so a retried scan can never apply twice.

    Time first (like UUIDv7), then 64 random bits: unique across terminals, and new ids land at
    the end of the event table's unique index instead of on a random page of it."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


@quick_init  # every scan makes one: see domain/quick.py
@dataclass(frozen=True, slots=True)
class ScanEvent:
    """One payload as it was read: the raw text, where it came from, its id and when."""

    payload: str
    source: str = "manual"
    scan_id: str = field(default_factory=new_scan_id)
    read_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class SiteView:
    code: str
    name: str
    kind: SiteKind


@dataclass(frozen=True, slots=True)
class GenerationView:
    generation_no: str
    sku: str
    count: int
    site: str | None
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class ItemView:
    sku: str
    name: str
    gtin: str | None
    model_no: str | None
    generations: tuple[GenerationView, ...] = ()
    stage_counts: tuple[tuple[Stage, int], ...] = ()


@quick_init  # every scan makes one: see domain/quick.py
@dataclass(frozen=True, slots=True)
class SerialView:
    serial_no: str
    sku: str
    item_name: str
    gtin: str | None
    generation_no: str | None
    secondary_qr: str | None
    stage: Stage
    site: str | None
    document: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    version: int
    print_count: int = 0  # labels a printer took whole
    printed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DocumentLineView:
    sku: str
    item_name: str
    quantity: int
    scanned: int

    @property
    def is_full(self) -> bool:
        return self.scanned >= self.quantity


@dataclass(frozen=True, slots=True)
class DocumentView:
    reference_no: str
    kind: DocumentKind
    dc_no: str | None
    invoice_no: str | None
    from_site: str
    to_site: str | None
    to_name: str | None
    state: str
    lines: tuple[DocumentLineView, ...]
    created_at: datetime
    closed_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    @property
    def destination(self) -> str:
        return self.to_site or self.to_name or ""

    def line_for(self, sku: str) -> DocumentLineView | None:
        return next((line for line in self.lines if line.sku == sku), None)

    @property
    def shortfall(self) -> int:
        return sum(max(0, line.quantity - line.scanned) for line in self.lines)


@dataclass(frozen=True, slots=True)
class DocumentReturn:
    """A unit that came back on a document and freed one unit of its line."""

    serial_no: str
    at: datetime
    by: str


@dataclass(frozen=True, slots=True)
class DocumentProgress:
    """A document with what became of its units: those dispatched on it and not yet received
    (`missing`: serial no and SKU, by serial no) and the returns that freed its lines."""

    document: DocumentView
    missing: tuple[tuple[str, str], ...] = ()
    returns: tuple[DocumentReturn, ...] = ()

    def received(self, line: DocumentLineView) -> int:
        """Units of the line dispatched on the document that have arrived since."""
        return line.scanned - sum(1 for _, sku in self.missing if sku == line.sku)


@dataclass(frozen=True, slots=True)
class EventView:
    """One row of a serial's history. `at` is when it happened (a scan's own read time, which
    for a scan replayed from an offline journal is earlier than when the database got it);
    `recorded_at` is when it was written: history is in recording order."""

    at: datetime
    by: str
    station: str
    site: str | None
    outcome: str
    from_stage: Stage | None
    to_stage: Stage | None
    document: str | None
    comment: str | None
    payload: str | None
    serial_no: str | None = None
    mode: str | None = None
    message: str | None = None
    recorded_at: datetime | None = None
    event_id: int | None = None
    approved_by: str | None = None  # the supervisor who approved it on the spot


@dataclass(frozen=True, slots=True)
class UserView:
    """A person who signs in, as every face sees them: never a PIN or its hash. `name` is the
    operator recorded on their events."""

    name: str
    role: Role
    badge: str | None = None
    disabled: bool = False
    has_pin: bool = False
    locked_until: datetime | None = None

    def may(self, role: Role) -> bool:
        """Does this user's role include `role`?"""
        return self.role.includes(role)
