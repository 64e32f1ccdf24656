"""`tessera users`: the built-in user table."""

from __future__ import annotations

from typing import Annotated

import typer

from tessera.cli.common import DataDir, fail, read_password, run_with, table, when
from tessera.service import AuthService
from tessera.sessions import ClientInfo
from tessera.store import UserExists
from tessera.users import DEFAULT_ROLE, InvalidUser

app = typer.Typer(help="Manage users.", no_args_is_help=True, add_completion=False)
CLI = ClientInfo(ip=None, user_agent="tessera-cli")


@app.command("add")
def add(
    name: str,
    role: Annotated[str, typer.Option(help="Role claim for this user's tokens.")] = DEFAULT_ROLE,
    data_dir: DataDir = None,
) -> None:
    """Add a user; the password comes from a prompt, or stdin when it is not a terminal."""
    password = read_password()

    async def work(auth: AuthService) -> None:
        await auth.users.add(name, password, role)

    try:
        run_with(data_dir, work)
    except UserExists:
        raise fail(f"user {name!r} already exists") from None
    except InvalidUser as exc:
        raise fail(str(exc)) from None
    typer.echo(f"added user {name!r} with role {role!r}")


@app.command("list")
def list_users(data_dir: DataDir = None) -> None:
    """List users."""

    async def work(auth: AuthService) -> list[list[str]]:
        return [[u.username, u.role, when(u.created_at)] for u in await auth.users.list()]

    rows = run_with(data_dir, work)
    typer.echo(table(rows, ["USERNAME", "ROLE", "CREATED"]) if rows else "no users")


@app.command("remove")
def remove(name: str, data_dir: DataDir = None) -> None:
    """Remove a user and revoke all of their sessions."""

    async def work(auth: AuthService) -> bool:
        return await auth.users.remove(name, tokens_end_by=auth.sessions.tokens_end_by())

    if not run_with(data_dir, work):
        raise fail(f"no user {name!r}")
    typer.echo(f"removed user {name!r}; their sessions are revoked")


@app.command("passwd")
def passwd(name: str, data_dir: DataDir = None) -> None:
    """Set a user's password and revoke their sessions."""
    password = read_password()

    async def work(auth: AuthService) -> bool:
        user = await auth.users.set_password(name, password)
        if user is None:
            return False
        await auth.sessions.revoke_all(user.id, "password_changed", CLI)
        return True

    try:
        found = run_with(data_dir, work)
    except InvalidUser as exc:
        raise fail(str(exc)) from None
    if not found:
        raise fail(f"no user {name!r}")
    typer.echo(f"password of {name!r} changed; their sessions are revoked")
