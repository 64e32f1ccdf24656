"""`TokenAuth` with DPoP (the default) against a real server on a real socket: the session is
bound to a key the client made, every refresh and request carries a proof, the key is saved
beside the refresh token, nonces are fetched when asked for, and a lost refresh response is
recovered on the next attempt instead of logging the user out."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tessera.client import FileTokenStore, LoginRequired, TokenAuth
from tessera.tokens.strict_json import b64url_decode
from tests.client_live import Live, serve_live
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TTL = 60  # the client refreshes 20 s before expiry
GRACE = 1.0


def serve(tmp_path: Path, **settings: Any) -> Iterator[Live]:
    yield from serve_live(tmp_path, access_ttl=TTL, reuse_grace=GRACE, **settings)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    yield from serve(tmp_path)


def claims_of(token: str) -> dict[str, Any]:
    return dict(json.loads(b64url_decode(token.split(".")[1])))


async def test_the_session_is_bound_and_every_request_proves_the_key(live: Live) -> None:
    seen: list[httpx.Request] = []
    auth = TokenAuth(live.auth_url, clock=live.clock)
    tokens = await auth.alogin("alice", PASSWORD)
    assert tokens.token_type == "DPoP" and auth.dpop_key is not None
    assert claims_of(tokens.access_token)["cnf"] == {"jkt": auth.dpop_key.jkt}

    async def record(request: httpx.Request) -> None:
        seen.append(request)

    hooks = {"request": [record]}
    async with httpx.AsyncClient(auth=auth, base_url=live.url, event_hooks=hooks) as client:
        me = await client.get("/api/me")
        assert me.status_code == 200, me.text
        live.clock.advance(TTL)  # expired: refreshed first, with a proof
        assert (await client.get("/api/me")).status_code == 200
    assert live.count("tessera_refreshes_total", outcome="rotated") == 1
    assert all(r.headers["authorization"].startswith("DPoP ") for r in seen)
    assert all("dpop" in r.headers for r in seen)
    # A stolen access token alone is refused, as Bearer or as DPoP without the key's proof.
    stolen = auth.tokens.access_token if auth.tokens else ""
    async with httpx.AsyncClient(base_url=live.url) as thief:
        for scheme in ("Bearer", "DPoP"):
            refused = await thief.get("/api/me", headers={"Authorization": f"{scheme} {stolen}"})
            assert refused.status_code == 401


def test_the_key_is_saved_with_the_tokens_and_a_resumed_session_refreshes(
    live: Live, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "client" / "session.json")
    first = TokenAuth(live.auth_url, clock=live.clock, store=store)
    first.login("alice", PASSWORD)
    assert first.dpop_key is not None
    saved = json.loads(store.path.read_text())
    assert saved["token_type"] == "DPoP" and saved["dpop_key"]["d"]  # the private key
    assert os.stat(store.path).st_mode & 0o777 == 0o600
    live.clock.advance(TTL)
    resumed = TokenAuth(live.auth_url, clock=live.clock, store=store)  # a new process
    assert resumed.dpop_key is not None and resumed.dpop_key.jkt == first.dpop_key.jkt
    with httpx.Client(auth=resumed, base_url=live.url) as client:
        assert client.get("/api/me").status_code == 200
    assert live.count("tessera_refreshes_total", outcome="rotated") == 1


def test_a_refresh_token_without_its_key_is_refused_and_the_owner_goes_on(live: Live) -> None:
    owner = TokenAuth(live.auth_url, clock=live.clock)
    owner.login("alice", PASSWORD)
    assert owner.refresh_token is not None
    live.clock.advance(TTL)
    thief = TokenAuth(live.auth_url, clock=live.clock, refresh_token=owner.refresh_token)
    with httpx.Client(auth=thief, base_url=live.url) as client, pytest.raises(LoginRequired):
        client.get("/api/me")
    with httpx.Client(auth=owner, base_url=live.url) as client:
        assert client.get("/api/me").status_code == 200
    assert live.count("tessera_revocations_total", reason="reuse") == 0


class LosingTransport(httpx.HTTPTransport):
    """Delivers requests, but loses the response of the next refresh (the server has rotated;
    the client never hears of it). Shared by the clients `TokenAuth` makes: never closed."""

    lose_next_refresh = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if self.lose_next_refresh and request.url.path.endswith("/refresh"):
            self.lose_next_refresh = False
            response.read()
            raise httpx.ReadError("connection reset before the response", request=request)
        return response

    def close(self) -> None:
        pass


def test_a_lost_refresh_response_is_recovered_long_after_the_grace_window(live: Live) -> None:
    transport = LosingTransport()
    auth = TokenAuth(live.auth_url, clock=live.clock, client_options={"transport": transport})
    auth.login("alice", PASSWORD)
    with httpx.Client(auth=auth, base_url=live.url) as client:
        live.clock.advance(TTL - 15)  # stale (refresh 20 s ahead), still valid
        transport.lose_next_refresh = True
        assert client.get("/api/me").status_code == 200  # the old access token, meanwhile
        assert live.count("tessera_refreshes_total", outcome="rotated") == 1  # it did rotate
        live.clock.advance(GRACE * 10)  # long past the grace window
        assert client.get("/api/me").status_code == 200
    assert live.count("tessera_refreshes_total", outcome="grace") == 1  # the lost one, again
    assert live.count("tessera_revocations_total", reason="reuse") == 0
    assert auth.tokens is not None and not auth.tokens.stale(live.clock.now())


def test_a_server_that_requires_nonces(tmp_path: Path) -> None:
    for live in serve(tmp_path, dpop_require_nonce=True):
        auth = TokenAuth(live.auth_url, clock=live.clock)
        assert auth.login("alice", PASSWORD).token_type == "DPoP"
        with httpx.Client(auth=auth, base_url=live.url) as client:
            assert client.get("/api/me").status_code == 200
            live.clock.advance(TTL)
            assert client.get("/api/me").status_code == 200
        assert live.count("tessera_refreshes_total", outcome="rotated") == 1


def test_dpop_can_be_turned_off_on_the_client(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock, dpop=False)
    assert auth.login("alice", PASSWORD).token_type == "Bearer"
    assert auth.dpop_key is None
    with httpx.Client(auth=auth, base_url=live.url) as client:
        me = client.get("/api/me")
        assert me.status_code == 200
        assert me.request.headers["authorization"].startswith("Bearer ")
        assert "dpop" not in me.request.headers


async def test_logout_ends_the_bound_session_with_a_proof(live: Live) -> None:
    auth = TokenAuth(live.auth_url, clock=live.clock)
    tokens = await auth.alogin("alice", PASSWORD)
    await auth.alogout()
    assert tokens.session_id is not None
    assert not await live.service.sessions.is_active(tokens.session_id)
    assert live.count("tessera_revocations_total", reason="logout") == 1


def test_a_process_sharing_the_store_adopts_anothers_new_login_and_its_key(
    live: Live, tmp_path: Path
) -> None:
    path = tmp_path / "shared.json"
    first = TokenAuth(live.auth_url, clock=live.clock, store=FileTokenStore(path))
    first.login("alice", PASSWORD)
    live.clock.advance(TTL - 15)  # the first's tokens are stale now
    second = TokenAuth(live.auth_url, clock=live.clock, store=FileTokenStore(path))
    second.login("alice", PASSWORD)  # a new session and key, saved over the first's
    assert first.dpop_key is not None and second.dpop_key is not None
    assert first.dpop_key.jkt != second.dpop_key.jkt
    with httpx.Client(auth=first, base_url=live.url) as client:
        assert client.get("/api/me").status_code == 200  # adopted, with the new key
    assert first.dpop_key.jkt == second.dpop_key.jkt
    assert path.exists()
    assert live.count("tessera_refreshes_total", outcome="rotated") == 0
