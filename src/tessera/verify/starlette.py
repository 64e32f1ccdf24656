"""Starlette: an `AuthenticationBackend` for `AuthenticationMiddleware`.

    backend = TesseraBackend(verifier)
    app.add_middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)

`request.user` is a `TesseraUser` (or unauthenticated when no token was sent); its scopes are
"authenticated" and the token's role, so Starlette's `@requires("admin")` works. A bad token
(or DPoP proof) is answered 401 with the RFC 6750 / RFC 9449 challenge and the contract's
error body.
"""

from __future__ import annotations

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from tessera.tokens import AccessClaims
from tessera.verify.admission import aclaims_for, credential
from tessera.verify.asgi_url import proof_target
from tessera.verify.credentials import presented
from tessera.verify.refusal import Refusal
from tessera.verify.verifier import Verifier


class TesseraUser(BaseUser):
    def __init__(self, claims: AccessClaims) -> None:
        self.claims = claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.claims.name or self.claims.sub

    @property
    def identity(self) -> str:
        return self.claims.sub


class _Refused(AuthenticationError):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.description)
        self.refusal = refusal


class TesseraBackend(AuthenticationBackend):
    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if conn.headers.get("authorization") is None:
            return None
        try:
            claims = await verified(self.verifier, conn)
        except Refusal as refusal:
            raise _Refused(refusal) from None
        return AuthCredentials(["authenticated", claims.role]), TesseraUser(claims)

    @staticmethod
    def on_error(_conn: HTTPConnection, exc: AuthenticationError) -> Response:
        if isinstance(exc, _Refused):
            refusal = exc.refusal
            return JSONResponse(refusal.body, status_code=refusal.status, headers=refusal.headers)
        return JSONResponse(
            {"error": "invalid_token", "error_description": str(exc)}, status_code=401
        )


async def verified(verifier: Verifier, request: HTTPConnection) -> AccessClaims:
    """The claims of the request's credential, or a `Refusal` (FastAPI and Starlette)."""
    given = credential(verifier, *presented(request.scope["headers"]))
    url = proof_target(request, verifier.public_url) if given.dpop else ""
    method = request.scope.get("method", "GET")
    return await aclaims_for(verifier, given, method, url)
