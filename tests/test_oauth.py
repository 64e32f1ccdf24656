"""The OAuth endpoints' protocol: RFC 6749 token endpoint, RFC 8414 metadata, RFC 7009
revocation, RFC 7662 introspection — over the same sessions as the /auth contract."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tessera import ManualClock, Settings, Tessera, create_app
from tests.conftest import PASSWORD, make_settings
from tests.helpers import assert_error, bearer, login, served

pytestmark = pytest.mark.anyio

RS_ID, RS_SECRET = "orders-api", "s3cret-for-introspection"
RS = (RS_ID, RS_SECRET)


def oauth_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "oauth_password_grant": True,
        "oauth_introspection_clients": f"{RS_ID}:{RS_SECRET}",
    }
    values.update(overrides)
    return make_settings(tmp_path / "d", **values)


@pytest.fixture
async def oauth(tmp_path: Path) -> AsyncIterator[tuple[Tessera, httpx.AsyncClient, ManualClock]]:
    async with served(oauth_settings(tmp_path)) as (service, client):
        await service.users.add("alice", PASSWORD)
        assert isinstance(service.clock, ManualClock)
        yield service, client, service.clock


async def password_grant(client: httpx.AsyncClient, **extra: str) -> dict[str, Any]:
    data = {"grant_type": "password", "username": "alice", "password": PASSWORD, **extra}
    response = await client.post("/oauth/token", data=data)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh_grant(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


async def introspect(client: httpx.AsyncClient, token: str, **extra: str) -> dict[str, Any]:
    response = await client.post("/oauth/introspect", data={"token": token, **extra}, auth=RS)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return result


# token endpoint ------------------------------------------------------------------------------


async def test_password_grant_answers_an_rfc_6749_token_response(oauth: Any) -> None:
    _, client, _ = oauth
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "alice", "password": PASSWORD},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert 599 <= body["expires_in"] <= 600
    me = await client.get("/api/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200


async def test_access_tokens_follow_rfc_9068(oauth: Any) -> None:
    _, client, _ = oauth
    token = (await password_grant(client))["access_token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["typ"] == "at+jwt"
    claims = claims_of(token)
    for name in ("iss", "exp", "aud", "sub", "client_id", "iat", "jti"):
        assert claims[name], name
    assert claims["client_id"] == "tessera"
    assert {"role", "sid", "nbf"} <= set(claims)  # the contract's claims stay
    # /auth/login tokens come from the same first-party client.
    assert claims_of((await login(client))["access_token"])["client_id"] == "tessera"


async def test_the_first_party_client_id_is_configurable(tmp_path: Path) -> None:
    async with served(oauth_settings(tmp_path, client_id="mobile-app")) as (service, client):
        await service.users.add("alice", PASSWORD)
        token = (await password_grant(client, client_id="mobile-app"))["access_token"]
        assert claims_of(token)["client_id"] == "mobile-app"
        other = await client.post(
            "/oauth/token",
            data={"grant_type": "password", "username": "alice", "password": PASSWORD,
                  "client_id": "tessera"},
        )  # fmt: skip
        assert_error(other, 401, "invalid_client")


async def test_refresh_grant_rotates_with_grace_and_reuse_detection(oauth: Any) -> None:
    service, client, clock = oauth
    first = (await password_grant(client))["refresh_token"]
    rotated = await refresh_grant(client, first)
    assert rotated.status_code == 200
    assert rotated.headers["cache-control"] == "no-store"
    assert rotated.headers["pragma"] == "no-cache"
    second = rotated.json()["refresh_token"]
    assert second != first
    # Within the grace window the old token gets the same successor, as /auth/refresh does.
    clock.advance(service.settings.reuse_grace - 1)
    replay = await refresh_grant(client, first)
    assert replay.status_code == 200
    assert replay.json()["refresh_token"] == second
    # After it, the old token is theft: 400 invalid_grant, and the session is gone.
    clock.advance(2)
    reused = await refresh_grant(client, first)
    body = assert_error(reused, 400, "invalid_grant")
    assert "already used" in body["error_description"]
    assert_error(await refresh_grant(client, second), 400, "invalid_grant")
    assert (await client.post("/auth/refresh", json={"refresh_token": second})).status_code == 401
    kinds = [event.kind for event in await service.store.list_audit()]
    assert "refresh_token_reuse" in kinds


async def test_both_front_doors_share_one_state_machine(oauth: Any) -> None:
    _, client, clock = oauth
    first = (await login(client))["refresh_token"]
    via_auth = await client.post("/auth/refresh", json={"refresh_token": first})
    second = via_auth.json()["refresh_token"]
    # The just-rotated token replayed at the OAuth endpoint: the same successor.
    replay = await refresh_grant(client, first)
    assert replay.json()["refresh_token"] == second
    third = (await refresh_grant(client, second)).json()["refresh_token"]
    clock.advance(60)
    # The second token, rotated at /oauth/token, is reuse at /auth/refresh.
    reused = await client.post("/auth/refresh", json={"refresh_token": second})
    assert_error(reused, 401, "invalid_grant")
    assert_error(await refresh_grant(client, third), 400, "invalid_grant")


async def test_refresh_grant_refuses_dead_and_malformed_tokens(oauth: Any) -> None:
    service, client, clock = oauth
    assert_error(await refresh_grant(client, "tsr1_" + "Z" * 43), 400, "invalid_grant")
    assert_error(await refresh_grant(client, "not a token"), 400, "invalid_grant")
    idle = (await password_grant(client))["refresh_token"]
    clock.advance(service.settings.refresh_idle_ttl + 1)
    body = assert_error(await refresh_grant(client, idle), 400, "invalid_grant")
    assert "idle" in body["error_description"]
    missing = await client.post("/oauth/token", data={"grant_type": "refresh_token"})
    assert_error(missing, 400, "invalid_request")


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ({}, 400, "invalid_request"),
        ({"grant_type": ""}, 400, "invalid_request"),  # empty means omitted (§3.2)
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, 400, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "refresh_token": "x", "scope": "admin"}, 400,
         "invalid_scope"),
        ({"grant_type": "password", "username": "alice"}, 400, "invalid_request"),
        ({"grant_type": "password", "username": "a" * 151, "password": "x"}, 400,
         "invalid_request"),
        ({"grant_type": "password", "username": "alice", "password": PASSWORD,
          "client_id": "someone-else"}, 401, "invalid_client"),
        ({"grant_type": "password", "username": "alice", "password": PASSWORD,
          "client_id": "tessera", "client_secret": "guess"}, 401, "invalid_client"),
    ],
)  # fmt: skip
async def test_token_endpoint_errors(
    oauth: Any, data: dict[str, str], status: int, code: str
) -> None:
    _, client, _ = oauth
    response = await client.post("/oauth/token", data=data)
    assert_error(response, status, code)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


async def test_token_endpoint_refuses_bodies_it_cannot_read(oauth: Any) -> None:
    _, client, _ = oauth
    as_json = await client.post("/oauth/token", json={"grant_type": "password"})
    assert_error(as_json, 400, "invalid_request")
    no_type = await client.post("/oauth/token", content=b"grant_type=password")
    assert_error(no_type, 400, "invalid_request")
    form = {"content-type": "application/x-www-form-urlencoded"}
    for body in (b"grant_type=%ff%fe", b"grant_type=\xff", b"a=1&" * 40):
        assert_error(await client.post("/oauth/token", content=body, headers=form), 400,
                     "invalid_request")  # fmt: skip
    repeated = await client.post(
        "/oauth/token", content=b"grant_type=password&grant_type=refresh_token", headers=form
    )
    body = assert_error(repeated, 400, "invalid_request")
    assert "repeated" in body["error_description"]
    charset = await client.post(
        "/oauth/token",
        content=b"grant_type=password&username=alice&password="
        + PASSWORD.replace(" ", "+").encode(),
        headers={"content-type": "application/x-www-form-urlencoded; charset=UTF-8"},
    )
    assert charset.status_code == 200


async def test_client_authentication_at_the_token_endpoint(oauth: Any) -> None:
    _, client, _ = oauth
    data = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    # The public client may say who it is with an empty Basic secret (requests-oauthlib does).
    empty_secret = await client.post("/oauth/token", data=data, auth=("tessera", ""))
    assert empty_secret.status_code == 200
    with_secret = await client.post("/oauth/token", data=data, auth=("tessera", "x"))
    assert_error(with_secret, 401, "invalid_client")
    wrong = await client.post("/oauth/token", data=data, auth=(RS_ID, "wrong-secret-wrong"))
    assert_error(wrong, 401, "invalid_client")
    assert wrong.headers["www-authenticate"] == 'Basic realm="tessera"'
    # An introspection client authenticates, but may not obtain user tokens.
    resource_server = await client.post("/oauth/token", data=data, auth=RS)
    assert_error(resource_server, 400, "unauthorized_client")
    differ = await client.post(
        "/oauth/token", data={**data, "client_id": "tessera"}, auth=("other", "")
    )
    assert_error(differ, 401, "invalid_client")
    for header in ("Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()):
        refused = await client.post("/oauth/token", data=data, headers={"authorization": header})
        assert_error(refused, 401, "invalid_client")


async def test_password_grant_is_off_unless_enabled(tmp_path: Path) -> None:
    async with served(make_settings(tmp_path / "d")) as (service, client):
        await service.users.add("alice", PASSWORD)
        refused = await client.post(
            "/oauth/token",
            data={"grant_type": "password", "username": "alice", "password": PASSWORD},
        )
        assert_error(refused, 400, "unsupported_grant_type")
        metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
        assert metadata["grant_types_supported"] == ["refresh_token"]
        # Sessions from /auth/login can still be refreshed through the OAuth endpoint.
        token = (await login(client))["refresh_token"]
        assert (await refresh_grant(client, token)).status_code == 200


async def test_password_grant_shares_login_limits_and_audit(tmp_path: Path) -> None:
    settings = oauth_settings(tmp_path, login_limit_per_user=3)
    async with served(settings) as (service, client):
        await service.users.add("alice", PASSWORD)
        wrong = {"grant_type": "password", "username": "alice", "password": "wrong"}
        refused = await client.post("/oauth/token", data=wrong)
        assert_error(refused, 400, "invalid_grant")
        await client.post("/auth/login", json={"username": "alice", "password": "wrong"})
        await client.post("/oauth/token", data=wrong)
        limited = await client.post(
            "/oauth/token",
            data={"grant_type": "password", "username": "alice", "password": PASSWORD},
        )
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) > 0
        also_limited = await client.post(
            "/auth/login", json={"username": "alice", "password": PASSWORD}
        )
        assert_error(also_limited, 429, "rate_limited")
        failed = [e for e in await service.store.list_audit() if e.kind == "login_failed"]
        assert len(failed) == 3
        metrics = (await client.get("/metrics")).text
        assert 'tessera_logins_total{outcome="failed"} 3.0' in metrics


async def test_refresh_grant_shares_the_refresh_limit(tmp_path: Path) -> None:
    async with served(oauth_settings(tmp_path, refresh_limit=2)) as (service, client):
        await service.users.add("alice", PASSWORD)
        token = (await password_grant(client))["refresh_token"]
        assert (await refresh_grant(client, token)).status_code == 200
        assert (
            await client.post("/auth/refresh", json={"refresh_token": token})
        ).status_code == 200
        assert_error(await refresh_grant(client, token), 429, "rate_limited")


# metadata ------------------------------------------------------------------------------------


async def test_metadata_describes_the_server(oauth: Any) -> None:
    _, client, _ = oauth
    response = await client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("public, max-age=")
    assert response.headers["vary"] == "Host"
    metadata = response.json()
    assert metadata == {
        "issuer": "https://auth.test",
        "token_endpoint": "https://testserver/oauth/token",
        "jwks_uri": "https://testserver/.well-known/jwks.json",
        "revocation_endpoint": "https://testserver/oauth/revoke",
        "introspection_endpoint": "https://testserver/oauth/introspect",
        "grant_types_supported": ["refresh_token", "password"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "dpop_signing_alg_values_supported": ["ES256", "ES384", "EdDSA", "RS256", "PS256"],
    }
    jwks = (await client.get(metadata["jwks_uri"])).json()
    assert all(key["alg"] and key["kid"] for key in jwks["keys"])


async def test_metadata_under_the_public_url(tmp_path: Path) -> None:
    settings = oauth_settings(tmp_path, public_url="https://id.example.com/")
    async with served(settings) as (_, client):
        response = await client.get("/.well-known/oauth-authorization-server")
        assert response.json()["token_endpoint"] == "https://id.example.com/oauth/token"
        assert response.json()["jwks_uri"] == "https://id.example.com/.well-known/jwks.json"
        assert "vary" not in response.headers


async def test_an_embedded_app_gets_the_oauth_routes(tmp_path: Path) -> None:
    service = Tessera(oauth_settings(tmp_path, max_body_bytes=1024), clock=ManualClock())
    app = FastAPI()
    app.include_router(service.router, prefix="/identity")
    await service.start()
    try:
        await service.users.add("alice", PASSWORD)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://app.test") as client:
            metadata = (await client.get("/identity/.well-known/oauth-authorization-server")).json()
            assert metadata["token_endpoint"] == "https://app.test/identity/oauth/token"
            ok = await client.post(
                metadata["token_endpoint"],
                data={"grant_type": "password", "username": "alice", "password": PASSWORD},
            )
            assert ok.status_code == 200
            # No body limit middleware in this app: the endpoint bounds what it reads.
            big = await client.post(
                metadata["token_endpoint"], data={"grant_type": "password", "username": "a" * 2000}
            )
            assert_error(big, 413, "request_too_large")
    finally:
        await service.close()


# revocation ----------------------------------------------------------------------------------


async def test_revoking_a_refresh_token_ends_its_session(oauth: Any) -> None:
    _, client, _ = oauth
    tokens = await password_grant(client)
    response = await client.post("/oauth/revoke", data={"token": tokens["refresh_token"]})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["cache-control"] == "no-store"
    assert_error(await refresh_grant(client, tokens["refresh_token"]), 400, "invalid_grant")
    assert (await introspect(client, tokens["access_token"])) == {"active": False}
    sessions = await client.get("/auth/sessions", headers=bearer(tokens["access_token"]))
    assert_error(sessions, 401, "invalid_token")


async def test_revoking_an_older_generation_or_an_access_token(oauth: Any) -> None:
    _, client, _ = oauth
    first = (await password_grant(client))["refresh_token"]
    second = (await refresh_grant(client, first)).json()["refresh_token"]
    assert (await client.post("/oauth/revoke", data={"token": first})).status_code == 200
    assert_error(await refresh_grant(client, second), 400, "invalid_grant")
    tokens = await password_grant(client)
    revoked = await client.post(
        "/oauth/revoke", data={"token": tokens["access_token"], "token_type_hint": "access_token"}
    )
    assert revoked.status_code == 200
    assert_error(await refresh_grant(client, tokens["refresh_token"]), 400, "invalid_grant")


async def test_a_wrong_hint_still_finds_the_token(oauth: Any) -> None:
    _, client, _ = oauth
    tokens = await password_grant(client)
    wrong_hint = await client.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "access_token"},
    )
    assert wrong_hint.status_code == 200
    assert_error(await refresh_grant(client, tokens["refresh_token"]), 400, "invalid_grant")
    other = await password_grant(client)
    unknown_hint = await client.post(
        "/oauth/revoke", data={"token": other["access_token"], "token_type_hint": "id_token"}
    )
    assert unknown_hint.status_code == 200
    assert_error(await refresh_grant(client, other["refresh_token"]), 400, "invalid_grant")


async def test_revocation_of_unknown_tokens_and_bad_requests(oauth: Any) -> None:
    service, client, clock = oauth
    for token in ("tsr1_" + "Q" * 43, "garbage", "a.b.c"):
        assert (await client.post("/oauth/revoke", data={"token": token})).status_code == 200
    live = await password_grant(client)
    clock.advance(service.settings.access_ttl + service.settings.leeway + 1)
    # An expired access token is not valid, so it revokes nothing (RFC 7009 §2.2).
    assert (
        await client.post("/oauth/revoke", data={"token": live["access_token"]})
    ).status_code == 200
    assert (await refresh_grant(client, live["refresh_token"])).status_code == 200
    assert_error(await client.post("/oauth/revoke", data={}), 400, "invalid_request")
    as_rs = await client.post("/oauth/revoke", data={"token": live["refresh_token"]}, auth=RS)
    assert_error(as_rs, 400, "unauthorized_client")
    stranger = await client.post(
        "/oauth/revoke", data={"token": live["refresh_token"], "client_id": "stranger"}
    )
    assert_error(stranger, 401, "invalid_client")


# introspection -------------------------------------------------------------------------------


async def test_introspection_needs_client_credentials(oauth: Any) -> None:
    _, client, _ = oauth
    token = (await password_grant(client))["access_token"]
    for auth in (None, (RS_ID, "not-the-secret-at-all"), ("nobody", RS_SECRET), ("tessera", "")):
        response = await client.post("/oauth/introspect", data={"token": token}, auth=auth)
        assert_error(response, 401, "invalid_client")
        assert response.headers["www-authenticate"] == 'Basic realm="tessera"'
        assert "sub" not in response.text
    missing = await client.post("/oauth/introspect", data={}, auth=RS)
    assert_error(missing, 400, "invalid_request")


async def test_garbled_basic_credentials_are_invalid_client_never_a_crash(oauth: Any) -> None:
    _, client, _ = oauth
    for header in ("Basic é".encode("latin-1"), b"Basic \xff\xfe", b"Basic !!!", b"Basic w6k="):
        for path in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
            response = await client.post(
                path,
                data={"token": "x", "grant_type": "refresh_token"},
                headers={"Authorization": header},
            )
            assert_error(response, 401, "invalid_client")


async def test_wrong_client_secrets_run_into_the_per_address_limit(tmp_path: Path) -> None:
    settings = oauth_settings(tmp_path, login_limit_per_ip=3)
    async with served(settings) as (_, client):
        wrong = (RS_ID, "not-the-secret-at-all")
        for _ in range(3):
            response = await client.post("/oauth/introspect", data={"token": "x"}, auth=wrong)
            assert_error(response, 401, "invalid_client")
        limited = await client.post("/oauth/introspect", data={"token": "x"}, auth=RS)
        assert_error(limited, 429, "rate_limited")  # even the right secret, from this address


async def test_a_public_url_keeps_the_mount_point(tmp_path: Path) -> None:
    service = Tessera(oauth_settings(tmp_path, public_url="https://auth.example.com"))
    host = FastAPI()
    host.mount("/identity", create_app(service))
    transport = httpx.ASGITransport(app=host)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://internal") as client:
            meta = (await client.get("/identity/.well-known/oauth-authorization-server")).json()
        assert meta["token_endpoint"] == "https://auth.example.com/identity/oauth/token"
    finally:
        await service.close()


async def test_introspection_without_configured_clients_is_closed(tmp_path: Path) -> None:
    async with served(make_settings(tmp_path / "d")) as (_, client):
        response = await client.post("/oauth/introspect", data={"token": "x"}, auth=RS)
        assert_error(response, 401, "invalid_client")


async def test_introspecting_an_access_token(oauth: Any) -> None:
    service, client, clock = oauth
    tokens = await password_grant(client)
    claims = claims_of(tokens["access_token"])
    answer = await introspect(client, tokens["access_token"])
    assert answer == {
        "active": True,
        "token_type": "Bearer",
        "client_id": "tessera",
        "sub": claims["sub"],
        "username": "alice",
        "aud": "tessera-tests",
        "iss": "https://auth.test",
        "exp": claims["exp"],
        "iat": claims["iat"],
        "nbf": claims["nbf"],
        "jti": claims["jti"],
        "role": "user",
        "sid": claims["sid"],
    }
    assert (await introspect(client, tokens["access_token"], token_type_hint="refresh_token"))[
        "active"
    ]
    # Revoked elsewhere (here: /auth/logout): inactive at once, long before exp.
    await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert await introspect(client, tokens["access_token"]) == {"active": False}
    # Expired: inactive.
    other = await password_grant(client)
    clock.advance(service.settings.access_ttl + service.settings.leeway)
    assert await introspect(client, other["access_token"]) == {"active": False}


async def test_introspecting_a_refresh_token(oauth: Any) -> None:
    service, client, clock = oauth
    first = await password_grant(client)
    sid = claims_of(first["access_token"])["sid"]
    answer = await introspect(client, first["refresh_token"], token_type_hint="refresh_token")
    assert answer["active"] is True
    assert answer["sid"] == sid
    assert answer["username"] == "alice"
    assert answer["client_id"] == "tessera"
    assert answer["exp"] == int(clock.now() + service.settings.refresh_idle_ttl)
    assert "token_type" not in answer  # RFC 7662's token_type names access-token types
    assert (await introspect(client, first["refresh_token"], token_type_hint="access_token"))[
        "active"
    ]
    # Introspection changes nothing: the token still rotates normally afterwards.
    second = (await refresh_grant(client, first["refresh_token"])).json()["refresh_token"]
    assert await introspect(client, first["refresh_token"]) == {"active": False}
    assert (await introspect(client, second))["active"] is True
    for unknown in ("tsr1_" + "Q" * 43, "garbage", "a.b.c"):
        assert await introspect(client, unknown) == {"active": False}


async def test_introspection_tells_a_dpop_bound_token_and_its_key(oauth: Any) -> None:
    """RFC 9449 §6.2: a resource server that asks must learn the token needs a proof."""
    from tessera.dpop import ProofKey

    service, client, _ = oauth
    await service.users.add("bob", PASSWORD)
    key = ProofKey.generate()
    url = "https://testserver/auth/login"
    body = {"username": "bob", "password": PASSWORD, "transport": "body"}
    proof = key.proof("POST", url, now=service.clock.now())
    tokens = (await client.post(url, json=body, headers={"DPoP": proof})).json()
    for token in (tokens["access_token"], tokens["refresh_token"]):
        answer = await introspect(client, token)
        assert answer["active"] and answer["cnf"] == {"jkt": key.jkt}
    assert (await introspect(client, tokens["access_token"]))["token_type"] == "DPoP"
