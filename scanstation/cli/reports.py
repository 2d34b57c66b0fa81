"""`scanstation report NAME`: the supervisor's reports, computed by the database.

Every report takes --site, --sku, --since, --until and --format (table, csv, json). JSON keys
are a public contract. An unknown site, SKU or document is exit 2.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import click

from scanstation.cli.common import TEXT, cli_state, say
from scanstation.cli.records import Column, When, format_option, write_records
from scanstation.domain.reports import AGING_BUCKETS, DocumentReport, ReportFilter
from scanstation.domain.stages import STAGE_ABBREVIATIONS, Stage


def filters(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every report takes, given to the command as one ReportFilter `where`."""

    @functools.wraps(command)
    def with_filter(
        ctx: click.Context,
        site: str | None,
        sku: str | None,
        since: datetime | None,
        until: datetime | None,
        **rest: Any,
    ) -> Any:
        where = ReportFilter(site=site, sku=sku, since=since, until=until)
        return command(ctx, where, **rest)

    wrapped: Callable[..., Any] = with_filter
    for option in reversed(
        (
            click.option("--site", type=TEXT, default=None, metavar="CODE", help="One site."),
            click.option("--sku", type=TEXT, default=None, metavar="SKU", help="One item."),
            click.option("--since", type=When(), default=None, help="From this date or time."),
            click.option("--until", type=When(), default=None, help="Before this date or time."),
            format_option(),
        )
    ):
        wrapped = option(wrapped)
    return click.pass_context(wrapped)


@click.group()
def report() -> None:
    """The supervisor's reports: stages, document R, transit, aging, throughput, exceptions."""


# -- stages -----------------------------------------------------------------------------------

_STAGE_KEYS = [STAGE_ABBREVIATIONS[stage] for stage in Stage]
STAGE_TABLE = (
    Column("sku", "SKU", 12),
    Column("site", "SITE", 5),
    *(Column(key, key, 5, right=True) for key in _STAGE_KEYS),
    Column("total", "TOTAL", 6, right=True),
)


@report.command("stages")
@filters
def stages(ctx: click.Context, where: ReportFilter, fmt: str) -> None:
    """Serials per stage by SKU and site (since/until: last changed in that range)."""
    with cli_state(ctx).station() as station:
        counts = station.stage_report(where)
    if fmt != "table":
        write_records(
            ({"sku": c.sku, "site": c.site, "stage": c.stage, "count": c.count} for c in counts),
            (
                Column("sku", "", 0),
                Column("site", "", 0),
                Column("stage", "", 0),
                Column("count", "", 0),
            ),
            fmt,
        )
        return
    pivot: dict[tuple[str, str | None], dict[str, int]] = {}
    for count in counts:
        row = pivot.setdefault((count.sku, count.site), {})
        row[STAGE_ABBREVIATIONS[Stage(count.stage)]] = count.count
    write_records(
        (
            {"sku": sku_, "site": site_, **row, "total": sum(row.values())}
            for (sku_, site_), row in pivot.items()
        ),
        STAGE_TABLE,
        fmt,
    )
    legend = ", ".join(f"{STAGE_ABBREVIATIONS[s]} {s.value}" for s in Stage)
    for line in textwrap.wrap(legend, 78):
        say(f"  {line}")


# -- one document ----------------------------------------------------------------------------

DOCUMENT_COLUMNS = (
    Column("record", "RECORD", 7),
    Column("sku", "SKU", 12),
    Column("expected", "EXPECTED", 8, right=True),
    Column("dispatched", "DISPATCHED", 10, right=True),
    Column("received", "RECEIVED", 8, right=True),
    Column("serial_no", "SERIAL", 14),
    Column("stage", "STAGE", 20),
    Column("site", "SITE", 5),
    Column("at", "AT", 16),
)


def document_records(found: DocumentReport) -> Iterator[dict[str, Any]]:
    """Its lines, then the units still missing, then any extra."""
    for line in found.lines:
        yield {
            "record": "line",
            "sku": line.sku,
            "expected": line.expected,
            "dispatched": line.dispatched,
            "received": line.received,
        }
    for record, units in (("missing", found.missing), ("extra", found.extra)):
        for unit in units:
            yield {
                "record": record,
                "serial_no": unit.serial_no,
                "sku": unit.sku,
                "stage": unit.stage,
                "site": unit.site,
                "at": unit.at,
            }


@report.command("document")
@click.argument("reference", type=TEXT)
@filters
def document(ctx: click.Context, where: ReportFilter, fmt: str, reference: str) -> None:
    """A document's lines (expected, dispatched, received), then each unit dispatched on it
    and not received (`missing`), then each received citing it but never sent on it
    (`extra`). REFERENCE is its reference, DC or invoice no; since/until: when the unit was
    dispatched (missing) or received (extra)."""
    with cli_state(ctx).station() as station:
        found = station.document_report(reference, where)
    if fmt == "table":
        say(
            f"{found.kind.upper()} {found.reference_no} ({found.state}): {found.from_site} → "
            f"{found.destination}; {len(found.missing)} missing, {len(found.extra)} extra"
        )
    write_records(document_records(found), DOCUMENT_COLUMNS, fmt)


# -- transit and aging -----------------------------------------------------------------------

TRANSIT_COLUMNS = (
    Column("serial_no", "SERIAL", 14),
    Column("sku", "SKU", 12),
    Column("document", "DOCUMENT", 10),
    Column("from", "FROM", 5),
    Column("to", "TO", 5),
    Column("dispatched_at", "DISPATCHED", 16),
    Column("days", "DAYS", 4, right=True),
)


@report.command("transit")
@filters
def transit(ctx: click.Context, where: ReportFilter, fmt: str) -> None:
    """Units dispatched to a site and not received yet, oldest first, with days in transit
    (--site: either end; since/until: when dispatched)."""
    with cli_state(ctx).station() as station:
        units = station.transit_report(where)
        write_records(
            (
                {
                    "serial_no": u.serial_no,
                    "sku": u.sku,
                    "document": u.document,
                    "from": u.from_site,
                    "to": u.to_site,
                    "dispatched_at": u.dispatched_at,
                    "days": u.days,
                }
                for u in units
            ),
            TRANSIT_COLUMNS,
            fmt,
        )


AGING_LABELS = [label for label, _, _ in AGING_BUCKETS]
AGING_TABLE = (
    Column("site", "SITE", 5),
    Column("sku", "SKU", 12),
    *(Column(label, label, 6, right=True) for label in AGING_LABELS),
)
AGING_COLUMNS = (
    Column("site", "SITE", 5),
    Column("sku", "SKU", 12),
    Column("bucket", "DAYS", 6),
    Column("count", "COUNT", 6, right=True),
)


@report.command("aging")
@filters
def aging(ctx: click.Context, where: ReportFilter, fmt: str) -> None:
    """Units at each godown by days since received: 0-7, 8-30, 31-90, 90+ (since/until: when
    received)."""
    with cli_state(ctx).station() as station:
        rows = station.aging_report(where)
    records = [{"site": r.site, "sku": r.sku, "bucket": r.bucket, "count": r.count} for r in rows]
    if fmt != "table":
        write_records(records, AGING_COLUMNS, fmt)
        return
    pivot: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        pivot.setdefault((r.site, r.sku), {"site": r.site, "sku": r.sku})[r.bucket] = r.count
    write_records(pivot.values(), AGING_TABLE, fmt)


# -- the audit trail -------------------------------------------------------------------------

THROUGHPUT_COLUMNS = (
    Column("hour", "HOUR (UTC)", 13),
    Column("station", "STATION", 14),
    Column("operator", "OPERATOR", 12),
    Column("ok", "OK", 5, right=True),
    Column("refused", "REFUSED", 7, right=True),
)


@report.command("throughput")
@filters
def throughput(ctx: click.Context, where: ReportFilter, fmt: str) -> None:
    """Scans per hour (UTC) by station and operator: applied (ok) and refused."""
    with cli_state(ctx).station() as station:
        rows = station.throughput_report(where)
    write_records(
        (
            {
                "hour": r.hour,
                "station": r.station,
                "operator": r.operator,
                "ok": r.ok,
                "refused": r.refused,
            }
            for r in rows
        ),
        THROUGHPUT_COLUMNS,
        fmt,
    )


EXCEPTION_COLUMNS = (
    Column("at", "AT", 16),
    Column("kind", "KIND", 11),
    Column("serial_no", "SERIAL", 14),
    Column("payload", "PAYLOAD", 16),
    Column("operator", "OPERATOR", 10),
    Column("station", "STATION", 12),
    Column("site", "SITE", 5),
    Column("reason", "WHY", 0),
)


def _exception_records(rows: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for r in rows:
        yield {
            "at": r.at,
            "kind": r.kind,
            "serial_no": r.serial_no,
            "payload": r.payload,
            "operator": r.operator,
            "station": r.station,
            "site": r.site,
            "reason": r.reason,
        }


@report.command("exceptions")
@filters
def exceptions(ctx: click.Context, where: ReportFilter, fmt: str) -> None:
    """Rejected, unknown and conflicting scans, overrides, voids and not-genuine codes,
    newest first, with the payload (escaped), who, where and why."""
    with cli_state(ctx).station() as station:
        write_records(
            _exception_records(station.exception_report(where)),
            EXCEPTION_COLUMNS,
            fmt,
        )
