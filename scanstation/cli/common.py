"""What every command shares: the exit codes, the one way to print, the one way to fail, the
settings and the door to the database.

Every line a command prints goes through `say` (or `fail` for an error), which makes any
control, bidi, zero-width or undecodable character visible: operator and station names,
payloads, CSV cells, file names and database paths are all untrusted. JSON lines are ASCII.
A database URL is printed only through `redacted_url` (the store's errors mask it already).
Options that carry text use the `TEXT` type, which refuses what is not valid UTF-8 (argv that
came with undecodable bytes) with a usage error naming the option.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, NoReturn

import click

from scanstation.config import ConfigError, Settings, load_settings
from scanstation.domain.roles import APPROVAL_HOW
from scanstation.domain.text import visible

if TYPE_CHECKING:
    from scanstation.station import Station

EXIT_OK, EXIT_SCAN_FAILED, EXIT_USAGE = 0, 1, 2


def shown(text: object) -> str:
    """Any text as it may reach a terminal: every invisible character made visible."""
    return visible(str(text))


def say(text: object = "", *, err: bool = False) -> None:
    """Print one line (never a raw control character)."""
    click.echo(shown(text), err=err)


# A role refusal's advice names the station's on-the-spot approval, which a command has not:
# there, the person with the role runs the command themselves.
COMMAND_APPROVAL_HOW = "run it as one (--user NAME with their PIN, or their SCANSTATION_TOKEN)"


def for_commands(sentence: str) -> str:
    """A rule's sentence as a command prints it: a role refusal says how to act at the
    command line instead of asking for a badge nobody can scan here."""
    return sentence.replace(APPROVAL_HOW, COMMAND_APPROVAL_HOW)


def fail(message: object, code: int = EXIT_USAGE) -> NoReturn:
    say(f"scanstation: {for_commands(str(message))}", err=True)
    sys.exit(code)


def json_line(data: object, stream: IO[str] | None = None) -> None:
    # ensure_ascii: no byte of a hostile payload reaches a terminal raw (C1 controls included).
    out = stream or sys.stdout
    out.write(json.dumps(data, ensure_ascii=True) + "\n")
    out.flush()


def iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


class LazyGroup(click.Group):
    """A group whose commands are imported when one is named (`lazy`: name ->
    "module:attribute"), not when the group is. The station (`scanstation` with no command)
    must paint its first frame without loading what `labels`, `keys` or `decode` need (fpdf,
    cryptography, OpenCV); `--help` lists them all, and loads them to say what each does."""

    lazy: Mapping[str, str] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)


class Utf8Text(click.ParamType):
    """Text from argv. Python hands undecodable bytes over as lone surrogates; they are refused
    here, naming the option, before anything stores or prints them."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            self.fail(f"{visible(value)} is not valid UTF-8 text", param, ctx)
        return value


TEXT = Utf8Text()


@dataclass
class CliState:
    config_path: str | None
    db_url: str | None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as error:
                fail(error)
        return self._settings

    def database_url(self, override: str | None = None) -> str:
        return override or self.db_url or self.settings.database.resolved_url()

    @contextmanager
    def station(
        self,
        *,
        create: bool = False,
        db: str | None = None,
        journal: bool = False,
        station_id: str | None = None,
        **options: Any,
    ) -> Iterator[Station]:
        """The door to the database (`open_station`); a database, journal or usage problem is
        a sentence and exit 2."""
        from scanstation.station import (
            JournalError,
            ServiceError,
            StoreError,
            open_station,
        )

        settings = self.settings
        try:
            station = open_station(
                settings,
                database_url=self.database_url(db),
                station_id=station_id,
                journal=journal,
                create=create,
                **options,
            )
        except (StoreError, JournalError) as error:
            fail(error)
        try:
            yield station
        except (StoreError, JournalError, ServiceError) as error:
            fail(error)
        finally:
            station.close()


def cli_state(ctx: click.Context) -> CliState:
    state = ctx.find_object(CliState)
    assert state is not None
    return state
