"""Setting a database up: `db init`, `db info`, `site add`/`list`, `item add`/`list`,
`generate`, `import` and `demo`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scanstation.cli.common import (
    EXIT_SCAN_FAILED,
    TEXT,
    cli_state,
    fail,
    json_line,
    say,
)
from scanstation.cli.credentials import acting_user, authorised, named, user_option
from scanstation.cli.records import Column, write_records
from scanstation.domain.roles import Action

if TYPE_CHECKING:
    from scanstation.station import ImportReport

# -- db ----------------------------------------------------------------------------------------


@click.group()
def db() -> None:
    """Create or describe the database."""


@db.command("init")
@click.pass_context
def db_init(ctx: click.Context) -> None:
    """Create the database (and its schema) if it does not exist."""
    with cli_state(ctx).station(create=True) as station:
        say(f"Database ready: {station.database}")


@db.command("info")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.pass_context
def db_info(ctx: click.Context, as_json: bool) -> None:
    """Backend, schema version and counts."""
    with cli_state(ctx).station() as station:
        info = station.info()
    if as_json:
        json_line(info)
        return
    for key, value in info.items():
        if isinstance(value, dict):
            say(f"{key}:")
            for sub, n in value.items():
                say(f"  {sub:<24} {n}")
        else:
            say(f"{key:<26} {value}")


@db.command("roles")
@click.option("--role", "role_name", type=TEXT, default="scanstation_station", show_default=True)
@click.option("--apply", "apply_now", is_flag=True, help="Run the SQL now (as the owner).")
@user_option
@click.pass_context
def db_roles(ctx: click.Context, role_name: str, apply_now: bool, acting_name: str | None) -> None:
    """PostgreSQL: the SQL of a least-privilege role for the terminals (--apply runs it)."""
    with cli_state(ctx).station() as station:
        by = acting_user(station, acting_name)
        target = station.database
        if apply_now:
            statements = station.apply_station_role(role_name, by=by)
        else:
            statements = station.station_role_sql(role_name, by=by)
    for statement in statements:
        say(f"{statement};")
    if apply_now:
        say(f"-- applied to {target}: log terminals in as members of {role_name}")


# -- sites and items ---------------------------------------------------------------------------


@click.group()
def site() -> None:
    """Plants and godowns."""


@site.command("add")
@click.argument("code", type=TEXT)
@click.option("--name", type=TEXT, required=True)
@click.option("--kind", type=click.Choice(["plant", "godown"]), required=True)
@user_option
@click.pass_context
def site_add(ctx: click.Context, code: str, name: str, kind: str, acting_name: str | None) -> None:
    from scanstation.domain.stages import SiteKind

    with cli_state(ctx).station() as station:
        authorised(station, acting_name, Action.ADD_SITE)
        added = station.add_site(code, name, SiteKind(kind))
    say(f"Site {added.code} ({added.kind}): {added.name}")


@site.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: code, name, kind.")
@click.pass_context
def site_list(ctx: click.Context, as_json: bool) -> None:
    """Every site."""
    with cli_state(ctx).station() as station:
        sites = station.sites()
    write_records(
        ({"code": s.code, "name": s.name, "kind": s.kind.value} for s in sites),
        SITE_COLUMNS,
        "json" if as_json else "table",
    )


SITE_COLUMNS = (Column("code", "CODE", 8), Column("kind", "KIND", 7), Column("name", "NAME", 0))
ITEM_COLUMNS = (
    Column("sku", "SKU", 14),
    Column("gtin", "GTIN", 14),
    Column("model_no", "MODEL", 10),
    Column("name", "NAME", 0),
)


@click.group()
def item() -> None:
    """Items (SKUs)."""


@item.command("add")
@click.argument("sku", type=TEXT)
@click.option("--name", type=TEXT, required=True)
@click.option("--gtin", type=TEXT, default=None)
@click.option("--model", "model_no", type=TEXT, default=None)
@user_option
@click.pass_context
def item_add(
    ctx: click.Context,
    sku: str,
    name: str,
    gtin: str | None,
    model_no: str | None,
    acting_name: str | None,
) -> None:
    with cli_state(ctx).station() as station:
        authorised(station, acting_name, Action.ADD_ITEM)
        added = station.add_item(sku, name, gtin, model_no)
    gtin_text = f" GTIN {added.gtin}" if added.gtin else ""
    say(f"Item {added.sku}: {added.name}{gtin_text}")


@item.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: sku, name, gtin, model_no.")
@click.pass_context
def item_list(ctx: click.Context, as_json: bool) -> None:
    """Every item."""
    with cli_state(ctx).station() as station:
        items = station.items()
    write_records(
        ({"sku": i.sku, "name": i.name, "gtin": i.gtin, "model_no": i.model_no} for i in items),
        ITEM_COLUMNS,
        "json" if as_json else "table",
    )


# -- generation runs and imports ---------------------------------------------------------------


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty() or total < 1000:
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        seen = 0

        def advance(done: int) -> None:
            nonlocal seen
            bar.update(done - seen)
            seen = done

        yield advance


@click.command()
@click.argument("sku", type=TEXT)
@click.option("--count", type=click.IntRange(min=1), required=True)
@click.option("--site", "site_code", type=TEXT, required=True, metavar="CODE")
@click.option("--prefix", type=TEXT, default="SN", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@user_option
@click.pass_context
def generate(
    ctx: click.Context,
    sku: str,
    count: int,
    site_code: str,
    prefix: str,
    as_json: bool,
    acting_name: str | None,
) -> None:
    """Create a generation run of COUNT serials of SKU in "Not Registered at Plant"."""
    with cli_state(ctx).station() as station:
        by = authorised(station, acting_name, Action.MAKE_SERIALS)
        with _progress(count, "Generating") as progress:
            generation_no, serials = station.generate(
                sku, count, site_code, prefix=prefix, progress=progress, by=named(by)
            )
    if as_json:
        json_line({"generation_no": generation_no, "serials": serials})
    else:
        say(
            f"Generation run {generation_no}: {len(serials)} serials of {sku} "
            f"({serials[0]} … {serials[-1]})"
        )


@click.command("import")
@click.argument(
    "csv_file",
    metavar="FILE.csv",
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option("--dry-run", is_flag=True, help="Check the file; write nothing.")
@user_option
@click.pass_context
def import_(ctx: click.Context, csv_file: Path, dry_run: bool, acting_name: str | None) -> None:
    """Import serials: serial_no,sku,generation_no,secondary_qr (all or nothing)."""
    try:
        with csv_file.open("rb") as handle:
            rows = max(0, sum(1 for _ in handle) - 1)  # the bar's length: lines less the header
    except OSError:
        rows = 0  # the service names the file and the problem
    with cli_state(ctx).station() as station:
        by = authorised(station, acting_name, Action.MAKE_SERIALS)
        with _progress(rows, "Importing") as progress:
            report = station.import_csv(csv_file, dry_run=dry_run, progress=progress, by=named(by))
    tell_imported(csv_file, report, dry_run, "serials")


def tell_imported(csv_file: Path, report: ImportReport, dry_run: bool, what: str) -> None:
    """Every problem as FILE:LINE (exit 1, nothing imported), or what was imported."""
    for problem in report.problems:
        say(f"{csv_file}:{problem.line}: {problem.message}", err=True)
    if report.problems:
        fail(f"{len(report.problems)} problem(s); nothing was imported", EXIT_SCAN_FAILED)
    if dry_run:
        say(f"{report.rows} rows would be imported; nothing was written (--dry-run)")
    else:
        say(f"Imported {report.rows} {what}")


@click.command()
@click.option("--db", "demo_db", type=TEXT, default=None, metavar="URL", help="Where to build it.")
@click.option("--if-missing", is_flag=True, help="Do nothing when the database already has data.")
@click.option(
    "--new-pins",
    is_flag=True,
    help="Give the people of a demo database new PINs and print them (builds nothing).",
)
@click.pass_context
def demo(ctx: click.Context, demo_db: str | None, if_missing: bool, new_pins: bool) -> None:
    """Build a realistic demo database (sites, items, ~2,000 serials with histories, and
    people with PINs it prints)."""
    from scanstation.demo import DEMO_PEOPLE, build_demo, people_lines
    from scanstation.station import redacted_url

    state = cli_state(ctx)
    url = state.database_url(demo_db)
    db_flag = f" --db {redacted_url(url)}" if (demo_db or state.db_url) else ""
    again = f"scanstation{db_flag} demo --new-pins"
    with state.station(create=True, db=url) as station:
        target = station.database
        if new_pins:  # never builds: an empty database is not a demo one either
            given = station.new_demo_pins()
            say(f"New PINs for the people of {target} (shown only now; kept only hashed):")
            for line in people_lines(given):
                say(line)
            return
        if station.info()["serials"]:
            if if_missing:
                say(f"Demo database already present: {target}")
                if station.demo_people() and station.has_users():
                    say(f"Its people's PINs were printed when it was built; new ones:  {again}")
                return
            fail(
                f"{target} already has data; the demo needs an empty database "
                "(use --db to pick another)"
            )
        summary = build_demo(station)
        given = station.add_demo_people(DEMO_PEOPLE)
    for line in summary.splitlines():  # our own lines: each one is said on its own
        say(line)
    say(
        "People (the station asks them to sign in; PINs shown only now, kept only hashed; "
        f"new ones: {again}):"
    )
    for line in people_lines(given):
        say(line)
    say(f"Demo database ready: {target}")
    say(f"Start the station on it:  scanstation{db_flag} --site G1 --mode receive")
