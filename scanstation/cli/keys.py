"""The deployment's key pair and checking a secondary QR offline: `keys init`,
`keys export-public` and `verify`. None of them opens the database; none prints the private
key."""

from __future__ import annotations

from pathlib import Path

import click

from scanstation.cli.common import (
    EXIT_OK,
    EXIT_SCAN_FAILED,
    EXIT_USAGE,
    TEXT,
    cli_state,
    fail,
    json_line,
    say,
)
from scanstation.domain.qr import QrFormatError, parse_signed
from scanstation.signing import (
    KeyFileError,
    Verdict,
    Verifier,
    init_keys,
    load_verifier,
    read_public_key,
)

VERDICT_EXIT = {
    Verdict.GENUINE: EXIT_OK,
    Verdict.NOT_GENUINE: EXIT_SCAN_FAILED,
    Verdict.UNSIGNED: EXIT_SCAN_FAILED,
    Verdict.UNREADABLE: EXIT_USAGE,
}


@click.group()
def keys() -> None:
    """The Ed25519 key pair that signs secondary QR codes."""


@keys.command("init")
@click.pass_context
def keys_init(ctx: click.Context) -> None:
    """Make the key pair: the private key (mode 0600) and the public key beside it."""
    settings = cli_state(ctx).settings.keys
    private, public = settings.private_path(), settings.public_path()
    try:
        signer = init_keys(private, public)
    except KeyFileError as error:
        fail(error)
    say(f"Private key: {private} (mode 0600; keep it on this machine, never share it)")
    say(f"Public key:  {public} (give it to stations and customers: `keys export-public`)")
    say(f"Key id:      {signer.key_id}")
    say("New secondary QR codes of `generate` and `import` on this machine are signed from now.")


@keys.command("export-public")
@click.pass_context
def keys_export_public(ctx: click.Context) -> None:
    """Print the public key (PEM): what `verify --public-key FILE` reads."""
    settings = cli_state(ctx).settings.keys
    try:
        verifier = load_verifier(settings.public_path(), settings.private_path())
    except KeyFileError as error:
        fail(error)
    if verifier is None:
        fail("no key pair yet: run `scanstation keys init`")
    click.echo(verifier.public_pem(), nl=False)


def _verifier(ctx: click.Context, public_key: Path | None) -> Verifier:
    try:
        if public_key is not None:
            return read_public_key(public_key)
        settings = cli_state(ctx).settings.keys
        verifier = load_verifier(settings.public_path(), settings.private_path())
    except KeyFileError as error:
        fail(error)
    if verifier is None:
        fail(
            "no public key to check with: give --public-key FILE (the deployment's "
            "`keys export-public`), or set [keys] public_key"
        )
    return verifier


@click.command()
@click.argument("payload", type=TEXT)
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="The deployment's public key (PEM); default: the configured one.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.pass_context
def verify(ctx: click.Context, payload: str, public_key: Path | None, as_json: bool) -> None:
    """Is this secondary QR code genuine? Offline, with the public key only.

    Exit 0 genuine, 1 not genuine or unsigned, 2 unreadable."""
    verifier = _verifier(ctx, public_key)
    verdict, why = verifier.check(payload)
    token = None
    if verdict in (Verdict.GENUINE, Verdict.NOT_GENUINE):
        try:
            token = parse_signed(payload).token
        except QrFormatError:
            token = None
    if as_json:
        json_line(
            {
                "payload": payload,
                "verdict": verdict.value,
                "genuine": verdict is Verdict.GENUINE,
                "token": token,
                "key_id": verifier.key_id,
                "reason": why,
            }
        )
    else:
        say(f"{verdict.value.upper()}: {why}")
    ctx.exit(VERDICT_EXIT[verdict])
