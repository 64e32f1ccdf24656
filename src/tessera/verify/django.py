"""Django: a middleware and a view decorator for plain Django views (Django REST framework's
classes are in `tessera.verify.drf`).

Point Tessera at a `Verifier` in the settings — a `Verifier`, the dotted path of one, or the
dotted path of a callable returning one (imported on first use, then kept):

    TESSERA_VERIFIER = "myproject.auth.verifier"
    MIDDLEWARE = [..., "tessera.verify.django.TesseraMiddleware"]

    @require(role="admin")
    def reports(request):
        return JsonResponse({"user": request.tessera_claims.sub})

The middleware verifies any bearer or DPoP token (answering 401 for a bad one, or a bad DPoP
proof) and sets `request.tessera_claims` (None without one); `require` answers 401 without a
valid token and 403 without the role, with the contract's JSON body and the RFC 6750 /
RFC 9449 `WWW-Authenticate` challenge. `require` also works without the middleware, on sync
and async views alike: both run one decision, `_admission`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection, Generator
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

from tessera.tokens import AccessClaims
from tessera.verify.admission import aclaims_for, claims_for, credential
from tessera.verify.credentials import Credential, proof_values
from tessera.verify.refusal import Refusal, check_role, roles_of

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


def has_credential(authorization: str | None) -> bool:
    """Whether an `Authorization` header is Tessera's to judge: Bearer or DPoP (other schemes
    are not)."""
    return (authorization or "").partition(" ")[0].lower() in ("bearer", "dpop")


def request_credential(request: Any, verifier: Verifier) -> Credential:
    """The credential of a Django (or DRF) request, or `Refusal`."""
    proofs = request.headers.get("DPoP")
    return credential(
        verifier, request.headers.get("Authorization"), proof_values([proofs] if proofs else [])
    )


def target(request: Any, verifier: Verifier, given: Credential) -> tuple[str, str]:
    """The method and URL a DPoP proof must name for this request (nothing for Bearer:
    nothing reads them)."""
    if not given.dpop:
        return "", ""
    origin = f"{request.scheme}://{request.get_host()}"
    return request.method or "GET", verifier.request_url(origin, request.path)


def request_claims(request: Any, verifier: Verifier) -> AccessClaims:
    """The claims of the request's bearer or DPoP token, or `Refusal`."""
    given = request_credential(request, verifier)
    return claims_for(verifier, given, *target(request, verifier, given))


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
        request.tessera_claims = None
        if has_credential(request.headers.get("Authorization")):
            try:
                request.tessera_claims = request_claims(request, get_verifier())
            except Refusal as refusal:
                return refusal_response(refusal)
        return self.get_response(request)


# What `require` decides, written once for sync and async views: a generator in the manner of
# httpx's `Auth.auth_flow`. It yields the one thing it cannot do itself, the credential to
# verify (with the verifier for it), and is sent back its claims; `_admit` verifies blocking,
# `_aadmit` awaits.
Admission = Generator[tuple["Verifier", Credential], AccessClaims, None]
Roles = frozenset[str] | None


def _admission(request: HttpRequest, roles: Roles, verifier: Verifier | None) -> Admission:
    """Admit the request, or raise `Refusal`: the claims `TesseraMiddleware` found, else those
    of the request's credential, must carry one of `roles` (any role when None)."""
    claims = getattr(request, "tessera_claims", None)
    if claims is None:
        verifier = verifier or get_verifier()
        claims = yield verifier, request_credential(request, verifier)
        request.tessera_claims = claims
    check_role(claims, roles)


def _admit(request: HttpRequest, roles: Roles, verifier: Verifier | None) -> None:
    admission = _admission(request, roles, verifier)
    step = next(admission, None)  # None: decided without verifying anything
    if step is not None:
        chosen, given = step
        claims = claims_for(chosen, given, *target(request, chosen, given))
        with suppress(StopIteration):  # the admission ends here: admitted, or Refusal
            admission.send(claims)


async def _aadmit(request: HttpRequest, roles: Roles, verifier: Verifier | None) -> None:
    admission = _admission(request, roles, verifier)
    step = next(admission, None)  # see _admit
    if step is not None:
        chosen, given = step
        claims = await aclaims_for(chosen, given, *target(request, chosen, given))
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
