"""Many documents at a time: `doc list` and `doc import` (commands of the `doc` group, which
loads them from here: documents.py)."""

from __future__ import annotations

from pathlib import Path

import click

from scanstation.cli.admin import tell_imported
from scanstation.cli.common import TEXT, cli_state
from scanstation.cli.credentials import authorised, named, user_option
from scanstation.cli.records import Column, write_records
from scanstation.domain.roles import Action

DOCUMENT_COLUMNS = (
    Column("reference_no", "REFERENCE", 10),
    Column("kind", "KIND", 7),
    Column("state", "STATE", 6),
    Column("from", "FROM", 5),
    Column("to", "TO", 18),
    Column("expected", "EXPECTED", 8, right=True),
    Column("dispatched", "DISPATCHED", 10, right=True),
    Column("received", "RECEIVED", 8, right=True),
    Column("dc_no", "DC NO", 10),
    Column("invoice_no", "INVOICE NO", 10),
    Column("created_at", "OPENED", 16),
)


@click.command("list")
@click.option("--open", "only_open", is_flag=True, help="Only open documents.")
@click.option("--site", type=TEXT, default=None, metavar="CODE", help="From or to this site.")
@click.option("--kind", type=click.Choice(["dc", "invoice"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one a document.")
@click.pass_context
def doc_list(
    ctx: click.Context, only_open: bool, site: str | None, kind: str | None, as_json: bool
) -> None:
    """Documents in the order they were opened, with their progress: units expected on
    their lines, dispatched on them, and of those received."""
    with cli_state(ctx).station() as station:
        found = station.iter_documents(state="open" if only_open else None, site=site, kind=kind)
        write_records(
            (
                {
                    "reference_no": d.reference_no,
                    "kind": d.kind,
                    "dc_no": d.dc_no,
                    "invoice_no": d.invoice_no,
                    "from": d.from_site,
                    "to": d.destination,
                    "state": d.state,
                    "created_at": d.created_at,
                    "expected": d.expected,
                    "dispatched": d.dispatched,
                    "received": d.received,
                }
                for d in found
            ),
            DOCUMENT_COLUMNS,
            "json" if as_json else "table",
        )


@click.command("import")
@click.argument("csv_file", metavar="FILE.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file; write nothing.")
@user_option
@click.pass_context
def doc_import(ctx: click.Context, csv_file: Path, dry_run: bool, acting_name: str | None) -> None:
    """Open many documents: reference_no,kind,dc_no,invoice_no,from,to,lines with lines as
    SKU=QTY;SKU=QTY (all or nothing; every problem as FILE:LINE)."""
    with cli_state(ctx).station() as station:
        # Opening documents, as `doc add` does: once the database has users, by someone.
        by = authorised(station, acting_name, Action.OPEN_DOCUMENT)
        imported = station.import_documents(csv_file, dry_run=dry_run, by=named(by))
    tell_imported(csv_file, imported, dry_run, "documents")
