"""The supervisor's reports as values: what each row holds, the filters every report takes, and
the aging buckets. The store computes them in SQL; the faces print them. Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

__all__ = [
    "AGING_BUCKETS",
    "EXCEPTION_KINDS",
    "REPORT_NAMES",
    "AgingRow",
    "AuditEvent",
    "DocumentReport",
    "DocumentSummary",
    "DocumentUnit",
    "ExceptionRow",
    "LineProgress",
    "ReportFilter",
    "SerialSearch",
    "StageCount",
    "ThroughputRow",
    "TransitUnit",
]

REPORT_NAMES: Final = ("stages", "document", "transit", "aging", "throughput", "exceptions")

# Days since a unit was received at a godown: (label, first day, last day or None for no end).
AGING_BUCKETS: Final[tuple[tuple[str, int, int | None], ...]] = (
    ("0-7", 0, 7),
    ("8-30", 8, 30),
    ("31-90", 31, 90),
    ("90+", 91, None),
)

# What the exceptions report lists, in the words it prints them with.
EXCEPTION_KINDS: Final = ("rejected", "unknown", "conflict", "override", "void", "not-genuine")


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Narrows a report: a site's code, an item's SKU, a time range [since, until)."""

    site: str | None = None
    sku: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class StageCount:
    sku: str
    site: str | None  # None: not at any site yet
    stage: str
    count: int


@dataclass(frozen=True, slots=True)
class LineProgress:
    sku: str
    expected: int
    dispatched: int
    received: int


@dataclass(frozen=True, slots=True)
class DocumentUnit:
    serial_no: str
    sku: str
    stage: str
    site: str | None
    at: datetime  # dispatched (a missing unit) or received (an extra one)


@dataclass(frozen=True, slots=True)
class DocumentReport:
    reference_no: str
    kind: str
    state: str
    from_site: str
    destination: str
    lines: tuple[LineProgress, ...]
    missing: tuple[DocumentUnit, ...]  # dispatched on it and not received since
    extra: tuple[DocumentUnit, ...]  # received citing it, never dispatched on it


@dataclass(frozen=True, slots=True)
class TransitUnit:
    serial_no: str
    sku: str
    document: str | None
    from_site: str | None
    to_site: str | None
    dispatched_at: datetime
    days: int


@dataclass(frozen=True, slots=True)
class AgingRow:
    site: str
    sku: str
    bucket: str
    count: int


@dataclass(frozen=True, slots=True)
class ThroughputRow:
    hour: str  # "2026-11-30T14" in UTC
    station: str
    operator: str
    ok: int
    refused: int


@dataclass(frozen=True, slots=True)
class ExceptionRow:
    at: datetime
    kind: str  # one of EXCEPTION_KINDS
    serial_no: str | None
    payload: str | None  # escaped when it was recorded
    operator: str
    station: str
    site: str | None
    reason: str | None  # the rule's sentence, or the reason the worker gave


@dataclass(frozen=True, slots=True)
class DocumentSummary:
    """A document in a list: its state and how far it has got, without its lines."""

    reference_no: str
    kind: str
    dc_no: str | None
    invoice_no: str | None
    from_site: str
    destination: str
    state: str
    created_at: datetime
    expected: int  # units on its lines
    dispatched: int  # units dispatched on it
    received: int  # of those, received since


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One event of the audit trail, as `export --events` prints it."""

    at: datetime
    recorded_at: datetime | None
    kind: str
    serial_no: str | None
    mode: str | None
    from_stage: str | None
    to_stage: str | None
    operator: str
    approver: str | None  # who approved it, where the database records that
    station: str
    site: str | None
    document: str | None
    outcome: str
    reason: str | None  # the reason given (or the comment), else the rule's sentence
    payload: str | None  # escaped when it was recorded


@dataclass(frozen=True, slots=True)
class SerialSearch:
    """What the Find screen asks for: `text` is the start of a serial number or a whole
    secondary QR code; `document` a reference, DC or invoice no; the time range is when the
    serial last changed, [since, until)."""

    text: str | None = None
    sku: str | None = None
    stage: str | None = None
    site: str | None = None
    document: str | None = None
    since: datetime | None = None
    until: datetime | None = None
