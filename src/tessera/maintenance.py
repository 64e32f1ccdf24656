"""Background upkeep: the signing-key schedule, and purging dead sessions and old audit rows
in bounded batches.

`tessera serve` runs it every `gc_interval`; `tessera gc` purges once. Across replicas only one
collects at a time (the store takes an advisory lock on PostgreSQL); key steps are
compare-and-sets, safe on every replica at once.
"""

from __future__ import annotations

import asyncio
import logging

from tessera.errors import Unavailable
from tessera.revocations.revoked import MAX_LEEWAY
from tessera.service import AuthService
from tessera.store import Purged

log = logging.getLogger("tessera.maintenance")
REVOCATION_KEEP = 60.0  # seconds a published revocation outlives its tokens' leeway
MAX_BATCHES = 100  # per run: the rest waits for the next run, so one run stays short


async def collect_garbage(auth: AuthService) -> Purged:
    """Purge sessions that ended more than `gc_keep` ago and audit rows past retention."""
    s = auth.settings
    now = auth.clock.now()
    purged = await auth.store.purge(
        sessions_before=now - s.gc_keep,
        idle_before=now - s.refresh_idle_ttl - s.gc_keep,
        audit_before=now - s.audit_retention,
        # A published revocation is needed until its tokens expire, with any verifier's leeway.
        revocations_before=now - MAX_LEEWAY - REVOCATION_KEEP,
        batch=s.gc_batch,
        max_batches=MAX_BATCHES,
    )
    if purged.sessions or purged.audit_events or purged.revocations:
        log.info(
            "purged %d sessions, %d audit events and %d revocations",
            purged.sessions,
            purged.audit_events,
            purged.revocations,
        )
    return purged


async def run_periodically(auth: AuthService) -> None:
    """Forever: run the key schedule and collect garbage, then sleep `gc_interval`. A failure
    (the database may be down) is logged and retried next time; one does not skip the other."""
    s = auth.settings
    while True:
        for step in (auth.keys.maintain, lambda: collect_garbage(auth)):
            try:
                await step()
            except Unavailable as exc:  # an outage: one line, never SQL nor its parameters
                log.warning("maintenance skipped: %s; retrying in %.0fs", exc, s.gc_interval)
            except Exception:
                log.exception("maintenance failed; retrying in %.0fs", s.gc_interval)
        await asyncio.sleep(s.gc_interval)
