"""The station's database work, off the UI thread: one writer thread, one reader thread.

The writer takes scans and other writes from one FIFO queue and does them strictly in arrival
order. A scan the database refused (StoreError, StoreBusy, anything unexpected) stays at the
head of the queue: it is retried with back-off (or at once on `retry_now`), and nothing behind
it overtakes it, so scans are never reordered and never dropped.

The reader answers what the portlets show (serial, item, events, document), older history pages
and document lists. It never writes. Detail requests supersede each other: while scans pour in,
only the newest request is read, so a slow item summary over a million serials never queues up.

Both threads use the same StationService; Peewee keeps one SQLite connection per thread.
Results go back with `post`, which must be thread-safe (`App.post_message` is).

With the offline journal (`open_journal`), the writer scans through a JournaledStation: while
the site database is unreachable a scan is saved in the journal and answered QUEUED instead of
NOT SAVED; when idle, the writer tries to replay what waits. The service then comes and goes,
so both threads read it fresh (`current_service`). A third thread, the live refresh, tells the
app what other stations changed (see live_refresh.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode
from scanstation.tui.live_refresh import LiveRefresh
from scanstation.tui.messages import (
    CommandDone,
    CommandFailed,
    DetailsLoaded,
    DetailsUnavailable,
    DocumentsLoaded,
    HistoryLoaded,
    HistoryRow,
    JournalState,
    RefusedLoaded,
    ScanNotSaved,
    ScanProcessed,
    ScansReplayed,
    StationFailed,
    StationReady,
)

if TYPE_CHECKING:
    from textual.message import Message

    from scanstation.domain.model import DocumentView, ScanEvent, SiteView
    from scanstation.domain.outcome import ScanOutcome
    from scanstation.journaled import JournaledStation
    from scanstation.service import StationService, StationSetup
    from scanstation.store.journal import Journal

_log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0
HISTORY_PAGE = 50
IDLE_TICK_S = 0.25  # journal: how often an idle writer looks whether it can replay
REPLAY_SLICE = 200  # journal: scans replayed between two looks at the queue
# Journal: time to save what is still queued before the app exits; above the store's write
# budget (5 s), so a scan stuck on a hanging database still reaches the journal.
JOURNAL_STOP_S = 8.0

Post = Callable[["Message"], Any]
ServiceFactory = Callable[[], "StationService"]
JournalFactory = Callable[[], "Journal"]


@dataclass(frozen=True, slots=True)
class _Scan:
    ticket: int
    event: ScanEvent
    setup: StationSetup


@dataclass(frozen=True, slots=True)
class _Write:
    what: str
    work: Callable[[StationService], tuple[object, str]]
    request: object = None


@dataclass(frozen=True, slots=True)
class _Details:
    request: int
    serial_no: str | None
    document: str | None


@dataclass(frozen=True, slots=True)
class _History:
    station: str
    before_id: int | None
    limit: int


@dataclass(frozen=True, slots=True)
class _Documents:
    purpose: str
    state: str | None
    from_site: str | None


@dataclass(frozen=True, slots=True)
class _Refused:
    pass


@dataclass(frozen=True, slots=True)
class _Acknowledge:
    seqs: tuple[int, ...]
    by: str


@dataclass
class _Stop:
    done: threading.Event = field(default_factory=threading.Event)


class StationWorker:
    """Owns every use of the StationService for one station app."""

    def __init__(
        self,
        open_service: ServiceFactory,
        post: Post,
        *,
        open_journal: JournalFactory | None = None,
        live_refresh: bool = True,
    ) -> None:
        self._open_service = open_service
        self._post = post
        self._open_journal = open_journal
        self._writes: queue.Queue[_Scan | _Write | _Acknowledge | _Stop] = queue.Queue()
        self._reads: queue.Queue[_Details | _History | _Documents | _Refused | _Stop] = (
            queue.Queue()
        )
        self._service: StationService | None = None
        self._station: JournaledStation | None = None  # with the offline journal
        self._ready = threading.Event()
        self._retry_now = threading.Event()
        self._stopping = False
        self._latest_details = 0
        self._unsaved = 0  # scans submitted and not yet answered
        self._lock = threading.Lock()
        self._sku_cache: dict[str, str | None] = {}
        self._writer_setup: StationSetup | None = None
        # The journal's state as last posted: (online, pending, refused, reason, site).
        self._journal_state: tuple[bool, int, int, str | None, SiteView | None] | None = None
        self._refused: int | None = None  # None: count again
        self._site: SiteView | None = None
        self._site_refused = False
        self._writer = threading.Thread(target=self._run_writer, name="scan-writer", daemon=True)
        self._reader = threading.Thread(target=self._run_reader, name="scan-reader", daemon=True)
        self._live = LiveRefresh(self.current_service, post, self._ready) if live_refresh else None

    # -- UI side ------------------------------------------------------------------------------

    def start(self, setup: StationSetup) -> None:
        self._writer_setup = setup
        self._writer.start()
        self._reader.start()
        if self._live is not None:
            self._live.start()

    @property
    def pending(self) -> int:
        """Scans handed in and not yet answered (queued, in progress or waiting for retry)."""
        return self._unsaved

    @property
    def journaled(self) -> bool:
        """Scans go through the offline journal."""
        return self._open_journal is not None

    def current_service(self) -> StationService | None:
        """The service to read with now; None while the database is unreachable (journal)."""
        station = self._station
        return station.service if station is not None else self._service

    def submit_scan(self, ticket: int, event: ScanEvent, setup: StationSetup) -> None:
        with self._lock:
            self._unsaved += 1
        self._writes.put(_Scan(ticket, event, setup))

    def submit_write(
        self,
        what: str,
        work: Callable[[StationService], tuple[object, str]],
        request: object = None,
    ) -> None:
        self._writes.put(_Write(what, work, request))

    def request_details(self, serial_no: str | None, document: str | None) -> int:
        self._latest_details += 1
        self._reads.put(_Details(self._latest_details, serial_no, document))
        return self._latest_details

    def request_history(
        self, station: str, before_id: int | None, limit: int = HISTORY_PAGE
    ) -> None:
        self._reads.put(_History(station, before_id, limit))

    def request_documents(
        self, purpose: str, *, state: str | None = "open", from_site: str | None = None
    ) -> None:
        self._reads.put(_Documents(purpose, state, from_site))

    def request_refused(self) -> None:
        """The journal's refused scans, for the supervisor's list (RefusedLoaded)."""
        self._reads.put(_Refused())

    def acknowledge(self, seqs: list[int], by: str) -> None:
        """A supervisor has seen these refused scans: they leave the list (not the journal)."""
        self._writes.put(_Acknowledge(tuple(seqs), by))

    def retry_now(self) -> None:
        self._retry_now.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Let queued work finish (up to `timeout`), then end the threads. With the journal,
        scans still queued are saved in it instead of waiting for the database."""
        self._stopping = True
        self._retry_now.set()
        if self._live is not None:
            self._live.stop(timeout)
        stops = []
        for jobs, thread in ((self._writes, self._writer), (self._reads, self._reader)):
            if thread.is_alive():
                stop = _Stop()
                jobs.put(stop)
                stops.append((stop, thread))
        for _stop, thread in stops:
            journaling = self.journaled and thread is self._writer
            thread.join(max(timeout, JOURNAL_STOP_S) if journaling else timeout)

    # -- writer thread ------------------------------------------------------------------------

    def _run_writer(self) -> None:
        setup = self._writer_setup
        assert setup is not None
        opened = self._open_journaled(setup) if self.journaled else self._open_plain(setup)
        self._ready.set()
        if not opened:
            return
        idle = IDLE_TICK_S if self._station is not None else None
        while True:
            try:
                job = self._writes.get(timeout=idle)
            except queue.Empty:
                self._journal_tick()
                continue
            if isinstance(job, _Stop):
                self._close_writer()
                job.done.set()
                return
            if isinstance(job, _Scan):
                self._scan_until_saved(job)
            elif isinstance(job, _Acknowledge):
                self._acknowledge(job)
            else:
                self._write(job)

    def _open_plain(self, setup: StationSetup) -> bool:
        from scanstation.service import ServiceError, StoreError

        try:
            service = self._open_service()
            site = service.check_station(setup)
            document = service.document(setup.document) if setup.document else None
        except (StoreError, ServiceError) as error:
            self._post(StationFailed(str(error)))
            return False
        except Exception as error:
            _log.exception("opening the station")
            self._post(StationFailed(f"The station could not start: {error}"))
            return False
        self._service = service
        self._post(StationReady(site, document, service.repo.target.backend))
        return True

    def _open_journaled(self, setup: StationSetup) -> bool:
        """Open the journal, then try the database: unreachable is no failure here."""
        from scanstation.journaled import JournaledStation
        from scanstation.service import ServiceError
        from scanstation.store.journal import JournalError

        assert self._open_journal is not None
        try:
            journal = self._open_journal()
        except JournalError as error:
            self._post(StationFailed(str(error)))
            return False
        station = JournaledStation(
            self._open_service, journal, on_replay=self._replayed, replay_slice=REPLAY_SLICE
        )
        try:
            site, document, backend = self._check_station(station, setup)
        except ServiceError as error:  # an unknown site or document: fix the setup first
            station.close()
            self._post(StationFailed(str(error)))
            return False
        except Exception as error:
            _log.exception("opening the station")
            station.close()
            self._post(StationFailed(f"The station could not start: {error}"))
            return False
        self._station, self._site = station, site
        offline = None if site else station.last_error or "the site database is unreachable"
        self._post(StationReady(site, document, backend, offline=offline))
        # What a killed or offline session left in the journal replays on the idle ticks.
        self._post_journal_state(force=True)
        return True

    def _check_station(
        self, station: JournaledStation, setup: StationSetup
    ) -> tuple[SiteView | None, DocumentView | None, str]:
        """(site, document, backend) from the database; (None, None, "") while unreachable."""
        from scanstation.store.journal import is_database_failure

        if not station.connect() or station.service is None:
            return None, None, ""
        service = station.service
        try:
            site = service.check_station(setup)
            document = service.document(setup.document) if setup.document else None
        except Exception as error:
            if not is_database_failure(error):
                raise
            return None, None, ""
        return site, document, service.repo.target.backend

    def _scan_until_saved(self, job: _Scan) -> None:
        delay = RETRY_FIRST_S
        while True:
            try:
                outcome, service = self._decide(job)
            except Exception as error:  # StoreError, StoreBusy, or a bug: keep the scan
                if not _is_store_error(error):
                    _log.exception("scan %s", job.event.scan_id)
                if self._stopping:
                    self._keep_in_journal(job)
                    return
                if self._station is not None and job.setup.mode is Mode.LOOKUP:
                    # A lookup records nothing: offline, it is answered, not kept.
                    self._answered()
                    self._post(CommandFailed("lookup", str(error)))
                    return
                self._post(ScanNotSaved(job.ticket, job.event, str(error), delay, self.pending))
                self._retry_now.wait(delay)
                self._retry_now.clear()
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            event_id = self._event_id(service, outcome, job.setup)
            self._answered()
            self._post(ScanProcessed(job.ticket, outcome, event_id))
            if self._station is not None:
                self._after_journaled_scan(outcome)
            return

    def _answered(self) -> None:
        with self._lock:
            self._unsaved -= 1

    def _decide(self, job: _Scan) -> tuple[ScanOutcome, StationService | None]:
        """The outcome, and the service that recorded it (None: journaled)."""
        if self._station is None:
            assert self._service is not None
            return self._service.scan(job.event, job.setup), self._service
        outcome = self._station.scan(job.event, job.setup)
        recorded = outcome.kind is not OutcomeKind.QUEUED
        return outcome, self._station.service if recorded else None

    def _keep_in_journal(self, job: _Scan) -> None:
        """The app is exiting and this scan could not be decided: with the journal it is
        saved there (replayed at the next start), so quitting loses nothing."""
        if self._station is None or job.setup.mode is Mode.LOOKUP:
            return
        try:
            self._station.journal.append(job.event, job.setup)
        except Exception:
            _log.exception("saving scan %s in the journal at exit", job.event.scan_id)
            return
        self._answered()

    @staticmethod
    def _event_id(
        service: StationService | None, outcome: ScanOutcome, setup: StationSetup
    ) -> int | None:
        """The id of the event this scan wrote, so the scanned list can page older rows."""
        if service is None or setup.mode is Mode.LOOKUP or outcome.kind is OutcomeKind.ALREADY:
            return None  # nothing was written
        try:
            newest = service.repo.recent_events(station=setup.station_id, limit=1)
        except Exception:  # the scan is recorded already: a failed read must not undo its OK
            _log.warning("reading the id of scan %s", outcome.event.scan_id, exc_info=True)
            return None
        return newest[0][0] if newest else None

    def _write(self, job: _Write) -> None:
        from scanstation.service import ServiceError, StoreError

        service = self.current_service()
        if service is None:
            reason = self._station.last_error if self._station else None
            self._post(CommandFailed(job.what, _unreachable(reason), job.request))
            return
        try:
            result, sentence = job.work(service)
        except (ServiceError, StoreError) as error:
            self._post(CommandFailed(job.what, str(error), job.request))
        except Exception as error:
            _log.exception("%s", job.what)
            self._post(CommandFailed(job.what, f"{type(error).__name__}: {error}", job.request))
        else:
            self._post(CommandDone(job.what, result, sentence, job.request))

    def _close_writer(self) -> None:
        if self._station is not None:
            try:
                self._station.close()  # its service (this thread's connection) and the journal
            except Exception:
                _log.exception("closing the journal")
        elif self._service is not None:
            _close_here(self._service)

    # -- the offline journal (writer thread) --------------------------------------------------

    def _journal_tick(self) -> None:
        """Idle: replay what waits (when the back-off allows), learn the site once reachable."""
        station = self._station
        if station is None or self._stopping:
            return
        state = self._journal_state
        if station.online and self._site is not None and state is not None and not state[1]:
            return  # nothing waits: keep the idle writer cheap
        try:
            outcomes = station.replay_if_due()
            if outcomes:
                self._replayed(outcomes)
            self._learn_site()
            self._post_journal_state()
        except Exception:
            _log.exception("replaying the journal")

    def _replayed(self, outcomes: list[ScanOutcome]) -> None:
        """Earlier journaled scans were decided (idle replay, or ahead of a new scan)."""
        self._refused = None
        self._post(ScansReplayed(outcomes))

    def _learn_site(self) -> None:
        """After an offline start, the station's site as soon as the database answers."""
        from scanstation.service import ServiceError
        from scanstation.store.journal import is_database_failure

        station = self._station
        setup = self._writer_setup
        if self._site is not None or self._site_refused or station is None or setup is None:
            return
        service = station.service
        if service is None:
            return
        try:
            self._site = service.check_station(setup)
        except ServiceError as error:
            # The setup is wrong (as at a start online). What was saved offline stays in the
            # journal; its replay lists each scan as refused for a supervisor.
            self._site_refused = True
            self._post(StationFailed(str(error)))
        except Exception as error:
            if not is_database_failure(error):
                raise

    def _after_journaled_scan(self, outcome: ScanOutcome) -> None:
        state = self._journal_state
        if (
            outcome.kind is OutcomeKind.QUEUED
            or state is None
            or state[1]  # scans were waiting
            or not state[0]  # it was offline
            or self._refused is None
            or self._site is None
        ):
            self._learn_site()
            self._post_journal_state()

    def _post_journal_state(self, *, force: bool = False) -> None:
        station = self._station
        if station is None:
            return
        if self._refused is None:
            self._refused = len(station.refused())
        state = (
            station.online,
            station.pending_count,
            self._refused,
            station.last_error,
            self._site,
        )
        if force or state != self._journal_state:
            self._journal_state = state
            online, pending, refused, reason, site = state
            self._post(
                JournalState(
                    online=online, pending=pending, refused=refused, reason=reason, site=site
                )
            )

    def _acknowledge(self, job: _Acknowledge) -> None:
        if self._station is None:
            return
        try:
            count = self._station.journal.acknowledge(job.seqs, job.by)
        except Exception as error:
            self._post(CommandFailed("acknowledge", str(error)))
            return
        self._refused = None
        self._post(CommandDone("acknowledge", count, f"{count} refused scan(s) acknowledged"))
        self._post_journal_state()

    # -- reader thread ------------------------------------------------------------------------

    def _run_reader(self) -> None:
        self._ready.wait()
        used: StationService | None = None  # the service this thread has a connection to
        while True:
            job = self._reads.get()
            if isinstance(job, _Stop):
                if used is not None:
                    _close_here(used)
                job.done.set()
                return
            if isinstance(job, _Refused):
                self._read_refused()
                continue
            service = self.current_service()
            if service is not used:
                if used is not None:
                    _close_here(used)  # replaced after an outage: let its connection go
                used = service
            if service is None:
                self._unavailable(job, None)
                continue
            try:
                if isinstance(job, _Details):
                    if job.request == self._latest_details:  # a newer request supersedes it
                        self._details(service, job)
                elif isinstance(job, _History):
                    self._history(service, job)
                else:
                    documents = service.documents(state=job.state, from_site=job.from_site)
                    self._post(DocumentsLoaded(documents, job.purpose))
            except Exception as error:
                self._read_failed(job, error)

    def _read_failed(self, job: _Details | _History | _Documents, error: Exception) -> None:
        from scanstation.store.journal import is_database_failure

        if self._station is not None and is_database_failure(error):
            self._unavailable(job, str(error))  # offline is expected with the journal
            return
        _log.exception("reading for the portlets")
        if isinstance(job, _Details):
            self._post(DetailsUnavailable(job.request, str(error)))
        self._post(CommandFailed("read", f"Could not read the database: {error}"))

    def _unavailable(self, job: _Details | _History | _Documents, reason: str | None) -> None:
        """The database is away (journal): the portlets keep what they show; a list asked for
        by hand is answered with why not."""
        if isinstance(job, _Details):
            self._post(DetailsUnavailable(job.request, _unreachable(reason)))
        else:
            self._post(CommandFailed("read", _unreachable(reason)))

    def _read_refused(self) -> None:
        station = self._station
        try:
            entries = station.refused() if station is not None else []
        except Exception as error:
            self._post(CommandFailed("read", f"Could not read the journal: {error}"))
            return
        self._post(RefusedLoaded(entries))

    def _details(self, service: StationService, job: _Details) -> None:
        serial = service.serial(job.serial_no) if job.serial_no else None
        item = service.item(serial.sku) if serial else None
        events = service.events(serial.serial_no) if serial else []
        reference = job.document or (serial.document if serial else None)
        document = service.document(reference) if reference else None
        self._post(DetailsLoaded(job.request, serial, item, events, document))

    def _history(self, service: StationService, job: _History) -> None:
        page = service.repo.recent_events(
            station=job.station, limit=job.limit, before_id=job.before_id
        )
        rows = [
            HistoryRow(event_id, event, self._sku(service, event.serial_no))
            for event_id, event in page
        ]
        self._post(HistoryLoaded(rows, exhausted=len(page) < job.limit))

    def _sku(self, service: StationService, serial_no: str | None) -> str | None:
        if serial_no is None:
            return None
        if serial_no not in self._sku_cache:
            view = service.serial(serial_no)
            self._sku_cache[serial_no] = view.sku if view else None
        return self._sku_cache[serial_no]


def _unreachable(reason: str | None) -> str:
    detail = f" ({reason})" if reason else ""
    return f"The site database is unreachable{detail}: not available offline"


def _close_here(service: StationService) -> None:
    """Close this thread's connection (Peewee keeps one per thread): the last one out
    checkpoints the SQLite WAL, so the file is whole on its own after the app exits."""
    try:
        service.close()
    except Exception:  # closing at exit must not raise over the app's own result
        _log.exception("closing the database")


def _is_store_error(error: Exception) -> bool:
    from scanstation.service import StoreError

    return isinstance(error, StoreError)
