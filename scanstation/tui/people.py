"""Who is at the station: signing in, holding scans until someone has, signing out.

A database without users is an open station, as before users existed (the header says
`open station — no users`). With users, the station opens on the sign-in dialog: a badge
scanned or a name typed, then the PIN, checked off the UI thread (the PIN's hashing takes
its time there, never in a scan). Until someone is signed in every scan is held by the
intake, never applied and never lost; the person who signs in is offered them: apply them,
in the order read, as themselves, or discard them. The signed-in person is the operator on
every event. After `[station] idle_signout_min` without a key or a scan, or on F12, the
station signs out and asks again.

A scan that arrives while the dialog waits for a name is taken as a badge when it is one
(the known badges are read with the users, never PINs); any other scan is held. A burst of
4 to 12 digits while the dialog waits for a PIN is a PIN typed fast, never a scan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from textual._time import get_time

from scanstation.domain.roles import Action, Role, permission
from scanstation.domain.text import visible
from scanstation.tui.screens.confirm import ConfirmPrompt
from scanstation.tui.screens.credentials import PIN_LENGTHS, CredentialsPrompt

if TYPE_CHECKING:
    from scanstation.domain.model import UserView
    from scanstation.domain.outcome import ScanOutcome
    from scanstation.station import Station, StationSetup
    from scanstation.tui.messages import CommandDone, CommandFailed
    from scanstation.tui.screens.station import StationScreen

__all__ = ["OPEN_STATION", "SIGNED_OUT", "StationPeople"]

_log = logging.getLogger(__name__)

OPEN_STATION = "open station — no users"
SIGNED_OUT = "signed out"
SIGN_IN = "people:sign_in"
APPROVE = "people:approve"
CHECK = "people:check"
IDLE_CHECK_S = 5.0


class StationPeople:
    """The sign-in state of one station screen."""

    def __init__(self, station: StationScreen, idle_signout_min: float) -> None:
        self._station = station
        self._idle_s = idle_signout_min * 60 if idle_signout_min > 0 else None
        self.has_users: bool | None = None  # None: the database has not said yet
        self.user: UserView | None = None
        self._badges: dict[str, str] = {}  # badge → name (disabled users left out)
        self._last_activity = get_time()
        self._holding = True  # the intake holds scans until we know who scans
        self._prompt: CredentialsPrompt | None = None
        self._checking = False  # a check for users is with the worker
        self._demo = False  # the demo's people: sign-in says where their PINs are
        station.intake.hold()

    # -- what the header and the intake ask ----------------------------------------------------

    @property
    def holding(self) -> bool:
        """Scans wait for someone to sign in (or for the database to say it has no users)."""
        return self._holding

    @property
    def who(self) -> str:
        """The header's words for who is at the station ("" before the database answered)."""
        if self.has_users is None:
            return ""
        if not self.has_users:
            return OPEN_STATION
        if self.user is None:
            return SIGNED_OUT
        return f"{visible(self.user.name)} ({self.user.role.value})"

    # -- the database's answer -----------------------------------------------------------------

    def ready(self, has_users: bool | None, users: list[UserView], *, demo: bool = False) -> None:
        """The station opened: with users, someone signs in; without, scans go at once.
        None: the database could not say (an offline start): scans go to the offline journal
        as before, and the database asked again once it answers (with users, a scan without
        a signed-in person is refused on replay and listed for a supervisor, never applied)."""
        self.has_users = has_users
        self._demo = demo
        self._badges = {u.badge: u.name for u in users if u.badge and not u.disabled}
        if has_users:
            self.ask_sign_in()
        else:
            self._release()
        # Scans held while the database opened may still wait (for sign-in, or for a dialog
        # opened meanwhile): the banner says for what, over the "Ready" just shown.
        self._station.dialogs.held_changed(self._station.intake.held)
        self._station.update_header()

    def check_again(self) -> None:
        """The database answers again after an offline start: does it have users?"""
        worker = self._station.worker
        if self.has_users is None and worker is not None and not self._checking:
            self._checking = True
            worker.submit_write(CHECK, _people)

    # -- signing in ----------------------------------------------------------------------------

    def ask_sign_in(self) -> None:
        if self._prompt is not None:
            return
        state = self._station.state
        # A kiosk is left only with a supervisor's PIN, so it does not offer ctrl+q to read them.
        kiosk = self._station.settings.station.kiosk
        read_them = "" if kiosk else "quit with ctrl+q to read them; "
        demo = (
            " A demo database: `scanstation demo` printed its people's PINs "
            f"({read_them}new ones: `scanstation demo --new-pins`)."
            if self._demo
            else ""
        )
        prompt = CredentialsPrompt(
            f"Sign in at {state.station_id}",
            "Scan your badge or type your name, then your PIN. Scans read before you sign "
            "in are kept and offered to you." + demo,
            on_entered=self.entered,
            cancellable=False,
        )
        self._prompt = prompt
        self._station.app.push_screen(prompt, self._signed_in)
        self._station.dialogs.show_held_on(prompt)

    def entered(self, prompt: CredentialsPrompt, name: str, pin: str) -> None:
        """The dialog has a name and a PIN: the writer checks them (the hashing is slow on
        purpose, and never on the UI thread)."""
        worker = self._station.worker
        if worker is None:
            prompt.refused("The database is not open yet")
            return

        def check(station: Station) -> tuple[object, str]:
            return station.authenticate(name, pin), ""

        worker.submit_write(SIGN_IN, check, request=prompt)

    def _signed_in(self, name: str | None) -> None:
        self._prompt = None
        if self.user is None:  # cannot be cancelled: only an accepted person closes it
            return
        self.touch()
        state = self._station.state
        state.operator, state.role = self.user.name, self.user.role
        self._station.update_header()
        self._station.refresh_bindings()
        self._station.feedback.ready(state)
        held = self._station.intake.held
        if held:
            self._offer_held(held)
        else:
            self._release()

    def _offer_held(self, count: int) -> None:
        user = self.user
        assert user is not None
        scans = "1 scan was" if count == 1 else f"{count} scans were"
        them = "it" if count == 1 else "them"

        def answered(apply: bool | None) -> None:
            if apply:
                self._release()
                return
            dropped = self._station.intake.discard_held()
            shown = ", ".join(visible(payload) for payload in dropped)
            self._station.note(f"{len(dropped)} scan(s) read before sign-in discarded: {shown}")
            _log.info("%s discarded %d scan(s) read before sign-in", user.name, len(dropped))
            self._release()

        prompt = ConfirmPrompt(
            f"{scans} read before you signed in",
            f"Apply {them} now as {visible(user.name)}, in the order read, or discard {them} "
            "(nothing is recorded yet).",
            confirm=f"Apply {them}",
            deny=f"Discard {them}",
        )
        self._station.app.push_screen(prompt, answered)

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self._station.intake.release()

    # -- a supervisor's approval ------------------------------------------------------------------

    def ask_approval(self, action: Action, then: Callable[[UserView], None]) -> None:
        """`action` needs a role the worker lacks: a supervisor (or whoever has the role)
        approves it on the spot with their badge or name and PIN; `then(approver)` follows."""
        rule = permission(action)
        self._ask_approval(f"{rule.words} needs {rule.role.with_article}", rule.role, then)

    def approve_scan(self, refused: ScanOutcome, sent: StationSetup) -> None:
        """A scan refused for want of a role (recorded as refused): with an approval, the same
        scan again, as it was made, naming the approver with the operator."""
        role = refused.needs_role
        if role is None or self.user is None:
            return

        def approved(approver: UserView) -> None:
            again = replace(sent, approved_by=approver.name, approver_role=approver.role)
            self._station.intake.rescan(refused.event, again)

        self._ask_approval(visible(refused.message), role, approved)

    def _ask_approval(self, what: str, role: Role, then: Callable[[UserView], None]) -> None:
        top = self._station.app.screen
        if isinstance(top, CredentialsPrompt) and top.has_class("-approval"):
            return  # one approval at a time
        prompt = CredentialsPrompt(
            f"Approval: {what}",
            f"{role.with_article.capitalize()} scans their badge or types their name, then "
            "their PIN. Escape cancels.",
            on_entered=partial(self._approval_entered, role, then),
            cancellable=True,
            approval=True,
        )
        self._station.app.push_screen(prompt)

    def _approval_entered(
        self,
        role: Role,
        then: Callable[[UserView], None],
        prompt: CredentialsPrompt,
        name: str,
        pin: str,
    ) -> None:
        worker = self._station.worker
        if worker is None:
            prompt.refused("The database is not open yet")
            return

        def check(station: Station) -> tuple[object, str]:
            return station.authenticate(name, pin), ""

        worker.submit_write(APPROVE, check, request=(prompt, role, then))

    def _approved(self, user: UserView, request: tuple[object, ...]) -> None:
        prompt, role, then = request
        assert isinstance(prompt, CredentialsPrompt) and isinstance(role, Role)
        if not user.role.includes(role):
            prompt.refused(
                f"{user.name} is {user.role.with_article}: this needs {role.with_article}"
            )
            return
        prompt.dismiss(user.name)
        then(user)  # type: ignore[operator]

    # -- signing out ---------------------------------------------------------------------------

    def sign_out(self, why: str) -> None:
        """Sign out now: scans wait again, for the next person."""
        if not self.has_users or self.user is None:
            return
        name = self.user.name
        self.user = None
        if not self._holding:
            self._holding = True
            self._station.intake.hold()
        state = self._station.state
        state.operator, state.role = "", None
        self._station.update_header()
        self._station.refresh_bindings()
        self._station.feedback.idle(f"{name} signed out", why)
        self.ask_sign_in()

    def touch(self) -> None:
        """A key or a scan: the station is in use."""
        self._last_activity = get_time()

    @property
    def tick_every_s(self) -> float:
        """How often `tick` looks at the idle time."""
        return min(IDLE_CHECK_S, self._idle_s / 4) if self._idle_s else IDLE_CHECK_S

    def tick(self) -> None:
        """Every few seconds: sign out after the idle time."""
        idle_s = self._idle_s
        if idle_s and self.user is not None and get_time() - self._last_activity >= idle_s:
            self.sign_out(f"Nobody scanned or pressed a key for {idle_s / 60:g} min.")

    # -- scans while the dialog is open --------------------------------------------------------

    def divert(self, payload: str) -> bool:
        """A scan while the dialog is open: a known badge at the name step fills it; 4 to 12
        digits at the PIN step are the PIN. Anything else is a scan (held)."""
        stack = self._station.app.screen_stack  # empty while the app starts or ends
        prompt = stack[-1] if stack else None
        if not isinstance(prompt, CredentialsPrompt) or prompt.checking:
            return False
        if prompt.at_pin:
            if payload.isdigit() and len(payload) in PIN_LENGTHS:
                prompt.take_pin(payload)
                return True
            return False
        if payload in self._badges:
            prompt.take_badge(payload)
            return True
        return False

    # -- the worker's answers ------------------------------------------------------------------

    def done(self, message: CommandDone) -> bool:
        """Handle the worker's answer if it is ours."""
        if message.what == CHECK and isinstance(message.result, tuple):
            self._checking = False
            has_users, users, demo = message.result
            if has_users and not self._holding:
                self._holding = True
                self._station.intake.hold()
            self.ready(has_users, users, demo=demo)
            return True
        if message.what == SIGN_IN and isinstance(message.request, CredentialsPrompt):
            from scanstation.domain.model import UserView

            user = message.result
            assert isinstance(user, UserView)
            self.user = user
            message.request.dismiss(user.name)
            return True
        if message.what == APPROVE and isinstance(message.request, tuple):
            from scanstation.domain.model import UserView

            assert isinstance(message.result, UserView)
            self._approved(message.result, message.request)
            return True
        return False

    def failed(self, message: CommandFailed) -> bool:
        if message.what == CHECK:
            self._checking = False
            return True  # still offline: asked again when it answers
        if message.what == SIGN_IN and isinstance(message.request, CredentialsPrompt):
            message.request.refused(message.reason)
            return True
        if message.what == APPROVE and isinstance(message.request, tuple):
            prompt = message.request[0]
            assert isinstance(prompt, CredentialsPrompt)
            prompt.refused(message.reason)
            return True
        return False


def _people(station: Station) -> tuple[object, str]:
    """(has users, the users: names, roles and badges, never a PIN; are they the demo's)."""
    has_users = station.has_users()
    if not has_users:
        return (False, [], False), ""
    return (True, station.users(), bool(station.demo_people())), ""


def read_people(station: Station) -> tuple[bool | None, list[UserView], bool]:
    """For the worker as the station opens: None when the database cannot say (offline)."""
    try:
        (has_users, users, demo), _ = _people(station)
    except Exception:
        _log.debug("users not read at start", exc_info=True)
        return None, [], False
    return bool(has_users), list(users), bool(demo)  # type: ignore[call-overload]
