"""`journal show` and `journal replay`: a station's offline journal, for a supervisor."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from scanstation.cli.common import (
    EXIT_OK,
    EXIT_SCAN_FAILED,
    TEXT,
    CliState,
    cli_state,
    fail,
    json_line,
    say,
)
from scanstation.cli.credentials import acting_user, user_option
from scanstation.cli.scanning import print_outcome
from scanstation.domain.text import visible

STATION = click.option(
    "--station", "station_id", type=TEXT, default=None, metavar="ID", help="Default: station.id."
)


@click.group()
def journal() -> None:
    """A station's offline journal: scans saved while the database was unreachable."""


def _station_id(state: CliState, station_id: str | None) -> str:
    return station_id or state.settings.station.id


def _existing(state: CliState, station_id: str) -> tuple[Path, str, Any]:
    """(its file, its database, the journal or None): read only, never created."""
    from scanstation.station import JournalError, read_journal

    try:
        return read_journal(state.settings, station_id, database_url=state.database_url())
    except JournalError as error:
        fail(error)


def _entry_line(entry: Any) -> str:
    when = entry.read_at.astimezone().isoformat(timespec="seconds")
    mode, site = entry.mode.value, visible(entry.site_code)
    line = f"  #{entry.seq:<6} {when} {mode:<9} {site:<6} {visible(entry.operator)}: "
    line += visible(entry.payload)
    if entry.outcome is not None:
        line += f" → {entry.outcome.value}: {entry.message or ''}"
    if not entry.intact:
        line += " [EDITED in the file: it will not be applied]"
    return line


@journal.command("show")
@STATION
@click.option("--all", "show_all", is_flag=True, help="Also replayed and acknowledged scans.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.pass_context
def journal_show(ctx: click.Context, station_id: str | None, show_all: bool, as_json: bool) -> None:
    """Scans waiting to be replayed, and replayed scans the rules refused (for a supervisor).

    Reads the journal only: works while the database is unreachable."""
    from scanstation.station import JournalError

    state = cli_state(ctx)
    station = _station_id(state, station_id)
    path, database, opened = _existing(state, station)
    try:
        if opened is None:
            pending, refused, replayed = [], [], []
        else:
            with opened:
                pending = opened.pending()
                refused = opened.refused(include_acknowledged=show_all)
                replayed = (
                    [e for e in opened.entries() if e.state == "replayed"] if show_all else []
                )
    except JournalError as error:
        fail(error)
    if as_json:
        data: dict[str, Any] = {
            "station": station,
            "database": database,
            "journal": str(path),
            "pending_count": len(pending),
            "refused_count": len(refused),
            "pending": [e.as_json() for e in pending],
            "refused": [e.as_json() for e in refused],
        }
        if show_all:
            data["replayed"] = [e.as_json() for e in replayed]
        json_line(data)
        return
    say(f"Journal of station {station} on {database}: {path}")
    say(f"{len(pending)} pending, {len(refused)} refused on replay")
    for title, entries in (("pending", pending), ("refused", refused), ("replayed", replayed)):
        if entries:
            say(f"{title}:")
            for entry in entries:
                say(_entry_line(entry))


@journal.command("replay")
@STATION
@click.option("--json", "as_json", is_flag=True, help="One JSON line per replayed scan.")
@user_option
@click.pass_context
def journal_replay(
    ctx: click.Context, station_id: str | None, as_json: bool, acting_name: str | None
) -> None:
    """Replay the station's pending scans into the database now, in order.

    Once the database has users, whoever replays signs in (--user and a PIN, or a token):
    each scan stays the journaled operator's and is judged by their role (the event has no
    place for who replayed it: the summary on stderr names them). Exit 0 when all were
    decided ok/already, 1 when the rules refused some (listed by `journal show`), 2 when
    the database is unreachable or the credentials are refused (what is left stays pending)."""
    state = cli_state(ctx)
    station_id = _station_id(state, station_id)
    _path, _database, existing = _existing(state, station_id)
    if existing is None:
        say(f"Station {station_id} has no journal for this database: nothing to replay", err=True)
        return
    existing.close()
    with state.station(journal=True, station_id=station_id) as station:
        if not station.connect():
            fail(
                f"Cannot replay: {station.database} is unreachable ({station.last_error}); "
                f"{station.pending} scan(s) stay in the journal"
            )
        # Replaying writes: once the database has users, only someone signed in may (a
        # refusal here leaves every entry pending, nothing written).
        by = acting_user(station, acting_name)
        outcomes = station.replay()
        refused = {e.scan_id for e in station.refused(include_acknowledged=True)}
        for outcome in outcomes:
            print_outcome(
                outcome,
                as_json,
                {"scan_id": outcome.event.scan_id, "read_at": outcome.event.read_at.isoformat()},
            )
        if left := station.pending:
            why = (
                "another process is replaying this journal now"
                if station.online
                else f"the database failed during the replay ({station.last_error})"
            )
            fail(f"{left} scan(s) stay in the journal: {why}")
    if not as_json:
        who = f" (replayed by {visible(by.name)})" if by is not None else ""
        say(f"Replayed {len(outcomes)} journaled scan(s){who}", err=True)
    failed = any(o.event.scan_id in refused for o in outcomes)
    sys.exit(EXIT_SCAN_FAILED if failed else EXIT_OK)
