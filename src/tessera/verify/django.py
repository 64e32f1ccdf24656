"""Django and Django REST framework.

Point Tessera at a `Verifier` in the settings — a `Verifier`, the dotted path of one, or the
dotted path of a callable returning one (imported on first use, then kept):

    TESSERA_VERIFIER = "myproject.auth.verifier"

Django REST framework (put `TesseraAuthentication` first, so its challenge is the one sent):

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["tessera.verify.django.TesseraAuthentication"],
        "EXCEPTION_HANDLER": "tessera.verify.django.exception_handler",  # optional, see below
    }

    class Reports(APIView):
        permission_classes = [HasRole("admin")]  # HasRole() alone: any valid token

        def get(self, request):
            return Response({"user": request.user.username, "role": request.auth.role})

`request.user` is a `TesseraUser`, `request.auth` the `AccessClaims`. A bad token is answered
401 `invalid_token`, a missing one 401 (by `HasRole`), a wrong role 403 `insufficient_scope`:
the contract's JSON body and the RFC 6750 `WWW-Authenticate` challenge, with DRF's own
exception handler. `exception_handler` also gives DRF's own 401s (`IsAuthenticated`, …) the
contract's body. Other `Authorization` schemes are left to other authentication classes.

Plain Django:

    MIDDLEWARE = [..., "tessera.verify.django.TesseraMiddleware"]

    @require(role="admin")
    def reports(request):
        return JsonResponse({"user": request.tessera_claims.sub})

The middleware verifies any bearer token (answering 401 for a bad one) and sets
`request.tessera_claims` (None without a bearer token); `require` answers 401 without a valid
token and 403 without the role. `require` also works without the middleware.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, NoReturn

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

from tessera.tokens import AccessClaims, InvalidToken
from tessera.verify.refusal import (
    Refusal,
    bearer_token,
    challenge,
    check_role,
    invalid_token,
    missing_token,
    refusal_for,
    roles_of,
)

if TYPE_CHECKING:
    from tessera.verify.verifier import Verifier

__all__ = [
    "HasRole",
    "TesseraAuthentication",
    "TesseraMiddleware",
    "TesseraUser",
    "exception_handler",
    "get_verifier",
    "refusal_response",
    "require",
]

SETTING = "TESSERA_VERIFIER"
_REFUSAL_ATTR = "_tessera_refusal"  # the 401 a DRF request was refused with, for its challenge

# verifier from the settings ---------------------------------------------------------------

_lock = threading.Lock()
_resolved: tuple[object, Verifier] | None = None


def get_verifier() -> Verifier:
    """The `Verifier` named by `settings.TESSERA_VERIFIER`, resolved once (again if the setting
    changes)."""
    global _resolved
    configured = getattr(settings, SETTING, None)
    resolved = _resolved
    if resolved is not None and resolved[0] is configured:
        return resolved[1]
    with _lock:
        if _resolved is not None and _resolved[0] is configured:
            return _resolved[1]
        verifier = _resolve(configured)
        _resolved = (configured, verifier)
        return verifier


def _resolve(configured: object) -> Verifier:
    if configured is None:
        raise ImproperlyConfigured(
            f"set {SETTING} to a Verifier, or the dotted path of one (or of a function "
            "returning one)"
        )
    target: Any = import_string(configured) if isinstance(configured, str) else configured
    if not callable(getattr(target, "verify", None)) and callable(target):
        target = target()
    if not callable(getattr(target, "verify", None)):
        raise ImproperlyConfigured(f"{SETTING} = {configured!r} is not a Verifier")
    verifier: Verifier = target
    return verifier


def _claims_for(authorization: str | None, verifier: Verifier) -> AccessClaims:
    token = bearer_token(authorization)
    try:
        return verifier.verify(token)
    except InvalidToken as exc:
        raise refusal_for(exc) from None


async def _aclaims_for(authorization: str | None, verifier: Verifier) -> AccessClaims:
    token = bearer_token(authorization)
    try:
        return await verifier.averify(token)
    except InvalidToken as exc:
        raise refusal_for(exc) from None


def _is_bearer(authorization: str | None) -> bool:
    return authorization is not None and authorization.partition(" ")[0].lower() == "bearer"


def refusal_response(refusal: Refusal) -> JsonResponse:
    """A `Refusal` as a Django response: its status, JSON body and headers."""
    return JsonResponse(refusal.body, status=refusal.status, headers=refusal.headers)


# plain Django -----------------------------------------------------------------------------


class TesseraMiddleware:
    """Verify the bearer token of any request that has one: `request.tessera_claims` is its
    claims, or None when the request has no bearer token. A bad token is answered 401."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        authorization = request.headers.get("Authorization")
        request.tessera_claims = None
        if _is_bearer(authorization):
            try:
                request.tessera_claims = _claims_for(authorization, get_verifier())
            except Refusal as refusal:
                return refusal_response(refusal)
        return self.get_response(request)


def require(
    role: str | Collection[str] | None = None, *, verifier: Verifier | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view decorator: run the view only for a valid access token (with `role`, if given:
    one role or a collection, any of). Uses the claims `TesseraMiddleware` found, or verifies
    the token itself; `verifier` defaults to `settings.TESSERA_VERIFIER`. Sync or async views."""
    if callable(role):
        raise TypeError("use @require() or @require(role=...), with parentheses")
    roles = roles_of(role)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def aguarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                try:
                    claims = getattr(request, "tessera_claims", None)
                    if claims is None:
                        claims = await _aclaims_for(
                            request.headers.get("Authorization"), verifier or get_verifier()
                        )
                        request.tessera_claims = claims
                    check_role(claims, roles)
                except Refusal as refusal:
                    return refusal_response(refusal)
                return await view(request, *args, **kwargs)

            return aguarded

        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                claims = getattr(request, "tessera_claims", None)
                if claims is None:
                    claims = _claims_for(
                        request.headers.get("Authorization"), verifier or get_verifier()
                    )
                    request.tessera_claims = claims
                check_role(claims, roles)
            except Refusal as refusal:
                return refusal_response(refusal)
            return view(request, *args, **kwargs)

        return guarded

    return decorate


# Django REST framework (imported only when used) ------------------------------------------


class TesseraUser:
    """The user of a request with a valid access token: `username`, `pk` and `id` are the
    token's subject, `claims` its `AccessClaims`. Not a database user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, claims: AccessClaims) -> None:
        self.claims = claims

    @property
    def username(self) -> str:
        return self.claims.sub

    @property
    def pk(self) -> str:
        return self.claims.sub

    @property
    def id(self) -> str:
        return self.claims.sub

    @property
    def role(self) -> str:
        return self.claims.role

    def get_username(self) -> str:
        return self.claims.sub

    def __str__(self) -> str:
        return self.claims.sub

    def __repr__(self) -> str:
        return f"TesseraUser({self.claims.sub!r}, role={self.claims.role!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TesseraUser) and other.claims.sub == self.claims.sub

    def __hash__(self) -> int:
        return hash(self.claims.sub)


class TesseraAuthentication:
    """DRF authentication by bearer access token: `(TesseraUser, AccessClaims)`, None for a
    request without a bearer token, `AuthenticationFailed` (401 `invalid_token`) for a bad one.
    Set `verifier` on a subclass to use another than `settings.TESSERA_VERIFIER`."""

    verifier: Verifier | None = None

    def authenticate(self, request: Any) -> tuple[TesseraUser, AccessClaims] | None:
        authorization = request.headers.get("Authorization")
        if not _is_bearer(authorization):
            return None  # no credentials, or another scheme's: not ours to refuse
        try:
            claims = _claims_for(authorization, self.verifier or get_verifier())
        except Refusal as refusal:
            _raise_for_drf(request, refusal)
        return TesseraUser(claims), claims

    def authenticate_header(self, request: Any) -> str:
        refusal: Refusal | None = getattr(request, _REFUSAL_ATTR, None)
        if refusal is not None:
            return refusal.headers["WWW-Authenticate"]
        return challenge()


def HasRole(role: str | Collection[str] | None = None) -> type[Any]:
    """A DRF permission class: a valid access token (401 without) with `role`, one role or a
    collection (any of; 403 `insufficient_scope` without). `HasRole()`: any valid token.

    It raises its refusal itself, so the answer carries the RFC 6750 challenge: compose it
    with `&`, not `|` or `~` (pass several roles for "any of")."""
    from rest_framework.permissions import BasePermission

    roles = roles_of(role)

    def has_permission(self: Any, request: Any, view: Any) -> bool:
        user = request.user
        if not isinstance(user, TesseraUser):
            try:  # no Authorization header, or another scheme's
                bearer_token(request.headers.get("Authorization"))
            except Refusal as refusal:
                _raise_for_drf(request, refusal)
            # A bearer token, yet no TesseraUser: TesseraAuthentication is not configured, or
            # an authentication class listed before it claimed the request.
            _raise_for_drf(request, invalid_token("bearer token not authenticated by Tessera"))
        try:
            check_role(user.claims, roles)
        except Refusal as refusal:
            _raise_for_drf(request, refusal)
        return True

    name = "HasRole" if roles is None else "HasRole_" + "_".join(sorted(roles))
    permission: type[Any] = type(
        name, (BasePermission,), {"has_permission": has_permission, "roles": roles}
    )
    return permission


def _raise_for_drf(request: Any, refusal: Refusal) -> NoReturn:
    """Raise `refusal` as the DRF exception that renders it: the contract's body as the detail,
    the challenge as the header (for a 401 DRF asks `authenticate_header`, which reads it
    back from the request)."""
    from rest_framework.exceptions import AuthenticationFailed, PermissionDenied

    if refusal.status == 401:
        setattr(request, _REFUSAL_ATTR, refusal)
        raise AuthenticationFailed(detail=refusal.body, code=refusal.error)
    denied = PermissionDenied(detail=refusal.body, code=refusal.error)
    denied.status_code = refusal.status
    denied.auth_header = refusal.headers.get("WWW-Authenticate")
    raise denied


def exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF's exception handler, with the contract's body on DRF's own 401s (e.g. from
    `IsAuthenticated`) as well: `{"error": "invalid_token", "error_description": …}`."""
    from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if (
        response is not None
        and isinstance(exc, NotAuthenticated | AuthenticationFailed)
        and not isinstance(exc.detail, dict)
    ):
        refusal = (
            missing_token() if isinstance(exc, NotAuthenticated) else invalid_token(str(exc.detail))
        )
        response.data = refusal.body
    return response
