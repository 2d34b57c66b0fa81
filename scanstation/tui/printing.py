"""The station's "print labels": the shown serial's label on `[labels] printer`, through the
same job as `scanstation labels` (render, send, record only what the printer took whole). It
runs on the station's write thread like every write, so the answer comes back as a
CommandDone or CommandFailed; a printer that does not answer holds the next scans at most
`[labels] printer_timeout_s`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanstation.config import LabelSettings
    from scanstation.station import Station
    from scanstation.tui.scan_worker import StationWorker

__all__ = ["print_labels"]


def print_labels(
    worker: StationWorker,
    settings: LabelSettings,
    serial_no: str,
    *,
    station_id: str,
    operator: str,
) -> str | None:
    """Queue the print of one serial's label; the reason it cannot even start, or None."""
    printer = settings.printer
    if not printer:
        return "No label printer: set [labels] printer in config.toml (tcp://HOST:9100 or a queue)"

    def work(station: Station) -> tuple[object, str]:
        from scanstation.labels.jobs import job_from_settings, print_job, render
        from scanstation.labels.layout import LabelError
        from scanstation.labels.printer import PrintError
        from scanstation.station import ServiceError

        def record(serials: Sequence[str]) -> int:
            return station.record_prints(serials, station=station_id, by=operator)

        try:
            views = station.label_serials(keys=[serial_no])
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
        return recorded, f"Label of {serial_no} printed on {printer}"

    worker.submit_write("print_labels", work, request=serial_no)
    return None
