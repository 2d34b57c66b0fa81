"""The supervisor's screens over the station: Find (ctrl+f), Overview (ctrl+e) and Documents
(ctrl+k), their keys and palette lines in the station's one action table (tui/actions.py).

They read through the Station door on threads of their own (a Textual thread worker a read,
its connection let go when done), so a report over a million serials never holds up a scan
or the portlets' reads. What they pick opens in the portlets: a serial in its details, a
document in Invoice Details.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.worker import get_current_worker

from scanstation.domain.roles import Action, required_role

if TYPE_CHECKING:
    from datetime import datetime

    from textual.app import App
    from textual.screen import Screen

    from scanstation.station import Station
    from scanstation.tui.details import DetailReads
    from scanstation.tui.intake import ScanIntake
    from scanstation.tui.people import StationPeople
    from scanstation.tui.scan_worker import StationWorker
    from scanstation.tui.screens.dialog import StationDialog
    from scanstation.tui.widgets.deck import PortletDeck

__all__ = ["StationSource", "SupervisorActions", "read_then"]

T = TypeVar("T")
StationSource = Callable[[], "Station | None"]


def read_then(
    screen: Screen[Any],
    station: StationSource,
    work: Callable[[Station], T],
    done: Callable[[T], None],
    failed: Callable[[str], None],
    *,
    group: str,
) -> None:
    """Run `work` on a thread with the door, then `done(result)` on the UI thread (or
    `failed(sentence)`); a newer read of the same group makes an older one's answer moot."""

    def run() -> None:
        door = station()
        if door is None:
            screen.app.call_from_thread(failed, "The database is not open yet")
            return
        try:
            result = work(door)
        except Exception as error:  # every failure is a sentence on the screen
            if not get_current_worker().is_cancelled:
                screen.app.call_from_thread(failed, str(error))
            return
        finally:
            door.release_thread()
        if not get_current_worker().is_cancelled:
            screen.app.call_from_thread(done, result)

    screen.run_worker(run, thread=True, exclusive=True, group=group, exit_on_error=False)


class SupervisorActions:
    """The station screen's actions that open the supervisor's screens (a part of it)."""

    worker: StationWorker | None
    details: DetailReads
    deck: PortletDeck
    intake: ScanIntake
    people: StationPeople
    ready: bool
    _now: Callable[[], datetime]
    app: App[object]  # the station screen's own (this class is a part of it)

    def _door(self) -> Station | None:
        return self.worker.current_station() if self.worker is not None else None

    def action_find(self) -> None:
        from scanstation.tui.screens.find import FindScreen

        self._open(FindScreen(self._door), self._serial_picked)

    def action_overview(self) -> None:
        from scanstation.tui.screens.overview import OverviewScreen

        self._open(OverviewScreen(self._door, self._now), lambda _: None)

    def action_documents(self) -> None:
        from scanstation.tui.screens.documents import DocumentsScreen

        self._open(DocumentsScreen(self._door), self._document_picked)

    def _open(self, screen: StationDialog[Any], then: Callable[[Any], None]) -> None:
        """Push a supervisor's screen: on a database with users, for a supervisor (anyone
        else gets a supervisor's approval on the spot first); an open station, as it is."""
        if not self.ready:  # whether it has users, and so who may look, is not known yet
            self.app.notify("The database is still opening: try again in a moment", markup=False)
            return
        people = self.people
        if people.has_users:
            user = people.user
            if user is None:
                self.app.notify("Sign in first", markup=False)
                return
            if not user.role.includes(required_role(Action.SUPERVISOR_SCREENS)):
                people.ask_approval(
                    Action.SUPERVISOR_SCREENS, lambda approver: self._push(screen, then)
                )
                return
        self._push(screen, then)

    def _push(self, screen: StationDialog[Any], then: Callable[[Any], None]) -> None:
        """Scans read while a screen that holds them is open (Overview, Documents) wait,
        counted on it and in the banner, and go once it closes, in the station's mode: never
        applied unseen behind it. Find takes them as its search."""
        holds = screen.HOLDS_SCANS_AS is not None
        if holds:
            self.intake.hold()

        def closed(result: Any) -> None:
            try:
                then(result)
            finally:
                if holds:
                    self.intake.release()

        self.app.push_screen(screen, closed)

    def _serial_picked(self, serial_no: str | None) -> None:
        if serial_no:
            self.details.show(serial_no)
            self.deck.bring("serial_detail")

    def _document_picked(self, reference_no: str | None) -> None:
        if reference_no:
            self.details.picked_document = reference_no
            self.details.show(None)
            self.deck.bring("invoice")
