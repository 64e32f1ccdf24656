"""The `tessera` command: serve, users, keys, sessions, decode, gc, audit."""

from __future__ import annotations

import typer

from tessera.cli import keys, sessions, users
from tessera.cli.audit import audit
from tessera.cli.common import FAILURES, describe_failure
from tessera.cli.decode import decode
from tessera.cli.gc import gc
from tessera.cli.serve import serve

app = typer.Typer(
    help="Tessera: short-lived JWT access tokens and rotating, revocable refresh tokens.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve)
app.command("decode")(decode)
app.command("gc")(gc)
app.command("audit")(audit)
app.add_typer(users.app, name="users")
app.add_typer(keys.app, name="keys")
app.add_typer(sessions.app, name="sessions")


def main() -> None:
    try:
        app()
    except FAILURES as exc:  # e.g. the database refused us: one line, never a traceback
        typer.echo(f"error: {describe_failure(exc)}", err=True)
        raise SystemExit(1) from None
