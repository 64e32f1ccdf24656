"""The `tessera` command: decode, and the server's serve, users, keys, sessions, gc, audit.

`tessera decode` is part of the light install (`pip install tessera`). The server's commands
are loaded only when one of them runs (or for `--help`), so decoding a token never imports
the server's stack; without the `server` extra installed they say how to get it.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

import typer
from typer.core import TyperGroup

from tessera.cli.decode import decode
from tessera.logs import redact

# command -> (module, attribute): a command function, or a Typer app of subcommands
SERVER_COMMANDS = {
    "serve": ("tessera.cli.serve", "serve"),
    "gc": ("tessera.cli.gc", "gc"),
    "audit": ("tessera.cli.audit", "audit"),
    "users": ("tessera.cli.users", "app"),
    "keys": ("tessera.cli.keys", "app"),
    "sessions": ("tessera.cli.sessions", "app"),
}
INSTALL_SERVER = "pip install 'tessera[server]'"


class CommandsOnDemand(TyperGroup):
    """The command group, importing a server command's module only when it is asked for."""

    def list_commands(self, ctx: Any) -> list[str]:  # click's Context, vendored by typer
        return sorted({*super().list_commands(ctx), *SERVER_COMMANDS})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in SERVER_COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = SERVER_COMMANDS[cmd_name]
        try:
            target = getattr(import_module(module_name), attribute)
        except ModuleNotFoundError as exc:
            return _needs_server(cmd_name, exc)
        return _command(cmd_name, target)


def _command(name: str, target: Any) -> Any:
    """The click command of a Typer app of subcommands, or of one command function."""
    if not isinstance(target, typer.Typer):
        single = typer.Typer()
        single.command(name)(target)
        target = single
    command = typer.main.get_command(target)
    command.name = name
    return command


def _needs_server(name: str, exc: ModuleNotFoundError) -> Any:
    """A stand-in for a server command when the server's packages are not installed."""
    missing = exc.name or "a server package"

    def explain() -> None:
        """(needs the server)"""
        message = f"`tessera {name}` needs the server ({missing} is not installed)"
        typer.echo(f"error: {message}: {INSTALL_SERVER}", err=True)
        raise typer.Exit(1)

    single = typer.Typer()
    # Whatever options were given, the answer is the same.
    anything = {"ignore_unknown_options": True, "allow_extra_args": True}
    single.command(name, context_settings=anything)(explain)
    return _command(name, single)


app = typer.Typer(
    cls=CommandsOnDemand,
    help="Tessera: short-lived JWT access tokens and rotating, revocable refresh tokens.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("decode")(decode)


@app.callback()
def tessera() -> None:
    """Tessera: short-lived JWT access tokens and rotating, revocable refresh tokens."""


def main() -> None:
    try:
        app()
    except Exception as exc:
        # A server command that could not reach its database (or files): one line, never a
        # traceback. Only server commands raise these, and they have loaded `cli.common`.
        common: Any = sys.modules.get("tessera.cli.common")
        if common is None or not isinstance(exc, common.FAILURES):
            raise
        typer.echo(f"error: {redact(common.describe_failure(exc))}", err=True)
        raise SystemExit(1) from None
