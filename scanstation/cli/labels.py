"""Printing: `labels` (serial labels) and `doc print` (a document's sheet), to a file or a
printer. A file records nothing; a job a printer took whole is recorded (print count, last
print time, an event a label). Exit 2 with the reason when the printer did not take it.

Once the database has users, `labels` to a printer says who prints (`--user`, as every
command that records something): one serial's label needs an operator, a generation run's or
several serials' labels a supervisor. `--out` and `doc print` record nothing and ask no one."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from scanstation.cli.common import TEXT, CliState, cli_state, fail, say
from scanstation.cli.credentials import authorised, named, user_option
from scanstation.domain.roles import Action
from scanstation.labels.jobs import job_from_settings, print_job, render, write_file
from scanstation.labels.layout import DPIS, LabelError
from scanstation.labels.pdf import PAPERS
from scanstation.labels.printer import PrintError

FORMATS = ("zpl", "pdf")


def _serials_file(path: Path) -> list[str]:
    """One serial (or secondary QR text) a line; blank lines and `#` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"{path}: cannot be read: {getattr(error, 'strerror', None) or error}")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def deliver(
    state: CliState,
    data: bytes,
    *,
    format: str,
    out: Path | None,
    printer: str | None,
    serial_nos: Sequence[str],
    what: str,
    reason: str | None = None,
    by: str | None = None,
) -> None:
    """To `--out` (recording nothing), else to the printer (recording the prints)."""
    settings = state.settings
    if out is not None:
        if str(out) == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return
        try:
            write_file(out, data)
        except LabelError as error:
            fail(error)
        say(f"Wrote {what} to {out} ({len(data):,} bytes); nothing is recorded as printed")
        return
    destination = printer or settings.labels.printer
    if not destination:
        fail("give --out FILE or --printer DEST (or set [labels] printer)")
    operator = by or settings.station.operator or None
    with state.station() as station:

        def record(serials: Sequence[str]) -> int:
            return station.record_prints(
                serials, station=settings.station.id, by=operator, reason=reason
            )

        try:
            recorded = print_job(
                data,
                format=format,
                printer=destination,
                timeout=settings.labels.printer_timeout_s,
                serial_nos=serial_nos,
                record=record,
            )
        except PrintError as error:
            fail(error)
    counted = f"; {recorded} recorded as printed" if serial_nos else ""
    say(f"Printed {what} on {destination}{counted}")


@click.command()
@click.argument("serials", nargs=-1, type=TEXT)
@click.option("--generation", "generation_no", type=TEXT, default=None, metavar="G")
@click.option(
    "--serials",
    "serials_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="One serial (or secondary QR text) a line.",
)
@click.option("--format", "format_", type=click.Choice(FORMATS), required=True)
@click.option("--template", type=TEXT, default=None, help="A [labels.templates] name.")
@click.option("--dpi", type=click.Choice([str(d) for d in DPIS]), default=None)
@click.option("--paper", type=click.Choice(sorted(PAPERS)), default=None, help="PDF only.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--printer", type=TEXT, default=None, metavar="DEST", help="tcp://HOST:9100 or a CUPS queue."
)
@click.option("--reason", type=TEXT, default=None, help="Why: recorded with a reprint.")
@click.option(
    "--by",
    type=TEXT,
    default=None,
    help="Who prints (default: the operator; with users, the signed-in user).",
)
@user_option
@click.pass_context
def labels(
    ctx: click.Context,
    serials: tuple[str, ...],
    generation_no: str | None,
    serials_file: Path | None,
    format_: str,
    template: str | None,
    dpi: str | None,
    paper: str | None,
    out: Path | None,
    printer: str | None,
    reason: str | None,
    by: str | None,
    acting_name: str | None,
) -> None:
    """Labels for a generation run, a file of serials, or SERIAL...: the serial as Code 128,
    the item name and SKU, a GS1 DataMatrix (01)GTIN(21)SERIAL and the secondary QR."""
    sources = [bool(serials), generation_no is not None, serials_file is not None]
    if sum(sources) != 1:
        fail("name the labels one way: --generation G, --serials FILE or SERIAL...")
    if out is not None and printer is not None:
        fail("--out and --printer: choose one")
    state = cli_state(ctx)
    keys = _serials_file(serials_file) if serials_file is not None else list(serials)
    try:
        job = job_from_settings(
            state.settings.labels,
            format=format_,
            template=template,
            dpi=int(dpi) if dpi else None,
            paper=paper,
        )
    except LabelError as error:
        fail(error)
    with state.station() as station:
        views = station.label_serials(generation_no=generation_no, keys=keys)
        if out is None:  # to a printer: recorded, so whoever prints is asked for
            one = generation_no is None and len(views) == 1
            user = authorised(
                station, acting_name, Action.PRINT_LABEL if one else Action.PRINT_LABELS
            )
            if user is not None:
                if by is not None and by.strip().casefold() != user.name.casefold():
                    fail(
                        "--by must be the signed-in user (or be left out) once the database "
                        "has users"
                    )
                by = named(user)
    try:
        data = render(views, job)
    except LabelError as error:
        fail(error)
    deliver(
        state,
        data,
        format=format_,
        out=out,
        printer=printer,
        serial_nos=[view.serial_no for view in views],
        what=f"{len(views)} label{'' if len(views) == 1 else 's'}",
        reason=reason,
        by=by,
    )


@click.command("print")
@click.argument("reference_no", metavar="R", type=TEXT)
@click.option("--format", "format_", type=click.Choice(["pdf"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--printer", type=TEXT, default=None, metavar="DEST", help="A CUPS queue.")
@click.pass_context
def doc_print(
    ctx: click.Context, reference_no: str, format_: str, out: Path | None, printer: str | None
) -> None:
    """The document's sheet: reference no, DC no and invoice no as Code 128, its lines and
    quantities, so a gate worker scans the sheet to pick the document."""
    from scanstation.domain.text import visible
    from scanstation.labels.pdf import document_pdf

    if out is not None and printer is not None:
        fail("--out and --printer: choose one")
    state = cli_state(ctx)
    with state.station() as station:
        document = station.document(reference_no)
    if document is None:
        fail(f"No document with reference no {visible(reference_no)!r}")
    try:
        data = document_pdf(document)
    except LabelError as error:
        fail(error)
    deliver(
        state,
        data,
        format=format_,
        out=out,
        printer=printer,
        serial_nos=[],
        what=f"the sheet of {document.reference_no}",
    )
