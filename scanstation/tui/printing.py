"""The station's "print labels": the shown serial's label on `[labels] printer`, through the
same job as `scanstation labels` (render, send, record only what the printer took whole). It
runs on the station's write thread like every write, so the answer comes back as a
CommandDone or CommandFailed; a printer that does not answer holds the next scans at most
`[labels] printer_timeout_s`.

On a database with users, the shown serial's label is printed by whoever is signed in; a whole
generation run (many genuine signed labels at once) needs a supervisor: anyone else gets the
supervisor's approval on the spot, and the print events name the approver."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from scanstation.domain.roles import Action, required_role

if TYPE_CHECKING:
    from scanstation.config import LabelSettings
    from scanstation.station import Station, UserView
    from scanstation.tui.scan_worker import StationWorker
    from scanstation.tui.screens.station import StationScreen

__all__ = ["ask_print_run", "print_labels", "print_shown"]


def print_shown(
    screen: StationScreen, whole_run: bool = False, approver: UserView | None = None
) -> None:
    """ctrl+l: the shown serial's label (or its whole run) on `[labels] printer`; never on a
    kiosk (passers-by do not print labels). Someone without the role the job needs gets a
    supervisor's approval first."""
    if _kiosk(screen):
        return
    serial_no, worker = screen.details.serial_no, screen.worker
    if serial_no is None or worker is None:
        screen.notify("Scan or pick a serial first", markup=False)
        return
    people = screen.people
    action = Action.PRINT_LABELS if whole_run else Action.PRINT_LABEL
    if people.has_users and approver is None:
        if people.user is None:
            screen.notify("Sign in first: printing is recorded with who printed", markup=False)
            return
        if not people.user.role.includes(required_role(action)):
            people.ask_approval(action, lambda approver: print_shown(screen, whole_run, approver))
            return
    problem = print_labels(
        worker,
        screen.settings.labels,
        serial_no,
        station_id=screen.state.station_id,
        operator=screen.state.operator,
        whole_run=whole_run,
        approved_by=approver.name if approver is not None else None,
    )
    if problem:
        screen.notify(problem, title="Not printed", severity="error", markup=False)


def ask_print_run(screen: StationScreen) -> None:
    """ctrl+g: a supervisor's reprint of the shown serial's whole generation run, asked first."""
    from scanstation.tui.screens.confirm import ConfirmPrompt

    if _kiosk(screen):
        return
    if screen.details.serial_no is None:
        screen.notify("Scan or pick a serial of the run first", markup=False)
        return
    prompt = ConfirmPrompt(
        "Print the whole generation run?",
        f"Every label of the run {screen.details.serial_no} belongs to goes to the printer.",
        confirm="Print",
    )
    screen.app.push_screen(prompt, lambda yes: print_shown(screen, whole_run=True) if yes else None)


def _kiosk(screen: StationScreen) -> bool:
    if screen.settings.station.kiosk:
        screen.app.kiosk_locked("printing labels")  # type: ignore[attr-defined]
        return True
    return False


def print_labels(
    worker: StationWorker,
    settings: LabelSettings,
    serial_no: str,
    *,
    station_id: str,
    operator: str,
    whole_run: bool = False,
    approved_by: str | None = None,
) -> str | None:
    """Queue the print of one serial's label (or, `whole_run`, of every label of its
    generation run); the reason it cannot even start, or None. The caller has checked the
    role (print_shown)."""
    printer = settings.printer
    if not printer:
        return "No label printer: set [labels] printer in config.toml (tcp://HOST:9100 or a queue)"

    def work(station: Station) -> tuple[object, str]:
        from scanstation.labels.jobs import job_from_settings, print_job, render
        from scanstation.labels.layout import LabelError
        from scanstation.labels.printer import PrintError
        from scanstation.station import ServiceError

        def record(serials: Sequence[str]) -> int:
            return station.record_prints(
                serials, station=station_id, by=operator, approved_by=approved_by
            )

        try:
            views = station.label_serials(keys=[serial_no])
            if whole_run:
                run = views[0].generation_no
                if run is None:
                    raise ServiceError(f"{serial_no} belongs to no generation run")
                views = station.label_serials(generation_no=run)
            job = job_from_settings(settings, format=settings.format)
            recorded = print_job(
                render(views, job),
                format=job.format,
                printer=printer,
                timeout=settings.printer_timeout_s,
                serial_nos=[view.serial_no for view in views],
                record=record,
            )
        except (LabelError, PrintError) as error:
            raise ServiceError(str(error)) from error
        what = f"{recorded} labels of {views[0].generation_no}" if whole_run else serial_no
        return recorded, f"Label of {what} printed on {printer}"

    worker.submit_write("print_labels", work, request=serial_no)
    return None
