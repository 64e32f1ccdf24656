"""Django: a middleware and a view decorator for plain Django views (Django REST framework's
classes are in `tessera.verify.drf`).

Point Tessera at a `Verifier` in the settings — a `Verifier`, the dotted path of one, or the
dotted path of a callable returning one (imported on first use, then kept):

    TESSERA_VERIFIER = "myproject.auth.verifier"
    MIDDLEWARE = [..., "tessera.verify.django.TesseraMiddleware"]

    @require(role="admin")
    def reports(request):
        return JsonResponse({"user": request.tessera_claims.sub})

The middleware verifies any bearer token (answering 401 for a bad one) and sets
`request.tessera_claims` (None without a bearer token); `require` answers 401 without a valid
token and 403 without the role, with the contract's JSON body and the RFC 6750
`WWW-Authenticate` challenge. `require` also works without the middleware, on sync and async
views alike: both run one decision, `_admission`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection, Generator, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

from tessera.tokens import AccessClaims, InvalidToken
from tessera.verify.refusal import Refusal, bearer_token, check_role, refusal_for, roles_of

if TYPE_CHECKING:
    from tessera.verify.verifier import Verifier

__all__ = ["TesseraMiddleware", "get_verifier", "refusal_response", "require"]

SETTING = "TESSERA_VERIFIER"

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


# verifying (shared with tessera.verify.drf) -----------------------------------------------


def has_bearer(authorization: str | None) -> bool:
    """Whether an `Authorization` header is Tessera's to judge (other schemes are not)."""
    return authorization is not None and authorization.partition(" ")[0].lower() == "bearer"


@contextmanager
def _refusing_invalid() -> Iterator[None]:
    """The verifier's `InvalidToken` as the RFC 6750 `Refusal`. Wrap the verifier call only:
    contextlib assigns `__traceback__` to an exception passing through unchanged, which a
    frozen `Refusal` forbids."""
    try:
        yield
    except InvalidToken as exc:
        raise refusal_for(exc) from None


def bearer_claims(authorization: str | None, verifier: Verifier) -> AccessClaims:
    """The claims of the header's bearer token, or `Refusal`."""
    token = bearer_token(authorization)
    with _refusing_invalid():
        claims = verifier.verify(token)
    return claims


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
        if has_bearer(authorization):
            try:
                request.tessera_claims = bearer_claims(authorization, get_verifier())
            except Refusal as refusal:
                return refusal_response(refusal)
        return self.get_response(request)


# What `require` decides, written once for sync and async views: a generator in the manner of
# httpx's `Auth.auth_flow`. It yields the one thing it cannot do itself, the bearer token to
# verify, and is sent back its claims; `_admit` verifies blocking, `_aadmit` awaits.
Admission = Generator[str, AccessClaims, None]
Roles = frozenset[str] | None


def _admission(request: HttpRequest, roles: Roles) -> Admission:
    """Admit the request, or raise `Refusal`: the claims `TesseraMiddleware` found, else those
    of the request's bearer token, must carry one of `roles` (any role when None)."""
    claims = getattr(request, "tessera_claims", None)
    if claims is None:
        claims = yield bearer_token(request.headers.get("Authorization"))
        request.tessera_claims = claims
    check_role(claims, roles)


def _admit(request: HttpRequest, roles: Roles, verifier: Verifier | None) -> None:
    admission = _admission(request, roles)
    token = next(admission, None)  # None: decided without verifying anything
    if token is not None:
        with _refusing_invalid():
            claims = (verifier or get_verifier()).verify(token)
        with suppress(StopIteration):  # the admission ends here: admitted, or Refusal
            admission.send(claims)


async def _aadmit(request: HttpRequest, roles: Roles, verifier: Verifier | None) -> None:
    admission = _admission(request, roles)
    token = next(admission, None)  # see _admit
    if token is not None:
        with _refusing_invalid():
            claims = await (verifier or get_verifier()).averify(token)
        with suppress(StopIteration):  # the admission ends here: admitted, or Refusal
            admission.send(claims)


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
                    await _aadmit(request, roles, verifier)
                except Refusal as refusal:
                    return refusal_response(refusal)
                return await view(request, *args, **kwargs)

            return aguarded

        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                _admit(request, roles, verifier)
            except Refusal as refusal:
                return refusal_response(refusal)
            return view(request, *args, **kwargs)

        return guarded

    return decorate
