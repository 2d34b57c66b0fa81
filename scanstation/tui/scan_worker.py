"""The station's database work, off the UI thread: one writer thread, one reader thread.

The writer takes scans and other writes from one FIFO queue and does them strictly in arrival
order. A scan the database refused (StoreError, StoreBusy, anything unexpected) stays at the
head of the queue: it is retried with back-off (or at once on `retry_now`), and nothing behind
it overtakes it, so scans are never reordered and never dropped.

The reader answers what the portlets show (serial, item, events, document), older history pages
and document lists. It never writes. Detail requests supersede each other: while scans pour in,
only the newest request is read, so a slow item summary over a million serials never queues up.

Both threads go through one Station (the door, scanstation/station.py), opened by the writer
with `open_station`; each thread has its own connection behind it. Results go back with `post`,
which must be thread-safe (`App.post_message` is).

With the offline journal the station is a JournaledStation: while the site database is
unreachable a scan is saved in the journal and answered QUEUED instead of NOT SAVED; when idle,
the writer tries to replay what waits. Reads then say the database is unreachable. A third
thread, the live refresh, tells the app what other stations changed (see live_refresh.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scanstation.domain.codes import load_gs1_reader
from scanstation.domain.outcome import OutcomeKind, ScanOutcome
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
from scanstation.tui.people import read_people

if TYPE_CHECKING:
    from textual.message import Message

    from scanstation.domain.model import DocumentView, ScanEvent, SiteView
    from scanstation.station import Station, StationSetup

_log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0
HISTORY_PAGE = 50
IDLE_TICK_S = 0.25  # journal: how often an idle writer looks whether it can replay
REPLAY_SLICE = 200  # journal: scans replayed between two looks at the queue
# Journal: time to save what is still queued before the app exits; above the store's write
# budget (5 s), so a scan stuck on a hanging database still reaches the journal.
JOURNAL_STOP_S = 8.0
GS1_LOAD_AFTER_S = 1.0  # after the station is ready

Post = Callable[["Message"], Any]
# open_station with the settings bound: called with on_replay= and replay_slice=.
StationFactory = Callable[..., "Station"]


@dataclass(frozen=True, slots=True)
class _Scan:
    ticket: int
    event: ScanEvent
    setup: StationSetup


@dataclass(frozen=True, slots=True)
class _Write:
    what: str
    work: Callable[[Station], tuple[object, str]]
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
    """Owns every use of the Station for one station app."""

    def __init__(
        self,
        open_station: StationFactory,
        post: Post,
        *,
        journaled: bool = False,
        live_refresh: bool = True,
    ) -> None:
        self._open_station = open_station
        self._post = post
        self._journaled = journaled
        self._writes: queue.Queue[_Scan | _Write | _Acknowledge | _Stop] = queue.Queue()
        self._reads: queue.Queue[_Details | _History | _Documents | _Refused | _Stop] = (
            queue.Queue()
        )
        self._station: Station | None = None  # opened by the writer thread
        self._ready = threading.Event()
        self._retry_now = threading.Event()
        self._stopping = False
        self._latest_details = 0
        self._unsaved = 0  # scans submitted and not yet answered
        self._lock = threading.Lock()
        self._sku_cache: dict[str, str | None] = {}
        self._make_setup: Callable[[], StationSetup] | None = None
        self._writer_setup: StationSetup | None = None
        # The journal's state as last posted: (online, pending, refused, reason, site).
        self._journal_state: tuple[bool, int, int, str | None, SiteView | None] | None = None
        self._refused: int | None = None  # None: count again
        self._site: SiteView | None = None
        self._site_refused = False
        self._writer = threading.Thread(target=self._run_writer, name="scan-writer", daemon=True)
        self._reader = threading.Thread(target=self._run_reader, name="scan-reader", daemon=True)
        self._live = LiveRefresh(self.current_station, post, self._ready) if live_refresh else None

    # -- UI side ------------------------------------------------------------------------------

    def start(self, setup: Callable[[], StationSetup]) -> None:
        """Open the station in the writer thread, checked as `setup()` says then: making a
        StationSetup loads the store, which must not hold up the UI thread."""
        self._make_setup = setup
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
        return self._journaled

    def current_station(self) -> Station | None:
        """The door, once the writer opened it."""
        return self._station

    def submit_scan(self, ticket: int, event: ScanEvent, setup: StationSetup) -> None:
        with self._lock:
            self._unsaved += 1
        self._writes.put(_Scan(ticket, event, setup))

    def submit_write(
        self,
        what: str,
        work: Callable[[Station], tuple[object, str]],
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
        assert self._make_setup is not None
        setup = self._writer_setup = self._make_setup()
        opened = self._open(setup)
        self._ready.set()
        if not opened:
            return
        idle = IDLE_TICK_S if self._journaled else None
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

    def _open(self, setup: StationSetup) -> bool:
        """Open the door and check the station's site and document. With the journal an
        unreachable database is no failure: the site is then checked against what the
        journal last learnt online."""
        from scanstation.station import JournalError, ServiceError, StoreError

        try:
            station = self._open_station(on_replay=self._replayed, replay_slice=REPLAY_SLICE)
        except (StoreError, JournalError) as error:
            self._post(StationFailed(str(error)))
            return False
        except Exception as error:
            _log.exception("opening the station")
            self._post(StationFailed(f"The station could not start: {error}"))
            return False
        try:
            site, document = self._check_station(station, setup)
        except (ServiceError, StoreError) as error:  # an unknown site or document; no database
            station.close()
            self._post(StationFailed(str(error)))
            return False
        except Exception as error:
            _log.exception("opening the station")
            station.close()
            self._post(StationFailed(f"The station could not start: {error}"))
            return False
        self._station = station
        offline = None
        if not station.online:
            offline = station.last_error or "the site database is unreachable"
        self._site = site if station.online else None  # offline: checked again once it answers
        has_users, users, demo = read_people(station) if station.online else (None, [], False)
        self._post(
            StationReady(
                site,
                document,
                station.backend,
                offline=offline,
                has_users=has_users,
                users=tuple(users),
                demo=demo,
            )
        )
        if self._journaled:
            # What a killed or offline session left in the journal replays on the idle ticks.
            self._post_journal_state(force=True)
        # GS1 reading loads once the screen the station opens on (sign-in, say) is drawn: an
        # import now would take the GIL from the UI thread drawing it.
        warm = threading.Timer(GS1_LOAD_AFTER_S, load_gs1_reader)
        warm.daemon = True
        warm.start()
        return True

    @staticmethod
    def _check_station(
        station: Station, setup: StationSetup
    ) -> tuple[SiteView | None, DocumentView | None]:
        from scanstation.station import is_database_failure

        station.connect()
        site = station.check_station(setup)
        if not station.online or not setup.document:
            return site, None
        try:
            return site, station.document(setup.document)
        except Exception as error:
            if not station.keeps_journal or not is_database_failure(error):
                raise
            return site, None

    def _scan_until_saved(self, job: _Scan) -> None:
        station = self._station
        assert station is not None
        delay = RETRY_FIRST_S
        while True:
            try:
                outcome = station.scan(job.event, job.setup)
            except Exception as error:
                from scanstation.station import is_database_failure  # loaded after first paint

                if not is_database_failure(error):
                    self._refused_for_good(job, error)
                    return
                # The database failed: the scan is kept at the head of the queue.
                if self._stopping:
                    self._keep_for_later(job)
                    return
                if self._journaled and job.setup.mode is Mode.LOOKUP:
                    # A lookup records nothing: offline, it is answered, not kept.
                    self._answered()
                    self._post(CommandFailed("lookup", str(error)))
                    return
                self._post(ScanNotSaved(job.ticket, job.event, str(error), delay, self.pending))
                self._retry_now.wait(delay)
                self._retry_now.clear()
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self._answered()
            self._post(ScanProcessed(job.ticket, outcome, outcome.event_id))
            if self._journaled:
                self._after_journaled_scan(outcome)
            return

    def _refused_for_good(self, job: _Scan, error: Exception) -> None:
        """The scan can never succeed as it is (a setup the database cannot hold, a value it
        refuses) or hit a bug: answered now with the sentence why, never retried, so the
        scans behind it go on. Nothing of it was recorded."""
        from scanstation.station import ServiceError, StoreError

        if not isinstance(error, ServiceError | StoreError):
            _log.exception("scan %s", job.event.scan_id)
        self._answered()
        refusal = ScanOutcome(OutcomeKind.REJECTED, f"Not saved: {error}", job.event)
        self._post(ScanProcessed(job.ticket, refusal, None))

    def _answered(self) -> None:
        with self._lock:
            self._unsaved -= 1

    def _keep_for_later(self, job: _Scan) -> None:
        """The app is exiting and this scan could not be decided: with the journal it is
        saved there (replayed at the next start), so quitting loses nothing."""
        station = self._station
        if station is None or job.setup.mode is Mode.LOOKUP:
            return
        try:
            kept = station.keep_for_later(job.event, job.setup)
        except Exception:
            _log.exception("saving scan %s in the journal at exit", job.event.scan_id)
            return
        if kept:
            self._answered()

    def _write(self, job: _Write) -> None:
        from scanstation.station import ServiceError, StoreError

        station = self._station
        assert station is not None
        try:
            result, sentence = job.work(station)
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
                self._station.close()  # this thread's connection (and the journal)
            except Exception:
                _log.exception("closing the station")

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
        from scanstation.station import ServiceError, is_database_failure

        station = self._station
        setup = self._writer_setup
        if self._site is not None or self._site_refused or station is None or setup is None:
            return
        if not station.online:
            return
        try:
            self._site = station.check_station(setup)
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
            station.pending,
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
            count = self._station.acknowledge(list(job.seqs), job.by)
        except Exception as error:
            self._post(CommandFailed("acknowledge", str(error)))
            return
        self._refused = None
        self._post(CommandDone("acknowledge", count, f"{count} refused scan(s) acknowledged"))
        self._post_journal_state()

    # -- reader thread ------------------------------------------------------------------------

    def _run_reader(self) -> None:
        self._ready.wait()
        while True:
            job = self._reads.get()
            station = self._station
            if isinstance(job, _Stop):
                if station is not None:
                    station.release_thread()  # this thread's connection
                job.done.set()
                return
            if isinstance(job, _Refused):
                self._read_refused()
                continue
            if station is None or not station.online:
                self._unavailable(job, station.last_error if station is not None else None)
                continue
            try:
                if isinstance(job, _Details):
                    if job.request == self._latest_details:  # a newer request supersedes it
                        self._details(station, job)
                elif isinstance(job, _History):
                    self._history(station, job)
                else:
                    documents = station.documents(state=job.state, from_site=job.from_site)
                    self._post(DocumentsLoaded(documents, job.purpose))
            except Exception as error:
                self._read_failed(job, error)

    def _read_failed(self, job: _Details | _History | _Documents, error: Exception) -> None:
        from scanstation.station import is_database_failure

        if self._journaled and is_database_failure(error):
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

    def _details(self, station: Station, job: _Details) -> None:
        serial = station.serial(job.serial_no) if job.serial_no else None
        item = station.item(serial.sku) if serial else None
        events = station.events(serial.serial_no) if serial else []
        reference = job.document or (serial.document if serial else None)
        progress = station.document_progress(reference) if reference else None
        document = progress.document if progress else None
        self._post(DetailsLoaded(job.request, serial, item, events, document, progress))

    def _history(self, station: Station, job: _History) -> None:
        page = station.history(station=job.station, limit=job.limit, before_id=job.before_id)
        rows = [
            HistoryRow(event_id, event, self._sku(station, event.serial_no))
            for event_id, event in page
        ]
        self._post(HistoryLoaded(rows, exhausted=len(page) < job.limit))

    def _sku(self, station: Station, serial_no: str | None) -> str | None:
        if serial_no is None:
            return None
        if serial_no not in self._sku_cache:
            view = station.serial(serial_no)
            self._sku_cache[serial_no] = view.sku if view else None
        return self._sku_cache[serial_no]


def _unreachable(reason: str | None) -> str:
    detail = f" ({reason})" if reason else ""
    return f"The site database is unreachable{detail}: not available offline"
