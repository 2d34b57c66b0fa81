"""JournaledStation: the Station that keeps scanning while the site database is unreachable.

It wraps a way to open the StationService and the station's Journal. A scan goes to the
service; when the database fails (or has not been reached yet) the scan is appended to the
journal, durably, and answered QUEUED "OFFLINE — N scans saved on this terminal". While
anything is pending, every new scan is journaled behind it (strict arrival order) and a replay
is attempted: each journaled scan is decided again under the rules, with its original scan id,
so a replay cut off halfway and restarted applies nothing twice.

Offline, a scan is first checked against what the journal last learnt online (the sites and
documents): an unknown site or document is the same usage error as online, and a scan the
rules refuse whatever the serial (scrap without a reason, register at a godown) is REJECTED at
once instead of queued. Each entry is sealed (journal_seal.py): an entry edited in the file is
not applied at replay but listed for a supervisor with the reason.

One writer at a time: every scanning method holds one lock, so the TUI's worker thread and the
CLI loop can use it as they are. Reads (Station's) never take it: they use the service that is
open, or say the database is unreachable. Reconnection is throttled (exponential back-off) so
that, offline, a scan is journaled at once instead of waiting for a connection attempt each time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress

from scanstation.domain.codes import visible
from scanstation.domain.model import ScanEvent, SiteView
from scanstation.domain.outcome import OutcomeKind, ScanOutcome
from scanstation.domain.stages import TRANSITIONS, Mode, Needs
from scanstation.domain.wording import MODE_GERUNDS, MODE_VERBS, REASON_HOW
from scanstation.service import ServiceError, StationService, StationSetup, StoreBusy, StoreError
from scanstation.station import Station
from scanstation.store.journal import (
    REFUSED_KINDS,
    Journal,
    JournalEntry,
    JournalMark,
    KnownCatalog,
    is_database_failure,
)

__all__ = ["JournaledStation", "offline_message", "offline_refusal"]

_log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 8.0
REPLAY_BATCH = 200  # entries decided between two journal commits

ServiceFactory = Callable[[], StationService]
ReplayListener = Callable[[list[ScanOutcome]], None]

BROKEN_SEAL = (
    "This scan was changed in the journal file after it was saved (its seal does not match "
    "the entry): it was not applied"
)


def offline_message(count: int) -> str:
    """The amber banner's sentence."""
    return f"OFFLINE — {count} scan{'' if count == 1 else 's'} saved on this terminal"


def setup_of(entry: JournalEntry) -> StationSetup:
    return StationSetup(
        station_id=entry.station_id,
        site_code=entry.site_code,
        mode=entry.mode,
        operator=entry.operator,
        document=entry.document,
        reason=entry.reason,
        # The person signed in when it was scanned: replay judges their role as online did
        # (None: an older journal, or no users then; with users now, it is set aside).
        role=entry.role,
        approved_by=entry.approved_by,
        approver_role=entry.approver_role,
    )


def check_known(known: KnownCatalog, setup: StationSetup) -> None:
    """Offline, the usage errors of `StationService.check_station`, from what was last known."""
    site = known.sites.get(setup.site_code)
    if site is None:
        codes = ", ".join(sorted(known.sites)) or "none yet"
        raise ServiceError(f"Unknown site {setup.site_code!r} (known sites: {codes})")
    if setup.document and setup.document not in known.documents:
        raise ServiceError(f"No document with reference no {setup.document!r}")


def offline_refusal(payload: str, mode: Mode, site: SiteView, reason: str | None) -> str:
    """The sentence of a scan the rules refuse whatever its serial, or "" (then only the
    site database can decide it). From the transition table and in the words of `decide()`:
    a mode never done at this kind of site, or one whose every move needs a reason."""
    if mode is Mode.LOOKUP:
        return ""
    rows = [r for r in TRANSITIONS if r.mode is mode and r.site_kind in (None, site.kind)]
    shown = visible(payload.strip(" \t\r\n"))[:40] or "This scan"
    if not rows:
        other = next((r.site_kind for r in TRANSITIONS if r.mode is mode and r.site_kind), None)
        return (
            f"{shown} cannot be {MODE_VERBS[mode]} here: {site.code} is a {site.kind}, and "
            f"{MODE_GERUNDS[mode]} is done at a {other}"
        )
    if all(r.needs is Needs.REASON for r in rows) and not (reason or "").strip():
        return f"{shown} is unchanged: {MODE_GERUNDS[mode]} needs a reason {REASON_HOW}"
    return ""


class _Offline(Exception):
    """The database failed during a replay: stop here, keep the rest pending."""


class JournaledStation(Station):
    """The StationService behind an offline journal. See the module docstring."""

    keeps_journal = True

    def __init__(
        self,
        open_service: ServiceFactory,
        journal: Journal,
        *,
        service: StationService | None = None,
        on_replay: ReplayListener | None = None,
        retry_first_s: float = RETRY_FIRST_S,
        retry_max_s: float = RETRY_MAX_S,
        replay_slice: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`open_service` is called (again) whenever there is no working service: at the first
        need, and after the database failed. `service` may hand in one already open.
        `on_replay` hears the outcomes of earlier journaled scans decided during `scan()`
        (their callers were answered QUEUED at the time); `replay()` returns its own.
        `replay_slice` bounds how many journaled scans one `scan()` or `replay_if_due()` call
        decides (None: all), so a long backlog drains in slices between a UI's new scans."""
        super().__init__()
        self._open_service = open_service
        self.journal = journal
        self.journal_path = journal.path
        self._service = service
        self._on_replay = on_replay
        self._retry_first = retry_first_s
        self._retry_max = retry_max_s
        self._clock = clock
        self._slice = replay_slice
        self._delay = retry_first_s
        self._next_try = 0.0
        self._lock = threading.RLock()
        self._last_error: str | None = None  # why the database was last unreachable

    # -- state the faces show -----------------------------------------------------------------

    def _current(self) -> StationService | None:
        return self._service  # reads never connect: the writer does, under its back-off

    @property
    def service(self) -> StationService | None:
        """The open service, if any (for tests; faces go through the Station's methods)."""
        return self._service

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @last_error.setter
    def last_error(self, value: str | None) -> None:
        self._last_error = value

    @property
    def pending(self) -> int:
        return self.journal.pending_count()

    pending_count = pending

    @property
    def database(self) -> str:
        return self.journal.database  # known offline too, and never with a password

    @property
    def backend(self) -> str:
        if self._service is not None:
            return super().backend
        # Offline: the journal's database identity is a file path or a postgresql:// address.
        return "postgresql" if self.journal.database.startswith("postgresql://") else "sqlite"

    def keep_for_later(self, event: ScanEvent, setup: StationSetup) -> bool:
        if setup.mode is Mode.LOOKUP:
            return False
        self.journal.append(event, setup)
        return True

    def refused(self, *, include_acknowledged: bool = False) -> list[JournalEntry]:
        """Journaled scans the rules refused on replay, not yet acknowledged by a supervisor."""
        return self.journal.refused(include_acknowledged=include_acknowledged)

    def acknowledge(self, seqs: list[int], by: str) -> int:
        return self.journal.acknowledge(seqs, by)

    def connect(self) -> bool:
        """Try the database now (no back-off); True when it answered."""
        with self._lock:
            return self._service_now(force=True) is not None

    def check_station(self, setup: StationSetup) -> SiteView | None:
        """Online, the database's answer; offline, the last known sites and documents (None
        when this journal never saw the database)."""
        with self._lock:
            service = self._service_now(force=False)
        if service is not None:
            try:
                return service.check_station(setup)
            except Exception as error:
                if not is_database_failure(error):
                    raise
                with self._lock:
                    self._went_offline(error)
        known = self.journal.known()
        if known is None:
            return None
        check_known(known, setup)
        return known.sites[setup.site_code]

    # -- scanning -----------------------------------------------------------------------------

    def scan(self, event: ScanEvent, setup: StationSetup) -> ScanOutcome:
        """Decide and record one scan, or journal it while the database is unreachable.

        Raises ServiceError for a usage problem (an unknown site, online or offline), and
        StoreError for a lookup while offline: a lookup changes nothing, so it is not queued.
        """
        with self._lock:
            if setup.mode is Mode.LOOKUP:
                return self._lookup(event, setup)
            if self.journal.has_pending():
                # Strict arrival order: nothing overtakes what is already waiting.
                refused = self._refused_offline(event, setup)
                if refused is not None:
                    return refused
                self.journal.append(event, setup)
                outcomes = self._replay(force=False, limit=self._slice)
                mine = next((o for o in outcomes if o.event.scan_id == event.scan_id), None)
                earlier = [o for o in outcomes if o is not mine]
                if earlier and self._on_replay is not None:
                    self._on_replay(earlier)
                return mine if mine is not None else self._queued(event)
            service = self._service_now(force=False)
            if service is not None:
                try:
                    outcome = service.scan(event, setup)
                except Exception as error:
                    if not is_database_failure(error):
                        raise
                    self._went_offline(error)
                else:
                    self._came_online()
                    return outcome
            refused = self._refused_offline(event, setup)
            if refused is not None:
                return refused
            # Nothing was recorded (StoreError's promise), or the answer was lost after a
            # commit: either way the scan id makes its replay apply at most once.
            self.journal.append(event, setup)
            return self._queued(event)

    def _refused_offline(self, event: ScanEvent, setup: StationSetup) -> ScanOutcome | None:
        """Offline: what can be judged without the site database (see the module docstring).
        Online (scans waiting behind a backlog), the database judges it at replay."""
        if self._service is not None:
            return None
        known = self.journal.known()
        if known is None:
            return None  # never online with this journal: nothing to judge against
        check_known(known, setup)
        sentence = offline_refusal(
            event.payload, setup.mode, known.sites[setup.site_code], setup.reason
        )
        return ScanOutcome(OutcomeKind.REJECTED, sentence, event) if sentence else None

    def _lookup(self, event: ScanEvent, setup: StationSetup) -> ScanOutcome:
        service = self._service_now(force=False)
        if service is None:
            raise StoreBusy(
                f"The site database is unreachable ({self.last_error}): "
                "a lookup cannot be answered offline"
            )
        try:
            return service.scan(event, setup)
        except Exception as error:
            if is_database_failure(error):
                self._went_offline(error)
            raise

    def _queued(self, event: ScanEvent) -> ScanOutcome:
        return ScanOutcome(OutcomeKind.QUEUED, offline_message(self.journal.pending_count()), event)

    # -- replay -------------------------------------------------------------------------------

    def replay(self, limit: int | None = None) -> list[ScanOutcome]:
        """Decide every pending journaled scan (or the first `limit`) again, in order, now.
        Stops (keeping the rest pending) when the database fails again; returns the outcomes
        of those decided."""
        with self._lock:
            return self._replay(force=True, limit=limit)

    def replay_if_due(self) -> list[ScanOutcome]:
        """`replay()` when the reconnect back-off allows it, else nothing: cheap enough for a
        timer (the TUI's idle tick) to call every second while scans are pending or the
        database is away. Also brings `online` back when the database returns."""
        with self._lock:
            return self._replay(force=False, limit=self._slice)

    def _replay(self, *, force: bool, limit: int | None) -> list[ScanOutcome]:
        outcomes: list[ScanOutcome] = []
        service = self._service_now(force=force)
        if service is None:
            return outcomes
        with self.journal.replay_lock() as mine:
            if not mine:
                return outcomes  # another process is replaying this journal right now
            last_seq = 0  # each entry is tried once a call, even if its mark did not stick
            while True:
                room = REPLAY_BATCH if limit is None else min(REPLAY_BATCH, limit - len(outcomes))
                batch = self.journal.pending(limit=room, after=last_seq) if room > 0 else []
                if not batch:
                    break
                last_seq = batch[-1].seq
                marks: list[JournalMark] = []
                try:
                    for entry in batch:
                        outcome, refused = self._replay_one(service, entry)
                        outcomes.append(outcome)
                        marks.append(
                            JournalMark(
                                entry.seq,
                                outcome.kind,
                                outcome.message,
                                outcome.serial_no,
                                refused,
                            )
                        )
                except _Offline:
                    return outcomes
                finally:
                    # A crash before this commit only means those entries are replayed again:
                    # their scan ids make that a no-op in the site database.
                    self.journal.mark(marks)
        self._came_online()
        return outcomes

    def _replay_one(self, service: StationService, entry: JournalEntry) -> tuple[ScanOutcome, bool]:
        event = entry.event
        if not entry.intact:
            # Edited in the file (an operator, a payload, a mode or a read time changed): it is
            # never applied, and the supervisor sees why.
            return ScanOutcome(OutcomeKind.REJECTED, BROKEN_SEAL, event), True
        try:
            # replay=True: the service judges it against what happened since it was read (a
            # newer change by another station wins; the scan is kept for a supervisor).
            outcome = service.scan(event, setup_of(entry), replay=True)
            refused = outcome.kind in REFUSED_KINDS
            if outcome.kind is OutcomeKind.ALREADY:
                refused = self._first_try_was_refused(service, entry.scan_id)
        except Exception as error:
            if is_database_failure(error):
                self._went_offline(error)
                raise _Offline from error
            # The site was unknown, or the database can never hold this scan as it is (a
            # permanent StoreError), or a bug: it must not block every scan queued behind it
            # forever. It is set aside on the supervisor's list, with the reason, never dropped.
            if isinstance(error, ServiceError | StoreError):
                return ScanOutcome(OutcomeKind.REJECTED, str(error), event), True
            _log.exception("replaying journaled scan %s", entry.scan_id)
            return ScanOutcome(
                OutcomeKind.REJECTED, f"This scan could not be replayed: {error!r}", event
            ), True
        return outcome, refused

    @staticmethod
    def _first_try_was_refused(service: StationService, scan_id: str) -> bool:
        """ALREADY for a scan id the site database already holds: an earlier replay (or the
        lost answer of the first try) recorded it. If that record was a refusal, the entry
        belongs on the supervisor's list like any other refusal."""
        recorded = service.recorded_outcome(scan_id)
        return recorded is not None and recorded in {kind.value for kind in REFUSED_KINDS}

    # -- connection ---------------------------------------------------------------------------

    def _service_now(self, *, force: bool) -> StationService | None:
        if self._service is not None:
            return self._service
        if not force and self._clock() < self._next_try:
            return None
        try:
            service = self._open_service()
        except Exception as error:
            # Not reaching the database is an outage whatever its cause (a server down, a
            # file on an unmounted share, a damaged file): the reason is shown, scans wait.
            if not isinstance(error, StoreError) and not is_database_failure(error):
                raise
            self._went_offline(error)
            return None
        self._service = service
        self._came_online()
        self._learn(service)
        return service

    def _learn(self, service: StationService) -> None:
        """Keep the sites and documents in the journal: what offline scans are checked
        against. A failure here is no outage of its own: the next use finds out."""
        try:
            sites = service.sites()
            documents = service.documents(state=None)
            self.journal.remember(sites, documents)
        except Exception as error:
            if not is_database_failure(error):
                _log.exception("remembering the sites and documents")

    def _went_offline(self, error: BaseException) -> None:
        first_line = (str(error).strip().splitlines() or [repr(error)])[0]
        self.last_error = first_line
        if self._service is not None:
            # Its connection is broken; a fresh service (and pool) is opened on the next try.
            with suppress(Exception):
                self._service.close()
            self._service = None
        self._next_try = self._clock() + self._delay
        self._delay = min(self._delay * 2, self._retry_max)

    def _came_online(self) -> None:
        self.last_error = None
        self._delay = self._retry_first
        self._next_try = 0.0

    def _catalog_changed(self) -> None:
        service = self._service
        if service is not None:
            self._learn(service)

    def close(self) -> None:
        with self._lock:
            self.release_thread()
            if self._service is not None:
                with suppress(Exception):
                    self._service.close()
                self._service = None
            self.journal.close()
