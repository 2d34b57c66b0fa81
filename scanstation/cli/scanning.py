"""`scan`: payloads from argv or stdin, each answered once committed (or, with --journal,
once saved in this station's offline journal while the database is unreachable).

A payload is data, not usage: one that is not valid UTF-8 (from argv or stdin) goes to the
service like any other and is answered REJECTED with its bytes shown (`SN\\xff`), exit 1. The
station's own options (--station, --operator, …) are usage: not valid UTF-8 is exit 2.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from scanstation.cli.common import (
    EXIT_OK,
    EXIT_SCAN_FAILED,
    TEXT,
    cli_state,
    fail,
    for_commands,
    json_line,
    say,
)
from scanstation.cli.credentials import acting_user, user_option
from scanstation.config import MODE_NAMES
from scanstation.domain.stages import Mode
from scanstation.domain.text import visible

if TYPE_CHECKING:
    from scanstation.cli.common import CliState
    from scanstation.station import StationSetup

UTF8_BOM = b"\xef\xbb\xbf"


def stdin_payloads() -> Iterator[str]:
    """One payload a line. Only LF (and a CR before it) ends a line: GS, RS and the other
    separators that str.splitlines() would cut at are data. A byte-order mark at the very
    start (editors put one there) is not part of the first payload. An empty or blank line
    is no scan (a file's trailing newline, a spacer line): skipped, not refused."""
    stream = sys.stdin.buffer
    first = True
    while True:
        raw = stream.readline()
        if not raw:
            return
        if first:
            raw = raw.removeprefix(UTF8_BOM)
            first = False
        if raw.endswith(b"\n"):
            raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        if raw.strip():
            # surrogateescape: an undecodable byte stays itself (\xff), as it does in argv.
            yield raw.decode("utf-8", errors="surrogateescape")


def print_outcome(outcome: Any, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        json_line({**outcome.as_json(), **(extra or {})})
        return
    label = outcome.kind.value.upper()
    serial = visible(outcome.serial_no or outcome.event.payload)
    say(f"{label:<9} {serial:<22} {for_commands(outcome.message)}")
    sys.stdout.flush()


def replay_note(outcomes: list[Any]) -> None:
    """Earlier scans (answered `queued`) decided now: a summary on stderr, so stdout keeps
    exactly one answer a scan."""
    if not outcomes:
        return
    counts = Counter(o.kind.value for o in outcomes)
    refused = sum(1 for o in outcomes if not o.kind.is_success)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    note = f"replayed {len(outcomes)} journaled scan(s): {summary}"
    if refused:
        note += " — refused scans are listed by `scanstation journal show`"
    say(f"scanstation: {note}", err=True)


def station_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--station and --site, defaulting to the config's and the environment's, like the
    station app's."""
    command = click.option(
        "--site",
        "site_code",
        type=TEXT,
        default=None,
        metavar="CODE",
        help="Default: config station.site (SCANSTATION_STATION_SITE).",
    )(command)
    return click.option(
        "--station",
        "station_id",
        type=TEXT,
        default=None,
        metavar="ID",
        help="Default: config station.id (SCANSTATION_STATION_ID).",
    )(command)


def station_setup(
    state: CliState,
    station_id: str | None,
    site_code: str | None,
    mode: Mode,
    operator: str | None,
    **setup: Any,
) -> StationSetup:
    """This terminal's station: the options given, else the config's (exit 2 without a site)."""
    from scanstation.station import StationSetup

    configured = state.settings.station
    site_code = site_code or configured.site
    if not site_code:
        fail("No site: give --site CODE or set site in [station] of config.toml")
    operator = operator or configured.operator
    return StationSetup(
        station_id=station_id or configured.id,
        site_code=site_code,
        mode=mode,
        **({"operator": operator} if operator else {}),
        **setup,
    )


def signed_in(setup: Any, user: Any, operator: str | None) -> Any:
    """The setup of a scan by the signed-in `user` (None: a database without users): they
    are the operator on every event, and their role is what the rules ask about."""
    if user is None:
        return setup
    if operator is not None and operator.strip().casefold() != user.name.casefold():
        fail("--operator must be the signed-in user (or be left out) once the database has users")
    return replace(setup, operator=user.name, role=user.role)


@click.command()
@station_options
@click.option("--mode", type=click.Choice(MODE_NAMES), required=True)
@click.option("--doc", "document", type=TEXT, default=None, metavar="REFERENCE_NO")
@click.option("--operator", type=TEXT, default=None, metavar="NAME")
@click.option("--reason", type=TEXT, default=None, metavar="TEXT")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per scan on stdout.")
@click.option(
    "--journal/--no-journal",
    "use_journal",
    default=None,
    help="While the database is unreachable, save scans in this station's offline journal "
    "(answered `queued`) and replay them when it returns. Default: config station.journal.",
)
@click.argument("payloads", nargs=-1)
@user_option
@click.pass_context
def scan(
    ctx: click.Context,
    station_id: str | None,
    site_code: str | None,
    mode: str,
    document: str | None,
    operator: str | None,
    reason: str | None,
    as_json: bool,
    use_journal: bool | None,
    payloads: tuple[str, ...],
    acting_name: str | None,
) -> None:
    """Scan PAYLOADs, or one payload a line from stdin, answering each once committed
    (or, with --journal, once saved in the offline journal)."""
    from scanstation.domain.model import ScanEvent

    state = cli_state(ctx)
    setup = station_setup(
        state, station_id, site_code, Mode(mode), operator, document=document or None, reason=reason
    )
    journal = state.settings.station.journal if use_journal is None else use_journal
    failed = 0
    with state.station(
        journal=journal, station_id=setup.station_id, on_replay=replay_note
    ) as station:
        online = station.connect()
        if online:
            setup = signed_in(setup, acting_user(station, acting_name), operator)
        station.check_station(setup)  # an unknown site or document: exit 2, offline as online
        if station.keeps_journal and online:
            replay_note(station.replay())  # what a killed or offline run saved goes first
        elif station.keeps_journal:
            say(
                f"scanstation: OFFLINE — {station.database} is unreachable "
                f"({station.last_error}); scans are saved in {station.journal_path}",
                err=True,
            )
        source = "argv" if payloads else "stdin"
        for payload in payloads or stdin_payloads():
            outcome = station.scan(ScanEvent(payload, source=source), setup)
            if not outcome.kind.is_success:
                failed += 1
            print_outcome(outcome, as_json)
        if station.pending:
            replay_note(station.replay())
        if left := station.pending:
            why = f" ({station.last_error})" if station.last_error else ""
            say(
                f"scanstation: {left} scan(s) wait in the journal {station.journal_path}{why}; "
                "they are replayed by the next `scanstation scan --journal` or "
                "`scanstation journal replay`",
                err=True,
            )
    sys.exit(EXIT_SCAN_FAILED if failed else EXIT_OK)


@click.command()
@click.argument("serial", type=TEXT)
@station_options
@click.option("--operator", type=TEXT, default=None, metavar="NAME")
@click.option("--reason", type=TEXT, default=None, metavar="TEXT", help="Kept on the void.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line, as `scan --json`.")
@user_option
@click.pass_context
def void(
    ctx: click.Context,
    serial: str,
    station_id: str | None,
    site_code: str | None,
    operator: str | None,
    reason: str | None,
    as_json: bool,
    acting_name: str | None,
) -> None:
    """Void SERIAL's last scan, if it is your own and at most [station] void_window_s old:
    the serial goes back to its stage before and a document line it filled is freed. The
    void is an event of its own; nothing is deleted."""
    state = cli_state(ctx)
    setup = station_setup(state, station_id, site_code, Mode.LOOKUP, operator)
    window = state.settings.station.void_window_s
    with state.station() as station:
        setup = signed_in(setup, acting_user(station, acting_name), operator)
        station.check_station(setup)
        outcome = station.void(serial, setup, reason=reason, window_s=window)
    print_outcome(outcome, as_json)
    sys.exit(EXIT_OK if outcome.kind.is_success else EXIT_SCAN_FAILED)
