"""A Tessera on a real socket with user `alice`, on a clock the test moves, for the Python
client's tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tessera import ManualClock, Tessera
from tessera.client import TokenAuth
from tests.conftest import START, make_settings
from tests.live import add_user, in_process_server


@dataclass
class Live:
    url: str
    service: Tessera
    clock: ManualClock

    @property
    def auth_url(self) -> str:
        return self.url + "/auth"

    def client(self, dpop: bool = True) -> TokenAuth:
        return TokenAuth(self.auth_url, clock=self.clock, dpop=dpop)

    def count(self, metric: str, **labels: str) -> int:
        value = self.service.metrics.registry.get_sample_value(metric, labels)
        return int(value or 0)


def serve_live(tmp_path: Path, **settings: Any) -> Iterator[Live]:
    data_dir = tmp_path / "server"
    add_user(data_dir, "alice")
    clock = ManualClock(START)
    service = Tessera(make_settings(data_dir, **settings), clock=clock)
    with in_process_server(service) as url:
        yield Live(url, service, clock)
