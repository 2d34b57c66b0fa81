"""Messages the station's worker threads post to the UI (post_message is thread-safe).

Each carries frozen views from `scanstation.domain.model`, never a database object, so the UI
thread never touches the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from scanstation.domain.model import (
        DocumentView,
        EventView,
        ItemView,
        ScanEvent,
        SerialView,
        SiteView,
    )
    from scanstation.domain.outcome import ScanOutcome
    from scanstation.store.journal import JournalEntry


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One scan read back from the database for the scanned list (older than the session)."""

    event_id: int
    event: EventView
    sku: str | None


class StationReady(Message):
    """The database is open and the station's site exists, or (with the offline journal) the
    database is unreachable and scans go to the journal: then `offline` says why and the site
    is not known yet."""

    def __init__(
        self,
        site: SiteView | None,
        document: DocumentView | None,
        backend: str,
        *,
        offline: str | None = None,
    ) -> None:
        super().__init__()
        self.site = site
        self.document = document
        self.backend = backend
        self.offline = offline


class StationFailed(Message):
    """The station cannot start: no database, unknown site, ... (the sentence says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class ScanProcessed(Message):
    """A scan was decided and (unless a lookup or ALREADY) committed."""

    def __init__(self, ticket: int, outcome: ScanOutcome, event_id: int | None) -> None:
        super().__init__()
        self.ticket = ticket
        self.outcome = outcome
        self.event_id = event_id  # the event it wrote, for paging older rows; None: none


class ScanNotSaved(Message):
    """The database failed: the scan is kept at the head of the queue and retried."""

    def __init__(
        self, ticket: int, event: ScanEvent, error: str, retry_in: float, waiting: int
    ) -> None:
        super().__init__()
        self.ticket = ticket
        self.event = event
        self.error = error
        self.retry_in = retry_in
        self.waiting = waiting  # scans held behind it, this one included


class DetailsLoaded(Message):
    """What the portlets show for one serial (or the station's document alone)."""

    def __init__(
        self,
        request: int,
        serial: SerialView | None,
        item: ItemView | None,
        events: list[EventView],
        document: DocumentView | None,
    ) -> None:
        super().__init__()
        self.request = request
        self.serial = serial
        self.item = item
        self.events = events
        self.document = document


class HistoryLoaded(Message):
    """A page of older scans for the scanned list, newest first."""

    def __init__(self, rows: list[HistoryRow], exhausted: bool) -> None:
        super().__init__()
        self.rows = rows
        self.exhausted = exhausted


class DocumentsLoaded(Message):
    """Documents to pick from (the document picker)."""

    def __init__(self, documents: list[DocumentView], purpose: str) -> None:
        super().__init__()
        self.documents = documents
        self.purpose = purpose


class CommandDone(Message):
    """A non-scan request (comment, document) succeeded."""

    def __init__(self, what: str, result: object, sentence: str, request: object = None) -> None:
        super().__init__()
        self.what = what
        self.result = result
        self.sentence = sentence
        self.request = request  # what the UI sent with the request, handed back


class CommandFailed(Message):
    """A non-scan request was refused (ServiceError) or the database failed."""

    def __init__(self, what: str, reason: str, request: object = None) -> None:
        super().__init__()
        self.what = what
        self.reason = reason
        self.request = request


class DetailsUnavailable(Message):
    """A portlet read could not be answered (the database is away): the portlets keep what
    they show, and the next request may go out."""

    def __init__(self, request: int, reason: str) -> None:
        super().__init__()
        self.request = request
        self.reason = reason


class JournalState(Message):
    """The offline journal (only with `[station] journal`): whether the site database answers,
    how many scans wait on this terminal, how many replays the rules refused."""

    def __init__(
        self,
        *,
        online: bool,
        pending: int,
        refused: int,
        reason: str | None,
        site: SiteView | None,
    ) -> None:
        super().__init__()
        self.online = online
        self.pending = pending
        self.refused = refused
        self.reason = reason  # why the database was last unreachable
        self.site = site  # the station's site, once the database has answered


class ScansReplayed(Message):
    """Scans saved offline were decided against the site database, in the order scanned."""

    def __init__(self, outcomes: list[ScanOutcome]) -> None:
        super().__init__()
        self.outcomes = outcomes


class RefusedLoaded(Message):
    """The journaled scans the rules refused on replay, for a supervisor."""

    def __init__(self, entries: list[JournalEntry]) -> None:
        super().__init__()
        self.entries = entries


class SiteChanged(Message):
    """Serials and documents with new events (any station's), from the live refresh thread."""

    def __init__(self, serials: set[str], documents: set[str]) -> None:
        super().__init__()
        self.serials = serials
        self.documents = documents
