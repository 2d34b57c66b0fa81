"""The station screen: header, banner, the manual entry field, the portlets and the footer,
and the station's behaviour.

It owns the station's state (mode, document, reason), starts the worker once it has been
painted, takes every answer the worker posts, and shows it through small collaborators:
`ScanIntake` (scans in), `Feedback` (banner and bell), `DetailReads` (what the portlets
show), `DatabaseStatus` (the header's database part) and `StationDialogs` (mode, document,
comment and override flows). The app only captures keys and starts and stops things.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, Label

from scanstation.domain.model import DocumentView
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode, modes_needing_reason
from scanstation.domain.text import visible
from scanstation.tui.actions import station_bindings
from scanstation.tui.compositor import ChangedRowsCompositor
from scanstation.tui.corrections import REOPEN, StationCorrections
from scanstation.tui.db_status import DatabaseStatus
from scanstation.tui.details import DetailReads
from scanstation.tui.dialogs import DOCUMENT_MODES, StationDialogs
from scanstation.tui.feedback import Answer, Feedback
from scanstation.tui.intake import ScanIntake
from scanstation.tui.journal_view import JournalDisplay
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
from scanstation.tui.people import StationPeople
from scanstation.tui.scan_worker import StationFactory, StationWorker
from scanstation.tui.screens.dialog import TopRowsClear
from scanstation.tui.screens.help import HelpScreen
from scanstation.tui.station_camera import CameraChanged, CameraScanned, StationCamera
from scanstation.tui.supervisor import SupervisorActions
from scanstation.tui.widgets.banner import Banner
from scanstation.tui.widgets.deck import PortletDeck, make_portlets
from scanstation.tui.widgets.footer import StationFooter
from scanstation.tui.widgets.header import StationHeader
from scanstation.tui.widgets.problem import ProblemStrip

if TYPE_CHECKING:
    from scanstation.config import Settings
    from scanstation.domain.outcome import ScanOutcome
    from scanstation.tui.probe import StationHooks
    from scanstation.tui.station_state import StationState
    from scanstation.tui.widgets.activity import ActivityLog
    from scanstation.tui.widgets.invoice import InvoiceDetails
    from scanstation.tui.widgets.portlet import Portlet
    from scanstation.tui.widgets.scanned import ScannedList

__all__ = ["StationScreen"]

_log = logging.getLogger(__name__)


class StationScreen(SupervisorActions, Screen[None]):
    """The one screen a station shows all day."""

    AUTO_FOCUS = None  # the scanned list takes the focus once it is mounted

    # Footer text is short (80 columns); the tooltip is what F1 shows.
    BINDINGS: ClassVar[list[BindingType]] = list(station_bindings())

    def __init__(
        self,
        settings: Settings,
        state: StationState,
        *,
        database_url: str,
        open_station: StationFactory,
        journaled: bool,
        hooks: StationHooks,
        on_ready: Callable[[], None],
        clock_text: str | None = None,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(id="station")
        self._compositor = ChangedRowsCompositor()  # a scan's frame draws what it changed
        self.settings = settings
        self.state = state
        self.database_url = database_url
        self.hooks = hooks
        self._open_station = open_station
        self._journaled = journaled
        self._on_ready = on_ready
        self._now = now
        feedback = settings.feedback
        self.header = StationHeader(clock_text=clock_text, id="header")
        self.banner = Banner(
            now=now,
            stale_after_s=feedback.stale_after_s,
            big=settings.station.kiosk,
            id="banner",
        )
        self.problem = ProblemStrip(now, id="problem")
        self.manual = Input(
            placeholder="type a serial by hand, then Enter (scans need no click here)",
            id="manual",
            compact=True,
            max_length=4096,
        )
        ui = settings.ui
        self.deck = PortletDeck(
            make_portlets(list(ui.portlets), scanned_rows=ui.scanned_rows), id="portlets"
        )
        self.worker: StationWorker | None = None
        self.ready = False
        self.failed: str | None = None
        self.db = DatabaseStatus(journal_enabled=journaled)
        self.feedback = Feedback(self, self.banner, self.problem, feedback, hooks, now)
        self.intake = ScanIntake(
            state,
            hooks,
            now,
            on_sent=self.feedback.scan_read,
            on_held=lambda count: self.dialogs.held_changed(count),
            divert=lambda payload: self.people.divert(payload) or self.dialogs.divert_scan(payload),
        )
        self.details = DetailReads(self, lambda: self.state.document)
        self.dialogs = StationDialogs(self)
        self.corrections = StationCorrections(self)
        self.people = StationPeople(self, settings.station.idle_signout_min)  # holds scans
        self.journal = JournalDisplay(self)
        self.camera = StationCamera(self, settings.camera)  # F5
        self.shown_document: DocumentView | None = None
        self._last_outcome: ScanOutcome | None = None
        self._batch: list[Answer] = []

    # -- typed access to the parts -------------------------------------------------------------

    @property
    def portlets(self) -> list[Portlet]:
        return self.deck.portlets

    def portlet(self, portlet_id: str) -> Portlet | None:
        return self.deck.portlet(portlet_id)

    @property
    def scanned(self) -> ScannedList | None:
        from scanstation.tui.widgets.scanned import ScannedList

        return self.deck.find(ScannedList)

    @property
    def activity(self) -> ActivityLog | None:
        from scanstation.tui.widgets.activity import ActivityLog

        return self.deck.find(ActivityLog)

    @property
    def invoice(self) -> InvoiceDetails | None:
        from scanstation.tui.widgets.invoice import InvoiceDetails

        return self.deck.find(InvoiceDetails)

    @property
    def wide(self) -> bool:
        return self.deck.wide

    @property
    def shown_serial(self) -> str | None:
        return self.details.serial_no

    # -- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.banner
        yield self.problem
        with Horizontal(id="manual-row"):
            yield Label(Content("Manual entry ›"), id="manual-label")
            yield self.manual
        yield self.deck
        yield StationFooter()

    def on_mount(self) -> None:
        self._apply_layout(self.size.width, self.size.height)
        self._mode_shown()
        home = self.deck.home
        (home or self.manual).focus()
        self.update_header()
        # The database opens after the first paint, in the worker: start-up stays fast.
        self.call_after_refresh(self._start_worker)
        self.top_rows = TopRowsClear(
            self, lambda: (self.problem if self.problem.shown else self.banner).region.bottom
        )
        self.set_interval(self.people.tick_every_s, self.people.tick)

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        self.deck.apply_layout(width, height)
        self.banner.set_class(self.deck.wide, "-roomy")
        footer = self.query_one(StationFooter)
        footer.compact = width < 100
        footer.show_command_palette = width >= 100 and not self.settings.station.kiosk
        self.refresh_bindings()

    def add_portlet(self, portlet: Portlet) -> None:
        """Add a portlet the config did not name (the camera's, once the camera is started)."""
        self.deck.add(portlet)
        self._apply_layout(self.size.width, self.size.height)

    # -- the worker ----------------------------------------------------------------------------

    def _start_worker(self) -> None:
        self.hooks.first_paint()
        self.feedback.start()
        self.worker = StationWorker(
            self._open_station, self.post_message, journaled=self._journaled
        )
        self.worker.start(self.state.setup)
        self.details.start(self.worker)
        self.intake.attach(self.worker)

    def stop(self) -> None:
        """The app is ending: the camera and the worker stop (queued scans are kept)."""
        self.camera.shutdown()
        if self.worker is not None:
            self.worker.stop()

    @property
    def shutting_down(self) -> bool:
        """The app is exiting: worker answers still arriving must not touch its widgets."""
        return self.app.return_code is not None or not self.is_attached

    @property
    def idle_since(self) -> float:
        """When a scan was last answered (Textual's clock)."""
        return self.details.last_scan_at

    # -- starting ------------------------------------------------------------------------------

    def on_station_ready(self, message: StationReady) -> None:
        self.ready = True
        self._on_ready()
        self.state.site = message.site
        if message.offline is None:
            self.db.opened(message.backend)
            self.feedback.ready(self.state)
        else:
            self.journal.offline_start(message.offline, message.backend)
        self.update_header()
        if message.document is not None or self.state.document:
            self.details.show(None)
        self.read_site_names()
        if self.state.mode is Mode.DISPATCH and not self.state.document:
            self.dialogs.ask_document(Mode.DISPATCH)
        elif self.state.mode in modes_needing_reason() and not self.state.reason:
            self.dialogs.ask_reason_for(self.state.mode)
        # over any dialog: first
        self.people.ready(message.has_users, list(message.users), demo=message.demo)

    def on_station_failed(self, message: StationFailed) -> None:
        self.failed = message.reason
        self.db.failed()
        self.update_header()
        self.feedback.failed(message.reason)
        self.app.exit(2, return_code=2, message=Text(f"scanstation: {visible(message.reason)}"))

    # -- scans ---------------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is not self.manual:
            return
        event.stop()
        payload = event.value
        event.input.clear()
        if payload.strip(" \t"):
            self.intake.submit(payload, "manual")
        # One code at a time: back to the list, where the keys of the station work again.
        if self.deck.home is not None:
            self.deck.home.focus()

    def on_camera_scanned(self, message: CameraScanned) -> None:
        # the wedge's path: one writer, in arrival order, the same banner, bell and list
        self.intake.submit(message.event.payload, message.event.source)

    def on_camera_changed(self, message: CameraChanged) -> None:
        if not self.shutting_down:
            self.camera.changed(message)

    def on_scan_processed(self, message: ScanProcessed) -> None:
        self.db.answered(message.ticket)
        outcome = message.outcome
        sent = self.intake.answered(message.ticket)
        looked_up = sent is not None and sent.mode is Mode.LOOKUP
        kind = "lookup" if looked_up and outcome.kind is OutcomeKind.OK else outcome.kind.value
        if outcome.needs_role is not None and sent is not None:
            self.people.approve_scan(outcome, sent)  # a supervisor may let it pass, now
        scanned = self.scanned
        if scanned is not None:
            at = outcome.event.read_at
            scanned.add_scan(outcome, message.event_id, at, kind=kind, paint=False)
        self._batch.append(Answer(message.ticket, kind, outcome))
        if len(self._batch) == 1:
            # Outcomes already queued behind this one join the batch: a burst of scans is
            # drawn once, not once per scan.
            self.call_later(self._show_batch)

    def _show_batch(self) -> None:
        batch, self._batch = self._batch, []
        if not batch or self.shutting_down:
            return
        outcomes = [answer.outcome for answer in batch]
        last = outcomes[-1]
        self.db.scans_shown()
        self.update_header()
        scanned = self.scanned
        if scanned is not None:
            scanned.refresh_rows()
        self.feedback.answers(batch)
        self._last_outcome = last
        self.details.scan_shown(last.serial_no)
        self.refresh_bindings()
        self.hooks.scans_shown([answer.ticket for answer in batch], outcomes)
        if last.kind is OutcomeKind.UNKNOWN and self.state.mode in DOCUMENT_MODES:
            self.dialogs.find_scanned_document(last.event.payload)

    def on_scan_not_saved(self, message: ScanNotSaved) -> None:
        if self.shutting_down:
            return
        first = self.db.not_saved(message.ticket, message.waiting)
        self.update_header()
        self.feedback.not_saved(message.ticket, message.event, message.retry_in, message.waiting)
        if first:
            # The worker reads the sentence; the cause is for whoever fixes the database.
            _log.warning("scan %s not saved: %s", message.event.scan_id, message.error)
            self.note(f"NOT SAVED {visible(message.event.payload)}: {message.error}")
            self.feedback.ring("not_saved")
        self.refresh_bindings()

    def note(self, text: str) -> None:
        """A station note (a technical cause, say) in the Activity Log."""
        activity = self.activity
        if activity is not None:
            activity.note(text, self._now())

    # -- dialogs never cover the top rows ------------------------------------------------------

    def on_screen_suspend(self) -> None:
        self.top_rows.covered()

    def on_screen_resume(self) -> None:
        self.top_rows.uncovered()

    # -- the portlets --------------------------------------------------------------------------

    def on_scanned_list_serial_selected(self, message: ScannedList.SerialSelected) -> None:
        self.details.show(message.serial_no)

    def on_scanned_list_older_requested(self, message: ScannedList.OlderRequested) -> None:
        if self.worker is not None:
            self.worker.request_history(self.state.station_id, message.before_id)

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        scanned = self.scanned
        if not self.shutting_down and scanned is not None:
            scanned.add_history(message.rows, message.exhausted)

    def on_details_loaded(self, message: DetailsLoaded) -> None:
        if self.shutting_down or not self.details.accept(message):
            return
        self.deck.show_details(message)
        self.shown_document = message.document
        self.refresh_bindings()

    def on_details_unavailable(self, message: DetailsUnavailable) -> None:
        # The database is away: the portlets keep what they show; the next read may go out.
        if not self.shutting_down:
            self.details.accept(message)

    def on_site_changed(self, message: SiteChanged) -> None:
        """Live refresh: a station (another, or this one) changed what is on screen; it is
        read again through the reader, debounced like the portlets after a scan."""
        if self.shutting_down or not self.ready:
            return
        shown = self.shown_document.reference_no if self.shown_document else None
        documents = {self.state.document, shown} & message.documents
        if self.details.serial_no in message.serials or documents:
            self.details.again()

    def on_activity_log_comment_requested(self, message: ActivityLog.CommentRequested) -> None:
        self.dialogs.ask_comment(message.serial_no)

    # -- the offline journal -------------------------------------------------------------------

    def on_journal_state(self, message: JournalState) -> None:
        if not self.shutting_down:
            self.journal.state(message)
            if message.online:
                self.people.check_again()

    def on_scans_replayed(self, message: ScansReplayed) -> None:
        if not self.shutting_down and message.outcomes:
            self.journal.replayed(message)

    def on_refused_loaded(self, message: RefusedLoaded) -> None:
        if not self.shutting_down:
            self.journal.refused_loaded(message)

    # -- documents and writes ------------------------------------------------------------------

    def on_documents_loaded(self, message: DocumentsLoaded) -> None:
        if self.shutting_down:
            return
        if message.purpose == REOPEN:
            self.corrections.documents_loaded(message)
        else:
            self.dialogs.documents_loaded(message)

    def on_command_done(self, message: CommandDone) -> None:
        if not self.shutting_down and not self.corrections.done(message):
            self.dialogs.done(message)

    def on_command_failed(self, message: CommandFailed) -> None:
        if not self.shutting_down:
            self.dialogs.failed(message)

    def apply_mode(self, mode: Mode, *, document: str | None, reason: str | None) -> None:
        """The station scans in `mode` from now on, against `document`, with `reason`."""
        state = self.state
        state.mode, state.document, state.reason = mode, document, reason
        self._mode_shown()
        self.update_header()
        self.feedback.ready(state)
        self.details.show(self.details.serial_no)
        self.refresh_bindings()

    def _mode_shown(self) -> None:
        """The document portlet shows arrivals while receiving, scan progress otherwise."""
        invoice = self.invoice
        if invoice is not None:
            invoice.set_receiving(self.state.mode is Mode.RECEIVE)

    def read_site_names(self) -> None:
        """Once: the portlets name sites beside their codes (`PortletDeck.name_sites`)."""
        if self.worker is not None and not self.deck.site_names:
            self.worker.submit_write("sites", lambda station: (station.sites(), ""))

    def document_closed(self, document: DocumentView) -> None:
        if self.state.document == document.reference_no:
            self.state.document = None
            self.update_header()
        if self.invoice is not None:
            self.invoice.show(document)
        self.refresh_bindings()

    # -- actions -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_portlet", "previous_portlet"):
            return True if len(self.portlets) > 1 else None
        if action == "retry":
            return self.db.not_saved_ticket is not None
        if action == "override":
            return self.dialogs.override_target(self._last_outcome) is not None
        if action == "close_document":
            return self.state.document is not None
        if action in ("void", "reopen_document"):
            return not self.settings.station.kiosk  # a kiosk's ctrl+z stays inert
        if action == "comment":
            return self.details.serial_no is not None
        if action == "refused":
            return True if self.db.journal_enabled else None
        if action == "sign_out":
            return self.people.user is not None
        return True

    def action_help(self) -> None:
        keys = [*self.BINDINGS, *self.app.BINDINGS]
        self.app.push_screen(HelpScreen.for_station(keys, self.app.get_key_display))

    def action_sign_out(self) -> None:
        self.people.sign_out("Signed out with F12.")

    def action_pick_mode(self) -> None:
        self.dialogs.pick_mode()

    def enter_mode(self, mode: Mode) -> None:
        self.dialogs.enter_mode(mode)

    def action_pick_document(self) -> None:
        mode = self.state.mode
        self.dialogs.ask_document(mode if mode is Mode.DISPATCH else None)

    def action_close_document(self) -> None:
        self.dialogs.confirm_close()

    def action_reopen_document(self) -> None:
        self.corrections.ask_reopen()

    def action_void(self) -> None:
        self.corrections.void_selected()

    def action_toggle_camera(self) -> None:
        self.camera.toggle()

    def action_next_portlet(self) -> None:
        self.deck.step(1, self.focused)
        self.refresh_bindings()

    def action_previous_portlet(self) -> None:
        self.deck.step(-1, self.focused)
        self.refresh_bindings()

    def action_toggle_maximise(self) -> None:
        self.deck.toggle_maximise(self.focused)  # the header and the banner stay

    def action_comment(self) -> None:
        self.dialogs.ask_comment(self.details.serial_no)

    def action_print_labels(self) -> None:
        from scanstation.tui.printing import print_shown

        print_shown(self)

    def action_print_run(self) -> None:
        from scanstation.tui.printing import ask_print_run

        ask_print_run(self)

    def action_retry(self) -> None:
        if self.worker is not None:
            self.worker.retry_now()

    def action_override(self) -> None:
        self.dialogs.ask_override(self._last_outcome)

    def action_refused(self) -> None:
        self.journal.ask_refused()

    def action_focus_manual(self) -> None:
        self.manual.focus()

    def action_leave_manual(self) -> None:
        """Escape: restore a maximised portlet, or leave the manual field for the list."""
        if self.deck.maximised is not None:
            self.deck.restore()
        elif self.focused is self.manual and self.deck.home is not None:
            self.deck.home.focus()

    # -- the header ----------------------------------------------------------------------------

    def update_header(self) -> None:
        self.header.set_state(self.state.header(self.db.state, self.db.text, self.people.who))
