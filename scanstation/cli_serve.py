"""`scanstation serve [--host 127.0.0.1] [--port 8000] [--public-url URL]`: the station in a
browser, each tab its own station session.

Every tab runs the same station command as `scanstation` in a terminal, with the flags given
before `serve` (`--config`, `--site`, `--mode`, `--operator`, `--journal`; `--station` is the
base of each tab's id) and the same database, so the same rules apply. The database URL
reaches the tabs through SCANSTATION_DATABASE_URL, never through their command lines (which
any user of the machine can read). What can be checked before the first tab opens is checked
here: the configuration, the site, the document and the database, each an exit 2 with a
sentence. Localhost by default: the station has no sign-in yet and speaks plain HTTP.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from scanstation.domain.text import visible

__all__ = ["serve"]


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but this machine's own (e.g. 0.0.0.0) lets other "
    "machines in: put a TLS reverse proxy in front (README).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on; 0 picks a free one (the address is printed).",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The address browsers open when a reverse proxy is in front, "
    "e.g. https://scan.example.com",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, public_url: str | None) -> None:
    """Serve the station to web browsers: each tab is its own station session.

    The station flags go before `serve`: scanstation --site G1 --mode receive serve
    """
    from scanstation.cli import fail

    state = ctx.obj  # the group's CliState: configuration and database, checked once
    flags = ctx.parent.params if ctx.parent is not None else {}
    settings = state.settings
    site = flags.get("site") or settings.station.site
    if not site:
        fail(
            "the station needs a site: pass --site CODE before `serve` or set [station] site "
            f"in config.toml ({settings.source})"
        )
    station_base = flags.get("station_id") or settings.station.id
    database_url = state.database_url()
    journal = flags.get("use_journal")
    _check_station(
        state,
        database_url,
        station_base,
        site,
        flags.get("mode") or settings.station.mode,
        settings.station.document or None,
        settings.station.journal if journal is None else journal,
    )
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        fail(f"--public-url must start with http:// or https:// (got {visible(public_url)})")

    argv = [sys.executable, "-m", "scanstation"]
    if flags.get("config_path"):
        argv += ["--config", flags["config_path"]]
    argv += ["--site", site]
    for flag, key in (("--mode", "mode"), ("--operator", "operator")):
        if flags.get(key):
            argv += [flag, flags[key]]
    if journal is not None:
        argv.append("--journal" if journal else "--no-journal")
    # The environment, not argv: a PostgreSQL URL may carry a password.
    os.environ["SCANSTATION_DATABASE_URL"] = database_url

    from scanstation.web.server import ServeError, StationWebServer, is_loopback

    if not is_loopback(host):
        click.echo(
            f"scanstation: warning: serving on {visible(host)}, not just this machine: anyone "
            "who can reach it can use the station, over plain HTTP. Put a TLS reverse proxy in "
            "front (README: 'The station in a browser').",
            err=True,
        )

    def announce(url: str) -> None:
        click.echo(
            f"Serving the station of site {visible(site)} at {url} — each browser tab is its "
            f"own station ({visible(station_base)}-w1, -w2, …). Ctrl+C stops it."
        )
        sys.stdout.flush()

    server = StationWebServer(
        argv,
        station_base=station_base,
        host=host,
        port=port,
        public_url=public_url,
        title=f"scanstation · {station_base} · {site}",
        announce=announce,
    )
    try:
        server.run()
    except ServeError as error:
        fail(str(error))


def _check_station(
    state: Any,
    database_url: str,
    station_id: str,
    site: str,
    mode: str,
    document: str | None,
    journal: bool,
) -> None:
    """Open the database and find the site (and document): exit 2 when a tab could not start.
    With the offline journal a database that cannot be reached is a warning: tabs start
    offline, as the station in a terminal does."""
    from scanstation.cli import fail
    from scanstation.domain.stages import Mode
    from scanstation.service import ServiceError, StationService, StationSetup, StoreError

    settings = state.settings
    try:
        service = StationService.open(
            database_url,
            serial_case=settings.scanner.serial_case,
            max_payload=settings.scanner.max_payload,
        )
    except StoreError as error:
        if not journal:
            fail(str(error))
        click.echo(
            f"scanstation: warning: {error}; tabs will start offline (the journal is on)",
            err=True,
        )
        return
    try:
        service.check_station(StationSetup(station_id, site, Mode(mode), document=document))
    except (ServiceError, StoreError) as error:
        fail(str(error))
    finally:
        service.close()
