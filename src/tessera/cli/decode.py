"""`tessera decode`: read a JWT (or a DPoP proof) locally, show what it says and when, and
optionally check its signature with a key the user names. The examination is
`tessera.inspect`; this is the command: its arguments, stdin, and the exit status.

Nothing is sent anywhere except the request for a JWKS URL given with `--jwks`.
"""

from __future__ import annotations

import getpass
import os
import sys
import time
from pathlib import Path
from typing import BinaryIO

import click

from tessera.inspect import (
    EXIT_INVALID,
    MAX_KEY_BYTES,
    MAX_TOKEN_CHARS,
    KeyInputError,
    KeySet,
    examine,
    jwks_from,
    pem_key,
    render_json,
    render_text,
    secret_key,
    terminal_safe,
)


def now() -> float:
    """The current time; tests replace this."""
    return time.time()


def _colour() -> bool | None:
    """`None` lets click decide (colour only on a terminal); NO_COLOR turns it off."""
    return False if os.environ.get("NO_COLOR") else None


def _error(message: str, code: int = EXIT_INVALID) -> click.exceptions.Exit:
    click.echo(f"error: {terminal_safe(message)}", err=True, color=_colour())
    return click.exceptions.Exit(code)


def _stdin_bytes(limit: int) -> bytes:
    stream: BinaryIO | None = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise _error("there is no stdin to read from")
    return stream.read(limit)


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _read_stdin_text() -> str:
    data = _stdin_bytes(MAX_TOKEN_CHARS + 2)
    return data.decode("utf-8", errors="replace")


def _read_secret() -> bytes:
    if _stdin_is_terminal():
        return getpass.getpass("HMAC secret: ").encode("utf-8")
    data = _stdin_bytes(MAX_KEY_BYTES + 1)
    if len(data) > MAX_KEY_BYTES:
        raise KeyInputError("the secret on stdin is larger than 1 MiB")
    # One trailing line end is how `echo` and files end; it is not part of the secret.
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith(b"\n") else data


@click.command("decode")
@click.argument("token", metavar="TOKEN|-", required=False)
@click.option(
    "--jwks",
    metavar="URL|FILE",
    help="Verify with the key from this JWKS that has the token's kid "
    "(a URL must be https, except for localhost).",
)
@click.option(
    "--key",
    metavar="PEM",
    type=click.Path(path_type=Path),
    help="Verify with this public key (PEM file).",
)
@click.option(
    "--secret-stdin",
    is_flag=True,
    help="Verify HS256 with a shared secret read from stdin (give the token as argument).",
)
@click.option(
    "--leeway",
    metavar="SECONDS",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Clock skew allowed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
def decode(
    token: str | None,
    jwks: str | None,
    key: Path | None,
    secret_stdin: bool,
    leeway: float,
    as_json: bool,
) -> None:
    """Decode a JWT locally: header, claims, dates, warnings, and optionally its signature.
    A token bound to a key shows its cnf.jkt; a DPoP proof (typ dpop+jwt) shows the request it
    is for, its key's thumbprint and its age against the 60 s window.

    \b
    Exit status 0: valid (and the signature verified, if a key was given); a fresh proof.
    Exit status 1: expired or not yet valid; a stale proof.
    Exit status 2: malformed, bad signature, or unusable key; a proof holding a private key.

    Nothing is sent anywhere, except the request for a --jwks URL.
    """
    if sum((jwks is not None, key is not None, secret_stdin)) > 1:
        raise _error("give only one of --jwks, --key and --secret-stdin")
    if secret_stdin and token in (None, "-"):
        raise _error("--secret-stdin reads the secret from stdin: give the token as an argument")
    if token is None:
        if _stdin_is_terminal():
            raise _error("no token: give it as an argument, or '-' to read it from stdin")
        token = "-"
    text = _read_stdin_text() if token == "-" else token

    keys: KeySet | None = None
    try:
        if key is not None:
            keys = pem_key(key)
        elif secret_stdin:
            keys = secret_key(_read_secret())
        elif jwks is not None:
            keys = jwks_from(jwks)
    except KeyInputError as exc:
        raise _error(str(exc)) from None
    for note in keys.notes if keys is not None else ():
        click.echo(f"note: {terminal_safe(note)}", err=True, color=_colour())

    report = examine(text, now=now(), leeway=leeway, keys=keys)
    if as_json:
        click.echo(render_json(report))
    else:
        click.echo(render_text(report), color=_colour())
    if report.error is not None:
        click.echo(f"error: {terminal_safe(report.error)}", err=True, color=_colour())
    raise click.exceptions.Exit(report.exit_code)
