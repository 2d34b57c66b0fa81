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
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scanstation.tui.messages import (
    CommandDone,
    CommandFailed,
    DetailsLoaded,
    DocumentsLoaded,
    HistoryLoaded,
    HistoryRow,
    ScanNotSaved,
    ScanProcessed,
    StationFailed,
    StationReady,
)

if TYPE_CHECKING:
    from textual.message import Message

    from scanstation.domain.model import ScanEvent
    from scanstation.domain.outcome import ScanOutcome
    from scanstation.service import StationService, StationSetup

_log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0
HISTORY_PAGE = 50

Post = Callable[["Message"], Any]
ServiceFactory = Callable[[], "StationService"]


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


@dataclass
class _Stop:
    done: threading.Event = field(default_factory=threading.Event)


class StationWorker:
    """Owns every use of the StationService for one station app."""

    def __init__(self, open_service: ServiceFactory, post: Post) -> None:
        self._open_service = open_service
        self._post = post
        self._writes: queue.Queue[_Scan | _Write | _Stop] = queue.Queue()
        self._reads: queue.Queue[_Details | _History | _Documents | _Stop] = queue.Queue()
        self._service: StationService | None = None
        self._ready = threading.Event()
        self._retry_now = threading.Event()
        self._stopping = False
        self._latest_details = 0
        self._unsaved = 0  # scans submitted and not yet answered
        self._lock = threading.Lock()
        self._sku_cache: dict[str, str | None] = {}
        self._writer_setup: StationSetup | None = None
        self._writer = threading.Thread(target=self._run_writer, name="scan-writer", daemon=True)
        self._reader = threading.Thread(target=self._run_reader, name="scan-reader", daemon=True)

    # -- UI side ------------------------------------------------------------------------------

    def start(self, setup: StationSetup) -> None:
        self._writer_setup = setup
        self._writer.start()
        self._reader.start()

    @property
    def pending(self) -> int:
        """Scans handed in and not yet answered (queued, in progress or waiting for retry)."""
        return self._unsaved

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

    def retry_now(self) -> None:
        self._retry_now.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Let queued work finish (up to `timeout`), then end both threads."""
        self._stopping = True
        self._retry_now.set()
        stops = []
        for jobs, thread in ((self._writes, self._writer), (self._reads, self._reader)):
            if thread.is_alive():
                stop = _Stop()
                jobs.put(stop)
                stops.append((stop, thread))
        for _stop, thread in stops:
            thread.join(timeout)

    # -- writer thread ------------------------------------------------------------------------

    def _run_writer(self) -> None:
        from scanstation.service import ServiceError, StoreError

        setup = self._writer_setup
        assert setup is not None
        try:
            service = self._open_service()
            site = service.check_station(setup)
            document = service.document(setup.document) if setup.document else None
        except (StoreError, ServiceError) as error:
            self._post(StationFailed(str(error)))
            self._ready.set()
            return
        except Exception as error:
            _log.exception("opening the station")
            self._post(StationFailed(f"The station could not start: {error}"))
            self._ready.set()
            return
        self._service = service
        self._ready.set()
        self._post(StationReady(site, document, service.repo.target.backend))
        while True:
            job = self._writes.get()
            if isinstance(job, _Stop):
                _close_here(service)
                job.done.set()
                return
            if isinstance(job, _Scan):
                self._scan_until_saved(service, job)
            else:
                self._write(service, job)

    def _scan_until_saved(self, service: StationService, job: _Scan) -> None:
        delay = RETRY_FIRST_S
        while True:
            try:
                outcome = service.scan(job.event, job.setup)
                event_id = self._event_id(service, outcome, job.setup)
            except Exception as error:  # StoreError, StoreBusy, or a bug: keep the scan
                if not _is_store_error(error):
                    _log.exception("scan %s", job.event.scan_id)
                if self._stopping:
                    return
                self._post(ScanNotSaved(job.ticket, job.event, str(error), delay, self.pending))
                self._retry_now.wait(delay)
                self._retry_now.clear()
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            with self._lock:
                self._unsaved -= 1
            self._post(ScanProcessed(job.ticket, outcome, event_id))
            return

    @staticmethod
    def _event_id(service: StationService, outcome: ScanOutcome, setup: StationSetup) -> int | None:
        """The id of the event this scan wrote, so the scanned list can page older rows."""
        from scanstation.domain.outcome import OutcomeKind
        from scanstation.domain.stages import Mode

        if setup.mode is Mode.LOOKUP or outcome.kind is OutcomeKind.ALREADY:
            return None  # nothing was written
        newest = service.repo.recent_events(station=setup.station_id, limit=1)
        return newest[0][0] if newest else None

    def _write(self, service: StationService, job: _Write) -> None:
        from scanstation.service import ServiceError, StoreError

        try:
            result, sentence = job.work(service)
        except (ServiceError, StoreError) as error:
            self._post(CommandFailed(job.what, str(error), job.request))
        except Exception as error:
            _log.exception("%s", job.what)
            self._post(CommandFailed(job.what, f"{type(error).__name__}: {error}", job.request))
        else:
            self._post(CommandDone(job.what, result, sentence, job.request))

    # -- reader thread ------------------------------------------------------------------------

    def _run_reader(self) -> None:
        self._ready.wait()
        while True:
            job = self._reads.get()
            if isinstance(job, _Stop):
                if self._service is not None:
                    _close_here(self._service)
                job.done.set()
                return
            service = self._service
            if service is None:
                continue  # the station failed to start; StationFailed was posted
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
                _log.exception("reading for the portlets")
                self._post(CommandFailed("read", f"Could not read the database: {error}"))

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
            view = service.repo.serial_view(serial_no)
            self._sku_cache[serial_no] = view.sku if view else None
        return self._sku_cache[serial_no]


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
