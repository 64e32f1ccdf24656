"""Prometheus counters for what an operator watches: logins, refreshes, reuse, revocations."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


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
        self.revocations = Counter(
            "tessera_revocations", "Sessions revoked, by reason", ["reason"], registry=self.registry
        )
        self.rejected_tokens = Counter(
            "tessera_rejected_access_tokens",
            "Access tokens refused, by reason",
            ["reason"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
