"""Django REST framework: an authentication class and role permissions.

Point Tessera at a `Verifier` in the settings (as for plain Django, see `tessera.verify.django`)
and put `TesseraAuthentication` first, so its challenge is the one sent:

    TESSERA_VERIFIER = "myproject.auth.verifier"
    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["tessera.verify.drf.TesseraAuthentication"],
        "EXCEPTION_HANDLER": "tessera.verify.drf.exception_handler",  # optional, see below
    }

    class Reports(APIView):
        permission_classes = [HasRole("admin")]  # HasRole() alone: any valid token

        def get(self, request):
            return Response({"user": request.user.username, "role": request.auth.role})

`request.user` is a `TesseraUser`, `request.auth` the `AccessClaims`. A bad token is answered
401 `invalid_token` (a bad DPoP proof `invalid_dpop_proof`), a missing one 401 (by `HasRole`),
a wrong role 403 `insufficient_scope`: the contract's JSON body and the RFC 6750 / RFC 9449
`WWW-Authenticate` challenge, with DRF's own exception handler. `exception_handler` also gives
DRF's own 401s (`IsAuthenticated`, …) the contract's body. Schemes other than Bearer and DPoP
are left to other authentication classes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, NoReturn

from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission

from tessera.tokens import AccessClaims
from tessera.verify.credentials import credential_of
from tessera.verify.django import get_verifier, has_credential, request_claims
from tessera.verify.refusal import (
    Refusal,
    check_role,
    invalid_token,
    missing_token,
    roles_of,
)

if TYPE_CHECKING:
    from tessera.verify.verifier import Verifier

__all__ = ["HasRole", "TesseraAuthentication", "TesseraUser", "exception_handler"]

_REFUSAL_ATTR = "_tessera_refusal"  # the 401 a request was refused with, for its challenge
_VERIFIER_ATTR = "_tessera_verifier"  # the verifier that looked at the request


class TesseraUser:
    """The user of a request with a valid access token: `username`, `pk` and `id` are the
    token's subject (the stable id: code that keys anything on `username` stays right when a
    user is renamed and the name reused), `name` its `preferred_username` for showing (the
    subject when it has none), `claims` its `AccessClaims`. Not a database user."""

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
    def name(self) -> str:
        return self.claims.name or self.claims.sub

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
    """DRF authentication by bearer or DPoP access token: `(TesseraUser, AccessClaims)`, None
    for a request without one, `AuthenticationFailed` (401 `invalid_token`, or
    `invalid_dpop_proof`) for a bad one. Set `verifier` on a subclass to use another than
    `settings.TESSERA_VERIFIER`."""

    verifier: Verifier | None = None

    def authenticate(self, request: Any) -> tuple[TesseraUser, AccessClaims] | None:
        if self.verifier is not None:
            setattr(request, _VERIFIER_ATTR, self.verifier)  # for the challenge, if refused
        if not has_credential(request.headers.get("Authorization")):
            return None  # no credentials, or another scheme's: not ours to refuse
        verifier = self.verifier or get_verifier()
        try:
            claims = request_claims(request, verifier)
        except Refusal as refusal:
            _raise_for_drf(request, refusal)
        return TesseraUser(claims), claims

    def authenticate_header(self, request: Any) -> str:
        refusal: Refusal | None = getattr(request, _REFUSAL_ATTR, None)
        if refusal is None:
            refusal = missing_token(_algorithms(request, self.verifier))
        return refusal.headers["WWW-Authenticate"]


class _RolePermission(BasePermission):  # type: ignore[misc]  # DRF has no type hints
    """The permission `HasRole` makes a subclass of, for its `roles`."""

    roles: frozenset[str] | None = None

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not isinstance(user, TesseraUser):
            try:  # no Authorization header, or another scheme's
                credential_of(request.headers.get("Authorization"), (), _algorithms(request))
            except Refusal as refusal:
                _raise_for_drf(request, refusal)
            # A bearer token, yet no TesseraUser: TesseraAuthentication is not configured, or
            # an authentication class listed before it claimed the request.
            _raise_for_drf(request, invalid_token("bearer token not authenticated by Tessera"))
        try:
            check_role(user.claims, self.roles)
        except Refusal as refusal:
            _raise_for_drf(request, refusal)
        return True


def HasRole(role: str | Collection[str] | None = None) -> type[Any]:
    """A DRF permission class: a valid access token (401 without) with `role`, one role or a
    collection (any of; 403 `insufficient_scope` without). `HasRole()`: any valid token.

    It raises its refusal itself, so the answer carries the RFC 6750 challenge: compose it
    with `&`, not `|` or `~` (pass several roles for "any of")."""
    roles = roles_of(role)
    name = "HasRole" if roles is None else "HasRole_" + "_".join(sorted(roles))
    return type(name, (_RolePermission,), {"roles": roles})


def _algorithms(request: Any, verifier: Verifier | None = None) -> tuple[str, ...] | None:
    """The DPoP algorithms of the verifier that looked at the request (or of the configured
    one), for the challenge; None when there is none (no DPoP challenge then)."""
    verifier = verifier or getattr(request, _VERIFIER_ATTR, None)
    if verifier is None:
        try:
            verifier = get_verifier()
        except ImproperlyConfigured:
            return None
    return verifier.proofs.algorithms


def _raise_for_drf(request: Any, refusal: Refusal) -> NoReturn:
    """Raise `refusal` as the DRF exception that renders it: the contract's body as the detail,
    the challenge as the header (for a 401 DRF asks `authenticate_header`, which reads it
    back from the request). Any other header (`DPoP-Nonce`) goes on the view's response
    headers, which DRF puts on whatever response the view ends with."""
    others = {k: v for k, v in refusal.headers.items() if k != "WWW-Authenticate"}
    view = (getattr(request, "parser_context", None) or {}).get("view")
    headers = getattr(view, "headers", None)
    if others and isinstance(headers, dict):
        headers.update(others)
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
    # Imported here: rest_framework.views reads DRF's settings as it loads.
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
