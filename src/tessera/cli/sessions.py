"""`tessera sessions`: see and revoke login sessions."""

from __future__ import annotations

from typing import Annotated

import typer

from tessera.cli.common import DataDir, fail, run_with, table, when
from tessera.service import AuthService
from tessera.sessions import ClientInfo

app = typer.Typer(help="List and revoke sessions.", no_args_is_help=True, add_completion=False)
CLI = ClientInfo(ip=None, user_agent="tessera-cli")
UserOption = Annotated[str | None, typer.Option("--user", help="Only this user's sessions.")]


async def _subject(auth: AuthService, username: str) -> str:
    user = await auth.users.get(username)
    if user is None:
        raise fail(f"no user {username!r}")
    return user.id


@app.command("list")
def list_sessions(user: UserOption = None, data_dir: DataDir = None) -> None:
    """List active sessions, newest first."""

    async def work(auth: AuthService) -> list[list[str]]:
        names = {u.id: u.username for u in await auth.users.list()}
        subject = await _subject(auth, user) if user else None
        return [
            [
                s.id,
                names.get(s.subject, s.subject),
                when(s.created_at),
                when(s.last_used_at),
                when(auth.sessions.refresh_expires_at(s)),
                s.ip or "-",
            ]
            for s in await auth.sessions.active(subject)
        ]

    rows = run_with(data_dir, work)
    headers = ["ID", "USER", "CREATED", "LAST USED", "EXPIRES", "IP"]
    typer.echo(table(rows, headers) if rows else "no active sessions")


@app.command("revoke")
def revoke(
    session_id: Annotated[str | None, typer.Argument(help="Session to revoke.")] = None,
    user: UserOption = None,
    data_dir: DataDir = None,
) -> None:
    """Revoke one session by ID, or every session of `--user`."""
    if (session_id is None) == (user is None):
        raise fail("give either a session ID or --user NAME")

    async def work(auth: AuthService) -> int:
        if user is not None:
            return await auth.sessions.revoke_all(await _subject(auth, user), "admin_revoked", CLI)
        assert session_id is not None
        return int(await auth.sessions.revoke(session_id, "admin_revoked", CLI))

    count = run_with(data_dir, work)
    if session_id is not None and count == 0:
        raise fail(f"no session {session_id!r}")
    typer.echo(f"revoked {count} session(s)")
