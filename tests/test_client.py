"""`tessera.client.TokenAuth` against a real server on a real socket, with a moved clock."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError

from tessera import AccessClaims, ManualClock, Tessera, create_app
from tessera.client import (
    FileTokenStore,
    LoginFailed,
    LoginRequired,
    TokenAuth,
    TokenSet,
    TransientAuthError,
)
from tessera.sessions import ClientInfo
from tessera.store import SQLStore
from tests.capture import capture_server
from tests.conftest import PASSWORD, START, make_settings
from tests.live import add_user, in_process_server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TTL = 60  # lead = min(60, 60 / 3) = 20 s


class FlakyStore(SQLStore):
    """The server's store, with a switch that makes refreshes hit a database outage."""

    down = False

    async def find_by_refresh_hash(self, token_hash: bytes):  # type: ignore[no-untyped-def]
        if self.down:
            raise OperationalError("SELECT", {}, ConnectionRefusedError("database is down"))
        return await super().find_by_refresh_hash(token_hash)


@dataclass
class Live:
    url: str
    service: Tessera
    clock: ManualClock
    store: FlakyStore

    @property
    def auth_url(self) -> str:
        return self.url + "/auth"

    def refreshes(self, outcome: str = "rotated") -> int:
        value = self.service.metrics.registry.get_sample_value(
            "tessera_refreshes_total", {"outcome": outcome}
        )
        return int(value or 0)

    def expire(self) -> None:
        self.clock.advance(TTL + self.service.settings.leeway + 1)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    data_dir = tmp_path / "server"
    add_user(data_dir, "alice")
    add_user(data_dir, "root", role="admin")
    settings = make_settings(data_dir, access_ttl=TTL)
    store = FlakyStore.from_url(settings.resolved_database_url())
    assert isinstance(store, FlakyStore)
    clock = ManualClock(START)
    service = Tessera(settings, clock=clock, store=store)
    app = create_app(service)

    @app.post("/api/echo")
    async def echo(
        request: Request,
        claims: AccessClaims = Depends(service.require()),
    ) -> dict[str, int]:
        return {"received": len(await request.body())}

    @app.get("/api/admin")
    async def admin(
        claims: AccessClaims = Depends(service.require(role="admin")),
    ) -> dict[str, str]:
        return {"ok": "yes"}

    with in_process_server(service, app) as url:
        yield Live(url, service, clock, store)


async def revoke_elsewhere(live: Live, session_id: str) -> None:
    """Revoke through a second service on the same database, as an admin's CLI would (the
    server's own service belongs to the server thread's event loop)."""
    admin = Tessera(live.service.settings, clock=live.clock)
    try:
        await admin.start()
        await admin.sessions.revoke(session_id, "admin_revoked", ClientInfo())
    finally:
        await admin.close()


def statuses(hits: list[httpx.Response]) -> list[int]:
    return [r.status_code for r in hits]


# concurrency: one refresh for many callers ----------------------------------------------------


async def test_100_concurrent_async_requests_after_expiry_refresh_once(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock)
    await auth.alogin("alice", PASSWORD)
    live.expire()
    async with httpx.AsyncClient(auth=auth, base_url=live.url) as client:
        responses = await asyncio.gather(*(client.get("/api/me") for _ in range(100)))
    assert statuses(responses) == [200] * 100
    assert live.refreshes("rotated") == 1
    assert live.refreshes("grace") == 0


def test_16_threads_on_a_sync_client_refresh_once(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock)
    auth.login("alice", PASSWORD)
    live.expire()
    barrier = threading.Barrier(16)
    with httpx.Client(auth=auth, base_url=live.url) as client:

        def work(_: int) -> list[int]:
            barrier.wait(timeout=10)
            return [client.get("/api/me").status_code for _ in range(5)]

        with ThreadPoolExecutor(16) as pool:
            results = [code for codes in pool.map(work, range(16)) for code in codes]
    assert results == [200] * 80
    assert live.refreshes("rotated") == 1


async def test_a_401_refreshes_once_and_retries_once(live: Live) -> None:
    client_clock = ManualClock(START)  # the client believes its token is still fresh
    auth = TokenAuth(live.auth_url, clock=client_clock)
    await auth.alogin("alice", PASSWORD)
    live.expire()
    seen: list[int] = []

    async def record(response: httpx.Response) -> None:
        if response.request.url.path == "/api/me":
            seen.append(response.status_code)

    async with httpx.AsyncClient(
        auth=auth, base_url=live.url, event_hooks={"response": [record]}
    ) as client:
        responses = await asyncio.gather(*(client.get("/api/me") for _ in range(20)))
    assert statuses(responses) == [200] * 20
    assert live.refreshes("rotated") == 1  # the others retried with the new token
    assert seen.count(401) == 20 and seen.count(200) == 20


def test_sync_401_retry_with_replayable_bodies(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=ManualClock(START))
    auth.login("alice", PASSWORD)
    with httpx.Client(auth=auth, base_url=live.url) as client:
        live.expire()
        assert client.post("/api/echo", content=b"x" * 1000).json() == {"received": 1000}
        live.expire()
        upload = io.BytesIO(b"y" * 5000)  # a seekable file: rewound and sent again
        assert client.post("/api/echo", content=upload).json() == {"received": 5000}
        live.expire()
        files = {"f": ("a.txt", io.BytesIO(b"z" * 300))}
        assert client.post("/api/echo", files=files).status_code == 200
    assert live.refreshes("rotated") == 3


def test_a_generator_body_is_never_replayed(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=ManualClock(START))
    auth.login("alice", PASSWORD)
    live.expire()
    sent: list[bytes] = []

    def body() -> Iterator[bytes]:
        for chunk in (b"a" * 100, b"b" * 100):
            sent.append(chunk)
            yield chunk

    with httpx.Client(auth=auth, base_url=live.url) as client:
        response = client.post("/api/echo", content=body())
        assert response.status_code == 401  # handed back, not re-sent empty or partial
        assert len(sent) == 2
        # The token was still refreshed, so the next request goes through.
        assert client.post("/api/echo", content=body()).json() == {"received": 200}
    assert live.refreshes("rotated") == 1


async def test_async_generator_body_is_never_replayed(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=ManualClock(START))
    await auth.alogin("alice", PASSWORD)
    live.expire()

    async def body() -> AsyncIterator[bytes]:
        yield b"q" * 50

    async with httpx.AsyncClient(auth=auth, base_url=live.url) as client:
        assert (await client.post("/api/echo", content=body())).status_code == 401
        assert (await client.post("/api/echo", content=body())).json() == {"received": 50}


# failures ---------------------------------------------------------------------------------


async def test_refresh_401_raises_login_required_once_without_looping(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock)
    tokens = await auth.alogin("alice", PASSWORD)
    assert tokens.session_id is not None
    await revoke_elsewhere(live, tokens.session_id)
    live.expire()
    async with httpx.AsyncClient(auth=auth, base_url=live.url) as client:
        with pytest.raises(LoginRequired):
            await client.get("/api/me")
        with pytest.raises(LoginRequired):
            await client.get("/api/me")
    assert live.refreshes("invalid") == 1  # one refresh call, then no more
    await auth.alogin("alice", PASSWORD)  # a new login starts over
    async with httpx.AsyncClient(auth=auth, base_url=live.url) as client:
        assert (await client.get("/api/me")).status_code == 200


def test_refresh_503_is_transient_and_the_session_survives(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock)
    auth.login("alice", PASSWORD)
    kept = auth.refresh_token
    with httpx.Client(auth=auth, base_url=live.url) as client:
        live.store.down = True
        live.clock.advance(TTL - 10)  # inside the lead window, not yet expired
        assert client.get("/api/me").status_code == 200  # the old token still works
        live.expire()
        with pytest.raises(TransientAuthError) as caught:
            client.get("/api/me")
        assert caught.value.status_code == 503
        assert caught.value.retry_after == 2
        assert auth.refresh_token == kept
        live.store.down = False
        assert client.get("/api/me").status_code == 200
    assert live.refreshes("rotated") == 1


def test_network_errors_keep_the_session(live: Live) -> None:
    auth = TokenAuth("http://127.0.0.1:9/auth", clock=live.clock)  # nothing listens on 9
    with pytest.raises(httpx.TransportError):
        auth.login("alice", PASSWORD)
    auth = TokenAuth(live.auth_url, clock=live.clock)
    auth.login("alice", PASSWORD)
    kept = auth.refresh_token
    live.expire()
    broken = TokenAuth(
        "http://127.0.0.1:9/auth", refresh_token=kept, clock=live.clock, api_origins=[live.url]
    )
    with httpx.Client(auth=broken, base_url=live.url) as client, pytest.raises(httpx.ConnectError):
        client.get("/api/me")
    assert broken.refresh_token == kept


def test_403_never_refreshes(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock)
    auth.login("alice", PASSWORD)
    with httpx.Client(auth=auth, base_url=live.url) as client:
        assert client.get("/api/admin").status_code == 403
    assert live.refreshes("rotated") == 0


def test_wrong_password(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock)
    with pytest.raises(LoginFailed) as caught:
        auth.login("alice", "nope")
    assert caught.value.error == "invalid_credentials"
    with httpx.Client(auth=auth, base_url=live.url) as client, pytest.raises(LoginRequired):
        client.get("/api/me")


async def test_a_cancelled_refresh_leaves_consistent_state(live: Live) -> None:
    refresh_sent = asyncio.Event()

    async def on_request(request: httpx.Request) -> None:
        if request.url.path.endswith("/refresh"):
            refresh_sent.set()

    auth = TokenAuth(
        live.auth_url,
        clock=live.clock,
        client_options={"event_hooks": {"request": [on_request]}},
    )
    await auth.alogin("alice", PASSWORD)
    before = auth.tokens
    live.expire()
    async with httpx.AsyncClient(auth=auth, base_url=live.url) as client:
        task = asyncio.create_task(client.get("/api/me"))
        await refresh_sent.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert auth.tokens == before  # nothing half-updated
        # The lost response is covered by the server's grace window: same session, no reuse.
        assert (await client.get("/api/me")).status_code == 200
    assert live.refreshes("invalid") == 0 and live.refreshes("reuse") == 0


def test_an_unreachable_auth_server_falls_back_to_the_still_valid_token(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock)
    auth.login("alice", PASSWORD)
    auth.url = "http://127.0.0.1:9/auth"  # the auth server is gone; the API is not
    live.clock.advance(TTL - 10)  # inside the lead window: a proactive refresh is due
    with httpx.Client(auth=auth, base_url=live.url) as client:
        assert client.get("/api/me").status_code == 200
        live.expire()
        with pytest.raises(httpx.ConnectError):
            client.get("/api/me")


# proactive refresh, persistence, loops, streaming -----------------------------------------


def test_proactive_refresh_means_no_401_in_a_steady_loop(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock)
    auth.login("alice", PASSWORD)
    codes: list[int] = []
    with httpx.Client(
        auth=auth,
        base_url=live.url,
        event_hooks={"response": [lambda r: codes.append(r.status_code)]},
    ) as client:
        for _ in range(200):  # 1000 s of traffic, a request every 5 s
            live.clock.advance(5)
            assert client.get("/api/me").status_code == 200
    assert 401 not in codes
    # A refresh every TTL - lead = 40 s.
    assert live.refreshes("rotated") == 1000 // 40


def test_on_tokens_and_resuming_from_a_saved_refresh_token(live: Live) -> None:
    saved: list[str] = []
    auth = TokenAuth(live.auth_url, clock=live.clock, on_tokens=lambda rt, _: saved.append(rt))
    auth.login("alice", PASSWORD)
    live.expire()
    with httpx.Client(auth=auth, base_url=live.url) as client:
        assert client.get("/api/me").status_code == 200
    assert len(saved) == 2 and saved[-1] == auth.refresh_token
    # A DPoP-bound session (the default) resumes with its key, saved beside the token.
    resumed = TokenAuth(
        live.auth_url, refresh_token=saved[-1], dpop_key=auth.dpop_key, clock=live.clock
    )
    with httpx.Client(auth=resumed, base_url=live.url) as client:
        assert client.get("/api/me").status_code == 200
    assert live.refreshes("rotated") == 2


def test_file_store_is_private_and_resumes(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "client" / "session.json"
    auth = TokenAuth(live.auth_url, store=FileTokenStore(path), clock=live.clock)
    auth.login("alice", PASSWORD)
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["refresh_token"] == auth.refresh_token
    again = TokenAuth(live.auth_url, store=FileTokenStore(path), clock=live.clock)
    with httpx.Client(auth=again, base_url=live.url) as client:
        assert client.get("/api/me").status_code == 200
    assert live.refreshes("rotated") == 0  # the saved access token was still fresh
    again.logout()
    assert not path.exists()


TWO_PROCESSES = """
import sys, httpx
from tessera.client import FileTokenStore, TokenAuth
url, path = sys.argv[1], sys.argv[2]
auth = TokenAuth(url + "/auth", store=FileTokenStore(path))
with httpx.Client(auth=auth, base_url=url) as client:
    print(client.get("/api/me").status_code)
"""


def test_two_processes_sharing_a_file_store_rotate_once(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "shared.json"
    store = FileTokenStore(path)
    auth = TokenAuth(live.auth_url, store=store, clock=live.clock)
    tokens = auth.login("alice", PASSWORD)
    # Both processes (on the real clock) find the saved access token stale.
    stale = TokenSet(**{**tokens.as_dict(), "local_expires_at": 0.0})
    store.save(stale, auth.dpop_key)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_PROCESSES, live.url, str(path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in processes]
    assert outputs == ["200", "200"]
    assert live.refreshes("rotated") == 1
    assert live.refreshes("grace") == 0


async def test_one_auth_across_event_loops_and_streaming(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock)
    await auth.alogin("alice", PASSWORD)

    async def call() -> int:
        async with (
            httpx.AsyncClient(auth=auth, base_url=live.url) as client,
            client.stream("GET", "/api/me") as response,
        ):
            await response.aread()
            return response.status_code

    live.expire()
    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(asyncio.run(call())))
    thread.start()
    thread.join(timeout=30)
    assert results == [200]
    live.expire()
    assert await call() == 200
    assert live.refreshes("rotated") == 2


def test_sync_streaming(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock)
    auth.login("alice", PASSWORD)
    live.expire()
    with (
        httpx.Client(auth=auth, base_url=live.url) as client,
        client.stream("GET", "/api/me") as response,
    ):
        assert response.read() and response.status_code == 200
    assert live.refreshes("rotated") == 1


# where the token goes: the auth server's origin and the listed ones, nothing else ------------


def test_only_the_auth_origin_and_listed_origins_receive_the_token(live: Live) -> None:
    """Two servers on real sockets: the Tessera one, and a third party reachable under two
    origins (127.0.0.1 and localhost: one port, two hosts). Only the listed one gets it."""
    with capture_server() as third_party:
        listed, other = third_party.url("localhost"), third_party.url("127.0.0.1")
        auth = TokenAuth(live.auth_url, clock=live.clock, api_origins=[listed])
        auth.login("alice", PASSWORD)
        assert auth.tokens is not None
        sent = f"DPoP {auth.tokens.access_token}"  # bound to the client's key (the default)
        with httpx.Client(auth=auth) as client:
            assert client.get(live.url + "/api/me").status_code == 200
            assert client.get(listed + "/listed").status_code == 200
            assert client.get(other + "/other").status_code == 200
            assert client.post(other + "/upload", content=b"x").status_code == 200
            # The Tessera server itself under another host name is another origin too.
            same_server = live.url.replace("127.0.0.1", "localhost")
            assert client.get(same_server + "/api/me").status_code == 401
        got = {s.path: s.authorization for s in third_party.seen}
        assert got == {"/listed": sent, "/other": None, "/upload": None}
        proofs = {s.path: s.headers.get("dpop") for s in third_party.seen}
        assert proofs["/listed"] and proofs["/other"] is None and proofs["/upload"] is None


async def test_another_origin_is_passed_through_untouched_async(live: Live) -> None:
    """No token, no refresh before it (even with an expired token), no retry on its 401, and
    the caller's own Authorization header kept as it is."""
    with capture_server() as third_party:
        auth = TokenAuth(live.auth_url, clock=live.clock)
        await auth.alogin("alice", PASSWORD)
        live.expire()
        async with httpx.AsyncClient(auth=auth) as client:
            response = await client.get(third_party.url() + "/401/api")
            assert response.status_code == 401
            own = {"Authorization": "Basic b3duOmNyZWRz"}
            assert (await client.get(third_party.url() + "/mine", headers=own)).status_code == 200
            assert live.refreshes() == 0  # nothing above touched the session
            assert (await client.get(live.url + "/api/me")).status_code == 200
        assert [(s.path, s.authorization) for s in third_party.seen] == [
            ("/401/api", None),  # once: no retry
            ("/mine", "Basic b3duOmNyZWRz"),
        ]
        assert live.refreshes() == 1  # the auth server's own API refreshed as usual


def test_another_origin_needs_no_session_sync(live: Live) -> None:
    """Without any session a request to another origin still goes out (no LoginRequired),
    and its 401 starts no refresh."""
    with capture_server() as third_party, httpx.Client(auth=TokenAuth(live.auth_url)) as client:
        assert client.get(third_party.url() + "/401/x").status_code == 401
        assert client.get(third_party.url() + "/public").status_code == 200
        with pytest.raises(LoginRequired):
            client.get(live.url + "/api/me")
    assert [s.authorization for s in third_party.seen] == [None, None]
    assert live.refreshes("invalid") == 0


@pytest.mark.parametrize(
    "entry",
    [
        "https://api.example.com/v1",
        "https://api.example.com/?x=1",
        "https://user:secret@api.example.com",
        "api.example.com",
        "*",
        "ftp://api.example.com",
        "",
    ],
)
def test_api_origins_takes_bare_http_origins_only(entry: str) -> None:
    with pytest.raises(ValueError, match="is not an origin") as caught:
        TokenAuth("https://auth.example.com/auth", api_origins=[entry])
    assert "secret" not in str(caught.value)


def test_api_origins_never_downgrades_an_https_auth_server_to_http() -> None:
    with pytest.raises(ValueError, match="plain http"):
        TokenAuth("https://auth.example.com/auth", api_origins=["http://api.example.com"])
    with pytest.raises(ValueError, match="list of origins"):
        TokenAuth("https://auth.example.com/auth", api_origins="https://api.example.com")
    # A plain-http auth server (development) may list plain-http APIs; exact origins either way.
    TokenAuth("http://localhost:8000/auth", api_origins=["http://localhost:9000"])
    TokenAuth("https://auth.example.com/auth", api_origins=["https://API.example.com:443/"])


def test_a_401_from_another_origin_after_a_redirect_starts_no_refresh(live: Live) -> None:
    """A listed API redirects to a third party that answers 401 `invalid_token`: that is no
    verdict on our token, so no refresh and no retry (and httpx drops the header on the way)."""
    with capture_server() as third_party:
        listed, other = third_party.url("localhost"), third_party.url("127.0.0.1")
        auth = TokenAuth(live.auth_url, clock=live.clock, api_origins=[listed])
        auth.login("alice", PASSWORD)
        away = f"{listed}/redirect?to={other}/401/elsewhere"
        with httpx.Client(auth=auth, follow_redirects=True) as client:
            assert client.get(away).status_code == 401
        assert live.refreshes() == 0
        assert [(s.path, s.authorization is None) for s in third_party.seen] == [
            ("/redirect?to=" + other + "/401/elsewhere", False),  # listed: the token
            ("/401/elsewhere", True),  # once, and without it
        ]
