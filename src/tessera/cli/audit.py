"""`tessera audit`: the security events — logins, logouts, revocations, refresh-token reuse."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from tessera.cli.common import DataDir, fail, run_with, table, when
from tessera.service import AuthService
from tessera.store import AuditEvent


def audit(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's events.")] = None,
    session: Annotated[str | None, typer.Option("--session", help="Only this session.")] = None,
    limit: Annotated[int, typer.Option(help="The newest N events.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Show audit events, oldest first."""

    async def work(auth: AuthService) -> tuple[list[AuditEvent], dict[str, str]]:
        names = {u.id: u.username for u in await auth.users.list()}
        subject = None
        if user is not None:
            found = await auth.users.get(user)
            if found is None:
                raise fail(f"no user {user!r}")
            subject = found.id
        return await auth.store.list_audit(session, subject, limit), names

    events, names = run_with(data_dir, work)
    if as_json:
        for event in events:
            typer.echo(json.dumps(asdict(event) | {"user": names.get(event.subject or "")}))
        return
    rows = [
        [
            when(e.at),
            e.kind,
            names.get(e.subject or "", e.subject or "-"),
            e.session_id or "-",
            e.ip or "-",
            e.detail or "",
        ]
        for e in events
    ]
    typer.echo(
        table(rows, ["TIME", "EVENT", "USER", "SESSION", "IP", "DETAIL"]) if rows else "no events"
    )
