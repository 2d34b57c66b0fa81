"""Putting mistakes right at the station: voiding the scan selected in the scanned list (ctrl+z)
and reopening a closed document (shift+F4). Each asks first; the write goes to the worker, and
its answer comes back through `done`: a void is shown like a scan's answer (banner, bell and a
row of its own in the list), a reopened document in a notice and the document portlet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scanstation.domain.corrections import window_words
from scanstation.domain.model import DocumentView
from scanstation.domain.outcome import OutcomeKind, ScanOutcome
from scanstation.domain.roles import Action, permission
from scanstation.domain.text import visible
from scanstation.tui.screens.confirm import ConfirmPrompt
from scanstation.tui.screens.document_picker import DocumentChoice, DocumentPicker
from scanstation.tui.screens.reason import ReasonPrompt

if TYPE_CHECKING:
    from scanstation.domain.model import UserView
    from scanstation.station import Station
    from scanstation.tui.messages import CommandDone, DocumentsLoaded
    from scanstation.tui.screens.station import StationScreen

__all__ = ["REOPEN", "VOID", "VOIDED", "StationCorrections"]

VOID = "void"  # the worker's write
REOPEN = "reopen_document"  # the worker's write, and the documents read for its picker
VOIDED = "voided"  # how a void's answer is shown (banner, list)
REOPENING = permission(Action.REOPEN_DOCUMENT)


class StationCorrections:
    """The void and reopen flows of one station screen."""

    def __init__(self, station: StationScreen) -> None:
        self._station = station

    # -- void ----------------------------------------------------------------------------------

    def void_selected(self) -> None:
        """Ask to void the scan at the scanned list's cursor (the newest when untouched)."""
        station = self._station
        scanned = station.scanned
        row = scanned.selected if scanned is not None else None
        if row is None or row.serial is None:
            station.notify("Pick a scan of a serial in the scanned list first", markup=False)
            return
        if row.event_id is None or row.outcome != OutcomeKind.OK:
            station.notify(
                f"That scan of {visible(row.serial)} changed nothing: there is nothing to void",
                markup=False,
            )
            return
        window = window_words(station.settings.station.void_window_s)
        serial_no, event_id = row.serial, row.event_id

        def answered(yes: bool | None) -> None:
            if yes:
                self._void(serial_no, event_id)

        prompt = ConfirmPrompt(
            f"Void this scan of {serial_no}?",
            f"{serial_no} goes back to the stage it was in before, and a document line the "
            f"scan filled is freed. Your own scans of the last {window} can be voided; the "
            "void is recorded, nothing is deleted.",
            confirm="Void it",
        )
        station.app.push_screen(prompt, answered)

    def _void(self, serial_no: str, event_id: int) -> None:
        station = self._station
        worker = station.worker
        if worker is None:
            return
        setup = station.state.setup()
        window = station.settings.station.void_window_s

        def void(door: Station) -> tuple[object, str]:
            outcome = door.void(serial_no, setup, event_id=event_id, window_s=window)
            return outcome, outcome.message

        worker.submit_write(VOID, void, request=serial_no)

    def voided(self, outcome: ScanOutcome) -> None:
        station = self._station
        kind = VOIDED if outcome.kind is OutcomeKind.OK else outcome.kind.value
        scanned = station.scanned
        if scanned is not None and outcome.kind is OutcomeKind.OK:
            scanned.add_scan(outcome, outcome.event_id, outcome.event.read_at, kind=kind)
        station.feedback.correction(kind, outcome)
        station.details.show(outcome.serial_no or station.details.serial_no)

    # -- reopen --------------------------------------------------------------------------------

    def ask_reopen(self) -> None:
        station = self._station
        if station.worker is None or not station.ready:
            station.notify("The database is not open yet", severity="warning", markup=False)
            return
        station.worker.request_documents(REOPEN, state="closed")

    def documents_loaded(self, message: DocumentsLoaded) -> None:
        station = self._station
        if not message.documents:
            station.notify("No document is closed: there is nothing to reopen", markup=False)
            return
        picker = DocumentPicker(
            "REOPEN: pick the closed document to open again",
            message.documents,
            allow_new=False,
            site=station.state.site_code,
        )
        station.app.push_screen(picker, self._picked)

    def _picked(self, choice: DocumentChoice | None) -> None:
        if choice is None or choice.action != "pick" or choice.reference_no is None:
            return
        reference_no = choice.reference_no

        def chosen(reason: str | None) -> None:
            if not reason:
                return
            user = self._station.people.user
            if user is not None and not user.role.includes(REOPENING.role):
                self._station.people.ask_approval(
                    REOPENING.action,
                    lambda approver: self._reopen(reference_no, reason, approver),
                )
            else:
                self._reopen(reference_no, reason)

        prompt = ReasonPrompt(
            f"Reopen {reference_no}: why?",
            "Reopening is recorded with this reason; the document takes scans again.",
        )
        self._station.app.push_screen(prompt, chosen)

    def _reopen(self, reference_no: str, reason: str, approver: UserView | None = None) -> None:
        station = self._station
        worker = station.worker
        if worker is None:
            return
        operator, actor = station.state.operator, station.people.user  # actor: who signed in
        here = station.state.setup()  # the event is this station's, at its site

        def reopen(door: Station) -> tuple[object, str]:
            reopened = door.reopen_document(
                reference_no, reason, by=operator, actor=actor, approver=approver, at=here
            )
            return reopened, f"{reference_no} reopened"

        worker.submit_write(REOPEN, reopen, request=reference_no)

    def reopened(self, document: DocumentView, sentence: str) -> None:
        station = self._station
        station.notify(sentence, markup=False)
        invoice = station.invoice
        if invoice is not None and (
            station.state.document == document.reference_no
            or (
                invoice.document is not None
                and invoice.document.reference_no == document.reference_no
            )
        ):
            invoice.show(document)
        station.details.again()

    # -- the worker's answers ------------------------------------------------------------------

    def done(self, message: CommandDone) -> bool:
        """Handle the answer to a void or a reopen; False for any other write."""
        if message.what == VOID and isinstance(message.result, ScanOutcome):
            self.voided(message.result)
        elif message.what == REOPEN and isinstance(message.result, DocumentView):
            self.reopened(message.result, message.sentence)
        else:
            return False
        return True
