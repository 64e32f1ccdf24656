"""The revocation feed's long-polls are capped (review finding 4): overall, per client
address, and within a quarter of the open-file limit; past a cap a long-poll is answered at
once (the page as of now), so a flood of them cannot exhaust the server's descriptors and
logins keep working. Followers told to back off do."""

from __future__ import annotations

import asyncio
import re
import resource
import time
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from tessera import Tessera
from tessera.limits import client_key
from tessera.revocations import RevocationFeed
from tessera.revocations.waiters import WaiterLimit
from tests.conftest import make_settings
from tests.helpers import wait_until
from tests.live import LISTENING, Served, in_process_server, serve

DEMO_LOGIN = re.compile(r"demo login: username '([^']+)', password '([^']+)'")
WAIT = 20.0  # what the long-polls ask for: held ones outlive the test's checks
PROMPT = 10.0  # "at once", generously: well inside WAIT on a busy machine
SOFT, HARD = 128, 256  # serve lifts the soft limit to the hard one: 64 long-polls at most


def test_client_key_counts_ipv6_by_its_64_and_mapped_ipv4_as_ipv4() -> None:
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key(None) == "unknown"


def test_waiter_limit_counts_overall_and_per_client() -> None:
    limit = WaiterLimit(overall=3, per_client=2)
    assert limit.take("192.0.2.1") and limit.take("192.0.2.1")
    assert not limit.take("192.0.2.1")  # its own cap
    assert limit.take("192.0.2.2")
    assert not limit.take("192.0.2.3")  # everyone's cap
    limit.give_back("192.0.2.1")
    assert limit.take("192.0.2.3") and limit.held == 3
    with limit.hold("192.0.2.4", 5.0) as allowed:
        assert allowed == 0.0  # full: answered at once
    limit.give_back("192.0.2.3")
    with limit.hold("192.0.2.4", 5.0) as allowed:
        assert allowed == 5.0 and limit.held == 3
    assert limit.held == 2
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert WaiterLimit(overall=10**9, per_client=1).overall == soft // 4


# `tessera serve` under a low open-file limit -----------------------------------------------


def low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, HARD))


def serve_with_few_files(data_dir: Path) -> AbstractContextManager[Served]:
    return serve(data_dir, "--demo", env={"TESSERA_LOG_FORMAT": "text"}, preexec_fn=low_fd_limit)


def open_files_limit(pid: int) -> int:
    limits = Path(f"/proc/{pid}/limits").read_text()
    match = re.search(r"Max open files\s+(\d+)", limits)
    assert match, limits
    return int(match.group(1))


class LongPolls:
    """Long-polls from several loopback source addresses, each on its own connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: list[httpx.AsyncClient] = []
        self.tasks: list[asyncio.Task[httpx.Response]] = []

    def start(self, address: str, count: int) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        client = httpx.AsyncClient(
            transport=transport,
            base_url=self.url,
            timeout=WAIT + 10,
            limits=httpx.Limits(max_connections=count, max_keepalive_connections=0),
        )
        self.clients.append(client)
        params = {"since": "0", "wait": f"{WAIT:g}"}
        for _ in range(count):
            request = client.get("/auth/revocations", params=params)
            self.tasks.append(asyncio.ensure_future(request))

    def answered(self) -> list[httpx.Response]:
        return [t.result() for t in self.tasks if t.done() and not t.exception()]

    async def until_answered(self, count: int) -> list[httpx.Response]:
        """Wait for `count` answers (no more: the rest are held)."""
        deadline = time.monotonic() + PROMPT
        pending = {task for task in self.tasks if not task.done()}
        while len(self.tasks) - len(pending) < count and time.monotonic() < deadline:
            left = deadline - time.monotonic()
            _, pending = await asyncio.wait(
                pending, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
        await asyncio.sleep(0.3)  # room for any answer that should not come
        failed = [t.exception() for t in self.tasks if t.done() and t.exception()]
        assert not failed, failed[:3]
        answered = self.answered()
        assert len(answered) == count, f"{len(answered)} answered, expected {count}"
        return answered

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for client in self.clients:
            await client.aclose()


def assert_answered_at_once(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["revocations"] == [] and isinstance(page["cursor"], int)
    assert response.headers["retry-after"] == "5"
    assert response.headers["connection"] == "close"


async def log_in_and_refresh(url: str, username: str, password: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=PROMPT) as http:
        assert (await http.get("/healthz")).status_code == 200
        login = await http.post(
            "/auth/login",
            json={"username": username, "password": password, "transport": "body"},
        )
        assert login.status_code == 200, login.text
        refresh = await http.post(
            "/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
        )
        assert refresh.status_code == 200, refresh.text


@pytest.mark.slow
def test_a_long_poll_flood_is_answered_at_once_past_the_caps_and_logins_go_on(
    tmp_path: Path,
) -> None:
    with serve_with_few_files(tmp_path / "data") as served:
        url = served.expect(LISTENING).group(1)
        username, password = served.expect(DEMO_LOGIN).groups()
        assert open_files_limit(served.process.pid) == HARD  # serve lifted its soft limit

        async def flood() -> None:
            polls = LongPolls(url)
            try:
                # one address: 8 held (its cap), the other 12 answered at once
                polls.start("127.0.0.1", 20)
                for response in await polls.until_answered(12):
                    assert_answered_at_once(response)
                # 28 more addresses, 10 each: 8 more held per address until the overall cap
                # (a quarter of 256) holds 64; four addresses at a time, so the refused
                # connections in flight stay well within the server's descriptors
                for first in range(2, 30, 4):
                    for n in range(first, first + 4):
                        polls.start(f"127.0.0.{n}", 10)
                    sent = 20 + 10 * (first + 2)
                    await polls.until_answered(sent - min(8 * (first + 3), HARD // 4))
                answered = polls.answered()
                assert len(answered) == 300 - HARD // 4
                for response in answered:
                    assert_answered_at_once(response)
                # meanwhile, everything else works, promptly
                await log_in_and_refresh(url, username, password)
            finally:
                await polls.close()

        asyncio.run(flood())


# followers told to back off -----------------------------------------------------------------


def counting_transport(counts: list[int]) -> httpx.HTTPTransport:
    class Counting(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            counts.append(1)
            return super().handle_request(request)

    return Counting()


@pytest.mark.slow
def test_a_follower_past_the_cap_pauses_instead_of_spinning(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", revocation_max_waiters_per_client=1)
    with in_process_server(Tessera(settings)) as base:
        counts: tuple[list[int], list[int]] = ([], [])
        feeds = [
            RevocationFeed(
                f"{base}/auth/revocations",
                allow_http=True,
                wait=WAIT,
                transport=counting_transport(calls),
            )
            for calls in counts
        ]
        try:
            assert all(feed.wait_until_synced(PROMPT) for feed in feeds)
            # one holds the only place and waits; the other was told to pause 5 s

            def pauses() -> list[float]:
                return sorted(feed.pause for feed in feeds)

            wait_until(lambda: pauses() == [0.0, 5.0], "one follower told to pause", PROMPT)
            time.sleep(1.0)  # the scenario: a second in which a spinning follower would spin
            assert pauses() == [0.0, 5.0]
            assert all(len(calls) <= 3 for calls in counts), [len(c) for c in counts]
            assert all(feed.following for feed in feeds)
        finally:
            for feed in feeds:
                feed.close(timeout=0)
