"""A Tessera with the OAuth endpoints on a real socket, for the third-party client tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tessera import ManualClock, Tessera
from tests.conftest import PASSWORD, make_settings
from tests.live import add_user, in_process_server

AUDIENCE = "tessera-tests"
ISSUER = "https://auth.test"


@dataclass
class Live:
    url: str
    service: Tessera
    clock: ManualClock
    metadata: dict[str, Any]

    def expire_access_tokens(self) -> None:
        """Move the server past every access token issued so far (TTL + leeway)."""
        settings = self.service.settings
        self.clock.advance(settings.access_ttl + settings.leeway + 1)

    def counted(self, metric: str, labels: dict[str, str]) -> int:
        value = self.service.metrics.registry.get_sample_value(metric, labels)
        return int(value or 0)


@contextmanager
def oauth_server(tmp_path: Path, **overrides: object) -> Iterator[Live]:
    """User `alice`, the password grant on, a manual clock started at the real time."""
    data_dir = tmp_path / "data"
    values: dict[str, object] = {"oauth_password_grant": True}
    values.update(overrides)
    settings = make_settings(data_dir, **values)
    add_user(data_dir, "alice")
    clock = ManualClock(time.time())
    service = Tessera(settings, clock=clock)
    with in_process_server(service) as url:
        metadata = httpx.get(url + "/.well-known/oauth-authorization-server").json()
        yield Live(url, service, clock, metadata)


def password_tokens(live: Live) -> dict[str, Any]:
    response = httpx.post(
        live.metadata["token_endpoint"],
        data={"grant_type": "password", "username": "alice", "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens
