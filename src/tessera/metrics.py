"""Prometheus metrics for what an operator watches: logins, refreshes and their failures, reuse,
revocations, refused access tokens, latency per route, and the signing key's age."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """One registry per `Tessera`, so several instances (tests, embedding) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.logins = Counter(
            "tessera_logins", "Login attempts by outcome", ["outcome"], registry=self.registry
        )
        self.refreshes = Counter(
            "tessera_refreshes", "Refresh attempts by outcome", ["outcome"], registry=self.registry
        )
        self.refresh_failures = Counter(
            "tessera_refresh_failures",
            "Refused refreshes by reason (unknown, revoked, expired, idle, reuse, ...)",
            ["reason"],
            registry=self.registry,
        )
        self.revocations = Counter(
            "tessera_revocations", "Sessions revoked, by reason", ["reason"], registry=self.registry
        )
        self.rejected_tokens = Counter(
            "tessera_rejected_access_tokens",
            "Access tokens refused, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.unavailable = Counter(
            "tessera_unavailable",
            "503 answers by cause: the database's outages by kind (connection, starting_up,"
            " read_only, ...), or the server's own load shedding (overloaded, contention)",
            ["kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tessera_request_duration_seconds",
            "Time to answer, by route template, method and status class",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.key_age = Gauge(
            "tessera_signing_key_age_seconds",
            "Age of the active signing key",
            registry=self.registry,
        )

        self.revoked_sessions = Gauge(
            "tessera_revoked_sessions",
            "Revoked sessions whose access tokens may still be alive, held in memory",
            registry=self.registry,
        )
        self.revocation_notices = Gauge(
            "tessera_revocation_notices_up",
            "1 while this replica is woken by PostgreSQL NOTIFY (else it only polls)",
            registry=self.registry,
        )

    def watch_key_age(self, age: Callable[[], float]) -> None:
        self.key_age.set_function(age)

    def watch_revocations(self, revoked: Callable[[], float], notices: Callable[[], float]) -> None:
        self.revoked_sessions.set_function(revoked)
        self.revocation_notices.set_function(notices)

    def render(self) -> bytes:
        return generate_latest(self.registry)
