"""DPoP on the auth server's own protected routes (RFC 9449 §7): `/api/me` and `require()` take
`Authorization: DPoP <token>` with a proof by the token's key, refuse a bound token sent as
Bearer, and answer with `WWW-Authenticate: DPoP` challenges — driven over HTTP with proofs
made by `ProofKey`, as a client would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, FastAPI

from tessera import AccessClaims, ManualClock, Tessera, create_app, install_error_handlers
from tessera.dpop import ProofKey
from tessera.sessions import ClientInfo
from tests.conftest import PASSWORD, make_settings
from tests.helpers import assert_error, bearer, served
from tests.live import in_process_server, run_async

pytestmark = pytest.mark.anyio

ME = "https://testserver/api/me"
ALGS = 'algs="ES256 ES384 EdDSA RS256 PS256"'  # the server's default TESSERA_DPOP_ALGORITHMS
CLOCK_OFF = 600.0  # seconds a client's clock is behind: far outside the proof window


def mint(auth: Tessera, key: ProofKey | None, *, sid: str = "sid-1", sub: str = "alice") -> str:
    """An access token (bound to `key`, when given) for a session the route does not look up."""
    return auth.tokens.mint(
        auth.keys.signing_key(),
        sub=sub,
        role="user",
        sid=sid,
        now=auth.clock.now(),
        ttl=600,
        jkt=key.jkt if key is not None else None,
    )[0]


def dpop(token: str, proof: str | None) -> dict[str, str]:
    headers = {"Authorization": f"DPoP {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return headers


def rejected(auth: Tessera, reason: str) -> float:
    value = auth.metrics.registry.get_sample_value(
        "tessera_rejected_access_tokens_total", {"reason": reason}
    )
    return value or 0.0


def challenge(error: str, description: str) -> str:
    return f'DPoP error="{error}", error_description="{description}", {ALGS}'


async def test_a_bound_token_with_its_proof_and_never_without(
    auth: Tessera, client: httpx.AsyncClient
) -> None:
    key = ProofKey.generate()
    token = mint(auth, key)
    proof = key.proof("GET", ME, now=auth.clock.now(), access_token=token)
    ok = await client.get("/api/me", headers=dpop(token, proof))
    assert ok.status_code == 200, ok.text
    assert ok.json()["sub"] == "alice"

    # The token is now in the verified-token cache: its proof is still checked, every time.
    missing = await client.get("/api/me", headers=dpop(token, None))
    assert_error(missing, 401, "invalid_dpop_proof")
    assert missing.headers["www-authenticate"] == challenge(
        "invalid_dpop_proof", "a DPoP proof is required"
    )
    replayed = await client.get("/api/me", headers=dpop(token, proof))
    assert_error(replayed, 401, "invalid_dpop_proof")
    assert replayed.json()["error_description"] == "this DPoP proof was already used"
    other = ProofKey.generate().proof("GET", ME, now=auth.clock.now(), access_token=token)
    foreign = await client.get("/api/me", headers=dpop(token, other))
    assert_error(foreign, 401, "invalid_dpop_proof")
    assert foreign.headers["www-authenticate"] == challenge(
        "invalid_dpop_proof", "the DPoP proof is signed by another key"
    )
    assert [rejected(auth, r) for r in ("dpop_missing", "dpop_replayed", "dpop_wrong_key")] == [
        1,
        1,
        1,
    ]
    fresh = key.proof("GET", ME, now=auth.clock.now(), access_token=token)
    assert (await client.get("/api/me", headers=dpop(token, fresh))).status_code == 200


async def test_a_bound_token_sent_as_bearer_is_refused(
    auth: Tessera, client: httpx.AsyncClient
) -> None:
    token = mint(auth, ProofKey.generate())
    response = await client.get("/api/me", headers=bearer(token))
    body = assert_error(response, 401, "invalid_token")
    assert response.headers["www-authenticate"] == challenge(
        "invalid_token", body["error_description"]
    )
    assert "DPoP" in body["error_description"]
    assert rejected(auth, "dpop_bound") == 1


async def test_the_dpop_scheme_with_an_unbound_token_is_refused(
    auth: Tessera, client: httpx.AsyncClient
) -> None:
    key = ProofKey.generate()
    token = mint(auth, None)
    proof = key.proof("GET", ME, now=auth.clock.now(), access_token=token)
    response = await client.get("/api/me", headers=dpop(token, proof))
    body = assert_error(response, 401, "invalid_token")
    assert body["error_description"] == "the token is not bound to a DPoP key: send it as Bearer"
    assert response.headers["www-authenticate"] == challenge(
        "invalid_token", body["error_description"]
    )
    # As Bearer it works exactly as before, proof header or not.
    assert (await client.get("/api/me", headers=bearer(token))).status_code == 200


async def test_token_problems_under_the_dpop_scheme_are_dpop_challenges(
    auth: Tessera, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    key = ProofKey.generate()
    token = mint(auth, key)
    clock.advance(600 + 10 + 1)  # past exp and the leeway
    proof = key.proof("GET", ME, now=auth.clock.now(), access_token=token)
    response = await client.get("/api/me", headers=dpop(token, proof))
    assert_error(response, 401, "invalid_token")
    assert response.headers["www-authenticate"] == challenge("invalid_token", "token has expired")


async def test_no_credentials_get_both_challenges(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/me")
    assert_error(response, 401, "invalid_token")
    assert response.headers["www-authenticate"] == f'Bearer realm="tessera", DPoP {ALGS}'


async def test_exactly_one_proof_header(auth: Tessera, client: httpx.AsyncClient) -> None:
    key = ProofKey.generate()
    token = mint(auth, key)
    proofs = [key.proof("GET", ME, now=auth.clock.now(), access_token=token) for _ in range(2)]
    headers = [("Authorization", f"DPoP {token}"), ("DPoP", proofs[0]), ("DPoP", proofs[1])]
    response = await client.get("/api/me", headers=headers)
    assert_error(response, 401, "invalid_dpop_proof")
    assert response.json()["error_description"] == "send exactly one DPoP header"
    assert (await client.get("/api/me", headers=dpop(token, proofs[1]))).status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "reason"),
    [
        ("POST", ME, "wrong_method"),
        ("GET", "https://testserver/auth/sessions", "wrong_url"),
        ("GET", "https://elsewhere.example/api/me", "wrong_url"),
    ],
)
async def test_a_proof_names_this_request(
    auth: Tessera, client: httpx.AsyncClient, method: str, url: str, reason: str
) -> None:
    key = ProofKey.generate()
    token = mint(auth, key)
    proof = key.proof(method, url, now=auth.clock.now(), access_token=token)
    assert_error(await client.get("/api/me", headers=dpop(token, proof)), 401, "invalid_dpop_proof")
    assert rejected(auth, "dpop_" + reason) == 1
    # The query is not part of htu: a proof for the bare URL serves a request with one.
    good = key.proof("GET", ME, now=auth.clock.now(), access_token=token)
    assert (await client.get("/api/me?x=1", headers=dpop(token, good))).status_code == 200


async def test_a_host_no_url_can_hold_is_a_wrong_url_not_an_error(
    auth: Tessera, client: httpx.AsyncClient
) -> None:
    key = ProofKey.generate()
    token = mint(auth, key)
    proof = key.proof("GET", ME, now=auth.clock.now(), access_token=token)
    headers = {**dpop(token, proof), "Host": "[::1"}
    assert_error(await client.get("/api/me", headers=headers), 401, "invalid_dpop_proof")


async def test_a_proof_for_another_token_is_refused(
    auth: Tessera, client: httpx.AsyncClient
) -> None:
    key = ProofKey.generate()
    token, other = mint(auth, key), mint(auth, key, sub="bob")
    proof = key.proof("GET", ME, now=auth.clock.now(), access_token=other)
    assert_error(await client.get("/api/me", headers=dpop(token, proof)), 401, "invalid_dpop_proof")
    assert rejected(auth, "dpop_wrong_token") == 1


async def test_a_client_clock_that_is_off_is_asked_for_a_nonce(
    auth: Tessera, client: httpx.AsyncClient
) -> None:
    key = ProofKey.generate()
    token = mint(auth, key)
    behind = auth.clock.now() - CLOCK_OFF
    response = await client.get(
        "/api/me", headers=dpop(token, key.proof("GET", ME, now=behind, access_token=token))
    )
    assert_error(response, 401, "use_dpop_nonce")
    assert response.headers["www-authenticate"] == challenge(
        "use_dpop_nonce", "the DPoP proof's iat is out of range"
    )
    nonce = response.headers["dpop-nonce"]
    retry = key.proof("GET", ME, now=behind, access_token=token, nonce=nonce)
    assert (await client.get("/api/me", headers=dpop(token, retry))).status_code == 200


async def test_required_nonces_apply_to_protected_routes_too(tmp_path: Path) -> None:
    async with served(make_settings(tmp_path / "d", dpop_require_nonce=True)) as (auth, client):
        key = ProofKey.generate()
        token = mint(auth, key)
        first = key.proof("GET", ME, now=auth.clock.now(), access_token=token)
        response = await client.get("/api/me", headers=dpop(token, first))
        assert_error(response, 401, "use_dpop_nonce")
        nonce = response.headers["dpop-nonce"]
        retry = key.proof("GET", ME, now=auth.clock.now(), access_token=token, nonce=nonce)
        assert (await client.get("/api/me", headers=dpop(token, retry))).status_code == 200
        # Bearer tokens are not asked for anything.
        assert (await client.get("/api/me", headers=bearer(mint(auth, None)))).status_code == 200


async def test_proofs_name_the_public_url_when_one_is_set(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d", public_url="https://auth.example.com/")
    async with served(settings) as (auth, client):
        key = ProofKey.generate()
        token = mint(auth, key)
        public = key.proof(
            "GET", "https://auth.example.com/api/me", now=auth.clock.now(), access_token=token
        )
        assert (await client.get("/api/me", headers=dpop(token, public))).status_code == 200
        internal = key.proof("GET", ME, now=auth.clock.now(), access_token=token)
        response = await client.get("/api/me", headers=dpop(token, internal))
        assert_error(response, 401, "invalid_dpop_proof")
        assert rejected(auth, "dpop_wrong_url") == 1


async def test_with_dpop_off_the_scheme_is_refused_like_any_other(tmp_path: Path) -> None:
    async with served(make_settings(tmp_path / "d", dpop="off")) as (auth, client):
        key = ProofKey.generate()
        token = mint(auth, key)  # cannot be issued with DPoP off: minted here all the same
        proof = key.proof("GET", ME, now=auth.clock.now(), access_token=token)
        response = await client.get("/api/me", headers=dpop(token, proof))
        assert_error(response, 401, "invalid_token")
        assert response.headers["www-authenticate"] == (
            'Bearer realm="tessera", error="invalid_token", '
            'error_description="authorization header is not a bearer token"'
        )
        as_bearer = await client.get("/api/me", headers=bearer(token))
        assert_error(as_bearer, 401, "invalid_token")
        assert as_bearer.headers["www-authenticate"].startswith('Bearer realm="tessera", error=')
        missing = await client.get("/api/me")
        assert missing.headers["www-authenticate"] == 'Bearer realm="tessera"'
        assert (await client.get("/api/me", headers=bearer(mint(auth, None)))).status_code == 200


async def test_session_routes_take_dpop_tokens(auth: Tessera, client: httpx.AsyncClient) -> None:
    key = ProofKey.generate()
    issued = await auth.sessions.open("alice", "user", ClientInfo())
    token = mint(auth, key, sid=issued.session.id)
    url = "https://testserver/auth/sessions"
    proof = key.proof("GET", url, now=auth.clock.now(), access_token=token)
    listed = await client.get("/auth/sessions", headers=dpop(token, proof))
    assert listed.status_code == 200, listed.text
    assert [s["id"] for s in listed.json()["sessions"]] == [issued.session.id]
    assert_error(await client.get("/auth/sessions", headers=bearer(token)), 401, "invalid_token")
    logout = key.proof(
        "POST", "https://testserver/auth/logout", now=auth.clock.now(), access_token=token
    )
    assert (await client.post("/auth/logout", headers=dpop(token, logout))).status_code == 204
    assert not await auth.sessions.is_active(issued.session.id)


async def test_a_browser_on_another_origin_may_send_proofs_and_read_nonces(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "d", allowed_origins="https://app.example")
    async with served(settings) as (auth, client):
        origin = {"Origin": "https://app.example"}
        preflight = await client.options(
            "/api/me",
            headers={
                **origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization, dpop",
            },
        )
        assert preflight.status_code == 200
        assert "dpop" in preflight.headers["access-control-allow-headers"].lower()
        key = ProofKey.generate()
        token = mint(auth, key)
        behind = auth.clock.now() - CLOCK_OFF
        proof = key.proof("GET", ME, now=behind, access_token=token)
        refused = await client.get("/api/me", headers={**origin, **dpop(token, proof)})
        assert_error(refused, 401, "use_dpop_nonce")
        exposed = refused.headers["access-control-expose-headers"].lower()
        assert "dpop-nonce" in exposed and "www-authenticate" in exposed


# over a real socket -----------------------------------------------------------------------


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Tessera]]:
    service = Tessera(make_settings(tmp_path / "server"), clock=ManualClock())
    parent = FastAPI()
    app = FastAPI()
    install_error_handlers(app)  # the contract's body for require()'s refusals, as documented

    @app.get("/reports")
    async def reports(claims: AccessClaims = Depends(service.require())) -> dict[str, str]:
        return {"sub": claims.sub}

    parent.mount("/v1", app)
    parent.mount("/", create_app(service))
    with in_process_server(service, parent) as url:
        run_async(service.start())  # idempotent; the server started it on its own loop
        yield url, service


def test_over_http_api_me_and_an_embedded_require(live: tuple[str, Tessera]) -> None:
    url, service = live
    key = ProofKey.generate()
    token = run_async(_mint_started(service, key))
    with httpx.Client(base_url=url) as http:
        for path in ("/api/me", "/v1/reports"):
            proof = key.proof("GET", url + path, now=service.clock.now(), access_token=token)
            response = http.get(path, headers=dpop(token, proof))
            assert response.status_code == 200, response.text
            assert response.json()["sub"] == "alice"
            again = http.get(path, headers=dpop(token, proof))
            assert again.status_code == 401
            assert again.json()["error"] == "invalid_dpop_proof"
            assert again.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')
        # A proof for the route without its mount prefix names another URL.
        proof = key.proof("GET", url + "/reports", now=service.clock.now(), access_token=token)
        assert http.get("/v1/reports", headers=dpop(token, proof)).status_code == 401


async def _mint_started(service: Tessera, key: ProofKey) -> str:
    await service.start()
    return mint(service, key)


async def test_a_revoked_sessions_dpop_token_gets_a_dpop_challenge_at_auth_sessions(
    tmp_path: Path,
) -> None:
    """/auth/sessions checks the session in the store: its refusal keeps the token's scheme."""
    service = Tessera(make_settings(tmp_path / "d"), clock=ManualClock())
    await service.start()
    await service.users.add("alice", PASSWORD)
    key = ProofKey.generate()
    transport = httpx.ASGITransport(app=create_app(service))
    login_url = "https://testserver/auth/login"
    sessions_url = "https://testserver/auth/sessions"
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        body = {"username": "alice", "password": PASSWORD, "transport": "body"}
        proof = key.proof("POST", login_url, now=service.clock.now())
        tokens = (await http.post(login_url, json=body, headers={"DPoP": proof})).json()
        access = tokens["access_token"]
        await service.sessions.revoke(tokens["session_id"], "admin", ClientInfo())
        proof = key.proof("GET", sessions_url, now=service.clock.now(), access_token=access)
        refused = await http.get(
            sessions_url, headers={"Authorization": f"DPoP {access}", "DPoP": proof}
        )
    await service.close()
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("DPoP ")
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
