"""DPoP through every adapter (FastAPI, Starlette, Flask, plain Django with and without its
middleware, Django REST framework), each driven by its framework's own test client with
proofs made by `ProofKey`: the same requests, the same answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import path
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from flask import Flask, g
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import tests.test_verify_django  # noqa: F401 - configures Django (settings, DRF) for this process
from tessera import AccessClaims, install_error_handlers
from tessera.dpop import Nonces, ProofChecker, ProofKey
from tessera.tokens import AccessTokenPolicy, SigningKey, generate_key
from tessera.verify import Verifier
from tessera.verify import django as tessera_django
from tessera.verify import fastapi as tessera_fastapi
from tessera.verify import flask as tessera_flask
from tessera.verify.starlette import TesseraBackend

ISSUER, AUDIENCE = "https://auth.test", "tessera-dpop-adapters"
POLICY = AccessTokenPolicy(issuer=ISSUER, audience=AUDIENCE)
SIGNING = generate_key("ES256")
ALGS = 'algs="ES256 ES384 EdDSA Ed25519 RS256 PS256"'
CLOCK_OFF = 600.0  # seconds a client's clock is behind: far outside the proof window

# Django REST framework reads the settings as it loads: after tests.test_verify_django.
from rest_framework.request import Request as DRFRequest  # noqa: E402
from rest_framework.response import Response as DRFResponse  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from tessera.verify.drf import HasRole  # noqa: E402

Headers = list[tuple[str, str]]


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: dict[str, Any]


@dataclass
class Site:
    """One framework's app behind its test client: `origin + path` is what a proof names."""

    origin: str
    path: str
    get: Callable[[Headers], Answer]

    @property
    def url(self) -> str:
        return self.origin + self.path


# the apps ----------------------------------------------------------------------------------


def fastapi_site(verifier: Verifier) -> Site:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/me")
    async def me(
        claims: AccessClaims = Depends(tessera_fastapi.require(verifier)),
    ) -> dict[str, str]:
        return {"sub": claims.sub}

    client = TestClient(app)
    return Site("http://testserver", "/me", lambda h: _httpx(client.get("/me", headers=h)))


def starlette_site(verifier: Verifier) -> Site:
    @requires("authenticated")
    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    backend = TesseraBackend(verifier)
    app = Starlette(
        routes=[Route("/me", me)],
        middleware=[
            Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)
        ],
    )
    client = TestClient(app)
    return Site("http://testserver", "/me", lambda h: _httpx(client.get("/me", headers=h)))


def flask_site(verifier: Verifier) -> Site:
    app = Flask(__name__)

    @app.get("/me")
    @tessera_flask.require(verifier)
    def me() -> dict[str, Any]:
        return {"sub": g.tessera_claims.sub}

    client = app.test_client()

    def get(headers: Headers) -> Answer:
        response = client.get("/me", headers=headers)
        return Answer(response.status_code, response.headers, response.get_json())

    return Site("http://localhost", "/me", get)


@tessera_django.require()
def django_me(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": request.tessera_claims.sub})


class DRFMe(APIView):
    permission_classes = (HasRole(),)

    def get(self, request: DRFRequest) -> DRFResponse:
        return DRFResponse({"sub": request.auth.sub})


urlpatterns = [path("dj/me", django_me), path("drf/me", DRFMe.as_view())]


def django_site(where: str, middleware: bool = False) -> Callable[[Verifier], Site]:
    def build(verifier: Verifier) -> Site:
        client = APIClient() if where == "drf" else Client()

        def get(headers: Headers) -> Answer:
            joined: dict[str, str] = {}  # repeated headers as a WSGI server passes them on
            for name, value in headers:
                joined[name] = f"{joined[name]}, {value}" if name in joined else value
            wanted = {
                "ROOT_URLCONF": __name__,
                "TESSERA_VERIFIER": verifier,
                "MIDDLEWARE": ["tessera.verify.django.TesseraMiddleware"] if middleware else [],
            }
            with override_settings(**wanted):
                response = client.get(f"/{where}/me", headers=joined)
            return Answer(response.status_code, response.headers, response.json())

        return Site("http://testserver", f"/{where}/me", get)

    return build


SITES = {
    "fastapi": fastapi_site,
    "starlette": starlette_site,
    "flask": flask_site,
    "django": django_site("dj"),
    "django-middleware": django_site("dj", middleware=True),
    "drf": django_site("drf"),
}


def _httpx(response: Any) -> Answer:
    return Answer(response.status_code, response.headers, response.json())


# helpers -----------------------------------------------------------------------------------


def verifier(**options: Any) -> Verifier:
    return Verifier.from_jwks(
        {"keys": [SIGNING.public_jwk()]}, issuer=ISSUER, audience=AUDIENCE, **options
    )


def mint(key: ProofKey | None, signing: SigningKey = SIGNING) -> str:
    jkt = key.jkt if key is not None else None
    return POLICY.mint(
        signing, sub="u-1", role="user", sid="s-1", now=time.time(), ttl=600, jkt=jkt
    )[0]


def dpop(token: str, *proofs: str) -> Headers:
    return [("Authorization", f"DPoP {token}"), *(("DPoP", p) for p in proofs)]


def refused(answer: Answer, error: str, description: str | None = None) -> None:
    assert answer.status == 401, answer.body
    assert set(answer.body) == {"error", "error_description"}, answer.body
    assert answer.body["error"] == error
    if description is not None:
        assert answer.body["error_description"] == description
    assert answer.headers["WWW-Authenticate"] == (
        f'DPoP error="{error}", error_description="{answer.body["error_description"]}", {ALGS}'
    )


@pytest.fixture(params=list(SITES))
def build(request: pytest.FixtureRequest) -> Callable[[Verifier], Site]:
    return SITES[request.param]


# the requests ------------------------------------------------------------------------------


def test_a_bound_token_with_its_proof_and_never_without(build: Callable[[Verifier], Site]) -> None:
    site = build(verifier())
    key = ProofKey.generate()
    token = mint(key)
    proof = key.proof("GET", site.url, now=time.time(), access_token=token)
    ok = site.get(dpop(token, proof))
    assert (ok.status, ok.body) == (200, {"sub": "u-1"})
    # Verified once, so in the verifier's cache: the proof is checked all the same.
    refused(site.get(dpop(token)), "invalid_dpop_proof", "a DPoP proof is required")
    refused(site.get(dpop(token, proof)), "invalid_dpop_proof", "this DPoP proof was already used")
    other = ProofKey.generate().proof("GET", site.url, now=time.time(), access_token=token)
    refused(
        site.get(dpop(token, other)),
        "invalid_dpop_proof",
        "the DPoP proof is signed by another key",
    )
    fresh = key.proof("GET", site.url, now=time.time(), access_token=token)
    assert site.get(dpop(token, fresh)).status == 200


def test_a_bound_token_sent_as_bearer_is_refused(build: Callable[[Verifier], Site]) -> None:
    site = build(verifier())
    answer = site.get([("Authorization", f"Bearer {mint(ProofKey.generate())}")])
    refused(answer, "invalid_token")
    assert "DPoP" in answer.body["error_description"]


def test_the_dpop_scheme_with_an_unbound_token_is_refused(
    build: Callable[[Verifier], Site],
) -> None:
    site = build(verifier())
    token = mint(None)
    proof = ProofKey.generate().proof("GET", site.url, now=time.time(), access_token=token)
    refused(
        site.get(dpop(token, proof)),
        "invalid_token",
        "the token is not bound to a DPoP key: send it as Bearer",
    )
    assert site.get([("Authorization", f"Bearer {token}")]).status == 200


def test_exactly_one_proof_header(build: Callable[[Verifier], Site]) -> None:
    site = build(verifier())
    key = ProofKey.generate()
    token = mint(key)
    one, two = (key.proof("GET", site.url, now=time.time(), access_token=token) for _ in "12")
    refused(site.get(dpop(token, one, two)), "invalid_dpop_proof", "send exactly one DPoP header")
    assert site.get(dpop(token, two)).status == 200


def test_the_proof_names_this_url_or_the_public_one(build: Callable[[Verifier], Site]) -> None:
    key = ProofKey.generate()
    token = mint(key)
    elsewhere = key.proof(
        "GET", "https://elsewhere.example/me", now=time.time(), access_token=token
    )
    site = build(verifier())
    refused(
        site.get(dpop(token, elsewhere)),
        "invalid_dpop_proof",
        "the proof's htu is not this request's URL",
    )
    # Behind a proxy that strips /api: the URL clients use, not the one the app sees.
    proxied = build(verifier(public_url="https://public.example/api"))
    public = "https://public.example/api" + proxied.path
    for url, status in ((proxied.url, 401), (public, 200)):
        proof = key.proof("GET", url, now=time.time(), access_token=token)
        assert proxied.get(dpop(token, proof)).status == status


def test_nonces_when_the_verifier_is_given_some(build: Callable[[Verifier], Site]) -> None:
    nonces = Nonces(b"the resource server's own secret")
    site = build(verifier(proofs=ProofChecker(nonces=nonces)))
    key = ProofKey.generate()
    token = mint(key)
    behind = time.time() - CLOCK_OFF
    answer = site.get(dpop(token, key.proof("GET", site.url, now=behind, access_token=token)))
    refused(answer, "use_dpop_nonce", "the DPoP proof's iat is out of range")
    nonce = answer.headers["DPoP-Nonce"]
    retry = key.proof("GET", site.url, now=behind, access_token=token, nonce=nonce)
    assert site.get(dpop(token, retry)).status == 200


# Not Starlette's backend: a request without credentials is left to `@requires` (403 there).
@pytest.mark.parametrize("name", [n for n in SITES if n != "starlette"])
def test_no_credentials_get_both_challenges(name: str) -> None:
    answer = SITES[name](verifier()).get([])
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == f'Bearer realm="tessera", DPoP {ALGS}'
