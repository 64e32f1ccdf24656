"""Third-party OAuth and JWT clients against a Tessera on a real socket: Authlib's
`OAuth2Client` and `AsyncOAuth2Client`, requests-oauthlib's `OAuth2Session`, PyJWT's
`PyJWKClient`. Each one finds the endpoints through the RFC 8414 metadata, and none of them
knows anything about Tessera.

The server runs on a manual clock started at the real time (PyJWT compares `iat` and `exp`
with the real clock). The clients decide "expired" by their own clock, so a test moves the
server's clock past the access token's life and tells the client the same thing by setting
the token's `expires_at` in the past: nobody sleeps.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client
from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session

from tests.conftest import PASSWORD
from tests.oauth_live import AUDIENCE, ISSUER, Live, oauth_server, password_tokens

pytestmark = pytest.mark.slow


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with oauth_server(tmp_path) as server:
        yield server


def expired(token: dict[str, Any]) -> dict[str, Any]:
    """The same token as the client's clock would see it once its life is over."""
    return {**token, "expires_at": int(time.time()) - 1}


class Updates:
    """An `update_token` callback that records what the client was told to save."""

    def __init__(self) -> None:
        self.tokens: list[dict[str, Any]] = []
        self.replaced: list[str | None] = []
        self._lock = threading.Lock()

    def __call__(self, token: dict[str, Any], refresh_token: str | None = None, **_: Any) -> None:
        with self._lock:
            self.tokens.append(dict(token))
            self.replaced.append(refresh_token)


class AsyncUpdates(Updates):
    async def __call__(  # type: ignore[override]
        self, token: dict[str, Any], refresh_token: str | None = None, **_: Any
    ) -> None:
        super().__call__(token, refresh_token)


# Authlib -------------------------------------------------------------------------------------


def test_authlib_client_logs_in_and_refreshes_by_itself(live: Live) -> None:
    updates = Updates()
    with OAuth2Client(
        client_id="tessera",
        token_endpoint=live.metadata["token_endpoint"],
        update_token=updates,
        base_url=live.url,
    ) as client:
        first = client.fetch_token(grant_type="password", username="alice", password=PASSWORD)
        assert first["token_type"] == "Bearer"
        assert client.get("/api/me").json()["role"] == "user"

        live.expire_access_tokens()
        stale = first["access_token"]
        refused = httpx.get(live.url + "/api/me", headers={"authorization": f"Bearer {stale}"})
        assert refused.status_code == 401
        client.token = expired(client.token)
        me = client.get("/api/me")
        assert me.status_code == 200, me.text  # refreshed before the request, not after a 401
        assert len(updates.tokens) == 1
        assert updates.replaced == [first["refresh_token"]]
        second = updates.tokens[0]
        assert second["refresh_token"] != first["refresh_token"]  # rotated
        assert client.token["access_token"] == second["access_token"] != stale

        # The rotated-away token, presented once the grace window is over, is theft.
        live.clock.advance(live.service.settings.reuse_grace + 1)
        with pytest.raises(OAuthError) as caught:
            client.refresh_token(refresh_token=first["refresh_token"])
        assert caught.value.error == "invalid_grant"
        # ... and the whole session is gone: the client's own refresh now fails too.
        live.expire_access_tokens()
        client.token = expired(second)
        with pytest.raises(OAuthError) as again:
            client.get("/api/me")
        assert again.value.error == "invalid_grant"


def test_authlib_client_refreshes_a_session_from_auth_login(live: Live) -> None:
    """A session opened by the contract's own login, handed to Authlib as a saved token."""
    login = httpx.post(
        live.url + "/auth/login",
        json={"username": "alice", "password": PASSWORD, "transport": "body"},
    ).json()
    saved = {
        "access_token": login["access_token"],
        "token_type": "Bearer",
        "refresh_token": login["refresh_token"],
        "expires_at": int(time.time()) - 1,
    }
    updates = Updates()
    with OAuth2Client(
        client_id="tessera",
        token=saved,
        token_endpoint=live.metadata["token_endpoint"],
        update_token=updates,
        base_url=live.url,
    ) as client:
        assert client.get("/api/me").status_code == 200
        assert len(updates.tokens) == 1


def test_authlib_sync_clients_racing_get_the_same_successor(live: Live) -> None:
    """Authlib's sync client has no refresh lock: threads sharing one expired token all
    refresh with it at once. Tessera's grace window answers every one of them with the same
    successor, so the session survives (a strict single-use server would kill it here)."""
    updates = Updates()
    with OAuth2Client(
        client_id="tessera",
        token_endpoint=live.metadata["token_endpoint"],
        update_token=updates,
        base_url=live.url,
    ) as client:
        first = client.fetch_token(grant_type="password", username="alice", password=PASSWORD)
        live.expire_access_tokens()
        client.token = expired(first)
        barrier = threading.Barrier(6)

        def call(_: int) -> int:
            barrier.wait()
            return client.get("/api/me").status_code

        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(call, range(6)))
        assert statuses == [200] * 6
        assert updates.tokens, "nobody refreshed"
        successors = {token["refresh_token"] for token in updates.tokens}
        assert len(successors) == 1
        assert live.counted("tessera_refreshes_total", {"outcome": "rotated"}) == 1
        assert live.counted("tessera_refreshes_total", {"outcome": "grace"}) == (
            len(updates.tokens) - 1
        )
        assert live.counted("tessera_revocations_total", {"reason": "reuse"}) == 0
        # The session lives on: its current token still refreshes.
        live.expire_access_tokens()
        client.token = expired(client.token)
        assert client.get("/api/me").status_code == 200


def test_authlib_async_client_refreshes_once_for_concurrent_requests(live: Live) -> None:
    async def scenario() -> None:
        updates = AsyncUpdates()
        async with AsyncOAuth2Client(
            client_id="tessera",
            token_endpoint=live.metadata["token_endpoint"],
            update_token=updates,
            base_url=live.url,
        ) as client:
            first = await client.fetch_token(
                grant_type="password", username="alice", password=PASSWORD
            )
            live.expire_access_tokens()
            client.token = expired(first)
            responses = await asyncio.gather(*(client.get("/api/me") for _ in range(8)))
            assert [r.status_code for r in responses] == [200] * 8
            assert len(updates.tokens) == 1  # its lock: one refresh for all eight
            assert updates.replaced == [first["refresh_token"]]
            assert updates.tokens[0]["refresh_token"] != first["refresh_token"]
            # Revoked through RFC 7009 by the same client: the next refresh is refused.
            await client.revoke_token(
                live.metadata["revocation_endpoint"], token=client.token["refresh_token"]
            )
            live.expire_access_tokens()
            client.token = expired(client.token)
            with pytest.raises(OAuthError) as caught:
                await client.get("/api/me")
            assert caught.value.error == "invalid_grant"

    asyncio.run(scenario())


# requests-oauthlib ---------------------------------------------------------------------------


def test_requests_oauthlib_session_refreshes_by_itself(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    # oauthlib refuses plain http outright (RFC 6749 §3.1 requires TLS); this test server is
    # plain http on the loopback, so it says so. A real deployment is https.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    saved: list[dict[str, Any]] = []
    token_url = live.metadata["token_endpoint"]
    session = OAuth2Session(
        client=LegacyApplicationClient(client_id="tessera"),
        auto_refresh_url=token_url,
        token_updater=saved.append,
    )
    with session:
        first = session.fetch_token(token_url, username="alice", password=PASSWORD)
        assert session.get(live.url + "/api/me").status_code == 200
        live.expire_access_tokens()
        session.token = expired(first)
        me = session.get(live.url + "/api/me")
        assert me.status_code == 200, me.text
        assert len(saved) == 1
        assert saved[0]["refresh_token"] != first["refresh_token"]
        assert saved[0]["access_token"] != first["access_token"]
        # The old refresh token outside the grace window: refused, and the session is dead.
        live.clock.advance(live.service.settings.reuse_grace + 1)
        reuse = requests.post(
            token_url,
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            timeout=10,
        )
        assert reuse.status_code == 400
        assert reuse.json()["error"] == "invalid_grant"
        live.expire_access_tokens()
        session.token = expired(session.token)
        with pytest.raises(Exception, match="invalid_grant"):
            session.get(live.url + "/api/me")


# PyJWT ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_pyjwt_verifies_access_tokens_from_the_jwks_url(tmp_path: Path, algorithm: str) -> None:
    with oauth_server(tmp_path, algorithm=algorithm) as live:
        token = password_tokens(live)["access_token"]
        jwks = jwt.PyJWKClient(live.metadata["jwks_uri"])
        key = jwks.get_signing_key_from_jwt(token)
        assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[algorithm],
            audience=AUDIENCE,
            issuer=live.metadata["issuer"],
            options={"require": ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"]},
        )
        assert claims["client_id"] == "tessera"
        assert claims["iss"] == ISSUER
        # The same verification refuses what it should: another audience, a forged payload.
        with pytest.raises(jwt.InvalidAudienceError):
            jwt.decode(token, key.key, algorithms=[algorithm], audience="another-api")
        header, _, signature = token.split(".")
        other = claims | {"role": "admin"}
        forged = jwt.encode(other, "x" * 32, algorithm="HS256").split(".")[1]
        forged = f"{header}.{forged}.{signature}"
        with pytest.raises(jwt.InvalidTokenError):
            jwt.decode(forged, key.key, algorithms=[algorithm], audience=AUDIENCE)
