"""`tessera.verify.Verifier`: the same token rules as the server, keys from a JWKS in memory,
and a cache of verified tokens that never outlives `exp`."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tessera import ManualClock, Tessera
from tessera.sessions import ClientInfo
from tessera.verify import RFC9068_CLAIMS, InvalidToken, JWKSCache, Verifier
from tests.conftest import make_settings
from tests.live import in_process_server, run_async

ISSUER, AUDIENCE = "https://auth.test", "tessera-tests"


class CountingTransport(httpx.BaseTransport):
    """Real HTTP, counted; `down` makes every request fail like a dead network."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.calls = 0
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("down", request=request)
        return self.inner.handle_request(request)


def fetching_verifier(url: str, clock: ManualClock, transport: CountingTransport) -> Verifier:
    """A verifier that fetches the live server's JWKS through a counting transport."""
    jwks_url = f"{url}/.well-known/jwks.json"
    return Verifier(jwks_url, issuer=ISSUER, audience=AUDIENCE, clock=clock, transport=transport)


def mint(service: Tessera, subject: str = "user-1") -> str:
    async def go() -> str:
        issued = await service.sessions.open(subject, "user", ClientInfo())
        return service.mint_access_token(issued.session)[0]

    return run_async(go())


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Tessera, ManualClock]]:
    clock = ManualClock()
    service = Tessera(make_settings(tmp_path / "server"), clock=clock)
    with in_process_server(service) as url:
        run_async(service.start())  # idempotent; the server started it on its own loop
        yield url, service, clock


def test_verifies_the_servers_tokens_from_its_jwks_url(
    live: tuple[str, Tessera, ManualClock],
) -> None:
    url, service, clock = live
    transport = CountingTransport()
    verifier = fetching_verifier(url, clock, transport)
    token = mint(service)
    claims = verifier.verify(token)
    assert claims.sub == "user-1" and claims.role == "user"
    assert transport.calls == 1
    assert verifier.verify(token) is claims  # cache hit: no work, no fetch
    clock.advance(601 + 10)
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    assert caught.value.reason == "expired"  # never served from the cache past exp
    other = Verifier.from_jwks(service.keys.jwks(), issuer=ISSUER, audience="another-api")
    with pytest.raises(InvalidToken) as caught:
        other.verify(mint(service))
    assert caught.value.reason == "wrong_audience"


def test_unknown_kid_flood_costs_one_fetch_per_cooldown(
    live: tuple[str, Tessera, ManualClock],
) -> None:
    url, service, clock = live
    transport = CountingTransport()
    verifier = fetching_verifier(url, clock, transport)
    token = mint(service)
    verifier.verify(token)
    _, payload, signature = token.split(".")
    clock.advance(31)  # past the cooldown of the first fetch
    for n in range(200):
        forged_header = (
            base64.urlsafe_b64encode(
                json.dumps({"alg": "RS256", "kid": f"random-{n}", "typ": "at+jwt"}).encode()
            )
            .rstrip(b"=")
            .decode()
        )
        with pytest.raises(InvalidToken) as caught:
            verifier.verify(f"{forged_header}.{payload}.{signature}")
        assert caught.value.reason == "unknown_key"
    assert transport.calls == 2  # the first fetch, and one refetch for the whole flood
    clock.advance(31)
    with pytest.raises(InvalidToken):
        verifier.verify(f"{forged_header}.{payload}.{signature}")
    assert transport.calls == 3


def test_rotation_is_picked_up_and_a_failing_jwks_keeps_the_old_keys(
    live: tuple[str, Tessera, ManualClock],
) -> None:
    url, service, clock = live
    transport = CountingTransport()
    verifier = fetching_verifier(url, clock, transport)
    old_token = mint(service)
    verifier.verify(old_token)
    run_async(_rotate(service))
    new_token = mint(service)
    clock.advance(31)  # past the refetch cooldown (the scale-out work pre-publishes new keys)
    assert verifier.verify(new_token).sub == "user-1"  # unknown kid -> refetch -> found
    assert transport.calls == 2
    transport.down = True
    clock.advance(301)  # the cached set (max-age 300) is stale, and the JWKS is unreachable
    assert verifier.verify(mint(service, "later")).sub == "later"  # the old keys still serve
    assert verifier.health()["jwks_healthy"] is False


async def _rotate(service: Tessera) -> None:
    await service.keys.rotate()


def test_cache_drops_tokens_whose_key_left_the_jwks() -> None:
    """The identity provider retires k1 for k2: once the refetched JWKS says so, the tokens
    verified with k1 leave the cache (and are refused, not served from it)."""
    clock = ManualClock()
    keys = {kid: RSAKey.generate_key(2048, parameters={"kid": kid}) for kid in ("k1", "k2")}
    published = ["k1"]

    def jwks(request: httpx.Request) -> httpx.Response:
        entries = [keys[kid].as_dict(private=False) | {"kid": kid} for kid in published]
        return httpx.Response(200, json={"keys": entries}, headers={"cache-control": "max-age=60"})

    cache = JWKSCache("https://idp/jwks.json", clock=clock, transport=httpx.MockTransport(jwks))
    verifier = Verifier(
        issuer="https://idp",
        audience="api",
        jwks=cache,
        clock=clock,
        required_claims=RFC9068_CLAIMS,
    )
    token = _third_party(keys["k1"], "k1", clock.now())
    verifier.verify(token)
    assert verifier.health()["cached_tokens"] == 1
    published[:] = ["k2"]
    clock.advance(61)  # the cached key set is stale: the next verify refetches it
    verifier.verify(_third_party(keys["k2"], "k2", clock.now()))
    assert verifier.health()["keys"] == ["k2"]
    assert verifier.health()["cached_tokens"] == 1  # the k2 token only
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    assert caught.value.reason == "unknown_key"


def _third_party(key: RSAKey | ECKey, kid: str, now: float, typ: str = "at+jwt") -> str:
    alg = "RS256" if isinstance(key, RSAKey) else "ES256"
    claims = {
        "iss": "https://idp",
        "sub": "someone",
        "aud": ["api", "other"],
        "client_id": "cli",
        "jti": "j-1",
        "iat": int(now),
        "exp": int(now) + 300,
        "scope": "read",
    }
    return jwt.encode({"alg": alg, "kid": kid, "typ": typ}, claims, key, algorithms=[alg])


@pytest.mark.parametrize("kind", ["RSA", "EC"])
def test_tokens_from_an_issuer_tessera_did_not_produce(kind: str) -> None:
    key: RSAKey | ECKey = (
        RSAKey.generate_key(2048) if kind == "RSA" else ECKey.generate_key("P-256")
    )
    public = key.as_dict(private=False) | {"kid": "idp-key-1"}  # no "alg": pinned by key type
    now = time.time()
    verifier = Verifier.from_jwks(
        {"keys": [public]}, issuer="https://idp", audience="api", required_claims=RFC9068_CLAIMS
    )
    claims = verifier.verify(_third_party(key, "idp-key-1", now))
    assert claims.sub == "someone" and claims.extra["scope"] == "read"
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(_third_party(key, "idp-key-1", now, typ="JWT"))
    assert caught.value.reason == "wrong_type"
    lenient = Verifier.from_jwks(
        {"keys": [public]},
        issuer="https://idp",
        audience="api",
        required_claims=RFC9068_CLAIMS,
        token_types=("at+jwt", "jwt"),
    )
    assert lenient.verify(_third_party(key, "idp-key-1", now, typ="JWT")).sub == "someone"
    strict = Verifier.from_jwks({"keys": [public]}, issuer="https://idp", audience="api")
    with pytest.raises(InvalidToken) as caught:
        strict.verify(_third_party(key, "idp-key-1", now))
    assert caught.value.reason == "invalid_claim"  # no role/sid: not a Tessera token


def test_symmetric_and_unusable_jwks_entries_are_ignored() -> None:
    rsa = RSAKey.generate_key(2048).as_dict(private=False) | {"kid": "ok"}
    jwks = {
        "keys": [
            {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ", "kid": "hmac"},
            {"kty": "RSA", "kid": "broken", "n": "AA", "e": "AQAB"},
            {"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"},
            rsa,
            "not an object",
        ]
    }
    assert JWKSCache(document=jwks).kids == frozenset({"ok"})


def test_jwks_url_must_be_https_unless_local() -> None:
    with pytest.raises(ValueError):
        Verifier("http://idp.example/jwks.json", issuer="i", audience="a")
    Verifier("http://127.0.0.1:1/jwks.json", issuer="i", audience="a")
    Verifier("https://idp.example/jwks.json", issuer="i", audience="a")
    with pytest.raises(ValueError):
        Verifier("https://idp.example/jwks.json", issuer="i", audience="a", leeway=120)


@settings(max_examples=300, deadline=None)
@given(token=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(repr)))
def test_garbage_only_ever_raises_invalid_token(token: str) -> None:
    verifier = Verifier.from_jwks({"keys": []}, issuer="i", audience="a")
    with pytest.raises(InvalidToken):
        verifier.verify(token)


@pytest.mark.anyio
async def test_averify_fetches_in_a_worker_thread(
    live: tuple[str, Tessera, ManualClock],
) -> None:
    url, service, clock = live
    verifier = Verifier(
        f"{url}/.well-known/jwks.json", issuer=ISSUER, audience=AUDIENCE, clock=clock
    )
    token = mint(service, "async-user")
    assert (await verifier.averify(token)).sub == "async-user"
    assert (await verifier.averify(token)).sub == "async-user"
