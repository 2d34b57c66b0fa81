"""The door: every face (the station app, the command line, the journal commands) reaches the
site database through one `Station`, built by `open_station`.

Two implementations: `OnlineStation`, the service with nothing in between (a database failure
is the caller's to show: NOT SAVED in the app, exit 2 on the command line), and
`JournaledStation` (journaled.py), which keeps scanning into this terminal's offline journal
while the database is unreachable. A face never imports `scanstation.store`, never holds the
service and never reads `service.repo` (import contracts in pyproject.toml prove the first).

Threads: the station app scans on one thread and reads on others. Each thread's calls go to
whatever service is current; when the journaled station replaces its service after an outage,
the next call of every thread first lets go of its connection to the old one, and
`release_thread()` lets go when a thread is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from scanstation.domain.reports import (
    AgingRow,
    AuditEvent,
    DocumentReport,
    DocumentSummary,
    ExceptionRow,
    ReportFilter,
    SerialSearch,
    StageCount,
    ThroughputRow,
    TransitUnit,
)
from scanstation.domain.roles import Action, Role
from scanstation.domain.stages import SiteKind, Stage
from scanstation.service import (
    AuthError,
    ImportReport,
    ServiceError,
    StationService,
    StationSetup,
    StoreBusy,
    StoreError,
    TokenInfo,
    redacted_url,
)
from scanstation.signing import KeyRing
from scanstation.store.journal import Journal, JournalEntry, JournalError, is_database_failure

if TYPE_CHECKING:
    from scanstation.config import Settings

__all__ = [
    "AuthError",
    "ChangeFeed",
    "ImportReport",
    "JournalEntry",
    "JournalError",
    "OnlineStation",
    "ServiceError",
    "Station",
    "StationSetup",
    "StoreBusy",
    "StoreError",
    "TokenInfo",
    "UserView",
    "is_database_failure",
    "open_station",
    "read_journal",
    "redacted_url",
]

ServiceFactory = Callable[[], StationService]
ReplayListener = Callable[[list[ScanOutcome]], None]


class Station:
    """What every face may do with the site database. The scanning half (scan, replay,
    refused, acknowledge, pending, online) differs between the two implementations; the rest
    goes to the current service, from whichever thread calls it."""

    keeps_journal = False
    journal_path: Path | None = None

    def __init__(self) -> None:
        self._threads = threading.local()  # the service each thread last used

    # -- what the implementations decide ------------------------------------------------------

    def _current(self) -> StationService | None:
        """The working service now, or None while the database is unreachable."""
        raise NotImplementedError

    @property
    def online(self) -> bool:
        return self._current() is not None

    @property
    def pending(self) -> int:
        """Scans saved on this terminal, not yet in the site database."""
        return 0

    @property
    def last_error(self) -> str | None:
        """Why the database was last unreachable (None while it answers)."""
        return None

    def connect(self) -> bool:
        """Reach the database now if it is not open; True when it answered."""
        return self._current() is not None

    def scan(self, event: ScanEvent, setup: StationSetup) -> ScanOutcome:
        return self._use().scan(event, setup)

    def replay(self, limit: int | None = None) -> list[ScanOutcome]:
        """Send the scans saved offline now, in order; the outcomes of those decided."""
        return []

    def replay_if_due(self) -> list[ScanOutcome]:
        """`replay()` when the reconnect back-off allows it: cheap enough for a timer."""
        return []

    def refused(self, *, include_acknowledged: bool = False) -> list[JournalEntry]:
        """Scans saved offline that the rules refused on replay, for a supervisor."""
        return []

    def acknowledge(self, seqs: list[int], by: str) -> int:
        """A supervisor has seen these refused scans: they leave the list (not the journal)."""
        return 0

    def keep_for_later(self, event: ScanEvent, setup: StationSetup) -> bool:
        """Save a scan that could not be decided, to be decided when the station next runs
        (the app is exiting); False when this station keeps no journal."""
        return False

    def check_station(self, setup: StationSetup) -> SiteView | None:
        """The station's site (None offline before anything is known); ServiceError for an
        unknown site or document, offline as online."""
        return self._use().check_station(setup)

    def close(self) -> None:
        raise NotImplementedError

    # -- threads ------------------------------------------------------------------------------

    def _use(self) -> StationService:
        """The current service for this thread; StoreBusy while the database is away."""
        service = self._current()
        used = getattr(self._threads, "service", None)
        if used is not None and used is not service:
            _close_quietly(used)  # this thread's connection to a service replaced meanwhile
        self._threads.service = service
        if service is None:
            raise StoreBusy(_unreachable(self.last_error))
        return service

    def release_thread(self) -> None:
        """This thread is done with the database: its connection goes back (the last one out
        checkpoints a SQLite file, so the file is whole on its own)."""
        used = getattr(self._threads, "service", None)
        self._threads.service = None
        if used is not None:
            _close_quietly(used)

    # -- the database as faces see it --------------------------------------------------------

    @property
    def backend(self) -> str:
        service = self._current()
        return service.backend if service is not None else ""

    @property
    def database(self) -> str:
        """The database as it is shown: a file path, or host, port and name (no password)."""
        return self._use().database_display

    def info(self) -> dict[str, object]:
        return self._use().info()

    # -- reading ------------------------------------------------------------------------------

    def sites(self) -> list[SiteView]:
        return self._use().sites()

    def site(self, code: str) -> SiteView | None:
        return self._use().site(code)

    def serial(self, key: str) -> SerialView | None:
        return self._use().serial(key)

    def events(self, serial_no: str) -> list[EventView]:
        return self._use().events(serial_no)

    def item(self, sku: str) -> ItemView | None:
        return self._use().item(sku)

    def document(self, reference_no: str) -> DocumentView | None:
        return self._use().document(reference_no)

    def document_progress(self, reference_no: str) -> DocumentProgress | None:
        """The document with its units dispatched and not yet received, and its returns."""
        return self._use().document_progress(reference_no)

    def documents(
        self, *, state: str | None = "open", from_site: str | None = None
    ) -> list[DocumentView]:
        return self._use().documents(state=state, from_site=from_site)

    def history(
        self, *, station: str | None = None, limit: int = 50, before_id: int | None = None
    ) -> list[tuple[int, EventView]]:
        """A station's latest events, newest first, with their ids (to page older ones)."""
        return self._use().recent_events(station=station, limit=limit, before_id=before_id)

    def export(self, stage: Stage | None = None, site: str | None = None) -> Iterator[SerialView]:
        return self._use().export(stage, site)

    # -- the supervisor's reports (filters checked: ServiceError for an unknown site or SKU) --

    def stage_report(self, where: ReportFilter) -> list[StageCount]:
        return self._use().stage_report(where)

    def document_report(self, number: str, where: ReportFilter) -> DocumentReport:
        return self._use().document_report(number, where)

    def transit_report(
        self, where: ReportFilter, now: datetime | None = None
    ) -> Iterator[TransitUnit]:
        return self._use().transit_report(where, now)

    def aging_report(self, where: ReportFilter, now: datetime | None = None) -> list[AgingRow]:
        return self._use().aging_report(where, now)

    def throughput_report(self, where: ReportFilter) -> list[ThroughputRow]:
        return self._use().throughput_report(where)

    def exception_report(self, where: ReportFilter) -> Iterator[ExceptionRow]:
        return self._use().exception_report(where)

    # -- lists --------------------------------------------------------------------------------

    def items(self) -> list[ItemView]:
        return self._use().items()

    def document_list(self, **where: Any) -> list[tuple[int, DocumentSummary]]:
        """A page of documents: the keywords of `StationService.document_list`."""
        return self._use().document_list(**where)

    def iter_documents(self, **where: Any) -> Iterator[DocumentSummary]:
        return self._use().iter_documents(**where)

    def find_serials(self, search: SerialSearch, **page: Any) -> list[tuple[str | int, SerialView]]:
        """A page of serials: the keywords of `StationService.find_serials`."""
        return self._use().find_serials(search, **page)

    def audit_events(
        self, where: ReportFilter, operator: str | None = None
    ) -> Iterator[AuditEvent]:
        return self._use().audit_events(where, operator)

    def change_feed(self) -> ChangeFeed:
        """What other stations commit, for one background thread (the live refresh)."""
        return ChangeFeed(self)

    # -- writing ------------------------------------------------------------------------------

    def comment(self, serial_no: str, text: str, setup: StationSetup) -> EventView:
        return self._use().comment(serial_no, text, setup)

    def add_site(self, code: str, name: str, kind: SiteKind) -> SiteView:
        added = self._use().add_site(code, name, kind)
        self._catalog_changed()
        return added

    def add_item(
        self, sku: str, name: str, gtin: str | None = None, model_no: str | None = None
    ) -> ItemView:
        return self._use().add_item(sku, name, gtin, model_no)

    def add_document(self, **document: Any) -> DocumentView:
        """A DC or an invoice: the keywords of `StationService.add_document`."""
        added = self._use().add_document(**document)
        self._catalog_changed()
        return added

    def close_document(
        self,
        reference_no: str,
        reason: str | None = None,
        by: str | None = None,
        *,
        actor: UserView | None = None,
        approver: UserView | None = None,
        at: StationSetup | None = None,
    ) -> DocumentView:
        """Close a document; closing one short needs a supervisor once the database has
        users: `actor` signed in, or `approver` on the spot (the event names both). `at`:
        the station it is closed at (its id and site go on the event; None: the admin's)."""
        closed = self._use().close_document(
            reference_no, reason, by, actor=actor, approver=approver, at=at
        )
        self._catalog_changed()
        return closed

    def reopen_document(
        self,
        reference_no: str,
        reason: str | None,
        by: str | None = None,
        *,
        actor: UserView | None = None,
        approver: UserView | None = None,
        at: StationSetup | None = None,
    ) -> DocumentView:
        reopened = self._use().reopen_document(
            reference_no, reason, by, actor=actor, approver=approver, at=at
        )
        self._catalog_changed()
        return reopened

    def void(self, key: str, setup: StationSetup, **void: Any) -> ScanOutcome:
        """Void a serial's latest change: the keywords of `StationService.void` (event_id,
        reason, window_s)."""
        return self._use().void(key, setup, **void)

    def _catalog_changed(self) -> None:
        """A site or document was added or closed through this door (the journaled station
        keeps what offline scans are checked against)."""

    def generate(self, sku: str, count: int, site_code: str, **run: Any) -> tuple[str, list[str]]:
        """A generation run: the keywords of `StationService.generate` (prefix, by, at, …)."""
        return self._use().generate(sku, count, site_code, **run)

    def import_csv(
        self,
        path: Path,
        *,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
        by: str | None = None,
    ) -> ImportReport:
        return self._use().import_csv(path, dry_run=dry_run, progress=progress, by=by)

    def label_serials(
        self, *, generation_no: str | None = None, keys: Sequence[str] = ()
    ) -> list[SerialView]:
        """The serials a print job names, in order (ServiceError naming what is unknown)."""
        return self._use().label_serials(generation_no=generation_no, keys=keys)

    def record_prints(self, serial_nos: Sequence[str], **job: Any) -> int:
        """A print job a printer took whole: the keywords of `StationService.record_prints`."""
        return self._use().record_prints(serial_nos, **job)

    def import_documents(
        self, path: Path, *, dry_run: bool = False, by: str | None = None
    ) -> ImportReport:
        imported = self._use().import_documents(path, dry_run=dry_run, by=by)
        if imported.written:
            self._catalog_changed()
        return imported

    def bulk_load(self) -> AbstractContextManager[None]:
        """For building throw-away data (the demo) fast; what was built is on disk after."""
        return self._use().relaxed_durability()

    # -- people -------------------------------------------------------------------------------

    def has_users(self) -> bool:
        """Does the database have people (some user has a PIN)? Then every face asks who is
        there; otherwise it is an open station, as before users existed."""
        return self._use().has_users()

    def authenticate(self, name_or_badge: str, pin: str) -> UserView:
        """The user with this name or badge if `pin` is theirs; AuthError (a sentence without
        the PIN) for an unknown name, a wrong PIN, a locked or disabled user."""
        return self._use().authenticate(name_or_badge, pin)

    def authenticate_token(self, token: str) -> UserView:
        """The user a script's token belongs to; AuthError when it is not valid now."""
        return self._use().authenticate_token(token)

    def require(self, action: Action, by: UserView | None) -> None:
        """AuthError unless `by` may do `action` (nothing is checked on an open station)."""
        self._use().require(action, by)

    def users(self) -> list[UserView]:
        return self._use().users()

    def user(self, name: str) -> UserView | None:
        return self._use().user(name)

    def add_user(
        self, name: str, role: Role, badge: str | None = None, *, by: UserView | None = None
    ) -> UserView:
        return self._use().add_user(name, role, badge, by=by)

    def disable_user(self, name: str, *, by: UserView | None = None) -> UserView:
        return self._use().disable_user(name, by=by)

    def set_pin(self, name: str, pin: str, *, by: UserView | None = None) -> UserView:
        return self._use().set_pin(name, pin, by=by)

    def add_demo_people(
        self, people: list[tuple[str, Role, str | None]]
    ) -> list[tuple[UserView, str]]:
        """The demo's people on a database without users: each with the PIN to show once."""
        return self._use().add_demo_people(people)

    def demo_people(self) -> list[str]:
        """The names of the people `scanstation demo` made here ([] on any other database)."""
        return self._use().demo_people()

    def new_demo_pins(self) -> list[tuple[UserView, str]]:
        """New PINs for a demo database's people (ServiceError on any other database)."""
        return self._use().new_demo_pins()

    def create_token(
        self, name: str, *, by: UserView | None, expires_days: int | None = None
    ) -> tuple[int, str, Any]:
        """(token id, the token — to be shown once, expiry or None)."""
        return self._use().create_token(name, by=by, expires_days=expires_days)

    def revoke_tokens(self, name: str, *, by: UserView | None, token_id: int | None = None) -> int:
        return self._use().revoke_tokens(name, by=by, token_id=token_id)

    def tokens(self, *, by: UserView | None) -> list[TokenInfo]:
        return self._use().tokens(by=by)

    def station_role_sql(self, role: str, *, by: UserView | None = None) -> tuple[str, ...]:
        """PostgreSQL's least-privilege role for the terminals, as SQL (ServiceError on
        SQLite)."""
        return self._use().station_role_sql(role, by=by)

    def apply_station_role(self, role: str, *, by: UserView | None = None) -> tuple[str, ...]:
        return self._use().apply_station_role(role, by=by)

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OnlineStation(Station):
    """The service itself: every failure of the database is the caller's to show."""

    def __init__(self, service: StationService) -> None:
        super().__init__()
        self._service = service

    def _current(self) -> StationService:
        return self._service

    def close(self) -> None:
        self.release_thread()
        _close_quietly(self._service)


class ChangeFeed:
    """What other stations commit (PostgreSQL LISTEN/NOTIFY, or a poll of a shared SQLite
    file), for the one background thread that made it. Starts over on a new service after an
    outage, from where it was: it is the same database, so nothing committed meanwhile is
    missed."""

    def __init__(self, station: Station) -> None:
        self._station = station
        self._service: StationService | None = None
        self._watcher: Any = None
        self._cursor: Any = None  # where the feed stands (the service's own marker)

    def wait(self, timeout: float) -> tuple[set[str], set[str]]:
        """(serials, documents) that got events, waiting up to `timeout` for one; empty when
        nothing changed. StoreError (or a driver error) while the database is away."""
        service = self._station._use()
        if service is not self._service:
            self._drop_watcher()
            self._service = service
        path = service.database_path
        if path is not None and not path.exists():
            # Moved or unmounted: connecting would create an empty file in its place.
            raise StoreBusy(f"{service.database_display} is missing")
        if self._watcher is None:
            self._watcher = service.watcher()
        if self._cursor is None:
            self._cursor = service.change_cursor()
        if not self._watcher.wait(timeout):
            return set(), set()
        self._cursor, serials, documents = service.changes_since(self._cursor)
        return serials, documents

    def _drop_watcher(self) -> None:
        if self._watcher is not None:
            with suppress(Exception):
                self._watcher.close()
        self._watcher = None

    def close(self) -> None:
        self._drop_watcher()
        self._station.release_thread()


# -- building the door -------------------------------------------------------------------------


def open_station(
    settings: Settings,
    *,
    database_url: str | None = None,
    station_id: str | None = None,
    journal: bool | None = None,
    create: bool = False,
    journal_dir: Path | None = None,
    on_replay: ReplayListener | None = None,
    replay_slice: int | None = None,
) -> Station:
    """The one way a face opens the site database.

    `journal` None follows `[station] journal`. Online, the database is opened now (StoreError
    when it cannot be). Journaled, the journal is opened now (JournalError) and the database
    at the first need, so an unreachable database is no error; `connect()` tries it at once.
    """
    url = database_url or settings.database.resolved_url()

    def open_service() -> StationService:
        return StationService.open(
            url,
            create=create,
            serial_case=settings.scanner.serial_case,
            max_payload=settings.scanner.max_payload,
            lockout_s=settings.security.lockout_s,
            keys=KeyRing(settings.keys.private_path(), settings.keys.public_path()),
        )

    use_journal = settings.station.journal if journal is None else journal
    if not use_journal:
        return OnlineStation(open_service())
    from scanstation.journaled import JournaledStation

    station = station_id or settings.station.id
    return JournaledStation(
        open_service,
        Journal.for_station(station, url, journal_dir),
        on_replay=on_replay,
        replay_slice=replay_slice,
    )


def read_journal(
    settings: Settings,
    station_id: str,
    *,
    database_url: str | None = None,
    journal_dir: Path | None = None,
) -> tuple[Path, str, Journal | None]:
    """(where the station's journal is, which database it is for, the journal if it exists):
    for `journal show`, which reads it offline and never creates one."""
    from scanstation.store.journal import database_identity, journal_path

    url = database_url or settings.database.resolved_url()
    path = journal_path(station_id, url, journal_dir)
    return path, database_identity(url), Journal.existing(station_id, url, journal_dir)


# -- helpers ------------------------------------------------------------------------------------


def _unreachable(reason: str | None) -> str:
    detail = f" ({reason})" if reason else ""
    return f"The site database is unreachable{detail}: not available offline"


def _close_quietly(service: StationService) -> None:
    """Close this thread's connection to `service`; leaving must not raise."""
    with suppress(Exception):
        service.close()
