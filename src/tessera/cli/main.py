"""The `tessera` command: decode, and the server's serve, users, keys, sessions, gc, audit.

`tessera decode` is part of the light install (`pip install tessera`: click, no server). The
server's commands are written with typer, which comes with the server (`tessera[server]`):
each is imported only when it runs, so decoding a token never loads the server's stack, and
without the server installed they say what to install.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

import click

from tessera.cli.decode import decode
from tessera.logs import redact

# command -> (module, attribute: a typer command function or a typer app of subcommands, help)
SERVER_COMMANDS = {
    "serve": ("tessera.cli.serve", "serve", "Run the auth server."),
    "users": ("tessera.cli.users", "app", "Manage users."),
    "keys": ("tessera.cli.keys", "app", "Manage signing keys."),
    "sessions": ("tessera.cli.sessions", "app", "List and revoke sessions."),
    "gc": ("tessera.cli.gc", "gc", "Purge ended sessions and old audit rows."),
    "audit": ("tessera.cli.audit", "audit", "Show audit events, oldest first."),
}
INSTALL_SERVER = "pip install 'tessera[server]'"
PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def server_command(name: str) -> click.Command:
    """`tessera NAME ...`: hands its arguments (`--help` included) to the server's command."""
    module_name, attribute, summary = SERVER_COMMANDS[name]

    @click.command(name, context_settings=PASS_THROUGH, help=summary, short_help=summary)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def run(args: tuple[str, ...]) -> None:
        try:
            import typer

            target = getattr(import_module(module_name), attribute)
        except ModuleNotFoundError as exc:
            missing = exc.name or "a server package"
            raise click.ClickException(
                f"`tessera {name}` needs the server ({missing} is not installed): {INSTALL_SERVER}"
            ) from None
        if not isinstance(target, typer.Typer):
            single = typer.Typer(add_completion=False)
            single.command(name)(target)
            target = single
        command: Any = typer.main.get_command(target)
        command.main(args=list(args), prog_name=f"tessera {name}")

    return run


@click.group(
    help="Tessera: short-lived JWT access tokens and rotating, revocable refresh tokens.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
def app() -> None:
    pass


app.add_command(decode)
for _name in SERVER_COMMANDS:
    app.add_command(server_command(_name))


def main() -> None:
    try:
        app(prog_name="tessera")
    except Exception as exc:
        # A server command that could not reach its database (or files): one line, never a
        # traceback. Only server commands raise these, and they have loaded `cli.common`.
        common: Any = sys.modules.get("tessera.cli.common")
        if common is None or not isinstance(exc, common.FAILURES):
            raise
        click.echo(f"error: {redact(common.describe_failure(exc))}", err=True)
        raise SystemExit(1) from None
