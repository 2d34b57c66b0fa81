"""A print job, the one way every face prints (the command line and the station): serials →
label bytes (ZPL or PDF) → a file, or a printer and then the record of the prints.

A file written records nothing; only a job a printer took whole is recorded, after the send.
The bytes are the same either way for the same labels.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scanstation.domain.model import SerialView
from scanstation.labels.layout import LabelContent, LabelError, Part, Template
from scanstation.labels.printer import PrintError, parse_printer, send

if TYPE_CHECKING:
    from scanstation.config import LabelSettings

__all__ = ["LabelJob", "content_of", "job_from_settings", "print_job", "render", "write_file"]


@dataclass(frozen=True, slots=True)
class LabelJob:
    format: str  # "zpl" | "pdf"
    template: Template
    dpi: int
    paper: str = "a4"  # PDF only: "a4" or "4x6"


def job_from_settings(
    settings: LabelSettings,
    *,
    format: str,
    template: str | None = None,
    dpi: int | None = None,
    paper: str | None = None,
) -> LabelJob:
    """The job as `[labels]` sets it, with what the caller chose instead."""
    name = template or settings.template
    chosen = settings.all_templates().get(name)
    if chosen is None:
        known = ", ".join(sorted(settings.all_templates()))
        raise LabelError(f"no label template {name!r} (known: {known}; see [labels.templates])")
    parts = tuple(Part(p) for p in chosen.parts)
    return LabelJob(
        format,
        Template(name, chosen.width_mm, chosen.height_mm, parts),
        dpi or settings.dpi,
        paper or settings.paper,
    )


def content_of(view: SerialView) -> LabelContent:
    return LabelContent(view.serial_no, view.item_name, view.sku, view.gtin, view.secondary_qr)


def render(views: Sequence[SerialView], job: LabelJob) -> bytes:
    """The labels' bytes (LabelError when one cannot be made: nothing is half-made)."""
    contents = [content_of(view) for view in views]
    if job.format == "zpl":
        from scanstation.labels.zpl import zpl_labels

        return zpl_labels(contents, job.template, job.dpi)
    from scanstation.labels.pdf import labels_pdf

    return labels_pdf(contents, job.template, job.dpi, job.paper)


def write_file(path: Path, data: bytes) -> None:
    """Write whole or not at all (a temporary file renamed over the target)."""
    try:
        directory = path.parent if str(path.parent) else Path(".")
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError as error:
        raise LabelError(f"{path}: cannot be written: {error.strerror or error}") from error


def print_job(
    data: bytes,
    *,
    format: str,
    printer: str,
    timeout: float,
    serial_nos: Sequence[str],
    record: Callable[[Sequence[str]], int],
) -> int:
    """Send the job; only when the printer took it whole, record the prints. Returns the labels
    recorded; PrintError (nothing recorded) when the printer did not take it."""
    destination = parse_printer(printer)
    if destination.kind == "tcp" and format != "zpl":
        raise PrintError(f"{destination} takes ZPL: print with --format zpl (or use a CUPS queue)")
    send(destination, data, timeout, raw=format == "zpl")
    return record(serial_nos) if serial_nos else 0
