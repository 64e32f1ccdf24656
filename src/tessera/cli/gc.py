"""`tessera gc`: purge dead sessions and old audit rows now (also runs inside `serve`)."""

from __future__ import annotations

import typer

from tessera.cli.common import DataDir, run_with
from tessera.maintenance import collect_garbage
from tessera.service import AuthService
from tessera.store import Purged


def gc(data_dir: DataDir = None) -> None:
    """Purge sessions that ended more than TESSERA_GC_KEEP ago, and audit rows past retention."""

    async def work(auth: AuthService) -> Purged:
        return await collect_garbage(auth)

    purged = run_with(data_dir, work)
    if purged.skipped:
        typer.echo("another replica is collecting right now; nothing done")
        return
    typer.echo(
        f"purged {purged.sessions} sessions, {purged.audit_events} audit events"
        f" and {purged.revocations} revocations"
    )
