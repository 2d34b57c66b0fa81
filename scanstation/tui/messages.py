"""Messages the station's worker threads post to the station screen (post_message is
thread-safe).

Each carries frozen views from `scanstation.domain.model`, never a database object, so the UI
thread never touches the store. They are dataclasses: Textual's `Message.__post_init__` sets
the rest up, and `eq=False` keeps them hashable by identity, as Textual expects. Messages that
only say how things stand now (the portlets' details, what other stations changed, the
journal's state) merge with a newer one of their kind still waiting in the queue
(`can_replace`), so a burst of them costs one repaint; a scan's answer never merges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from scanstation.domain.model import (
        DocumentProgress,
        DocumentView,
        EventView,
        ItemView,
        ScanEvent,
        SerialView,
        SiteView,
        UserView,
    )
    from scanstation.domain.outcome import ScanOutcome
    from scanstation.station import JournalEntry


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One scan read back from the database for the scanned list (older than the session)."""

    event_id: int
    event: EventView
    sku: str | None


@dataclass(eq=False)
class StationReady(Message):
    """The database is open and the station's site exists, or (with the offline journal) the
    database is unreachable and scans go to the journal: then `offline` says why and the site
    is not known yet."""

    site: SiteView | None
    document: DocumentView | None
    backend: str
    offline: str | None = None
    has_users: bool | None = None  # None: not known (offline)
    users: tuple[UserView, ...] = ()  # names, roles and badges: never a PIN
    demo: bool = False  # people `scanstation demo` made: sign-in says where their PINs are


@dataclass(eq=False)
class StationFailed(Message):
    """The station cannot start: no database, unknown site, ... (the sentence says which)."""

    reason: str


@dataclass(eq=False)
class ScanProcessed(Message):
    """A scan was decided and (unless a lookup or ALREADY) committed. Never merged: every
    scan is answered."""

    ticket: int
    outcome: ScanOutcome
    event_id: int | None  # the event it wrote, for paging older rows; None: none


@dataclass(eq=False)
class ScanNotSaved(Message):
    """The database failed: the scan is kept at the head of the queue and retried."""

    ticket: int
    event: ScanEvent
    error: str
    retry_in: float
    waiting: int  # scans held behind it, this one included


@dataclass(eq=False)
class DetailsLoaded(Message):
    """What the portlets show for one serial (or the station's document alone). Each portlet
    takes what it shows from it (`Portlet.show_details`)."""

    request: int
    serial: SerialView | None
    item: ItemView | None
    events: list[EventView]
    document: DocumentView | None
    # The document's arrivals and returns (None: not read, e.g. no document).
    progress: DocumentProgress | None = None

    def can_replace(self, message: Message) -> bool:
        # A newer answer makes this one stale: only the newest request is shown anyway.
        return isinstance(message, DetailsLoaded)


@dataclass(eq=False)
class HistoryLoaded(Message):
    """A page of older scans for the scanned list, newest first."""

    rows: list[HistoryRow]
    exhausted: bool


@dataclass(eq=False)
class DocumentsLoaded(Message):
    """Documents to pick from (the document picker)."""

    documents: list[DocumentView]
    purpose: str


@dataclass(eq=False)
class CommandDone(Message):
    """A non-scan request (comment, document) succeeded."""

    what: str
    result: object
    sentence: str
    request: object = None  # what the UI sent with the request, handed back


@dataclass(eq=False)
class CommandFailed(Message):
    """A non-scan request was refused (ServiceError) or the database failed."""

    what: str
    reason: str
    request: object = None


@dataclass(eq=False)
class DetailsUnavailable(Message):
    """A portlet read could not be answered (the database is away): the portlets keep what
    they show, and the next request may go out."""

    request: int
    reason: str


@dataclass(eq=False)
class JournalState(Message):
    """The offline journal (only with `[station] journal`): whether the site database answers,
    how many scans wait on this terminal, how many replays the rules refused."""

    online: bool
    pending: int
    refused: int
    reason: str | None  # why the database was last unreachable
    site: SiteView | None  # the station's site, once the database has answered

    def can_replace(self, message: Message) -> bool:
        # A newer state says all this one does, except the site it may have learned.
        if isinstance(message, JournalState):
            if message.site is None:
                message.site = self.site
            return True
        return False


@dataclass(eq=False)
class ScansReplayed(Message):
    """Scans saved offline were decided against the site database, in the order scanned."""

    outcomes: list[ScanOutcome]


@dataclass(eq=False)
class RefusedLoaded(Message):
    """The journaled scans the rules refused on replay, for a supervisor."""

    entries: list[JournalEntry]


@dataclass(eq=False)
class SiteChanged(Message):
    """Serials and documents with new events (any station's), from the live refresh thread."""

    serials: set[str] = field(default_factory=set)
    documents: set[str] = field(default_factory=set)

    def can_replace(self, message: Message) -> bool:
        # Merged into the newer one: together they name everything that changed.
        if isinstance(message, SiteChanged):
            message.serials |= self.serials
            message.documents |= self.documents
            return True
        return False
