"""DPoP at the token endpoints (RFC 9449 §5, DESIGN.md "DPoP"): a proof at login binds the
session to the client's key; a bound session refreshes only with a proof by that key, in both
transports and at /oauth/token; a token without one changes nothing (no rotation, no
revocation, an audit event); and a lost refresh response is recovered by the key holder long
after the grace window."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tessera import ManualClock, Tessera, create_app
from tessera.dpop import ProofKey
from tessera.tokens.strict_json import b64url_decode
from tests.conftest import PASSWORD, make_settings
from tests.helpers import assert_error
from tests.live import in_process_server
from tests.services import SECRET, pg_url  # noqa: F401 - fixture

pytestmark = pytest.mark.anyio

BASE = "https://testserver"
LOGIN, REFRESH, TOKEN = f"{BASE}/auth/login", f"{BASE}/auth/refresh", f"{BASE}/oauth/token"
CSRF = {"X-Tessera-CSRF": "1"}
COOKIE = "tessera_refresh"
GRACE = 10.0
AGENT = {"User-Agent": "thief/1.0"}


def claims_of(token: str) -> dict[str, Any]:
    return dict(json.loads(b64url_decode(token.split(".")[1])))


class Client:
    """One client: an HTTP client, a DPoP key, and the service's clock for its proofs."""

    def __init__(self, http: httpx.AsyncClient, clock: ManualClock, key: ProofKey | None) -> None:
        self.http = http
        self.clock = clock
        self.key = key

    def proof(self, url: str, **extra: Any) -> dict[str, str]:
        if self.key is None:
            return {}
        return {"DPoP": self.key.proof("POST", url, now=self.clock.now(), **extra)}

    async def login(self, transport: str = "body") -> httpx.Response:
        body = {"username": "alice", "password": PASSWORD, "transport": transport}
        return await self.http.post(LOGIN, json=body, headers=self.proof(LOGIN))

    async def refresh(self, token: str, **headers: str) -> httpx.Response:
        return await self.http.post(
            REFRESH, json={"refresh_token": token}, headers={**self.proof(REFRESH), **headers}
        )


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Tessera]:
    service = Tessera(make_settings(tmp_path / "d", reuse_grace=GRACE), clock=ManualClock())
    await service.start()
    await service.users.add("alice", PASSWORD)
    yield service
    await service.close()


@pytest.fixture
async def http(service: Tessera) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service), client=("203.0.113.7", 4242))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def client_of(service: Tessera, http: httpx.AsyncClient, key: ProofKey | None) -> Client:
    assert isinstance(service.clock, ManualClock)
    return Client(http, service.clock, key)


async def audit_kinds(service: Tessera, session_id: str) -> list[str]:
    return [e.kind for e in await service.store.list_audit(session_id=session_id)]


async def test_a_proof_at_login_binds_the_session_and_its_access_tokens(
    service: Tessera, http: httpx.AsyncClient
) -> None:
    key = ProofKey.generate()
    alice = client_of(service, http, key)
    tokens = (await alice.login()).json()
    assert tokens["token_type"] == "DPoP"
    assert claims_of(tokens["access_token"])["cnf"] == {"jkt": key.jkt}
    session = await service.store.get_session(tokens["session_id"])
    assert session is not None and session.jkt == key.jkt
    refreshed = await alice.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["token_type"] == "DPoP"
    assert claims_of(refreshed.json()["access_token"])["cnf"] == {"jkt": key.jkt}
    # Without a proof the session stays unbound: Bearer, as before.
    plain = (await client_of(service, http, None).login()).json()
    assert plain["token_type"] == "Bearer" and "cnf" not in claims_of(plain["access_token"])


async def test_a_bound_session_refuses_a_token_without_its_key_and_changes_nothing(
    service: Tessera, http: httpx.AsyncClient
) -> None:
    alice = client_of(service, http, ProofKey.generate())
    tokens = (await alice.login()).json()
    token = tokens["refresh_token"]
    thief, other = client_of(service, http, None), client_of(service, http, ProofKey.generate())
    for attempt in (thief, other):
        refused = await attempt.refresh(token, **AGENT)
        body = assert_error(refused, 401, "invalid_dpop_proof")
        assert "bound to a DPoP key" in body["error_description"]
    # Nothing rotated, nothing revoked: the owner's token still works, once.
    assert (await alice.refresh(token)).status_code == 200
    events = await service.store.list_audit(session_id=tokens["session_id"])
    refusals = [e for e in events if e.kind == "dpop_refused"]
    assert [e.user_agent for e in refusals] == ["thief/1.0", "thief/1.0"]
    assert [e.ip for e in refusals] == ["203.0.113.7"] * 2
    assert "no DPoP proof" in (refusals[0].detail or "")
    assert "another key" in (refusals[1].detail or "")
    assert "refresh_token_reuse" not in await audit_kinds(service, tokens["session_id"])


async def test_an_old_token_without_the_key_cannot_revoke_the_session(
    service: Tessera, http: httpx.AsyncClient
) -> None:
    """Reuse detection would kill the session; a thief without the key cannot trigger it."""
    alice = client_of(service, http, ProofKey.generate())
    first = (await alice.login()).json()
    second = (await alice.refresh(first["refresh_token"])).json()
    third = (await alice.refresh(second["refresh_token"])).json()
    stolen = first["refresh_token"]  # two generations old: reuse, were it proven
    assert_error(await client_of(service, http, None).refresh(stolen), 401, "invalid_dpop_proof")
    assert (await alice.refresh(third["refresh_token"])).status_code == 200


async def test_a_lost_refresh_response_is_recovered_long_after_the_grace_window(
    service: Tessera, http: httpx.AsyncClient
) -> None:
    clock = service.clock
    assert isinstance(clock, ManualClock)
    alice = client_of(service, http, ProofKey.generate())
    tokens = (await alice.login()).json()
    lost = (await alice.refresh(tokens["refresh_token"])).json()  # the client never saw it
    clock.advance(GRACE * 100)  # long past the grace window, within the idle timeout
    recovered = await alice.refresh(tokens["refresh_token"])
    assert recovered.status_code == 200, recovered.text
    assert recovered.json()["refresh_token"] == lost["refresh_token"]
    assert (await alice.refresh(lost["refresh_token"])).status_code == 200
    # An unbound session in the same place is taken for a thief, as before.
    bob = client_of(service, http, None)
    plain = (await bob.login()).json()
    assert (await bob.refresh(plain["refresh_token"])).status_code == 200
    clock.advance(GRACE * 100)
    assert_error(await bob.refresh(plain["refresh_token"]), 401, "invalid_grant")


async def test_the_cookie_transport_is_bound_too(service: Tessera, http: httpx.AsyncClient) -> None:
    """A refresh cookie copied into another client (no key) is refused; the owner goes on."""
    alice = client_of(service, http, ProofKey.generate())
    logged_in = await alice.login("cookie")
    assert logged_in.status_code == 200 and "refresh_token" not in logged_in.json()
    cookie = logged_in.cookies[COOKIE]
    async with httpx.AsyncClient(transport=http._transport, base_url=BASE) as elsewhere:
        elsewhere.cookies.set(COOKIE, cookie)
        stolen = await elsewhere.post(REFRESH, headers=CSRF)
        assert_error(stolen, 401, "invalid_dpop_proof")
        assert COOKIE not in stolen.cookies  # the refusal changes nothing, the cookie neither
    owner = await http.post(REFRESH, headers={**CSRF, **alice.proof(REFRESH)})
    assert owner.status_code == 200, owner.text
    assert owner.json()["token_type"] == "DPoP"


async def test_proofs_are_checked_against_this_request(
    service: Tessera, http: httpx.AsyncClient
) -> None:
    key = ProofKey.generate()
    alice = client_of(service, http, key)
    token = (await alice.login()).json()["refresh_token"]
    now = service.clock.now()
    for proof, reason in [
        (key.proof("POST", LOGIN, now=now), "for the login URL"),
        (key.proof("GET", REFRESH, now=now), "for another method"),
        (key.proof("POST", REFRESH, now=now - 600), "ten minutes old"),
        ("not.a.proof", "garbage"),
    ]:
        response = await http.post(REFRESH, json={"refresh_token": token}, headers={"DPoP": proof})
        assert response.status_code in (400, 401), reason
        assert response.json()["error"] in ("invalid_dpop_proof", "use_dpop_nonce"), reason
    replayed = key.proof("POST", REFRESH, now=now)
    first = await http.post(REFRESH, json={"refresh_token": token}, headers={"DPoP": replayed})
    assert first.status_code == 200
    again = await http.post(
        REFRESH, json={"refresh_token": first.json()["refresh_token"]}, headers={"DPoP": replayed}
    )
    assert_error(again, 401, "invalid_dpop_proof")
    two = httpx.Headers([("DPoP", key.proof("POST", REFRESH, now=now))] * 2)
    assert_error(
        await http.post(REFRESH, json={"refresh_token": token}, headers=two),
        401,
        "invalid_dpop_proof",
    )


async def test_a_client_clock_that_is_off_gets_a_nonce_and_recovers(
    service: Tessera, http: httpx.AsyncClient
) -> None:
    key = ProofKey.generate()
    now = service.clock.now()
    body = {"username": "alice", "password": PASSWORD, "transport": "body"}
    asked = await http.post(
        LOGIN, json=body, headers={"DPoP": key.proof("POST", LOGIN, now=now - 900)}
    )
    assert_error(asked, 400, "use_dpop_nonce")
    nonce = asked.headers["dpop-nonce"]
    retried = await http.post(
        LOGIN, json=body, headers={"DPoP": key.proof("POST", LOGIN, now=now - 900, nonce=nonce)}
    )
    assert retried.status_code == 200 and retried.json()["token_type"] == "DPoP"


@pytest.mark.parametrize("mode", ["required", "off"])
async def test_dpop_required_and_off(tmp_path: Path, mode: str) -> None:
    service = Tessera(make_settings(tmp_path / "d", dpop=mode), clock=ManualClock())
    await service.start()
    await service.users.add("alice", PASSWORD)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        plain = await client_of(service, http, None).login()
        proven = await client_of(service, http, ProofKey.generate()).login()
        metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    await service.close()
    if mode == "required":
        assert_error(plain, 400, "invalid_dpop_proof")
        assert proven.json()["token_type"] == "DPoP"
        assert "ES256" in metadata["dpop_signing_alg_values_supported"]
    else:
        assert plain.json()["token_type"] == proven.json()["token_type"] == "Bearer"
        assert "dpop_signing_alg_values_supported" not in metadata


async def test_nonces_when_required_are_asked_for_and_handed_out(tmp_path: Path) -> None:
    service = Tessera(make_settings(tmp_path / "d", dpop_require_nonce=True), clock=ManualClock())
    await service.start()
    await service.users.add("alice", PASSWORD)
    key = ProofKey.generate()
    now = service.clock.now()
    transport = httpx.ASGITransport(app=create_app(service))
    body = {"username": "alice", "password": PASSWORD, "transport": "body"}
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        asked = await http.post(
            LOGIN, json=body, headers={"DPoP": key.proof("POST", LOGIN, now=now)}
        )
        assert_error(asked, 400, "use_dpop_nonce")
        nonce = asked.headers["dpop-nonce"]
        proof = key.proof("POST", LOGIN, now=now, nonce=nonce)
        tokens = await http.post(LOGIN, json=body, headers={"DPoP": proof})
        assert tokens.status_code == 200
        following = tokens.headers["dpop-nonce"]  # for the next proof: no round trip then
        proof = key.proof("POST", REFRESH, now=now, nonce=following)
        refreshed = await http.post(
            REFRESH, json={"refresh_token": tokens.json()["refresh_token"]}, headers={"DPoP": proof}
        )
        assert refreshed.status_code == 200, refreshed.text
    await service.close()


async def test_the_oauth_token_endpoint_binds_and_requires_the_key(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d", oauth_password_grant=True, reuse_grace=GRACE)
    service = Tessera(settings, clock=ManualClock())
    await service.start()
    await service.users.add("alice", PASSWORD)
    key = ProofKey.generate()
    now = service.clock.now()
    transport = httpx.ASGITransport(app=create_app(service))
    form = {
        "grant_type": "password",
        "username": "alice",
        "password": PASSWORD,
        "client_id": "tessera",
    }
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        issued = await http.post(
            TOKEN, data=form, headers={"DPoP": key.proof("POST", TOKEN, now=now)}
        )
        assert issued.status_code == 200, issued.text
        assert issued.json()["token_type"] == "DPoP"
        grant = {
            "grant_type": "refresh_token",
            "refresh_token": issued.json()["refresh_token"],
            "client_id": "tessera",
        }
        assert_error(await http.post(TOKEN, data=grant), 400, "invalid_dpop_proof")
        other = ProofKey.generate().proof("POST", TOKEN, now=now)
        assert_error(
            await http.post(TOKEN, data=grant, headers={"DPoP": other}), 400, "invalid_dpop_proof"
        )
        refreshed = await http.post(
            TOKEN, data=grant, headers={"DPoP": key.proof("POST", TOKEN, now=now)}
        )
        assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "DPoP"
    await service.close()


async def test_over_real_http(tmp_path: Path) -> None:
    """The same binding through a real socket, and a proof for the URL the client used."""
    service = Tessera(make_settings(tmp_path / "d"))
    await service.start()
    await service.users.add("alice", PASSWORD)
    key = ProofKey.generate()
    with in_process_server(service) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            login_url = f"{url}/auth/login"
            body = {"username": "alice", "password": PASSWORD, "transport": "body"}
            tokens = await http.post(
                login_url,
                json=body,
                headers={"DPoP": key.proof("POST", login_url, now=service.clock.now())},
            )
            assert tokens.json()["token_type"] == "DPoP"
            refresh_url = f"{url}/auth/refresh"
            proof = key.proof("POST", refresh_url, now=service.clock.now())
            refreshed = await http.post(
                refresh_url,
                json={"refresh_token": tokens.json()["refresh_token"]},
                headers={"DPoP": proof},
            )
            assert refreshed.status_code == 200, refreshed.text
    await service.close()


async def test_replicas_on_postgresql_share_bindings_and_nonces(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    """A session bound on one replica refreshes on another, with the other's nonce."""
    replicas = [
        Tessera(
            make_settings(
                tmp_path / f"r{n}", database_url=pg_url, secret=SECRET, dpop_require_nonce=True
            ),
            clock=ManualClock(),
        )
        for n in range(2)
    ]
    for replica in replicas:
        await replica.start()
    await replicas[0].users.add("alice", PASSWORD)
    key = ProofKey.generate()
    now = replicas[0].clock.now()
    body = {"username": "alice", "password": PASSWORD, "transport": "body"}
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(r)), base_url=BASE)
        for r in replicas
    ]
    try:
        asked = await clients[1].post(
            LOGIN, json=body, headers={"DPoP": key.proof("POST", LOGIN, now=now)}
        )
        nonce = asked.headers["dpop-nonce"]  # from replica 1 ...
        proof = key.proof("POST", LOGIN, now=now, nonce=nonce)
        tokens = await clients[0].post(LOGIN, json=body, headers={"DPoP": proof})  # ... at 0
        assert tokens.status_code == 200 and tokens.json()["token_type"] == "DPoP"
        proof = key.proof("POST", REFRESH, now=now, nonce=tokens.headers["dpop-nonce"])
        token = {"refresh_token": tokens.json()["refresh_token"]}
        refused = await clients[1].post(REFRESH, json=token)
        assert_error(refused, 401, "invalid_dpop_proof")
        refreshed = await clients[1].post(REFRESH, json=token, headers={"DPoP": proof})
        assert refreshed.status_code == 200, refreshed.text
        assert claims_of(refreshed.json()["access_token"])["cnf"] == {"jkt": key.jkt}
    finally:
        for client in clients:
            await client.aclose()
        for replica in replicas:
            await replica.close()


async def test_a_stolen_token_cannot_end_a_bound_session_either(tmp_path: Path) -> None:
    """Logout and RFC 7009 revocation need the key too: a thief can no more end the session
    than use it. The owner, with a proof, ends it."""
    service = Tessera(make_settings(tmp_path / "d"), clock=ManualClock())
    await service.start()
    await service.users.add("alice", PASSWORD)
    key = ProofKey.generate()
    now = service.clock.now()
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        alice = Client(http, service.clock, key)  # type: ignore[arg-type]
        tokens = (await alice.login()).json()
        refresh_token, access = tokens["refresh_token"], tokens["access_token"]
        logout = f"{BASE}/auth/logout"
        stolen = await http.post(logout, json={"refresh_token": refresh_token})
        assert_error(stolen, 401, "invalid_dpop_proof")
        revoke = f"{BASE}/oauth/revoke"
        for token in (refresh_token, access):
            refused = await http.post(revoke, data={"token": token, "client_id": "tessera"})
            assert_error(refused, 400, "invalid_dpop_proof")
        assert await service.sessions.is_active(tokens["session_id"])
        kinds = await audit_kinds(service, tokens["session_id"])
        assert kinds.count("dpop_refused") == 2  # logout and revoke by refresh token are one
        proof = key.proof("POST", logout, now=now)
        ended = await http.post(
            logout, json={"refresh_token": refresh_token}, headers={"DPoP": proof}
        )
        assert ended.status_code == 204
        assert not await service.sessions.is_active(tokens["session_id"])
    await service.close()


async def test_a_thief_hammering_cannot_rate_limit_the_owner_or_flood_the_audit(
    service: Tessera, http: httpx.AsyncClient
) -> None:
    """Attempts without the key count in a bucket of their own, and leave one audit row a
    minute per address and kind."""
    alice = client_of(service, http, ProofKey.generate())
    tokens = (await alice.login()).json()
    thief = client_of(service, http, None)
    limit = service.settings.refresh_limit
    answers = [(await thief.refresh(tokens["refresh_token"])).status_code for _ in range(limit + 5)]
    assert answers[:limit] == [401] * limit and answers[limit:] == [429] * 5
    assert (await alice.refresh(tokens["refresh_token"])).status_code == 200
    kinds = await audit_kinds(service, tokens["session_id"])
    assert kinds.count("dpop_refused") == 1
