"""`scanstation kiosk [station options]`: the station as a kiosk, started again (with
back-off, each exit logged with its cause) whenever it ends other than by a normal quit."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from scanstation.cli.common import EXIT_USAGE, cli_state, fail
from scanstation.cli.root import station_options

__all__ = ["kiosk"]


def default_log_path() -> Path:
    from platformdirs import user_log_dir

    return Path(user_log_dir("scanstation", appauthor=False)) / "kiosk.log"


@click.command()
@station_options
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Where the kiosk logs each start and exit of the station "
    "(default: kiosk.log in the user log dir, e.g. ~/.local/state/scanstation/log/).",
)
@click.pass_context
def kiosk(
    ctx: click.Context,
    station_id: str | None,
    site: str | None,
    mode: str | None,
    operator: str | None,
    use_journal: bool | None,
    log_path: Path | None,
) -> None:
    """Run the station as a kiosk ([station] kiosk = true), restarting it after a crash.

    Takes the station's options (here or before `kiosk`). Only a normal quit (ctrl+q, which a
    kiosk grants a supervisor only) or SIGTERM/SIGHUP ends it; any other exit restarts the
    station at once (from a standby loaded in advance), and again after 0.5 s, doubling to at
    most 30 s, while it keeps failing within a minute of its start.
    """
    from scanstation.kiosk import STANDBY_AFTER_S, KioskSupervisor, kiosk_logger
    from scanstation.tui.launch import station_problem

    state = cli_state(ctx)
    given = dict(ctx.parent.params) if ctx.parent is not None else {}
    chosen = {
        "--station": station_id or given.get("station_id"),
        "--site": site or given.get("site"),
        "--mode": mode or given.get("mode"),
        "--operator": operator or given.get("operator"),
    }
    journal = use_journal if use_journal is not None else given.get("use_journal")
    problem = station_problem(state.settings, site=chosen["--site"], mode=chosen["--mode"])
    if problem is not None:
        fail(problem, EXIT_USAGE)
    arguments = [part for name, value in chosen.items() if value for part in (name, value)]
    if journal is not None:
        arguments.append("--journal" if journal else "--no-journal")
    # The database and config go by environment, not argv: a URL's password stays out of `ps`.
    env = dict(os.environ)
    env["SCANSTATION_STATION_KIOSK"] = "true"
    if state.db_url:
        env["SCANSTATION_DATABASE_URL"] = state.db_url
    if state.config_path:
        env["SCANSTATION_CONFIG"] = state.config_path
    try:
        log = kiosk_logger(log_path or default_log_path())
    except OSError as error:
        fail(f"cannot write the kiosk log: {error}")
    command = [sys.executable, "-m", "scanstation", *arguments]
    supervisor = KioskSupervisor(command, env=env, log=log, standby_after=STANDBY_AFTER_S)
    sys.exit(supervisor.run())
