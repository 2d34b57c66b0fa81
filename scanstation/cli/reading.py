"""Reading what is recorded: `show` (a serial and its history) and `export` (serials, or the
audit trail)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from scanstation.cli.common import EXIT_SCAN_FAILED, TEXT, cli_state, fail, iso, json_line, say
from scanstation.cli.records import Column, When, format_option, write_records
from scanstation.domain.corrections import RETURN_MODE, VOID_MODE
from scanstation.domain.reports import ReportFilter
from scanstation.domain.stages import Stage
from scanstation.domain.text import visible


def serial_json(view: Any) -> dict[str, Any]:
    return {
        "serial_no": view.serial_no,
        "sku": view.sku,
        "item_name": view.item_name,
        "generation_no": view.generation_no,
        "secondary_qr": view.secondary_qr,
        "stage": view.stage.value,
        "site": view.site,
        "created_at": iso(view.created_at),
        "created_by": view.created_by,
        "updated_at": iso(view.updated_at),
        "updated_by": view.updated_by,
        "print_count": view.print_count,
        "printed_at": iso(view.printed_at),
    }


def event_json(event: Any) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "by": event.by,
        "approved_by": event.approved_by,
        "station": event.station,
        "site": event.site,
        "outcome": event.outcome,
        "from_stage": event.from_stage.value if event.from_stage else None,
        "to_stage": event.to_stage.value if event.to_stage else None,
        "document": event.document,
        "comment": event.comment,
        "recorded_at": iso(event.recorded_at or event.at),
    }


def _recorded_later(event: Any) -> bool:
    """A scan replayed from an offline journal was read long before it was recorded."""
    recorded = event.recorded_at
    return recorded is not None and abs((recorded - event.at).total_seconds()) >= 1.0


def _event_line(event: Any) -> str:
    move = f"{event.from_stage} → {event.to_stage}" if event.to_stage else event.outcome
    if event.mode in (VOID_MODE, RETURN_MODE):
        move += f" ({event.mode})"
    extra = f" [{event.document}]" if event.document else ""
    note = f" — {event.comment}" if event.comment else ""
    approval = f" (approved by {event.approved_by})" if event.approved_by else ""
    when = event.at.isoformat(timespec="seconds")
    if _recorded_later(event):
        when += f" (recorded {event.recorded_at.isoformat(timespec='seconds')})"
    return f"  {when} {event.by}{approval} @ {event.station}: {move}{extra}{note}"


@click.command()
@click.argument("serial", type=TEXT)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, serial: str, as_json: bool) -> None:
    """A serial's details and its history (by serial no or secondary QR), in the order it was
    recorded; an event recorded later than it was read (an offline scan) shows both times."""
    with cli_state(ctx).station() as station:
        view = station.serial(serial)
        if view is None:
            fail(f"{serial} is not a known serial", EXIT_SCAN_FAILED)
        events = station.events(view.serial_no)
    if as_json:
        json_line({**serial_json(view), "events": [event_json(e) for e in events]})
        return
    for key, value in serial_json(view).items():
        say(f"{key:<14} {value if value is not None else '-'}")
    say("events:")
    for event in events:
        say(_event_line(event))


EXPORT_FIELDS = (
    "serial_no",
    "sku",
    "item_name",
    "generation_no",
    "secondary_qr",
    "stage",
    "site",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)


EVENT_FIELDS = (
    "at",
    "recorded_at",
    "kind",
    "serial_no",
    "mode",
    "from_stage",
    "to_stage",
    "operator",
    "approver",
    "station",
    "site",
    "document",
    "outcome",
    "reason",
    "payload",
)


@click.command()
@format_option(default="csv", choices=("csv", "json"))
@click.option(
    "--stage", type=TEXT, default=None, metavar="STAGE", help='e.g. "Received at Godown".'
)
@click.option("--site", "site_code", type=TEXT, default=None, metavar="CODE")
@click.option("--events", is_flag=True, help="The audit trail (every event) instead of serials.")
@click.option("--since", type=When(), default=None, help="Events from this date or time.")
@click.option("--until", type=When(), default=None, help="Events before this date or time.")
@click.option("--operator", type=TEXT, default=None, metavar="NAME", help="Events of one person.")
@click.pass_context
def export(
    ctx: click.Context,
    fmt: str,
    stage: str | None,
    site_code: str | None,
    events: bool,
    since: datetime | None,
    until: datetime | None,
    operator: str | None,
) -> None:
    """One record a serial, with the fields of `show` except events; with --events, one
    record an event, in the order they were recorded.

    CSV cells are shown like every other output (a control character made visible); JSON
    lines are the data as recorded, in ASCII."""
    if events:
        if stage is not None:
            fail("--stage is for serials; --events takes --site, --since, --until, --operator")
        _export_events(ctx, fmt, ReportFilter(site=site_code, since=since, until=until), operator)
        return
    if since or until or operator:
        fail("--since, --until and --operator are for --events")
    stage_value = None
    if stage is not None:
        matches = [s for s in Stage if s.value.lower() == stage.strip().lower()]
        if not matches:
            fail(
                f"Unknown stage {visible(stage)!r}; stages are: "
                + ", ".join(s.value for s in Stage)
            )
        stage_value = matches[0]
    with cli_state(ctx).station() as station:
        if site_code is not None and station.site(site_code) is None:
            known = ", ".join(site.code for site in station.sites()) or "none yet"
            fail(f"Unknown site {visible(site_code)!r} (known sites: {visible(known)})")
        records = (serial_json(view) for view in station.export(stage_value, site_code))
        write_records(records, [Column(key, key, 0) for key in EXPORT_FIELDS], fmt)


def _export_events(ctx: click.Context, fmt: str, where: ReportFilter, operator: str | None) -> None:
    with cli_state(ctx).station() as station:
        records = (
            {key: getattr(event, key) for key in EVENT_FIELDS}
            for event in station.audit_events(where, operator)
        )
        write_records(records, [Column(key, key, 0) for key in EVENT_FIELDS], fmt)
