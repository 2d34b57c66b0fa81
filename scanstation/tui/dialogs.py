"""The station's dialogs and what follows them: picking a mode (and what it needs: a reason,
a document), picking, creating and closing a document, a comment, a receive by override.

Each dialog is a screen pushed over the station; its answer comes back to a callback here,
which changes the station (`StationScreen.apply_mode`) or hands a write to the worker. The
worker's answer (`CommandDone` / `CommandFailed`) comes back through `done` / `failed`.

A change of mode or document is one flow, from the first dialog to the last answer: while it
lasts, scans are held (`ScanIntake.hold`) and applied once it ends, in the mode and document
then chosen — never in the mode being left. Escape in the new-document form goes back to the
document picker, so a held scan waits for the document actually chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from scanstation.domain.model import DocumentView
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.roles import Action, permission
from scanstation.domain.stages import Mode, modes_needing_reason
from scanstation.domain.text import visible
from scanstation.tui.screens.comment import CommentPrompt
from scanstation.tui.screens.confirm import ConfirmPrompt
from scanstation.tui.screens.dialog import StationDialog
from scanstation.tui.screens.document_form import DocumentDraft, DocumentForm
from scanstation.tui.screens.document_picker import (
    DocumentChoice,
    DocumentPicker,
    match_document,
)
from scanstation.tui.screens.mode_picker import ModePicker
from scanstation.tui.screens.reason import ReasonPrompt

if TYPE_CHECKING:
    from scanstation.domain.model import UserView
    from scanstation.domain.outcome import ScanOutcome
    from scanstation.station import Station
    from scanstation.tui.messages import CommandDone, CommandFailed, DocumentsLoaded
    from scanstation.tui.screens.station import StationScreen

__all__ = ["DOCUMENT_MODES", "StationDialogs"]

# The modes that scan against a document: a scanned document number picks the document.
DOCUMENT_MODES = frozenset({Mode.DISPATCH, Mode.RECEIVE})
ResultT = TypeVar("ResultT")

SHORT_CLOSE = permission(Action.CLOSE_DOCUMENT_SHORT)
PICK = "pick"  # documents read for the picker
MATCH = "match:"  # documents read to find the one a scanned code names


class StationDialogs:
    """Dialog flows for one station screen."""

    def __init__(self, station: StationScreen) -> None:
        self._station = station
        self._state = station.state
        self._changing = False  # a change of mode or document is under way: scans wait
        self._picker_for: Mode | None = None  # the picker's mode to enter (None: keep it)
        self._documents: list[DocumentView] = []  # what the last picker listed

    # -- the flow ------------------------------------------------------------------------------

    @property
    def changing(self) -> bool:
        return self._changing

    def _begin(self) -> None:
        if not self._changing:
            self._changing = True
            self._station.intake.hold()

    def _end(self) -> None:
        if self._changing:
            self._changing = False
            self._station.intake.release()

    def _push(
        self, dialog: StationDialog[ResultT], callback: Callable[[ResultT | None], None]
    ) -> None:
        """Push a dialog of the change; it shows how many scans wait for it."""
        self._station.app.push_screen(dialog, callback)
        self.show_held_on(dialog)

    def _held_then(self) -> str:
        """When the held scans will be applied, in the words of the dialog open now."""
        mode = self._state.mode.value.upper()
        top = self._station.app.screen
        people = self._station.people
        if people.holding and people.has_users is None:  # an open station has no sign-in
            return (
                "they are applied once it is open, or offered to whoever signs in if this "
                "station has users"
            )
        if people.holding:
            return "they are offered to whoever signs in (apply or discard)"
        if isinstance(top, StationDialog) and top.HOLDS_SCANS_AS:
            return f"they are applied in {mode} when you close {top.HOLDS_SCANS_AS} (Escape)"
        if isinstance(top, DocumentForm):
            return "they are applied with the document you create or pick (Escape: the list)"
        if isinstance(top, DocumentPicker):
            return f"they are applied with the document you pick (Escape keeps {mode})"
        return f"they are applied in the mode you choose (Escape keeps {mode})"

    def held_changed(self, count: int) -> None:
        """The intake holds `count` scans: the banner and the open dialog say so."""
        top = self._station.app.screen
        if count:
            then = self._held_then()
            while_what = "while the mode is being changed"
            people = self._station.people
            if people.holding and people.has_users is None:
                while_what = "while the database opens"
            elif people.holding:
                while_what = "before sign-in"
            elif isinstance(top, StationDialog) and top.HOLDS_SCANS_AS:
                while_what = f"while {top.HOLDS_SCANS_AS} is open"
            self._station.feedback.held(count, f"Read {while_what}: {then}.")
        if isinstance(top, StationDialog):
            self.show_held_on(top)

    def show_held_on(self, dialog: StationDialog[ResultT]) -> None:
        dialog.waiting.show_count(self._station.intake.held, self._held_then())

    def divert_scan(self, payload: str) -> bool:
        """While the document picker is open, a scanned document number picks it; a dialog
        on top may take a scan as its own (Find: its search)."""
        stack = self._station.app.screen_stack  # empty while the app starts or ends
        top = stack[-1] if stack else None
        if isinstance(top, DocumentPicker):
            return top.pick_scanned(payload)
        return isinstance(top, StationDialog) and top.take_scan(payload)

    # -- modes ---------------------------------------------------------------------------------

    def pick_mode(self) -> None:
        self._begin()
        allowed = self._station.settings.station.allowed_modes
        picker = ModePicker(self._state.mode, self._state.site_kind, allowed)
        self._push(picker, self._mode_picked)

    def _mode_picked(self, mode: Mode | None) -> None:
        if mode is None:
            self._end()
        else:
            self.enter_mode(mode)

    def enter_mode(self, mode: Mode) -> None:
        """Switch mode, asking first for what the mode needs (a document, a reason)."""
        if not self._station.settings.station.mode_allowed(mode.value):
            self._station.notify(
                f"{mode.value.upper()} is not allowed at this station", markup=False
            )
            self._end()
            return
        self._begin()
        if mode is Mode.DISPATCH:
            self.ask_document(Mode.DISPATCH)
        elif mode in modes_needing_reason():
            self.ask_reason_for(mode)
        else:
            keep_document = self._state.document if mode is Mode.LOOKUP else None
            self._apply(mode, document=keep_document, reason=None)

    def ask_reason_for(self, mode: Mode) -> None:
        self._begin()

        def chosen(reason: str | None) -> None:
            if reason:
                self._apply(mode, document=None, reason=reason)
            else:
                self._end()

        prompt = ReasonPrompt(
            f"{mode.value.upper()}: why?",
            f"Every serial scanned in {mode.value} mode is saved with this reason; "
            "F2 changes the mode, and with it the reason.",
        )
        self._push(prompt, chosen)

    def _apply(self, mode: Mode, *, document: str | None, reason: str | None) -> None:
        self._station.apply_mode(mode, document=document, reason=reason)
        self._end()

    # -- documents -----------------------------------------------------------------------------

    def ask_document(self, for_mode: Mode | None) -> None:
        station, state = self._station, self._state
        worker = station.worker
        if worker is None or not station.ready:
            station.notify("The database is not open yet", severity="warning", markup=False)
            self._end()
            return
        self._begin()
        self._picker_for = for_mode
        if for_mode is Mode.DISPATCH:
            worker.request_documents(PICK, state="open", from_site=state.site_code)
        elif state.mode is Mode.RECEIVE:
            worker.request_documents(PICK, state=None)  # a return cites a closed one
        else:
            worker.request_documents(PICK, state="open")

    def documents_loaded(self, message: DocumentsLoaded) -> None:
        if message.purpose.startswith(MATCH):
            self._match_loaded(message.purpose.removeprefix(MATCH), message.documents)
        elif message.purpose == PICK and self._changing:
            self._documents = message.documents
            self._show_picker()

    def _show_picker(self) -> None:
        for_mode, state = self._picker_for, self._state
        if for_mode is Mode.DISPATCH:
            title = f"DISPATCH from {state.site_label}: pick the open document to load against"
        elif state.mode is Mode.RECEIVE:
            title = "RECEIVE: cite a document (a return cites its original invoice)"
        else:
            title = "Show a document in Invoice Details"
        can_create = state.site is not None and (
            for_mode is Mode.DISPATCH or state.mode is not Mode.RECEIVE
        )
        picker = DocumentPicker(
            title,
            self._documents,
            current=state.document,
            allow_new=can_create,
            site=state.site_code,
        )
        self._push(picker, partial(self._document_chosen, for_mode))

    def _document_chosen(self, for_mode: Mode | None, choice: DocumentChoice | None) -> None:
        station, state = self._station, self._state
        mode = for_mode or state.mode
        if choice is None:
            self._end()
        elif choice.action == "pick":
            reason = None if for_mode is Mode.DISPATCH else state.reason
            self._apply(mode, document=choice.reference_no, reason=reason)
            if choice.scanned is not None:
                station.notify(
                    f"{choice.reference_no} picked by its number {visible(choice.scanned)}",
                    markup=False,
                )
        elif choice.action == "new":
            self._open_document_form(for_mode)
        elif for_mode is Mode.DISPATCH:
            station.notify(
                "Dispatch needs a document: the mode was not changed",
                severity="warning",
                markup=False,
            )
            self._end()
        else:
            self._apply(mode, document=None, reason=state.reason)

    def _open_document_form(
        self, for_mode: Mode | None, draft: DocumentDraft | None = None, error: str = ""
    ) -> None:
        form = DocumentForm(self._state.document_kind, self._state.site_code, draft, error)
        self._push(form, partial(self._document_drafted, for_mode))

    def _document_drafted(self, for_mode: Mode | None, draft: DocumentDraft | None) -> None:
        worker = self._station.worker
        if draft is None:
            self._show_picker()  # Escape: back to the documents, the change still under way
            return
        if worker is None:
            self._end()
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

    def find_scanned_document(self, code: str) -> None:
        """A scan matched no serial in a mode that uses documents: it may be a document's
        number (reference no, DC no or invoice no)."""
        worker = self._station.worker
        if worker is not None and not self._changing:
            worker.request_documents(MATCH + code, state=None)

    def _match_loaded(self, code: str, documents: list[DocumentView]) -> None:
        state = self._state
        document = match_document(documents, code)
        if document is None or self._changing or state.mode not in DOCUMENT_MODES:
            return
        if state.mode is Mode.DISPATCH and not (
            document.is_open and document.from_site == state.site_code
        ):
            self._station.feedback.idle(
                f"{document.reference_no} cannot be loaded here",
                f"{visible(code)} is {document.reference_no}, "
                f"{'from ' + document.from_site if document.is_open else 'closed'}: "
                "dispatch loads only this site's open documents. F3 lists them.",
            )
            return
        reason = state.reason if state.mode is not Mode.DISPATCH else None
        self._station.apply_mode(state.mode, document=document.reference_no, reason=reason)
        numbers = " · ".join(n for n in (document.dc_no, document.invoice_no) if n)
        self._station.feedback.idle(
            f"Document {document.reference_no} chosen",
            f"{visible(code)} is the number of {document.reference_no}"
            f"{' (' + numbers + ')' if numbers else ''}: scans now go against it.",
        )

    # -- closing a document --------------------------------------------------------------------

    def confirm_close(self) -> None:
        """F4: close the station's document, once the worker says so."""
        reference_no = self._state.document
        if not reference_no:
            self._station.notify("No document is open at this station", markup=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.close_document(reference_no)

        prompt = ConfirmPrompt(
            f"Close {reference_no}?",
            "A closed document takes no more scans. Enter closes it; Escape keeps it open.",
            confirm="Close it",
        )
        self._station.app.push_screen(prompt, answered)

    def close_document(
        self, reference_no: str, reason: str | None = None, approver: UserView | None = None
    ) -> None:
        """Close it; short, with the reason given, by someone whose role allows it (the
        signed-in person's, or an approver's: then the event names both)."""
        worker = self._station.worker
        if worker is None:
            return
        operator = self._state.operator
        actor = self._station.people.user
        here = self._state.setup()  # the event is this station's, at its site

        def close(station: Station) -> tuple[object, str]:
            document = station.document(reference_no)
            if document is not None and document.is_open and document.shortfall and not reason:
                return document, ""  # the UI asks for a reason, then comes back
            closed = station.close_document(
                reference_no, reason, by=operator, actor=actor, approver=approver, at=here
            )
            note = f" ({closed.shortfall} short: {reason})" if closed.shortfall else ""
            return closed, f"{reference_no} closed{note}"

        worker.submit_write("close_document", close, request=reference_no)

    def _ask_close_reason(self, document: DocumentView) -> None:
        def chosen(reason: str | None) -> None:
            if not reason:
                return
            user = self._station.people.user
            if user is not None and not user.role.includes(SHORT_CLOSE.role):
                self._station.people.ask_approval(
                    SHORT_CLOSE.action,
                    lambda approver: self.close_document(document.reference_no, reason, approver),
                )
            else:
                self.close_document(document.reference_no, reason)

        prompt = ReasonPrompt(
            f"{document.reference_no} is {document.shortfall} short — why close it?",
            "Closing with a shortfall is recorded with this reason.",
        )
        self._station.app.push_screen(prompt, chosen)

    # -- comments and overrides ----------------------------------------------------------------

    def ask_comment(self, serial_no: str | None) -> None:
        if not serial_no:
            self._station.notify("Scan or pick a serial first", markup=False)
            return

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

    def ask_override(self, last: ScanOutcome | None) -> None:
        """ctrl+o: receive the refused serial of the last answer here, with a reason."""
        refused = self.override_target(last)
        if refused is None:
            self._station.notify("Nothing to override: that is for a refused receive", markup=False)
            return

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
        if station.people.done(message):
            return
        if message.what == "add_document":
            document = message.result
            assert isinstance(document, DocumentView)
            for_mode = message.request[0] if isinstance(message.request, tuple) else None
            reason = None if for_mode is Mode.DISPATCH else self._state.reason
            mode = for_mode or self._state.mode
            self._apply(mode, document=document.reference_no, reason=reason)
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
        elif message.what == "sites" and isinstance(message.result, list):
            station.deck.name_sites(message.result)
        else:
            station.notify(message.sentence, markup=False)

    def failed(self, message: CommandFailed) -> None:
        if self._station.people.failed(message):
            return
        if message.what == "sites":
            return  # names are a nicety: codes serve until the database answers
        if message.what == "add_document" and isinstance(message.request, tuple):
            for_mode, draft = message.request
            self._open_document_form(for_mode, draft, message.reason)
            return
        if message.what == "read" and self._changing and not self._dialog_open():
            self._end()  # the documents for a picker could not be read: nothing to wait for
        self._station.notify(message.reason, title="Not done", severity="error", markup=False)

    def _dialog_open(self) -> bool:
        return isinstance(self._station.app.screen, StationDialog)
