"""Bearer access tokens on incoming requests (RFC 6750): extract, verify, check the role."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import Request

from tessera.http.errors import AuthHTTPError
from tessera.tokens import AccessClaims, InvalidToken

if TYPE_CHECKING:
    from tessera.service import Tessera

REALM = "tessera"
_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def _quoted(text: str) -> str:
    """RFC 6750 §3: error_description may only hold these characters."""
    return _UNSAFE.sub("?", text)


def challenge(error: str | None = None, description: str | None = None) -> str:
    parts = [f'Bearer realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_quoted(description)}"')
    return ", ".join(parts)


def invalid_token(description: str, *, missing: bool = False) -> AuthHTTPError:
    header = challenge() if missing else challenge("invalid_token", description)
    return AuthHTTPError(401, "invalid_token", description, {"WWW-Authenticate": header})


def insufficient_scope(description: str) -> AuthHTTPError:
    return AuthHTTPError(
        403,
        "insufficient_scope",
        description,
        {"WWW-Authenticate": challenge("insufficient_scope", description)},
    )


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None when there is no such header."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise invalid_token("authorization header is not a bearer token")
    return token.strip()


async def verify_request(auth: Tessera, request: Request) -> AccessClaims:
    token = bearer_token(request)
    if token is None:
        raise invalid_token("missing bearer token", missing=True)
    try:
        return await auth.verify_access_token(token)
    except InvalidToken as exc:
        auth.metrics.rejected_tokens.labels(exc.reason).inc()
        raise invalid_token(exc.description) from None


def require(auth: Tessera, role: str | None = None) -> Callable[[Request], Awaitable[AccessClaims]]:
    """Build the FastAPI dependency behind `Tessera.require`."""

    async def dependency(request: Request) -> AccessClaims:
        claims = await verify_request(auth, request)
        if role is not None and claims.role != role:
            raise insufficient_scope(f"this needs the {role!r} role")
        return claims

    return dependency
