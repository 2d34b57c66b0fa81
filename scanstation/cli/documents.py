"""Delivery challans and invoices: `doc add`, `doc show`, `doc close`, `doc reopen`."""

from __future__ import annotations

from typing import Any

import click

from scanstation.cli.common import (
    EXIT_SCAN_FAILED,
    TEXT,
    LazyGroup,
    cli_state,
    fail,
    iso,
    json_line,
    say,
)
from scanstation.cli.credentials import acting_user, authorised, named, user_option
from scanstation.domain.roles import Action
from scanstation.domain.text import visible


def _parse_line(text: str) -> tuple[str, int]:
    sku, sep, qty = text.rpartition("=")
    if not sep or not sku.strip():
        raise click.BadParameter(f"{visible(text)!r}: expected SKU=QTY", param_hint="--line")
    try:
        return sku.strip(), int(qty)
    except ValueError:
        raise click.BadParameter(
            f"{visible(text)!r}: the quantity must be a whole number", param_hint="--line"
        ) from None


@click.group(cls=LazyGroup)
def doc() -> None:
    """Delivery challans (DC) and invoices."""


# The group's commands written in modules of their own, loaded when named.
doc.lazy = {
    "list": "scanstation.cli.document_lists:doc_list",
    "import": "scanstation.cli.document_lists:doc_import",
    "print": "scanstation.cli.labels:doc_print",
}


@doc.command("add")
@click.option("--kind", type=click.Choice(["dc", "invoice"]), required=True)
@click.option("--reference-no", type=TEXT, required=True)
@click.option("--dc-no", type=TEXT, default=None)
@click.option("--invoice-no", type=TEXT, default=None)
@click.option("--from", "from_site", type=TEXT, required=True, metavar="SITE")
@click.option("--to", "to", type=TEXT, required=True, metavar="SITE_OR_NAME")
@click.option("--line", "lines", type=TEXT, multiple=True, required=True, metavar="SKU=QTY")
@user_option
@click.pass_context
def doc_add(
    ctx: click.Context,
    kind: str,
    reference_no: str,
    dc_no: str | None,
    invoice_no: str | None,
    from_site: str,
    to: str,
    lines: tuple[str, ...],
    acting_name: str | None,
) -> None:
    from scanstation.domain.stages import DocumentKind

    parsed = [_parse_line(line) for line in lines]
    with cli_state(ctx).station() as station:
        by = authorised(station, acting_name, Action.OPEN_DOCUMENT)
        added = station.add_document(
            by=named(by),
            kind=DocumentKind(kind),
            reference_no=reference_no,
            from_site=from_site,
            to=to,
            lines=parsed,
            dc_no=dc_no,
            invoice_no=invoice_no,
        )
    say(
        f"{added.kind.upper()} {added.reference_no} open: {added.from_site} → "
        f"{added.destination}, {len(added.lines)} line(s)"
    )


def document_json(document: Any, progress: Any = None) -> dict[str, Any]:
    """`doc show --json`; with the document's progress, each line's `received` and the
    top-level `missing` (serials dispatched on it, not yet received) and `returns`."""
    data: dict[str, Any] = {
        "reference_no": document.reference_no,
        "kind": document.kind.value,
        "dc_no": document.dc_no,
        "invoice_no": document.invoice_no,
        "from": document.from_site,
        "to": document.destination,
        "state": document.state,
        "closed_reason": document.closed_reason,
        "lines": [
            {
                "sku": line.sku,
                "item_name": line.item_name,
                "quantity": line.quantity,
                "scanned": line.scanned,
                **({"received": progress.received(line)} if progress is not None else {}),
            }
            for line in document.lines
        ],
    }
    if progress is not None:
        data["missing"] = [serial_no for serial_no, _ in progress.missing]
        data["returns"] = [
            {"serial_no": back.serial_no, "at": iso(back.at), "by": back.by}
            for back in progress.returns
        ]
    return data


@doc.command("show")
@click.argument("reference_no", type=TEXT)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def doc_show(ctx: click.Context, reference_no: str, as_json: bool) -> None:
    with cli_state(ctx).station() as station:
        progress = station.document_progress(reference_no)
    if progress is None:
        fail(f"No document with reference no {visible(reference_no)!r}", EXIT_SCAN_FAILED)
    document = progress.document
    if as_json:
        json_line(document_json(document, progress))
        return
    say(f"{document.kind.upper()} {visible(document.reference_no)} ({document.state})")
    say(f"  DC no       {visible(document.dc_no or '-')}")
    say(f"  Invoice no  {visible(document.invoice_no or '-')}")
    say(f"  From → to   {visible(document.from_site)} → {visible(document.destination)}")
    say(f"  {'SKU':<12} {'item':<28} {'scanned':>9} {'received':>9}")
    for line in document.lines:
        sku, name = visible(line.sku), visible(line.item_name)
        scanned = f"{line.scanned}/{line.quantity}"
        say(f"  {sku:<12} {name:<28} {scanned:>9} {progress.received(line):>9}")
    if progress.missing:
        say(f"  Not received yet ({len(progress.missing)}):")
        for serial_no, sku in progress.missing:
            say(f"    {visible(serial_no)}  {visible(sku)}")
    for back in progress.returns:
        say(f"  Returned: {visible(back.serial_no)} at {iso(back.at)} by {visible(back.by)}")
    if document.closed_reason:
        say(f"  Closed: {visible(document.closed_reason)}")


@doc.command("close")
@click.argument("reference_no", type=TEXT)
@click.option("--reason", type=TEXT, default=None, help="Needed when lines are not full.")
@user_option
@click.pass_context
def doc_close(
    ctx: click.Context, reference_no: str, reason: str | None, acting_name: str | None
) -> None:
    with cli_state(ctx).station() as station:
        by = acting_user(station, acting_name)
        closed = station.close_document(reference_no, reason, named(by), actor=by)
    say(
        f"{visible(closed.reference_no)} closed"
        + (f" ({closed.shortfall} short: {visible(reason or '')})" if closed.shortfall else "")
    )


@doc.command("reopen")
@click.argument("reference_no", type=TEXT)
@click.option("--reason", type=TEXT, required=True, help="Why it is opened again (kept).")
@user_option
@click.pass_context
def doc_reopen(ctx: click.Context, reference_no: str, reason: str, acting_name: str | None) -> None:
    """Open a closed document again: its lines can be filled again."""
    with cli_state(ctx).station() as station:
        by = acting_user(station, acting_name)
        reopened = station.reopen_document(reference_no, reason, named(by), actor=by)
    say(f"{visible(reopened.reference_no)} reopened")
