"""Background upkeep: the signing-key schedule, and purging dead sessions and old audit rows
in bounded batches.

`tessera serve` runs it every `gc_interval`; `tessera gc` purges once. On one machine it runs
once: under `serve --workers N` only worker 0 is the housekeeper (`AuthService.housekeeping`;
a replaced worker 0 takes over). Across replicas only one collects at a time (the store takes
an advisory lock on PostgreSQL); key steps are compare-and-sets, safe on every replica at once.
Each run counts in `tessera_maintenance_runs_total`, so /metrics shows which process runs it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from prometheus_client import Counter

from tessera.errors import Unavailable
from tessera.revocations.revoked import MAX_LEEWAY
from tessera.service import AuthService
from tessera.store import Purged

log = logging.getLogger("tessera.maintenance")
REVOCATION_KEEP = 60.0  # seconds a published revocation outlives its tokens' leeway
MAX_BATCHES = 100  # per run: the rest waits for the next run, so one run stays short

_runs: weakref.WeakKeyDictionary[AuthService, Counter] = weakref.WeakKeyDictionary()


def runs_counter(auth: AuthService) -> Counter:
    """`tessera_maintenance_runs_total` in `auth`'s registry (made once per service)."""
    counter = _runs.get(auth)
    if counter is None:
        counter = _runs[auth] = Counter(
            "tessera_maintenance_runs",
            "Runs of the periodic upkeep (key schedule, garbage collection) in this process",
            registry=auth.metrics.registry,
        )
    return counter


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
    (the database may be down) is logged and retried next time; one does not skip the other.
    Returns at once in a process that is not the housekeeper."""
    if not auth.housekeeping:
        return
    s = auth.settings
    runs = runs_counter(auth)
    while True:
        runs.inc()
        for step in (auth.keys.maintain, lambda: collect_garbage(auth)):
            try:
                await step()
            except Unavailable as exc:  # an outage: one line, never SQL nor its parameters
                log.warning("maintenance skipped: %s; retrying in %.0fs", exc, s.gc_interval)
            except Exception:
                log.exception("maintenance failed; retrying in %.0fs", s.gc_interval)
        await asyncio.sleep(s.gc_interval)
