"""What one station's offline journal holds (journal.py): an entry as a scan and a station
setup, what a replay made of it, and the sites and documents last seen online; the columns
an entry's seal covers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from scanstation.domain.model import ScanEvent, SiteView
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.roles import Role
from scanstation.domain.stages import DocumentKind, Mode

__all__ = ["JournalEntry", "JournalMark", "KnownCatalog", "SetupLike"]

PENDING = "pending"

_COLUMNS = (
    "seq, scan_id, payload, source, read_at, station_id, site_code, mode, operator, document, "
    "reason, queued_at, state, outcome, message, serial_no, replayed_at, acknowledged_at, "
    "acknowledged_by, mac, role, approved_by, approver_role"
)
_ROLE_COLUMNS = ("role", "approved_by", "approver_role")  # format 3


def _sealed(row: Sequence[Any]) -> tuple[Any, ...]:
    """The fields a seal covers: everything a replay applies, as stored (scan_id … queued_at,
    then the role columns when any holds something: an entry of a format 2 journal is sealed
    as it was, and giving it a role afterwards breaks its seal)."""
    people = tuple(row[20:23])
    return tuple(row[1:12]) + (people if any(v is not None for v in people) else ())


class SetupLike(Protocol):
    """What the journal keeps of a StationSetup (the service's type; the store cannot import it)."""

    @property
    def station_id(self) -> str: ...
    @property
    def site_code(self) -> str: ...
    @property
    def mode(self) -> Mode: ...
    @property
    def operator(self) -> str: ...
    @property
    def document(self) -> str | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def role(self) -> Role | None: ...
    @property
    def approved_by(self) -> str | None: ...
    @property
    def approver_role(self) -> Role | None: ...


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled scan: the ScanEvent and StationSetup fields, and what replay made of it."""

    seq: int
    scan_id: str
    payload: str
    source: str
    read_at: datetime
    station_id: str
    site_code: str
    mode: Mode
    operator: str
    document: str | None
    reason: str | None
    queued_at: datetime
    state: str  # pending | replayed | refused
    outcome: OutcomeKind | None = None
    message: str | None = None
    serial_no: str | None = None
    replayed_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    intact: bool = True  # False: edited in the file after it was saved (its seal fails)
    role: Role | None = None  # the signed-in person's (None: no users, or an older journal)
    approved_by: str | None = None  # a supervisor who approved it on the spot
    approver_role: Role | None = None

    @property
    def event(self) -> ScanEvent:
        """The scan as it was read: same payload, source, read time and, above all, scan id."""
        return ScanEvent(self.payload, self.source, self.scan_id, self.read_at)

    @property
    def is_pending(self) -> bool:
        return self.state == PENDING

    def as_json(self) -> dict[str, object]:
        def when(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment is not None else None

        return {
            "seq": self.seq,
            "scan_id": self.scan_id,
            "state": self.state,
            "payload": self.payload,
            "source": self.source,
            "read_at": when(self.read_at),
            "queued_at": when(self.queued_at),
            "station": self.station_id,
            "site": self.site_code,
            "mode": self.mode.value,
            "operator": self.operator,
            "document": self.document,
            "reason": self.reason,
            "outcome": self.outcome.value if self.outcome else None,
            "message": self.message,
            "serial": self.serial_no,
            "replayed_at": when(self.replayed_at),
            "acknowledged_at": when(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "intact": self.intact,
            "role": self.role.value if self.role else None,
            "approved_by": self.approved_by,
        }


@dataclass(frozen=True, slots=True)
class JournalMark:
    """What a replay made of one entry. `refused` puts it on the supervisor's list."""

    seq: int
    outcome: OutcomeKind
    message: str
    serial_no: str | None
    refused: bool


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True, slots=True)
class KnownCatalog:
    """The sites and documents as the site database last showed them (offline scans are
    checked against these), and when that was."""

    sites: dict[str, SiteView]
    documents: dict[str, tuple[DocumentKind, str, str]]  # reference no → kind, from, state
    at: datetime


def _storable(value: str | None) -> str | bytes | None:
    """Text as SQLite can keep it. A payload may carry undecodable bytes (Python hands them
    over as lone surrogates, which SQLite refuses): kept as the bytes they were instead."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")
    return value


def _decoded(row: Sequence[Any]) -> tuple[Any, ...]:
    """A row with any value `_storable` kept as bytes turned back into the text it was."""
    return tuple(v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v for v in row)


def _role(value: str | None) -> Role | None:
    try:
        return Role(value) if value else None
    except ValueError:
        return None  # not a role this scanstation knows: judged as if none (set aside)


def _entry(row: Sequence[Any], intact: bool) -> JournalEntry:
    return JournalEntry(
        seq=row[0],
        scan_id=row[1],
        payload=row[2],
        source=row[3],
        read_at=datetime.fromisoformat(row[4]),
        station_id=row[5],
        site_code=row[6],
        mode=Mode(row[7]),
        operator=row[8],
        document=row[9],
        reason=row[10],
        queued_at=datetime.fromisoformat(row[11]),
        state=row[12],
        outcome=OutcomeKind(row[13]) if row[13] else None,
        message=row[14],
        serial_no=row[15],
        replayed_at=_from_iso(row[16]),
        acknowledged_at=_from_iso(row[17]),
        acknowledged_by=row[18],
        intact=intact,
        role=_role(row[20]),
        approved_by=row[21],
        approver_role=_role(row[22]),
    )
