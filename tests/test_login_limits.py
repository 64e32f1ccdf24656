"""Login limits per address, per username from one address and per username overall, and the
bound on password checks in progress (security review, findings 1 and 2), in-process with an
authenticator the test holds mid-check."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tessera import ManualClock, Tessera, create_app
from tessera.users import Principal
from tests.conftest import PASSWORD, make_settings
from tests.helpers import assert_error, until

pytestmark = pytest.mark.anyio


class HeldAuthenticator:
    """Accepts PASSWORD for anyone; every check waits until the test releases it."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.checking = 0
        self.most = 0

    async def authenticate(self, username: str, password: str) -> Principal | None:
        self.checking += 1
        self.most = max(self.most, self.checking)
        try:
            await self.release.wait()
        finally:
            self.checking -= 1
        return Principal(username, "user") if password == PASSWORD else None


def client_from(service: Tessera, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(service), client=(ip, 4242))
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


async def login_as(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"username": username, "password": password})


async def test_checks_in_progress_are_bounded_per_address_and_overall(tmp_path: Path) -> None:
    held = HeldAuthenticator()
    settings = make_settings(tmp_path / "d", login_max_in_flight=3, login_max_in_flight_per_ip=2)
    service = Tessera(settings, clock=ManualClock(), authenticator=held)
    await service.start()
    clients = {ip: client_from(service, ip) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3")}
    try:
        a, b, c = clients.values()
        first = [asyncio.create_task(login_as(a, f"u{n}", "x")) for n in range(2)]
        await until(lambda: held.checking == 2, "two checks from one address in progress")
        # A third from the same address is shed at once: 429, no waiting.
        assert_error(await login_as(a, "u9", "x"), 429, "rate_limited")
        other = asyncio.create_task(login_as(b, "alice", PASSWORD))
        await until(lambda: held.checking == 3, "the overall bound reached")
        # The server is full: a third address is told to come back shortly (503, not a queue).
        full = await login_as(c, "carol", PASSWORD)
        assert_error(full, 503, "unavailable")
        assert full.headers["retry-after"] == "1"
        assert held.most == 3
        held.release.set()
        assert [r.status_code for r in await asyncio.gather(*first)] == [401, 401]
        assert (await other).status_code == 200
        # Places are given back: the address logs in again.
        assert (await login_as(c, "carol", PASSWORD)).status_code == 200
        metrics = (await a.get("/metrics")).text
        assert 'tessera_logins_total{outcome="shed"} 2.0' in metrics
    finally:
        for client in clients.values():
            await client.aclose()
        await service.close()


async def test_the_per_username_ceiling_spans_addresses(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d", login_limit_per_user=2, login_limit_per_user_total=5)
    service = Tessera(settings, clock=ManualClock())
    await service.start()
    await service.users.add("alice", PASSWORD)
    await service.users.add("bob", PASSWORD)
    clients = [client_from(service, f"10.0.1.{n}") for n in range(4)]
    try:
        for client, failures in zip(clients, (2, 2, 1), strict=False):
            for _ in range(failures):
                assert_error(await login_as(client, "alice", "x"), 401, "invalid_credentials")
        # Two failures lock alice for that address only; five lock her everywhere.
        assert_error(await login_as(clients[0], "alice", PASSWORD), 429, "rate_limited")
        limited = await login_as(clients[3], "alice", PASSWORD)
        assert_error(limited, 429, "rate_limited")
        assert 0 < int(limited.headers["retry-after"]) <= 900
        # Other users are untouched, from any of those addresses.
        assert (await login_as(clients[0], "bob", PASSWORD)).status_code == 200
    finally:
        for client in clients:
            await client.aclose()
        await service.close()


async def test_successes_do_not_use_up_an_address(tmp_path: Path) -> None:
    """Attempts count before the check, so a right password must give its count back: an
    office behind one address logs in many times more than its failure limit."""
    settings = make_settings(tmp_path / "d", login_limit_per_ip=3, login_limit_per_user_total=3)
    service = Tessera(settings, clock=ManualClock())
    await service.start()
    await service.users.add("alice", PASSWORD)
    client = client_from(service, "10.0.2.1")
    try:
        for _ in range(10):
            assert (await login_as(client, "alice", PASSWORD)).status_code == 200
        for _ in range(3):
            assert_error(await login_as(client, "alice", "x"), 401, "invalid_credentials")
        assert_error(await login_as(client, "alice", PASSWORD), 429, "rate_limited")
    finally:
        await client.aclose()
        await service.close()


async def test_an_ipv6_host_is_one_client_whatever_address_of_its_64_it_uses(
    tmp_path: Path,
) -> None:
    """A host with a /64 can send every guess from a new address: its limits and its places
    among the password checks are counted for the /64, not per address."""
    settings = make_settings(tmp_path / "d", login_limit_per_ip=15, login_limit_per_user=5)
    service = Tessera(settings, clock=ManualClock())
    await service.start()
    await service.users.add("alice", PASSWORD)
    guesses = [client_from(service, f"2001:db8:1:2::{n:x}") for n in range(1, 40)]
    owner = client_from(service, "2001:db8:9:9::1")
    try:
        statuses = [(await login_as(c, "alice", "guess")).status_code for c in guesses[:8]]
        assert statuses == [401] * 5 + [429] * 3  # the pair's limit, across addresses
        assert (await login_as(owner, "alice", PASSWORD)).status_code == 200  # not locked
        others = [(await login_as(c, f"u{n}", "x")).status_code for n, c in enumerate(guesses)]
        assert others.count(401) == 10  # the /64's own limit: 15 failures in all
        assert set(others[10:]) == {429}
        mapped = client_from(service, "::ffff:203.0.113.9")  # IPv4 behind a mapped address
        plain = client_from(service, "203.0.113.9")
        for n in range(15):
            await login_as(mapped, f"bob{n}", "x")
        assert_error(await login_as(plain, "carol", "x"), 429, "rate_limited")
        await mapped.aclose()
        await plain.aclose()
    finally:
        for client in [*guesses, owner]:
            await client.aclose()
        await service.close()


async def test_password_checks_in_progress_count_an_ipv6_64_once(tmp_path: Path) -> None:
    held = HeldAuthenticator()
    settings = make_settings(tmp_path / "d", login_max_in_flight=10, login_max_in_flight_per_ip=2)
    service = Tessera(settings, clock=ManualClock(), authenticator=held)
    await service.start()
    clients = [client_from(service, f"2001:db8:5:5::{n}") for n in range(1, 4)]
    try:
        first = [asyncio.create_task(login_as(c, "alice", "x")) for c in clients[:2]]
        await until(lambda: held.checking == 2, "two checks from the /64 in progress")
        assert_error(await login_as(clients[2], "alice", "x"), 429, "rate_limited")
        held.release.set()
        await asyncio.gather(*first)
    finally:
        for client in clients:
            await client.aclose()
        await service.close()
