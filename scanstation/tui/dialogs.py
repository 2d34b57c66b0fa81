"""The station's dialogs and what follows them: picking a mode (and what it needs: a reason,
a document), picking, creating and closing a document, a comment, a receive by override.

Each dialog is a screen pushed over the station; its answer comes back to a callback here,
which changes the station (`StationScreen.apply_mode`) or hands a write to the worker. The
worker's answer (`CommandDone` / `CommandFailed`) comes back through `done` / `failed`.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from scanstation.domain.codes import visible
from scanstation.domain.model import DocumentView
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import Mode, modes_needing_reason
from scanstation.tui.screens.comment import CommentPrompt
from scanstation.tui.screens.document_form import DocumentDraft, DocumentForm
from scanstation.tui.screens.document_picker import DocumentChoice, DocumentPicker
from scanstation.tui.screens.mode_picker import ModePicker
from scanstation.tui.screens.reason import ReasonPrompt

if TYPE_CHECKING:
    from scanstation.domain.outcome import ScanOutcome
    from scanstation.station import Station
    from scanstation.tui.messages import CommandDone, CommandFailed, DocumentsLoaded
    from scanstation.tui.screens.station import StationScreen

__all__ = ["StationDialogs"]

PICKER_LIMIT = 200  # documents listed in the picker, newest last


class StationDialogs:
    """Dialog flows for one station screen."""

    def __init__(self, station: StationScreen) -> None:
        self._station = station
        self._state = station.state
        self._picker_asked = False  # documents were asked for a picker...
        self._picker_for: Mode | None = None  # ... to enter this mode (None: keep the mode)

    # -- modes ---------------------------------------------------------------------------------

    def pick_mode(self) -> None:
        picker = ModePicker(self._state.mode, self._state.site_kind)
        self._station.app.push_screen(picker, self._mode_picked)

    def _mode_picked(self, mode: Mode | None) -> None:
        if mode is not None:
            self.enter_mode(mode)

    def enter_mode(self, mode: Mode) -> None:
        """Switch mode, asking first for what the mode needs (a document, a reason)."""
        if mode is Mode.DISPATCH:
            self.ask_document(Mode.DISPATCH)
        elif mode in modes_needing_reason():
            self.ask_reason_for(mode)
        else:
            keep_document = self._state.document if mode is Mode.LOOKUP else None
            self._station.apply_mode(mode, document=keep_document, reason=None)

    def ask_reason_for(self, mode: Mode) -> None:
        def chosen(reason: str | None) -> None:
            if reason:
                self._station.apply_mode(mode, document=None, reason=reason)

        prompt = ReasonPrompt(
            f"{mode.value.upper()}: why?",
            f"Every serial scanned in {mode.value} mode is saved with this reason; "
            "F2 changes the mode, and with it the reason.",
        )
        self._station.app.push_screen(prompt, chosen)

    # -- documents -----------------------------------------------------------------------------

    def ask_document(self, for_mode: Mode | None) -> None:
        station, state = self._station, self._state
        worker = station.worker
        if worker is None or not station.ready:
            station.notify("The database is not open yet", severity="warning", markup=False)
            return
        self._picker_asked, self._picker_for = True, for_mode
        if for_mode is Mode.DISPATCH:
            worker.request_documents("pick", state="open", from_site=state.site_code)
        elif state.mode is Mode.RECEIVE:
            worker.request_documents("pick", state=None)  # a return cites a closed one
        else:
            worker.request_documents("pick", state="open")

    def documents_loaded(self, message: DocumentsLoaded) -> None:
        if not self._picker_asked:
            return
        self._picker_asked = False
        for_mode = self._picker_for
        state = self._state
        if for_mode is Mode.DISPATCH:
            title = f"DISPATCH from {state.site_code}: pick the open document to load against"
        elif state.mode is Mode.RECEIVE:
            title = "RECEIVE: cite a document (a return cites its original invoice)"
        else:
            title = "Show a document in Invoice Details"
        can_create = state.site is not None and (
            for_mode is Mode.DISPATCH or state.mode is not Mode.RECEIVE
        )
        picker = DocumentPicker(
            title,
            message.documents[-PICKER_LIMIT:],
            current=state.document,
            allow_new=can_create,
        )
        self._station.app.push_screen(picker, partial(self._document_chosen, for_mode))

    def _document_chosen(self, for_mode: Mode | None, choice: DocumentChoice | None) -> None:
        if choice is None:
            return
        station, state = self._station, self._state
        mode = for_mode or state.mode
        if choice.action == "pick":
            reason = None if for_mode is Mode.DISPATCH else state.reason
            station.apply_mode(mode, document=choice.reference_no, reason=reason)
        elif choice.action == "new":
            self._open_document_form(for_mode)
        elif for_mode is Mode.DISPATCH:
            station.notify(
                "Dispatch needs a document: the mode was not changed",
                severity="warning",
                markup=False,
            )
        else:
            station.apply_mode(mode, document=None, reason=state.reason)

    def _open_document_form(
        self, for_mode: Mode | None, draft: DocumentDraft | None = None, error: str = ""
    ) -> None:
        form = DocumentForm(self._state.document_kind, self._state.site_code, draft, error)
        self._station.app.push_screen(form, partial(self._document_drafted, for_mode))

    def _document_drafted(self, for_mode: Mode | None, draft: DocumentDraft | None) -> None:
        worker = self._station.worker
        if draft is None or worker is None:
            return
        operator, site = self._state.operator, self._state.site_code

        def create(station: Station) -> tuple[object, str]:
            document = station.add_document(
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

        worker.submit_write("add_document", create, request=(for_mode, draft))

    def close_document(self, reference_no: str, reason: str | None = None) -> None:
        worker = self._station.worker
        if worker is None:
            return
        operator = self._state.operator

        def close(station: Station) -> tuple[object, str]:
            document = station.document(reference_no)
            if document is not None and document.is_open and document.shortfall and not reason:
                return document, ""  # the UI asks for a reason, then comes back
            closed = station.close_document(reference_no, reason, by=operator)
            note = f" ({closed.shortfall} short: {reason})" if closed.shortfall else ""
            return closed, f"{reference_no} closed{note}"

        worker.submit_write("close_document", close, request=reference_no)

    def _ask_close_reason(self, document: DocumentView) -> None:
        def chosen(reason: str | None) -> None:
            if reason:
                self.close_document(document.reference_no, reason)

        prompt = ReasonPrompt(
            f"{document.reference_no} is {document.shortfall} short — why close it?",
            "Closing with a shortfall is recorded with this reason.",
        )
        self._station.app.push_screen(prompt, chosen)

    # -- comments and overrides ----------------------------------------------------------------

    def ask_comment(self, serial_no: str) -> None:
        def save(text: str | None) -> None:
            worker = self._station.worker
            if not text or worker is None:
                return
            setup = self._state.setup()

            def comment(station: Station) -> tuple[object, str]:
                return station.comment(serial_no, text, setup), f"Comment saved on {serial_no}"

            worker.submit_write("comment", comment, request=serial_no)

        self._station.app.push_screen(CommentPrompt(serial_no), save)

    def override_target(self, last: ScanOutcome | None) -> ScanOutcome | None:
        """The refused receive an override would apply to, if the last answer was one."""
        if (
            last is not None
            and self._state.mode is Mode.RECEIVE
            and last.kind is OutcomeKind.REJECTED
            and last.serial is not None
        ):
            return last
        return None

    def ask_override(self, refused: ScanOutcome) -> None:
        def chosen(reason: str | None) -> None:
            if reason:
                self._station.intake.rescan(refused.event, reason=reason)

        prompt = ReasonPrompt(
            f"Receive {refused.serial_no} here by override", visible(refused.message)
        )
        self._station.app.push_screen(prompt, chosen)

    # -- what the worker did -------------------------------------------------------------------

    def done(self, message: CommandDone) -> None:
        station = self._station
        if message.what == "add_document":
            document = message.result
            assert isinstance(document, DocumentView)
            for_mode = message.request[0] if isinstance(message.request, tuple) else None
            reason = None if for_mode is Mode.DISPATCH else self._state.reason
            mode = for_mode or self._state.mode
            station.apply_mode(mode, document=document.reference_no, reason=reason)
            station.notify(message.sentence, markup=False)
        elif message.what == "close_document":
            document = message.result
            assert isinstance(document, DocumentView)
            if document.is_open:
                self._ask_close_reason(document)
                return
            station.document_closed(document)
            station.notify(message.sentence, markup=False)
        elif message.what == "comment":
            station.notify(message.sentence, markup=False)
            station.details.show(station.details.serial_no)
        else:
            station.notify(message.sentence, markup=False)

    def failed(self, message: CommandFailed) -> None:
        if message.what == "add_document" and isinstance(message.request, tuple):
            for_mode, draft = message.request
            self._open_document_form(for_mode, draft, message.reason)
            return
        self._station.notify(message.reason, title="Not done", severity="error", markup=False)
