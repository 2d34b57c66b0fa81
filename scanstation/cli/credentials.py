"""Who runs a command: `--user NAME` with a PIN (from SCANSTATION_PIN, or asked on the terminal),
or a script's SCANSTATION_TOKEN. Asked only when the database has users; with none, every
command works as it did before users existed. A PIN is asked only when stdin is a terminal:
a script without credentials gets exit 2 at once, never a prompt it cannot answer."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from scanstation.cli.common import TEXT, fail

if TYPE_CHECKING:
    from scanstation.domain.roles import Action
    from scanstation.station import Station, UserView

__all__ = [
    "PIN_ENV",
    "TOKEN_ENV",
    "acting_user",
    "ask_secret",
    "authorised",
    "named",
    "user_option",
]

PIN_ENV = "SCANSTATION_PIN"
TOKEN_ENV = "SCANSTATION_TOKEN"

F = TypeVar("F", bound=Callable[..., Any])


def user_option(command: F) -> F:
    """`--user NAME`: who runs this command (needed once the database has users)."""
    return click.option(
        "--user",
        "acting_name",
        type=TEXT,
        default=None,
        metavar="NAME",
        help=f"Who runs this (PIN from {PIN_ENV} or asked); or set {TOKEN_ENV} instead.",
    )(command)


def ask_secret(prompt: str, *, confirm: bool = False) -> str:
    """A PIN typed on the terminal (not echoed); exit 2 at once when there is no terminal."""
    if not sys.stdin.isatty():
        fail(f"{prompt.lower()} is needed and there is no terminal to ask on")
    return str(
        click.prompt(
            prompt,
            hide_input=True,
            confirmation_prompt="Again" if confirm else False,
            err=True,
        )
    )


def acting_user(station: Station, name: str | None) -> UserView | None:
    """The person running this command, authenticated; None on a database without users.
    Missing or wrong credentials: a sentence and exit 2 (AuthError leaves through the
    station's context as a usage error; nothing has been written)."""
    if not station.has_users():
        return None
    token = os.environ.get(TOKEN_ENV)
    if name is None:
        if token:
            return station.authenticate_token(token)
        fail(
            "this database has users: say who you are with --user NAME "
            f"(and a PIN in {PIN_ENV} or typed when asked), or set {TOKEN_ENV}"
        )
    pin = os.environ.get(PIN_ENV)
    if pin is None:
        pin = ask_secret("PIN")
    return station.authenticate(name, pin)


def authorised(station: Station, name: str | None, action: Action) -> UserView | None:
    """`acting_user`, who must also hold the role `action` needs (exit 2 naming it)."""
    user = acting_user(station, name)
    station.require(action, user)
    return user


def named(user: UserView | None) -> str | None:
    """The name events record for `user` (None: the command's usual default)."""
    return user.name if user is not None else None
