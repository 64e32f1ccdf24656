"""`tessera.verify.drf` (Django REST framework's authentication and permission classes) and
`tessera.verify.django` (the plain-Django middleware and view decorator), in a real
(database-less) Django project whose settings and urlconf are this module."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import django
import pytest
from django.conf import settings

from tessera.tokens import AccessTokenPolicy, generate_key
from tessera.verify import Verifier

ISSUER, AUDIENCE = "https://auth.test", "tessera-django-tests"
POLICY = AccessTokenPolicy(issuer=ISSUER, audience=AUDIENCE)
KEY = generate_key("RS256")
VERIFIER = Verifier.from_jwks({"keys": [KEY.public_jwk()]}, issuer=ISSUER, audience=AUDIENCE)
MIDDLEWARE = "tessera.verify.django.TesseraMiddleware"
# No credentials: both challenges (RFC 9449 §7.2), the DPoP one with the proof algorithms.
MISSING = 'Bearer realm="tessera", DPoP algs="ES256 ES384 EdDSA Ed25519 RS256 PS256"'

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tessera-tests",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        DATABASES={},
        INSTALLED_APPS=[],
        MIDDLEWARE=[],  # the middleware tests add it
        TESSERA_VERIFIER=f"{__name__}.VERIFIER",
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": ["tessera.verify.drf.TesseraAuthentication"],
            "DEFAULT_PERMISSION_CLASSES": [],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "UNAUTHENTICATED_USER": None,  # no django.contrib.auth
        },
    )
    django.setup()

from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.permissions import IsAuthenticated  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from tessera.verify import django as tessera_django  # noqa: E402
from tessera.verify.django import get_verifier, require  # noqa: E402
from tessera.verify.drf import (  # noqa: E402
    HasRole,
    TesseraAuthentication,
    TesseraUser,
    exception_handler,
)

# DRF views ---------------------------------------------------------------------------------


def describe(request: Request) -> dict[str, Any]:
    user = request.user
    return {
        "user": type(user).__name__ if user is not None else None,
        "username": getattr(user, "username", None),
        "pk": getattr(user, "pk", None),
        "role": request.auth.role if request.auth is not None else None,
    }


class Me(APIView):
    permission_classes = (HasRole(),)

    def get(self, request: Request) -> Response:
        return Response(describe(request))


class Admin(APIView):
    permission_classes = (HasRole("admin"),)

    def get(self, request: Request) -> Response:
        return Response(describe(request))


class Staff(APIView):
    permission_classes = (HasRole({"admin", "ops"}),)

    def get(self, request: Request) -> Response:
        return Response(describe(request))


class Both(APIView):
    permission_classes = (HasRole("admin") & IsAuthenticated,)

    def get(self, request: Request) -> Response:
        return Response(describe(request))


class Open(APIView):
    def get(self, request: Request) -> Response:
        return Response(describe(request))


class Plain(APIView):
    """DRF's own `IsAuthenticated`, with Tessera's exception handler."""

    permission_classes = (IsAuthenticated,)

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get(self, request: Request) -> Response:
        return Response(describe(request))


# plain Django views ------------------------------------------------------------------------


def claims_of(request: HttpRequest) -> JsonResponse:
    claims = request.tessera_claims
    return JsonResponse(
        {"sub": claims.sub, "role": claims.role} if claims is not None else {"sub": None}
    )


@require()
def django_me(request: HttpRequest) -> JsonResponse:
    return claims_of(request)


@require(role="admin")
def django_admin(request: HttpRequest, section: str) -> JsonResponse:
    response = claims_of(request)
    response["X-Section"] = section
    return response


@require(role="admin")
async def django_async_admin(request: HttpRequest) -> JsonResponse:
    return claims_of(request)


def django_open(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"claims": getattr(request, "tessera_claims", "unset") is not None})


urlpatterns = [
    path("drf/me", Me.as_view()),
    path("drf/admin", Admin.as_view()),
    path("drf/staff", Staff.as_view()),
    path("drf/both", Both.as_view()),
    path("drf/open", Open.as_view()),
    path("drf/plain", Plain.as_view()),
    path("dj/me", django_me),
    path("dj/admin/<str:section>", django_admin),
    path("dj/async-admin", django_async_admin),
    path("dj/open", django_open),
]

# helpers -----------------------------------------------------------------------------------


def mint(role: str = "user", *, age: float = 0, key: Any = KEY, sub: str = "user-1") -> str:
    return POLICY.mint(key, sub=sub, role=role, sid="sid-1", now=time.time() - age, ttl=600)[0]


def bad_token(kind: str) -> str:
    good = mint()
    return {
        "expired": lambda: mint(age=3600),
        # Another token's signature over this token's header and payload.
        "bad_signature": lambda: good.rsplit(".", 1)[0] + "." + mint(sub="x").split(".")[2],
        "garbage": lambda: "not-a-jwt",
        "other_key": lambda: mint(key=generate_key("RS256")),
    }[kind]()


BAD_KINDS = ["expired", "bad_signature", "garbage", "other_key"]


def auth(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: Any, status: int, error: str, challenge_error: str | None) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error and body["error_description"]
    header = response["WWW-Authenticate"]
    if challenge_error is None:
        assert header == MISSING
    else:
        assert header.startswith(f'Bearer realm="tessera", error="{challenge_error}"')


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def with_middleware() -> Iterator[Client]:
    with override_settings(MIDDLEWARE=[MIDDLEWARE]):
        yield Client()


# Django REST framework ---------------------------------------------------------------------


def test_drf_valid_token(api: APIClient) -> None:
    response = api.get("/drf/me", **auth(mint("user")))
    assert response.status_code == 200
    assert response.json() == {
        "user": "TesseraUser",
        "username": "user-1",
        "pk": "user-1",
        "role": "user",
    }


def test_drf_missing_header_is_a_bare_challenge(api: APIClient) -> None:
    response = api.get("/drf/me")
    assert_refused(response, 401, "invalid_token", None)
    assert response.json()["error_description"] == "missing bearer token"


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_drf_bad_tokens_are_invalid_token(api: APIClient, kind: str) -> None:
    assert_refused(
        api.get("/drf/me", **auth(bad_token(kind))), 401, "invalid_token", "invalid_token"
    )


def test_drf_expired_token_says_so(api: APIClient) -> None:
    response = api.get("/drf/me", **auth(mint(age=3600)))
    assert response.json() == {"error": "invalid_token", "error_description": "token has expired"}
    assert response["WWW-Authenticate"] == (
        'Bearer realm="tessera", error="invalid_token", error_description="token has expired"'
    )


def test_drf_bad_token_is_refused_even_where_no_permission_is_needed(api: APIClient) -> None:
    assert_refused(api.get("/drf/open", **auth("garbage")), 401, "invalid_token", "invalid_token")
    assert api.get("/drf/open").json()["user"] is None  # anonymous: let through


def test_drf_empty_bearer_is_invalid_token(api: APIClient) -> None:
    response = api.get("/drf/me", HTTP_AUTHORIZATION="Bearer")
    assert_refused(response, 401, "invalid_token", "invalid_token")


def test_drf_basic_auth_is_refused(api: APIClient) -> None:
    response = api.get("/drf/me", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert_refused(response, 401, "invalid_token", "invalid_token")
    assert response.json()["error_description"] == (
        "authorization header is not a bearer or DPoP token"
    )
    # Not Tessera's scheme: left to other authentication classes, not refused by this one.
    assert api.get("/drf/open", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz").status_code == 200


def test_drf_wrong_role_is_insufficient_scope(api: APIClient) -> None:
    response = api.get("/drf/admin", **auth(mint("user")))
    assert_refused(response, 403, "insufficient_scope", "insufficient_scope")
    assert response.json()["error_description"] == "this needs the admin role"


def test_drf_right_role(api: APIClient) -> None:
    response = api.get("/drf/admin", **auth(mint("admin")))
    assert response.status_code == 200
    assert response.json()["role"] == "admin"


def test_drf_any_of_several_roles(api: APIClient) -> None:
    assert api.get("/drf/staff", **auth(mint("ops"))).status_code == 200
    response = api.get("/drf/staff", **auth(mint("user")))
    assert_refused(response, 403, "insufficient_scope", "insufficient_scope")
    assert response.json()["error_description"] == "this needs the admin or ops role"


def test_drf_has_role_composes_with_and(api: APIClient) -> None:
    assert api.get("/drf/both", **auth(mint("admin"))).status_code == 200
    assert_refused(api.get("/drf/both"), 401, "invalid_token", None)
    response = api.get("/drf/both", **auth(mint("user")))
    assert_refused(response, 403, "insufficient_scope", "insufficient_scope")


def test_drf_is_authenticated_with_the_exception_handler(api: APIClient) -> None:
    assert api.get("/drf/plain", **auth(mint())).status_code == 200
    assert_refused(api.get("/drf/plain"), 401, "invalid_token", None)
    bad = api.get("/drf/plain", **auth(mint(age=3600)))
    assert_refused(bad, 401, "invalid_token", "invalid_token")


def test_drf_authentication_class_directly() -> None:
    class Fake:
        def __init__(self, authorization: str | None) -> None:
            self.headers = {} if authorization is None else {"Authorization": authorization}

    authentication = TesseraAuthentication()
    assert authentication.authenticate(Fake(None)) is None
    assert authentication.authenticate(Fake("Basic x")) is None
    assert authentication.authenticate_header(Fake(None)) == MISSING
    result = authentication.authenticate(Fake("Bearer " + mint("admin")))
    assert result is not None
    user, claims = result
    assert isinstance(user, TesseraUser) and user.claims is claims
    assert (user.username, user.pk, user.id, user.role, str(user)) == (
        "user-1",
        "user-1",
        "user-1",
        "admin",
        "user-1",
    )
    assert user.is_authenticated and not user.is_anonymous
    # A token naming its user (preferred_username): the name to show; username stays the sub
    # (a name can be reused by another user after a rename: never an identity).
    named = POLICY.mint(KEY, sub="user-1", role="user", sid="s", now=time.time(), ttl=60, name="al")
    result = authentication.authenticate(Fake("Bearer " + named[0]))
    assert result is not None
    user = result[0]
    assert (user.name, user.username, user.get_username(), user.pk) == ("al", *["user-1"] * 3)


# plain Django ------------------------------------------------------------------------------


def test_middleware_sets_claims_and_require_uses_them(with_middleware: Client) -> None:
    response = with_middleware.get("/dj/me", **auth(mint("user")))
    assert response.status_code == 200
    assert response.json() == {"sub": "user-1", "role": "user"}


def test_middleware_leaves_anonymous_requests_alone(with_middleware: Client) -> None:
    assert with_middleware.get("/dj/open").json() == {"claims": False}
    basic = with_middleware.get("/dj/open", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert basic.json() == {"claims": False}
    assert with_middleware.get("/dj/open", **auth(mint())).json() == {"claims": True}


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_middleware_refuses_bad_tokens_anywhere(with_middleware: Client, kind: str) -> None:
    response = with_middleware.get("/dj/open", **auth(bad_token(kind)))
    assert_refused(response, 401, "invalid_token", "invalid_token")


@pytest.mark.parametrize("middleware", [True, False])
def test_require_without_a_token(middleware: bool) -> None:
    with override_settings(MIDDLEWARE=[MIDDLEWARE] if middleware else []):
        client = Client()
        assert_refused(client.get("/dj/me"), 401, "invalid_token", None)
        basic = client.get("/dj/me", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
        assert_refused(basic, 401, "invalid_token", "invalid_token")


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_require_without_middleware_verifies_itself(client: Client, kind: str) -> None:
    assert client.get("/dj/me", **auth(mint())).json() == {"sub": "user-1", "role": "user"}
    assert_refused(
        client.get("/dj/me", **auth(bad_token(kind))), 401, "invalid_token", "invalid_token"
    )


@pytest.mark.parametrize("middleware", [True, False])
def test_require_role(middleware: bool) -> None:
    with override_settings(MIDDLEWARE=[MIDDLEWARE] if middleware else []):
        client = Client()
        response = client.get("/dj/admin/reports", **auth(mint("user")))
        assert_refused(response, 403, "insufficient_scope", "insufficient_scope")
        response = client.get("/dj/admin/reports", **auth(mint("admin")))
        assert response.status_code == 200
        assert response.json() == {"sub": "user-1", "role": "admin"}
        assert response["X-Section"] == "reports"


@pytest.mark.parametrize("middleware", [True, False])
def test_require_on_an_async_view(middleware: bool) -> None:
    async def go() -> None:
        client = AsyncClient()
        response = await client.get("/dj/async-admin", headers=bearer(mint("admin")))
        assert response.status_code == 200
        assert response.json() == {"sub": "user-1", "role": "admin"}
        response = await client.get("/dj/async-admin", headers=bearer(mint("user")))
        assert_refused(response, 403, "insufficient_scope", "insufficient_scope")
        response = await client.get("/dj/async-admin", headers=bearer(mint(age=3600)))
        assert_refused(response, 401, "invalid_token", "invalid_token")
        response = await client.get("/dj/async-admin")
        assert_refused(response, 401, "invalid_token", None)

    with override_settings(MIDDLEWARE=[MIDDLEWARE] if middleware else []):
        asyncio.run(go())


def test_require_needs_parentheses() -> None:
    with pytest.raises(TypeError, match="parentheses"):
        require(django_open)  # type: ignore[arg-type]


# the setting -------------------------------------------------------------------------------


def make_verifier() -> Verifier:
    return Verifier.from_jwks({"keys": [KEY.public_jwk()]}, issuer=ISSUER, audience=AUDIENCE)


def test_setting_is_resolved_once_and_again_when_it_changes() -> None:
    assert get_verifier() is VERIFIER
    assert get_verifier() is VERIFIER
    with override_settings(TESSERA_VERIFIER=f"{__name__}.make_verifier"):
        made = get_verifier()
        assert made is not VERIFIER and get_verifier() is made  # called once, then kept
    with override_settings(TESSERA_VERIFIER=VERIFIER):
        assert get_verifier() is VERIFIER
    assert get_verifier() is VERIFIER


@pytest.mark.parametrize("value", [None, f"{__name__}.ISSUER"])
def test_setting_that_is_not_a_verifier(value: object) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with override_settings(TESSERA_VERIFIER=value), pytest.raises(ImproperlyConfigured):
        tessera_django.get_verifier()
