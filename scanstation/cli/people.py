"""People: `user add/list/disable/pin` and `token create/revoke/list`.

Until some user has a PIN (the bootstrap) `user add` and `user pin` need no credentials and
the first user must be an admin; from then on these commands need an admin (`--user NAME`
and a PIN, or SCANSTATION_TOKEN), except a user changing their own PIN. No PIN, hash or
token is ever printed, except a new token, once, alone on the last line."""

from __future__ import annotations

import sys

import click

from scanstation.cli.common import TEXT, cli_state, fail, json_line, say
from scanstation.cli.credentials import acting_user, ask_secret, user_option
from scanstation.domain.roles import Action, Role

ROLE_NAMES = [role.value for role in Role]


@click.group()
def user() -> None:
    """People who sign in: their roles, badges and PINs."""


@user.command("add")
@click.argument("name", type=TEXT)
@click.option("--role", type=click.Choice(ROLE_NAMES), required=True)
@click.option(
    "--badge", type=TEXT, default=None, metavar="CODE", help="A barcode to scan instead of NAME."
)
@user_option
@click.pass_context
def user_add(
    ctx: click.Context, name: str, role: str, badge: str | None, acting_name: str | None
) -> None:
    """Add a user (give them a PIN with `user pin NAME`)."""
    with cli_state(ctx).station() as station:
        by = acting_user(station, acting_name)
        added = station.add_user(name, Role(role), badge, by=by)
    badge_text = " with a badge" if added.badge else ""
    say(f"User {added.name} ({added.role}){badge_text} added")
    say(f"Set their PIN with: scanstation user pin {added.name}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per user.")
@user_option
@click.pass_context
def user_list(ctx: click.Context, as_json: bool, acting_name: str | None) -> None:
    """The users: name, role, badge, disabled (never a PIN)."""
    with cli_state(ctx).station() as station:
        station.require(Action.MANAGE_USERS, acting_user(station, acting_name))
        people = station.users()
    for person in people:
        if as_json:
            json_line(
                {
                    "name": person.name,
                    "role": person.role.value,
                    "badge": person.badge,
                    "disabled": person.disabled,
                }
            )
        else:
            state = "disabled" if person.disabled else ("no PIN yet" if not person.has_pin else "")
            badge = f"badge {person.badge}" if person.badge else ""
            parts = (f"{person.name:<20}", f"{person.role:<10}", badge, state)
            say("  ".join(part for part in parts if part).rstrip())
    if not people and not as_json:
        say("No users: this is an open station (scanstation user add NAME --role admin)")


@user.command("disable")
@click.argument("name", type=TEXT)
@user_option
@click.pass_context
def user_disable(ctx: click.Context, name: str, acting_name: str | None) -> None:
    """The user can no longer sign in (their events stay; their tokens are revoked)."""
    with cli_state(ctx).station() as station:
        by = acting_user(station, acting_name)
        disabled = station.disable_user(name, by=by)
    say(f"User {disabled.name} disabled")


@user.command("pin")
@click.argument("name", type=TEXT)
@click.option("--pin-stdin", is_flag=True, help="Read the new PIN as one line from stdin.")
@user_option
@click.pass_context
def user_pin(ctx: click.Context, name: str, pin_stdin: bool, acting_name: str | None) -> None:
    """Set NAME's PIN (4-12 digits): asked twice on the terminal, or one line from stdin."""
    with cli_state(ctx).station() as station:
        by = acting_user(station, acting_name)
        if station.user(name) is None:
            fail(f"no user named {name.strip()!r}")
        if pin_stdin:
            pin = sys.stdin.readline().rstrip("\r\n")
        else:
            pin = ask_secret(f"New PIN for {name.strip()}", confirm=True)
        changed = station.set_pin(name, pin, by=by)
    say(f"PIN set for {changed.name}")


@click.group()
def token() -> None:
    """API tokens for scripts (SCANSTATION_TOKEN), created and revoked by an admin."""


@token.command("create")
@click.argument("name", type=TEXT)
@click.option("--expires", "expires_days", type=click.IntRange(min=1), default=None, metavar="DAYS")
@user_option
@click.pass_context
def token_create(
    ctx: click.Context, name: str, expires_days: int | None, acting_name: str | None
) -> None:
    """A token that acts as user NAME: printed once, on the last line; only its hash is kept."""
    with cli_state(ctx).station() as station:
        by = acting_user(station, acting_name)
        token_id, secret, expires = station.create_token(name, by=by, expires_days=expires_days)
    until = f"expires {expires:%Y-%m-%d %H:%M} UTC" if expires else "does not expire"
    say(f"Token {token_id} for {name.strip()} ({until}); it is shown only now:")
    click.echo(secret)  # our own random ASCII: printed as it is, alone on the last line


@token.command("revoke")
@click.argument("name", type=TEXT)
@click.option("--id", "token_id", type=int, default=None, help="Only this token (default: all).")
@user_option
@click.pass_context
def token_revoke(
    ctx: click.Context, name: str, token_id: int | None, acting_name: str | None
) -> None:
    """Revoke NAME's tokens (or one of them): scripts using them are refused from now on."""
    with cli_state(ctx).station() as station:
        by = acting_user(station, acting_name)
        count = station.revoke_tokens(name, by=by, token_id=token_id)
    say(f"{count} token(s) of {name.strip()} revoked")


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per token.")
@user_option
@click.pass_context
def token_list(ctx: click.Context, as_json: bool, acting_name: str | None) -> None:
    """Tokens by id and user, with their expiry (never the token)."""
    with cli_state(ctx).station() as station:
        by = acting_user(station, acting_name)
        issued = station.tokens(by=by)
    for item in issued:
        expires = item.expires_at.isoformat() if item.expires_at else None
        revoked = item.revoked_at.isoformat() if item.revoked_at else None
        if as_json:
            json_line(
                {
                    "id": item.id,
                    "user": item.user,
                    "created_at": item.created_at.isoformat(),
                    "expires_at": expires,
                    "revoked_at": revoked,
                }
            )
        else:
            state = f"revoked {revoked}" if revoked else f"expires {expires or 'never'}"
            say(f"{item.id:>4}  {item.user:<20}  {state}")
