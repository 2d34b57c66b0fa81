"""ScanStationApp: wires the settings, the key capture, the worker and the station screen.

The app owns the station's state (mode, document, reason), turns captured bursts, the manual
field and pastes into scans, hands them to the worker in arrival order, and shows what comes
back: banner, bell, scanned list, portlets. It never touches the database itself.
"""

from __future__ import annotations

import gc
import logging
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events
from textual._time import get_time
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input

from scanstation.config import Settings
from scanstation.domain.codes import visible
from scanstation.domain.model import DocumentView, SiteView, utc_now
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import DocumentKind, Mode, SiteKind, modes_needing_reason
from scanstation.tui.capture import (
    BurstNotRead,
    FlushDue,
    KeyCapture,
    burst_sentence,
    wedge_settings,
)
from scanstation.tui.messages import (
    CommandDone,
    CommandFailed,
    DetailsLoaded,
    DetailsUnavailable,
    DocumentsLoaded,
    HistoryLoaded,
    JournalState,
    RefusedLoaded,
    ScanNotSaved,
    ScanProcessed,
    ScansReplayed,
    SiteChanged,
    StationFailed,
    StationReady,
)
from scanstation.tui.scan_worker import StationWorker
from scanstation.tui.screens.comment import CommentPrompt
from scanstation.tui.screens.document_form import DocumentDraft, DocumentForm
from scanstation.tui.screens.document_picker import DocumentChoice, DocumentPicker
from scanstation.tui.screens.help import HelpScreen, binding_rows
from scanstation.tui.screens.mode_picker import ModePicker, available_modes, mode_summary
from scanstation.tui.screens.reason import ReasonPrompt
from scanstation.tui.screens.station import StationScreen
from scanstation.tui.station_camera import StationCamera
from scanstation.tui.widgets.header import HeaderState

if TYPE_CHECKING:
    from scanstation.domain.model import ScanEvent
    from scanstation.domain.outcome import ScanOutcome
    from scanstation.service import StationService, StationSetup
    from scanstation.sources.wedge import Burst
    from scanstation.store.journal import Journal
    from scanstation.tui.station_camera import CameraChanged, CameraScanned
    from scanstation.tui.widgets.activity import ActivityLog
    from scanstation.tui.widgets.scanned import ScannedList

__all__ = ["ScanStationApp", "split_paste"]

_log = logging.getLogger(__name__)

FLUSH_TICK_S = 0.01  # how often buffered keys are checked against the detector's deadline
DETAILS_TICK_S = 0.03
DETAILS_QUIET_S = 0.1  # after a scan, the portlets follow once no scan came for this long
DETAILS_STALE_S = 2.0  # ... or at the latest this long after they were last read
SWITCH_INTERVAL_S = 0.0005
TIDY_EVERY_S = 20.0
TIDY_IDLE_S = 2.0
GC_FULL_EVERY = 100  # gen-1 collections between full ones (Python's default is 10)
BELL_SPACING_S = 0.18  # bells closer than this merge into one on most terminals
KEEP_OUTCOMES = 1000  # the latest outcomes, for tests and the benchmark


def split_paste(text: str) -> list[str]:
    """One scan a pasted line. Only CR/LF end a line: str.splitlines() would also cut at GS,
    RS and FS, which are data in GS1 codes. A lone CR counts, as terminals paste newlines as
    CR. Blank lines are skipped."""
    return [line for line in re.split(r"\r\n|\n|\r", text) if line.strip(" \t")]


class ScanStationApp(App[int]):
    """The scanning station."""

    TITLE = "scanstation"
    CSS_PATH = "station.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding(
            "ctrl+r",
            "refused",
            "Refused scans",
            show=False,
            tooltip="Scans saved offline that the rules refused on replay (the journal)",
        ),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        database_url: str,
        station_id: str | None = None,
        site: str | None = None,
        mode: str | None = None,
        operator: str | None = None,
        document: str | None = None,
        now: Callable[[], datetime] = utc_now,
        clock_text: str | None = None,
        service_factory: Callable[[], StationService] | None = None,
        journal: bool | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.database_url = database_url
        station = settings.station
        # The offline journal: None follows `[station] journal`.
        self.journal_enabled = station.journal if journal is None else journal
        self.journal_online = True
        self.journal_pending = 0  # scans saved on this terminal, not yet in the database
        self.journal_refused = 0
        self.replayed: deque[ScanOutcome] = deque(maxlen=KEEP_OUTCOMES)  # for tests
        self._offline_banner = False  # the banner says the station started offline
        self.station_id = station_id or station.id
        self.site_code = site or station.site
        self.mode = Mode(mode or station.mode)
        self.operator = operator or station.operator or _login_name()
        self.document: str | None = document or station.document or None
        self.reason: str | None = None
        self.site: SiteView | None = None
        self._now = now
        self._fixed_clock = clock_text
        self._switch_interval = sys.getswitchinterval()
        self._gc_threshold = gc.get_threshold()
        self._gc_tuned = False
        self._backend = "sqlite"
        self._service_factory = service_factory
        if settings.ui.theme and settings.ui.theme in self.available_themes:
            self.theme = settings.ui.theme
        elif settings.ui.theme:
            _log.warning(
                "[ui] theme %r is not a Textual theme; using the default", settings.ui.theme
            )

        self.worker: StationWorker | None = None
        self.capture = KeyCapture(
            wedge_settings(settings.scanner), self._wedge_scan, self._wedge_burst
        )
        self.camera = StationCamera(self, settings.camera)  # F5
        self.station = StationScreen(
            list(settings.ui.portlets), scanned_rows=settings.ui.scanned_rows
        )
        # Scans read before the worker started, with the station as it was when read.
        self._early: list[tuple[int, ScanEvent, StationSetup]] = []
        self._ticket = 0
        self._key_times: dict[int, float] = {}
        self._flush_posted = False
        self._details_request = 0
        self._details_in_flight = False
        self._details_wanted = 0  # how many times the portlets were asked to change
        self._details_sent = 0
        self._details_sent_at = 0.0
        self._last_scan_shown = 0.0
        self._shown_serial: str | None = None
        self._last_outcome: ScanOutcome | None = None
        self._not_saved_ticket: int | None = None
        self._db_state = ("opening", "db opening…")
        self._quit_armed = False
        self._bell_timers: list[Any] = []
        self._batch: list[ScanProcessed] = []
        self._documents_purpose: tuple[str, Mode | None] | None = None
        self.ready = False
        self.shown_document: DocumentView | None = None
        self.failed: str | None = None
        self.bells_rung = 0
        self.outcomes: deque[ScanOutcome] = deque(maxlen=KEEP_OUTCOMES)
        self.latencies: list[float] = []  # seconds: a burst's last key → its row on screen
        self.first_paint: float | None = None  # perf_counter() at the first refresh

    # -- start and stop -----------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return self.station

    def on_mount(self) -> None:
        # The writer thread gives up the GIL in every SQLite call and must win it back from a
        # UI thread that may be drawing; with Python's 5 ms switch interval each of those
        # waits can take 5 ms (a convoy), which capped a flood of scans at ~60/s.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._flush_timer = self.set_interval(FLUSH_TICK_S, self._wedge_tick, pause=True)
        self._details_timer = self.set_interval(DETAILS_TICK_S, self._details_tick, pause=True)
        self._update_header()
        self._tick_clock()
        if self._fixed_clock is None:
            self.set_interval(1.0, self._tick_clock)
        self.set_interval(TIDY_EVERY_S, self._tidy_memory)
        # The database opens after the first paint, in the worker: start-up stays fast.
        self.call_after_refresh(self._start_worker)

    def _start_worker(self) -> None:
        self.first_paint = time.perf_counter()
        self.worker = StationWorker(
            self._open_service,
            self.post_message,
            open_journal=self._open_journal if self.journal_enabled else None,
        )
        self.worker.start(self._setup())
        for ticket, event, setup in self._early:
            self.worker.submit_scan(ticket, event, setup)
        self._early.clear()

    def _open_service(self) -> StationService:
        if self._service_factory is not None:
            return self._service_factory()
        from scanstation.service import StationService

        return StationService.open(
            self.database_url,
            serial_case=self.settings.scanner.serial_case,
            max_payload=self.settings.scanner.max_payload,
        )

    def _open_journal(self) -> Journal:
        from scanstation.store.journal import Journal

        return Journal.for_station(self.station_id, self.database_url)

    def on_unmount(self) -> None:
        self.camera.shutdown()
        self.stop_worker()
        # Leave the interpreter as it was found (tests run many apps in one process).
        sys.setswitchinterval(self._switch_interval)
        if self._gc_tuned:
            gc.unfreeze()
            gc.set_threshold(*self._gc_threshold)

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    async def action_quit(self) -> None:
        if self.worker is not None and self.worker.journaled:
            self._quit_journaled(self.worker.pending + self.journal_pending)
            return
        pending = self.worker.pending if self.worker else 0
        if pending and not self._quit_armed:
            self._quit_armed = True
            self.notify(
                f"{pending} scan(s) are not saved yet. Press ctrl+q again to quit anyway "
                "(they will be lost).",
                title="Not saved",
                severity="error",
                markup=False,
            )
            return
        self.exit(0)

    @property
    def _shutting_down(self) -> bool:
        """The app is exiting: worker answers still arriving must not touch its widgets."""
        return self.return_code is not None or not self.station.is_attached

    def _setup(self, **changes: Any) -> StationSetup:
        from scanstation.service import StationSetup

        setup = StationSetup(
            station_id=self.station_id,
            site_code=self.site_code,
            mode=self.mode,
            operator=self.operator,
            document=self.document,
            reason=self.reason,
        )
        return replace(setup, **changes) if changes else setup

    # -- key capture --------------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        # Before bindings and before the focused widget: a scanner burst must never reach them.
        if isinstance(event, events.Key) and not event.is_forwarded:
            for key in self.capture.feed(event):
                await super().on_event(key)
            self._arm_flush()
            return
        if (
            isinstance(event, events.Paste)
            and not event.is_forwarded
            and self.screen is self.station
        ):
            for line in split_paste(event.text):
                self.submit_payload(line, "paste")
            return
        await super().on_event(event)

    def _arm_flush(self) -> None:
        if self.capture.pending:
            self._flush_timer.resume()
        else:
            self._flush_timer.pause()

    def _wedge_tick(self) -> None:
        deadline = self.capture.deadline()
        if deadline is None:
            self._flush_timer.pause()
        elif get_time() >= deadline and not self._flush_posted:
            self._flush_posted = True
            self.post_message(FlushDue())

    async def on_flush_due(self, message: FlushDue) -> None:
        self._flush_posted = False
        for key in self.capture.flush(message.time):
            await super().on_event(key)
        self._arm_flush()

    def _wedge_scan(self, payload: str, key_time: float) -> None:
        self.submit_payload(payload, "wedge", key_time=key_time)

    def _wedge_burst(self, burst: Burst) -> None:
        self.post_message(BurstNotRead(burst, burst_sentence(burst, self.settings.scanner)))

    def on_burst_not_read(self, message: BurstNotRead) -> None:
        # Keys handed back into a text field were seen there; anywhere else they did nothing.
        if not isinstance(self.focused, Input):
            self.notify(
                message.sentence, title="Not a scan", severity="warning", timeout=10, markup=False
            )

    # -- the camera (F5) ----------------------------------------------------------------------

    def action_toggle_camera(self) -> None:
        self.camera.toggle()

    def on_camera_scanned(self, message: CameraScanned) -> None:
        # the wedge's path: one writer, in arrival order, the same banner, bell and list
        self.submit_payload(message.event.payload, message.event.source)

    def on_camera_changed(self, message: CameraChanged) -> None:
        if not self._shutting_down:
            self.camera.changed(message)

    # -- scans --------------------------------------------------------------------------------

    def submit_payload(self, payload: str, source: str, *, key_time: float | None = None) -> int:
        """Queue one scan for the worker; returns its ticket."""
        from scanstation.domain.model import ScanEvent

        self._ticket += 1
        ticket = self._ticket
        event = ScanEvent(payload, source=source, read_at=self._now())
        self._key_times[ticket] = key_time if key_time is not None else get_time()
        if self.worker is None:
            self._early.append((ticket, event, self._setup()))
        else:
            self.worker.submit_scan(ticket, event, self._setup())
        return ticket

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is not self.station.manual:
            return
        event.stop()
        payload = event.value
        event.input.clear()
        if payload.strip(" \t"):
            self.submit_payload(payload, "manual")

    def on_scan_processed(self, message: ScanProcessed) -> None:
        outcome = message.outcome
        self.outcomes.append(outcome)
        if self._not_saved_ticket == message.ticket:
            self._not_saved_ticket = None
        scanned = self._scanned()
        if scanned is not None:
            scanned.add_scan(outcome, message.event_id, outcome.event.read_at, paint=False)
        self._batch.append(message)
        if len(self._batch) == 1:
            # Outcomes already queued behind this one join the batch: a burst of scans is
            # drawn once, not once per scan.
            self.call_later(self._show_batch)

    def _show_batch(self) -> None:
        batch, self._batch = self._batch, []
        if not batch or self._shutting_down:
            return
        last = batch[-1].outcome
        if self._not_saved_ticket is None:
            self._set_db(*self._db_now())
        scanned = self._scanned()
        if scanned is not None:
            scanned.refresh_rows()
        subject = last.serial_no or last.event.payload
        self.station.banner.show_outcome(last.kind.value, subject, last.message)
        # The bell of the worst outcome in the batch: an error is never drowned by an OK.
        self._ring(max((m.outcome.kind.value for m in batch), key=_severity))
        self._last_outcome = last
        self._last_scan_shown = get_time()
        if last.serial_no:
            self._show_serial(last.serial_no, after_scan=True)
        elif self.document:
            self._show_serial(None, after_scan=True)
        self.station.refresh_bindings()
        shown = [self._key_times.pop(m.ticket) for m in batch if m.ticket in self._key_times]
        if shown:
            self.call_after_refresh(self._mark_shown, shown)

    def _mark_shown(self, key_times: list[float]) -> None:
        now = get_time()
        if len(self.latencies) < 100_000:
            self.latencies.extend(now - key_time for key_time in key_times)

    def on_scan_not_saved(self, message: ScanNotSaved) -> None:
        if self._shutting_down:
            return
        first_failure = self._not_saved_ticket != message.ticket
        self._not_saved_ticket = message.ticket
        waiting = message.waiting
        self._set_db("not_saved", f"db NOT SAVED · {waiting} waiting")
        self.station.banner.show_outcome(
            "not_saved",
            message.event.payload,
            f"{message.error} — the scan is kept and retried in {message.retry_in:.0f} s "
            f"(F9 retries now) · {waiting} waiting",
        )
        if first_failure:
            self._ring("not_saved")
        self.station.refresh_bindings()

    def action_retry(self) -> None:
        if self.worker is not None:
            self.worker.retry_now()

    # -- the portlets -------------------------------------------------------------------------

    def _scanned(self) -> ScannedList | None:
        return self.station.portlet("scanned")  # type: ignore[return-value]

    def _show_serial(self, serial_no: str | None, *, after_scan: bool = False) -> None:
        """Show a serial (None: only the station's document) in the portlets.

        The banner and the scanned list are what a worker reads mid-burst; redrawing four
        portlets costs several times more than a scan, so after a scan the portlets follow
        once scanning pauses (DETAILS_QUIET_S), or at the latest every DETAILS_STALE_S. A row
        picked by hand is shown at once. One read is in flight at a time; the newest wins."""
        self._shown_serial = serial_no
        self._details_wanted += 1  # even the same serial: what it shows may have changed
        if after_scan:
            self._details_timer.resume()
        else:
            self._send_details()

    def _send_details(self) -> None:
        if self.worker is None or self._details_in_flight:
            return
        self._details_in_flight = True
        self._details_sent = self._details_wanted
        self._details_sent_at = get_time()
        self._details_request = self.worker.request_details(self._shown_serial, self.document)

    def _details_tick(self) -> None:
        if self._details_sent == self._details_wanted:
            self._details_timer.pause()
            return
        now = get_time()
        quiet = now - self._last_scan_shown >= DETAILS_QUIET_S
        stale = now - self._details_sent_at >= DETAILS_STALE_S
        if quiet or stale:
            self._send_details()

    def on_scanned_list_serial_selected(self, message: Any) -> None:
        self._show_serial(message.serial_no)

    def on_scanned_list_older_requested(self, message: Any) -> None:
        if self.worker is not None:
            self.worker.request_history(self.station_id, message.before_id)

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        if self._shutting_down:
            return
        scanned = self._scanned()
        if scanned is not None:
            scanned.add_history(message.rows, message.exhausted)

    def on_details_loaded(self, message: DetailsLoaded) -> None:
        if self._shutting_down:
            return
        if message.request != self._details_request:
            return  # a newer request is on its way
        self._details_in_flight = False
        if self._details_wanted != self._details_sent:
            self._details_timer.resume()
        station = self.station
        with self.batch_update():
            if (serial_detail := station.portlet("serial_detail")) is not None:
                serial_detail.show(message.serial)  # type: ignore[attr-defined]
            if (item_detail := station.portlet("item_detail")) is not None:
                item_detail.show(message.item)  # type: ignore[attr-defined]
            if (invoice := station.portlet("invoice")) is not None:
                invoice.show(message.document)  # type: ignore[attr-defined]
            if (activity := station.portlet("activity")) is not None:
                activity.show(message.serial, message.events)  # type: ignore[attr-defined]
        self.shown_document = message.document
        self.station.refresh_bindings()

    def on_details_unavailable(self, message: DetailsUnavailable) -> None:
        # The database is away: the portlets keep what they show; the next read may go out.
        if self._shutting_down or message.request != self._details_request:
            return
        self._details_in_flight = False
        if self._details_wanted != self._details_sent:
            self._details_timer.resume()

    def on_site_changed(self, message: SiteChanged) -> None:
        """Live refresh: a station (another, or this one) changed what is on screen; it is
        read again through the reader, debounced like the portlets after a scan."""
        if self._shutting_down or not self.ready:
            return
        shown = self.shown_document.reference_no if self.shown_document else None
        documents = {self.document, shown} & message.documents
        if self._shown_serial in message.serials or documents:
            self._show_serial(self._shown_serial, after_scan=True)

    # -- the offline journal ------------------------------------------------------------------

    def _show_offline_start(self, reason: str) -> None:
        from contextlib import suppress

        from scanstation.store.database import StoreError, parse_url

        with suppress(StoreError):  # a bad URL is what failed: the reason says so
            self._backend = parse_url(self.database_url).backend
        self.journal_online = False
        self._set_db(*self._db_now())
        self._offline_banner = True
        self.station.banner.show_idle(
            f"OFFLINE — {self.mode.value.upper()} at {self.site_code}",
            f"The site database is unreachable ({reason}). Scans are saved on this terminal "
            "and sent when it returns.",
        )

    def _db_now(self) -> tuple[str, str]:
        """The header's database state, journal included."""
        if not self.journal_enabled:
            return "ok", self._db_ok_text()
        refused = f" · {self.journal_refused} refused (^r)" if self.journal_refused else ""
        if not self.journal_online:
            return "offline", f"db OFFLINE · {self.journal_pending} saved here{refused}"
        if self.journal_pending:
            return "offline", f"db ok · sending {self.journal_pending} saved{refused}"
        return ("offline" if refused else "ok"), self._db_ok_text() + refused

    def on_journal_state(self, message: JournalState) -> None:
        if self._shutting_down:
            return
        back = message.online and not self.journal_online
        self.journal_online = message.online
        self.journal_pending = message.pending
        self.journal_refused = message.refused
        learned = message.site is not None and self.site is None
        if learned:
            self.site = message.site
        if self._not_saved_ticket is None:
            self._set_db(*self._db_now())
        else:
            self._update_header()
        if (back or learned) and self._offline_banner and self.station.banner.kind == "idle":
            self._offline_banner = False
            self._banner_ready()  # the "OFFLINE" of an offline start is over
        if back:
            self._show_serial(self._shown_serial, after_scan=True)  # it may be stale

    def on_scans_replayed(self, message: ScansReplayed) -> None:
        """Scans saved offline were decided: their rows show the outcome, refusals are said."""
        if self._shutting_down or not message.outcomes:
            return
        outcomes = message.outcomes
        self.replayed.extend(outcomes)
        scanned = self._scanned()
        if scanned is not None:
            for outcome in outcomes:
                # Scans journaled in an earlier session have no row here yet: they get one.
                if not scanned.settle_queued(outcome, None):
                    scanned.add_scan(outcome, None, outcome.event.read_at, paint=False)
            scanned.refresh_rows()
        refused = sum(1 for outcome in outcomes if not outcome.kind.is_success)
        self._offline_banner = False
        if self.station.banner.kind in ("queued", "idle"):
            sentence = f"{len(outcomes)} scan(s) saved on this terminal were sent"
            if refused:
                sentence += f"; {refused} refused by the rules — ctrl+r lists them"
            self.station.banner.show_idle("Back online", sentence)
        if refused:
            self._ring(OutcomeKind.REJECTED)
            self.notify(
                f"{refused} scan(s) saved offline were refused on replay: ctrl+r lists them "
                "for a supervisor",
                title="Refused on replay",
                severity="error",
                markup=False,
            )
        if outcomes[-1].serial_no:
            self._show_serial(outcomes[-1].serial_no, after_scan=True)

    def action_refused(self) -> None:
        if self.worker is None or not self.worker.journaled:
            self.notify("The offline journal is off at this station ([station] journal)")
            return
        self.worker.request_refused()

    def on_refused_loaded(self, message: RefusedLoaded) -> None:
        from scanstation.tui.screens.refused import RefusedScreen

        if self._shutting_down or isinstance(self.screen, RefusedScreen):
            return
        self.push_screen(RefusedScreen(message.entries), self._refused_seen)

    def _refused_seen(self, seqs: list[int] | None) -> None:
        if seqs and self.worker is not None:
            self.worker.acknowledge(seqs, self.operator)

    def _quit_journaled(self, waiting: int) -> None:
        """Scans not in the site database yet are in this terminal's journal (those still
        queued are put there as the worker stops): quitting loses nothing, and says so."""
        if waiting and not self._quit_armed:
            self._quit_armed = True
            self.notify(
                f"{waiting} scan(s) are not in the site database yet. They are saved in this "
                "terminal's offline journal and sent when the station starts again: quitting "
                "loses nothing. Press ctrl+q again to quit.",
                title="Saved on this terminal",
                severity="warning",
                markup=False,
            )
            return
        note = None
        if waiting:
            note = Text(
                f"scanstation: {waiting} scan(s) wait in this terminal's offline journal; "
                "they are sent when the station starts again (or `scanstation journal replay`)"
            )
        self.exit(0, message=note)

    # -- station state ------------------------------------------------------------------------

    def on_station_ready(self, message: StationReady) -> None:
        self.ready = True
        # A full garbage collection walks every object Textual keeps (100+ ms here): a scan
        # that lands on one waits that long. Objects alive now live as long as the app, so
        # they are moved out of the collector's sight; `_tidy_memory` repeats it when idle.
        gc.collect()
        gc.freeze()
        first, second, _ = gc.get_threshold()
        gc.set_threshold(first, second, GC_FULL_EVERY)
        self._gc_tuned = True
        self.site = message.site
        if message.offline is None:
            self._set_db("ok", self._db_ok_text(message.backend))
            self._backend = message.backend
            self._banner_ready()
        else:
            self._show_offline_start(message.offline)
        if message.document is not None or self.document:
            self._show_serial(None)
        if self.mode is Mode.DISPATCH and not self.document:
            self._ask_document(Mode.DISPATCH)
        elif self.mode in modes_needing_reason() and not self.reason:
            self._ask_reason_for(self.mode)

    def on_station_failed(self, message: StationFailed) -> None:
        self.failed = message.reason
        self._set_db("failed", "db error")
        self.station.banner.show_outcome("not_saved", "", message.reason)
        self.exit(2, return_code=2, message=Text(f"scanstation: {visible(message.reason)}"))

    def _db_ok_text(self, backend: str | None = None) -> str:
        return f"db ok ({backend or self._backend})"

    def _set_db(self, state: str, text: str) -> None:
        self._db_state = (state, text)
        self._update_header()

    def _update_header(self) -> None:
        state, text = self._db_state
        self.station.header.set_state(
            HeaderState(
                station=self.station_id,
                site=self.site_code,
                site_name=self.site.name if self.site else "",
                mode=self.mode.value,
                operator=self.operator,
                document=self.document,
                reason=self.reason,
                db=state,
                db_text=text,
            )
        )

    def _tidy_memory(self) -> None:
        """While nobody scans: a full collection of everything, frozen objects included (a
        widget frozen while alive and dropped later would otherwise never be reclaimed),
        then freeze what survives, so the collections during scanning stay small."""
        if (
            self._gc_tuned
            and get_time() - self._last_scan_shown >= TIDY_IDLE_S
            and not self.capture.pending
        ):
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    def _tick_clock(self) -> None:
        text = self._fixed_clock
        if text is None:
            text = datetime.now().strftime("%H:%M:%S")
        self.station.header.set_clock(text)

    def _banner_ready(self) -> None:
        kind = self.site.kind if self.site else None
        where = f"{self.site.name} ({self.site.code})" if self.site else self.site_code
        self.station.banner.show_idle(
            f"Ready — {self.mode.value.upper()} at {where}",
            f"{mode_summary(self.mode, kind)}. Scan a label.",
        )

    def _ring(self, kind: str) -> None:
        feedback = self.settings.feedback
        if not feedback.bell:
            return
        if kind == OutcomeKind.OK:
            count = feedback.bells_ok
        elif kind in (OutcomeKind.ALREADY, OutcomeKind.QUEUED):
            count = feedback.bells_already
        else:
            count = feedback.bells_error
        for timer in self._bell_timers:
            timer.stop()  # a new outcome's pattern replaces the one still ringing
        self._bell_timers = []
        for index in range(count):
            if index == 0:
                self._ring_once()
            else:
                self._bell_timers.append(self.set_timer(index * BELL_SPACING_S, self._ring_once))

    def _ring_once(self) -> None:
        self.bells_rung += 1
        self.bell()

    # -- modes --------------------------------------------------------------------------------

    def action_pick_mode(self) -> None:
        kind = self.site.kind if self.site else None
        self.push_screen(ModePicker(self.mode, kind), self._mode_picked)

    def _mode_picked(self, mode: Mode | None) -> None:
        if mode is not None:
            self.enter_mode(mode)

    def enter_mode(self, mode: Mode) -> None:
        """Switch mode, asking first for what the mode needs (a document, a reason)."""
        if mode is Mode.DISPATCH:
            self._ask_document(Mode.DISPATCH)
        elif mode in modes_needing_reason():
            self._ask_reason_for(mode)
        else:
            keep_document = self.document if mode is Mode.LOOKUP else None
            self._apply_mode(mode, document=keep_document, reason=None)

    def _apply_mode(self, mode: Mode, *, document: str | None, reason: str | None) -> None:
        self.mode, self.document, self.reason = mode, document, reason
        self._update_header()
        self._banner_ready()
        self._show_serial(self._shown_serial)
        self.station.refresh_bindings()

    def _ask_reason_for(self, mode: Mode) -> None:
        def chosen(reason: str | None) -> None:
            if reason:
                self._apply_mode(mode, document=None, reason=reason)

        self.push_screen(
            ReasonPrompt(
                f"{mode.value.upper()}: why?",
                f"Every serial scanned in {mode.value} mode is saved with this reason; "
                "F2 changes the mode, and with it the reason.",
            ),
            chosen,
        )

    # -- documents ----------------------------------------------------------------------------

    def action_pick_document(self) -> None:
        self._ask_document(self.mode if self.mode is Mode.DISPATCH else None)

    def _ask_document(self, for_mode: Mode | None) -> None:
        if self.worker is None or not self.ready:
            self.notify("The database is not open yet", severity="warning", markup=False)
            return
        self._documents_purpose = ("pick", for_mode)
        if for_mode is Mode.DISPATCH:
            self.worker.request_documents("pick", state="open", from_site=self.site_code)
        elif self.mode is Mode.RECEIVE:
            self.worker.request_documents("pick", state=None)  # a return cites a closed one
        else:
            self.worker.request_documents("pick", state="open")

    def on_documents_loaded(self, message: DocumentsLoaded) -> None:
        purpose = self._documents_purpose
        self._documents_purpose = None
        if purpose is None:
            return
        _, for_mode = purpose
        if for_mode is Mode.DISPATCH:
            title = f"DISPATCH from {self.site_code}: pick the open document to load against"
        elif self.mode is Mode.RECEIVE:
            title = "RECEIVE: cite a document (a return cites its original invoice)"
        else:
            title = "Show a document in Invoice Details"
        can_create = self.site is not None and (
            for_mode is Mode.DISPATCH or self.mode is not Mode.RECEIVE
        )
        self.push_screen(
            DocumentPicker(
                title, message.documents[-200:], current=self.document, allow_new=can_create
            ),
            partial(self._document_chosen, for_mode),
        )

    def _document_chosen(self, for_mode: Mode | None, choice: DocumentChoice | None) -> None:
        if choice is None:
            return
        mode = for_mode or self.mode
        if choice.action == "pick":
            reason = None if for_mode is Mode.DISPATCH else self.reason
            self._apply_mode(mode, document=choice.reference_no, reason=reason)
        elif choice.action == "new":
            self._open_document_form(for_mode)
        elif for_mode is Mode.DISPATCH:
            self.notify(
                "Dispatch needs a document: the mode was not changed",
                severity="warning",
                markup=False,
            )
        else:
            self._apply_mode(mode, document=None, reason=self.reason)

    def _document_kind(self) -> DocumentKind:
        plant = self.site is not None and self.site.kind is SiteKind.PLANT
        return DocumentKind.DC if plant else DocumentKind.INVOICE

    def _open_document_form(
        self, for_mode: Mode | None, draft: DocumentDraft | None = None, error: str = ""
    ) -> None:
        self.push_screen(
            DocumentForm(self._document_kind(), self.site_code, draft, error),
            partial(self._document_drafted, for_mode),
        )

    def _document_drafted(self, for_mode: Mode | None, draft: DocumentDraft | None) -> None:
        if draft is None or self.worker is None:
            return
        operator, site = self.operator, self.site_code

        def create(service: StationService) -> tuple[object, str]:
            document = service.add_document(
                kind=draft.kind,
                reference_no=draft.reference_no,
                from_site=site,
                to=draft.to,
                lines=list(draft.lines),
                dc_no=draft.dc_no or None,
                invoice_no=draft.invoice_no or None,
                by=operator,
            )
            return document, f"{document.reference_no} created"

        self.worker.submit_write("add_document", create, request=(for_mode, draft))

    def action_close_document(self) -> None:
        if not self.document:
            self.notify("No document is open at this station", markup=False)
            return
        self._close_document(self.document, None)

    def _close_document(self, reference_no: str, reason: str | None) -> None:
        if self.worker is None:
            return
        operator = self.operator

        def close(service: StationService) -> tuple[object, str]:
            document = service.document(reference_no)
            if document is not None and document.is_open and document.shortfall and not reason:
                return document, ""  # the UI asks for a reason, then comes back
            closed = service.close_document(reference_no, reason, by=operator)
            note = f" ({closed.shortfall} short: {reason})" if closed.shortfall else ""
            return closed, f"{reference_no} closed{note}"

        self.worker.submit_write("close_document", close, request=reference_no)

    def on_command_done(self, message: CommandDone) -> None:
        if self._shutting_down:
            return
        if message.what == "add_document":
            document = message.result
            assert isinstance(document, DocumentView)
            for_mode = message.request[0] if isinstance(message.request, tuple) else None
            reason = None if for_mode is Mode.DISPATCH else self.reason
            self._apply_mode(for_mode or self.mode, document=document.reference_no, reason=reason)
            self.notify(message.sentence, markup=False)
        elif message.what == "close_document":
            document = message.result
            assert isinstance(document, DocumentView)
            if document.is_open:
                self.push_screen(
                    ReasonPrompt(
                        f"{document.reference_no} is {document.shortfall} short — why close it?",
                        "Closing with a shortfall is recorded with this reason.",
                    ),
                    lambda reason: (
                        self._close_document(document.reference_no, reason) if reason else None
                    ),
                )
                return
            if self.document == document.reference_no:
                self.document = None
                self._update_header()
            self.notify(message.sentence, markup=False)
            if (invoice := self.station.portlet("invoice")) is not None:
                invoice.show(document)  # type: ignore[attr-defined]
            self.station.refresh_bindings()
        elif message.what == "comment":
            self.notify(message.sentence, markup=False)
            self._show_serial(self._shown_serial)
        elif message.what == "acknowledge":
            self.notify(message.sentence, markup=False)

    def on_command_failed(self, message: CommandFailed) -> None:
        if message.what == "add_document" and isinstance(message.request, tuple):
            for_mode, draft = message.request
            self._open_document_form(for_mode, draft, message.reason)
            return
        self.notify(message.reason, title="Not done", severity="error", markup=False)

    # -- comments and overrides ---------------------------------------------------------------

    def action_comment(self) -> None:
        if self._shown_serial:
            self._ask_comment(self._shown_serial)
        else:
            self.notify("Scan or pick a serial first", markup=False)

    def on_activity_log_comment_requested(self, message: ActivityLog.CommentRequested) -> None:
        self._ask_comment(message.serial_no)

    def _ask_comment(self, serial_no: str) -> None:
        def save(text: str | None) -> None:
            if not text or self.worker is None:
                return
            setup = self._setup()

            def comment(service: StationService) -> tuple[object, str]:
                return service.comment(serial_no, text, setup), f"Comment saved on {serial_no}"

            self.worker.submit_write("comment", comment, request=serial_no)

        self.push_screen(CommentPrompt(serial_no), save)

    def _override_target(self) -> ScanOutcome | None:
        outcome = self._last_outcome
        if (
            outcome is not None
            and self.mode is Mode.RECEIVE
            and outcome.kind is OutcomeKind.REJECTED
            and outcome.serial is not None
        ):
            return outcome
        return None

    def action_override(self) -> None:
        outcome = self._override_target()
        if outcome is None:
            self.notify("Nothing to override: that is for a refused receive", markup=False)
            return

        def chosen(reason: str | None) -> None:
            if reason and self.worker is not None:
                from scanstation.domain.model import ScanEvent

                self._ticket += 1
                event = ScanEvent(
                    outcome.event.payload, source=outcome.event.source, read_at=self._now()
                )
                self.worker.submit_scan(self._ticket, event, self._setup(reason=reason))

        self.push_screen(
            ReasonPrompt(
                f"Receive {outcome.serial_no} here by override",
                visible(outcome.message),
            ),
            chosen,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry":
            return self._not_saved_ticket is not None
        if action == "override":
            return self._override_target() is not None
        if action == "close_document":
            return self.document is not None
        if action == "comment":
            return self._shown_serial is not None
        return True

    # -- help and the command palette ---------------------------------------------------------

    def action_help(self) -> None:
        from scanstation.tui.widgets.activity import ActivityLog
        from scanstation.tui.widgets.scanned import ScannedList

        shown = self.get_key_display
        station_keys = binding_rows(StationScreen.BINDINGS, shown)
        sections = [
            ("Station", station_keys + binding_rows(self.BINDINGS, shown)),
            ("Scanned list", binding_rows(ScannedList.BINDINGS, shown)),
            ("Activity Log", binding_rows(ActivityLog.BINDINGS, shown)),
            ("Dialogs", [("⏎", "choose / save"), ("esc", "cancel")]),
        ]
        self.push_screen(HelpScreen(sections))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is not self.station:
            return
        kind = self.site.kind if self.site else None
        for mode in available_modes(kind):
            yield SystemCommand(
                f"Mode: {mode.value}", mode_summary(mode, kind), partial(self.enter_mode, mode)
            )
        yield SystemCommand(
            "Document: pick or create",
            "The document to dispatch against",
            self.action_pick_document,
        )
        if self.document:
            yield SystemCommand(
                "Document: close", f"Close {self.document}", self.action_close_document
            )
        yield SystemCommand("Help: keys", "Every key of the station", self.action_help)
        yield SystemCommand(
            "Camera: stop" if self.camera.on else "Camera: start",
            f"The camera as a scanner ({self.settings.camera.source})",
            self.action_toggle_camera,
        )
        yield SystemCommand("Pane: next", "Show the next portlet", self.station.action_next_portlet)
        yield SystemCommand(
            "Pane: maximise / restore", "The focused portlet", self.station.action_toggle_maximise
        )
        if self._shown_serial:
            yield SystemCommand(
                "Comment on the shown serial", self._shown_serial, self.action_comment
            )
        if self._not_saved_ticket is not None:
            yield SystemCommand("Retry unsaved scans now", "", self.action_retry)
        if self.journal_enabled:
            yield SystemCommand(
                "Journal: refused scans",
                "Scans saved offline that the rules refused on replay",
                self.action_refused,
            )
        if self._override_target() is not None:
            yield SystemCommand("Override: receive here", "Asks a reason", self.action_override)


_SEVERITY = {"ok": 0, "queued": 1, "already": 1}


def _severity(kind: str) -> int:
    return _SEVERITY.get(kind, 2)


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "operator"
