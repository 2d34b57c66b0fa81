"""`scanstation` itself: the global options, the station app (no subcommand), and the one place
where every error ends, so none reaches a person as a traceback or as raw terminal control."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from scanstation.cli.common import EXIT_USAGE, TEXT, CliState, LazyGroup, say, shown
from scanstation.config import MODE_NAMES

_log = logging.getLogger("scanstation")


class ScanstationGroup(LazyGroup):
    """Click's own error printing echoes what was typed (an unknown option, a bad value) as
    it came; here every error is printed through `shown`, and anything unexpected is one
    sentence, never a traceback. Its commands load when named (LazyGroup): the station, run
    with none, starts without them."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.ClickException as error:
            _print_click_error(error)
            sys.exit(error.exit_code)
        except click.Abort:
            say("Aborted!", err=True)
            sys.exit(1)
        except BrokenPipeError:  # `scanstation export | head`
            sys.stderr.close()
            sys.exit(0)
        except KeyboardInterrupt:
            say("scanstation: interrupted", err=True)
            sys.exit(130)
        except Exception as error:
            _log.debug("unexpected error", exc_info=True)
            say(f"scanstation: internal error: {type(error).__name__}: {error}", err=True)
            sys.exit(EXIT_USAGE)
        sys.exit(code if isinstance(code, int) else 0)


def _print_click_error(error: click.ClickException) -> None:
    ctx = getattr(error, "ctx", None)
    if isinstance(error, click.UsageError) and ctx is not None:
        say(ctx.get_usage(), err=True)
        hint = ctx.command.get_help_option(ctx)
        if hint is not None:
            say(f"Try '{ctx.command_path} {hint.opts[0]}' for help.", err=True)
        say(err=True)
    first, *more = error.format_message().splitlines() or [""]
    click.echo(f"Error: {shown(first)}", err=True)
    for line in more:  # click indents a list (the choices) with tabs: spaces, not a ␉ mark
        text = line.lstrip("\t")
        click.echo(f"  {'  ' * (len(line) - len(text))}{shown(text)}", err=True)


def station_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of the station app (the group's own, and `kiosk`'s)."""
    for option in reversed(_STATION_OPTIONS):
        command = option(command)
    return command


_STATION_OPTIONS = (
    click.option(
        "--station", "station_id", type=TEXT, metavar="ID", help="Station id (the station app)."
    ),
    click.option(
        "--site", type=TEXT, metavar="CODE", help="Site code of this station (the station app)."
    ),
    click.option("--mode", type=click.Choice(MODE_NAMES), help="Scan mode (the station app)."),
    click.option("--operator", type=TEXT, metavar="NAME", help="Operator name (the station app)."),
    click.option(
        "--journal/--no-journal",
        "use_journal",
        default=None,
        help="Keep scanning into this terminal's offline journal while the database is "
        "unreachable (the station app). Default: config station.journal.",
    ),
)


@click.group(
    cls=ScanstationGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--db",
    "db_url",
    type=TEXT,
    metavar="URL",
    help="Database: a SQLite path/URL or postgresql://…",
)
@click.option("--config", "config_path", type=TEXT, metavar="PATH", help="config.toml to use.")
@station_options
@click.version_option(package_name="scanstation")
@click.pass_context
def main(
    ctx: click.Context,
    db_url: str | None,
    config_path: str | None,
    station_id: str | None,
    site: str | None,
    mode: str | None,
    operator: str | None,
    use_journal: bool | None,
) -> None:
    """scanstation: follow every serial from the plant to the godown and beyond.

    With no command, opens the scanning station on the configured database.
    """
    ctx.obj = CliState(config_path, db_url)
    if ctx.invoked_subcommand is not None:
        return
    from scanstation.tui.launch import run_station, wait_for_turn

    if not wait_for_turn():  # a kiosk's standby that was not needed
        sys.exit(0)
    state = ctx.obj
    code = run_station(
        state.settings,
        database_url=state.database_url(),
        station_id=station_id,
        site=site,
        mode=mode,
        operator=operator,
        journal=use_journal,
    )
    sys.exit(code)
