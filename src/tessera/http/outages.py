"""503s as an operator sees them: counted by kind in the metrics, and logged once per kind
every so often — an outage answers thousands of requests, and each needs no line of its own."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable

from tessera.errors import Unavailable
from tessera.metrics import Metrics
from tessera.store.faults import DatabaseUnavailable

log = logging.getLogger("tessera.http")

EVERY = 10.0  # seconds between two log lines of one kind


class OutageReport:
    """Called with every `Unavailable` answered: `tessera_unavailable_total{kind}` counts it;
    a database outage is logged (its kind and what the driver said, never SQL nor parameters)
    at most once per kind every `every` seconds, with how many answers went unlogged."""

    def __init__(
        self,
        metrics: Metrics | None = None,
        every: float = EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics = metrics
        self.every = every
        self.clock = clock
        self.logged_at: dict[str, float] = {}
        self.unlogged: dict[str, int] = {}

    def __call__(self, exc: Unavailable) -> None:
        if self.metrics is not None:
            self.metrics.unavailable.labels(exc.kind).inc()
        if not isinstance(exc, DatabaseUnavailable):
            return  # load shed on purpose: the metrics say enough
        now = self.clock()
        logged_at = self.logged_at.get(exc.kind)
        if logged_at is not None and now - logged_at < self.every:
            self.unlogged[exc.kind] = self.unlogged.get(exc.kind, 0) + 1
            return
        self.logged_at[exc.kind] = now
        more = self.unlogged.pop(exc.kind, 0)
        log.error("%s%s", exc, f" (and {more} more since the last report)" if more else "")


_REPORTS: weakref.WeakKeyDictionary[Metrics, OutageReport] = weakref.WeakKeyDictionary()
UNCOUNTED = OutageReport()  # logs only: for a caller with no metrics to count in


def report_for(metrics: Metrics | None) -> OutageReport:
    """The one report of a service's metrics (its routers and its app share it), so one
    outage is logged once, not once per router."""
    if metrics is None:
        return UNCOUNTED
    report = _REPORTS.get(metrics)
    if report is None:
        report = _REPORTS[metrics] = OutageReport(metrics)
    return report
