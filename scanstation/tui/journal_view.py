"""What the station shows of its offline journal (`[station] journal`): the OFFLINE start,
the database coming back, scans saved offline settling to their real outcome in the scanned
list, refusals on replay said aloud, and the supervisor's list of them (ctrl+r)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.roles import Action, required_role

if TYPE_CHECKING:
    from scanstation.tui.messages import JournalState, RefusedLoaded, ScansReplayed
    from scanstation.tui.screens.station import StationScreen

__all__ = ["JournalDisplay"]


class JournalDisplay:
    def __init__(self, station: StationScreen) -> None:
        self._station = station
        self._offline_banner = False  # the banner says the station started offline

    def offline_start(self, reason: str, backend: str) -> None:
        """The station started with its site database unreachable: scans go to the journal."""
        station = self._station
        station.db.offline_start(backend or None)
        self._offline_banner = True
        station.feedback.idle(
            f"OFFLINE — {station.state.mode.value.upper()} at {station.state.site_code}",
            f"The site database is unreachable ({reason}). Scans are saved on this terminal "
            "and sent when it returns.",
        )

    def state(self, message: JournalState) -> None:
        station = self._station
        back = station.db.journal(
            online=message.online, pending=message.pending, refused=message.refused
        )
        learned = message.site is not None and station.state.site is None
        if learned:
            station.state.site = message.site
        station.update_header()
        if (back or learned) and self._offline_banner and station.banner.kind == "idle":
            self._offline_banner = False
            station.feedback.ready(station.state)  # the "OFFLINE" of an offline start is over
        if back:
            station.details.again()  # it may be stale
            station.read_site_names()

    def replayed(self, message: ScansReplayed) -> None:
        """Scans saved offline were decided: their rows show the outcome, refusals are said."""
        station = self._station
        outcomes = message.outcomes
        station.hooks.scans_replayed(outcomes)
        scanned = station.scanned
        if scanned is not None:
            for outcome in outcomes:
                # Scans journaled in an earlier session have no row here yet: they get one.
                if not scanned.settle_queued(outcome, None):
                    scanned.add_scan(outcome, None, outcome.event.read_at, paint=False)
            scanned.refresh_rows()
        refused = sum(1 for outcome in outcomes if not outcome.kind.is_success)
        self._offline_banner = False
        if station.banner.kind in ("queued", "idle"):
            sentence = f"{len(outcomes)} scan(s) saved on this terminal were sent"
            if refused:
                sentence += f"; {refused} refused by the rules — ctrl+r lists them"
            station.feedback.idle("Back online", sentence)
        if refused:
            station.feedback.ring(OutcomeKind.REJECTED)
            station.notify(
                f"{refused} scan(s) saved offline were refused on replay: ctrl+r lists them "
                "for a supervisor",
                title="Refused on replay",
                severity="error",
                markup=False,
            )
        if outcomes[-1].serial_no:
            station.details.show(outcomes[-1].serial_no, soon=True)

    def ask_refused(self) -> None:
        worker = self._station.worker
        if worker is None or not worker.journaled:
            self._station.notify("The offline journal is off at this station ([station] journal)")
            return
        worker.request_refused()

    def refused_loaded(self, message: RefusedLoaded) -> None:
        from scanstation.tui.screens.refused import RefusedScreen

        app = self._station.app
        if not isinstance(app.screen, RefusedScreen):
            app.push_screen(RefusedScreen(message.entries), self._refused_seen)

    def _refused_seen(self, seqs: list[int] | None) -> None:
        """`a` on the list: a supervisor acknowledges it. Once the database has users (or
        while it has not said), anyone else is asked for a supervisor's approval on the spot,
        and the acknowledgement is the approver's."""
        if not seqs:
            return
        people = self._station.people
        user = people.user
        needed = required_role(Action.ACKNOWLEDGE_REFUSED)
        if people.has_users is not False and (user is None or not user.role.includes(needed)):
            people.ask_approval(
                Action.ACKNOWLEDGE_REFUSED, lambda approver: self._acknowledge(seqs, approver.name)
            )
            return
        self._acknowledge(seqs, user.name if user is not None else self._station.state.operator)

    def _acknowledge(self, seqs: list[int], by: str) -> None:
        worker = self._station.worker
        if worker is not None:
            worker.acknowledge(seqs, by)
