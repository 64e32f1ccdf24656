"""Framework-neutral RFC 6750 answers, shared by every adapter (and the auth server itself):
401 `invalid_token` with a `WWW-Authenticate` challenge, 403 `insufficient_scope`, and the
contract's JSON error body."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from tessera.tokens import AccessClaims, InvalidToken

REALM = "tessera"
_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def challenge(error: str | None = None, description: str | None = None) -> str:
    """A `WWW-Authenticate: Bearer …` value (RFC 6750 §3; the description made header-safe)."""
    parts = [f'Bearer realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_UNSAFE.sub("?", description)}"')
    return ", ".join(parts)


@dataclass(frozen=True)
class Refusal(Exception):
    """An HTTP refusal: status, the contract's JSON body, and headers."""

    status: int
    error: str
    description: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def missing_token() -> Refusal:
    # RFC 6750 §3.1: no error code when the request carried no credentials at all.
    return Refusal(401, "invalid_token", "missing bearer token", {"WWW-Authenticate": challenge()})


def invalid_token(description: str) -> Refusal:
    return Refusal(
        401,
        "invalid_token",
        description,
        {"WWW-Authenticate": challenge("invalid_token", description)},
    )


def insufficient_scope(description: str) -> Refusal:
    return Refusal(
        403,
        "insufficient_scope",
        description,
        {"WWW-Authenticate": challenge("insufficient_scope", description)},
    )


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header; a `Refusal` for anything else."""
    if authorization is None:
        raise missing_token()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise invalid_token("authorization header is not a bearer token")
    return token.strip()


def roles_of(role: str | Collection[str] | None) -> frozenset[str] | None:
    if role is None:
        return None
    return frozenset({role} if isinstance(role, str) else role)


def check_role(claims: AccessClaims, roles: frozenset[str] | None) -> AccessClaims:
    if roles is not None and claims.role not in roles:
        wanted = " or ".join(sorted(roles))
        raise insufficient_scope(f"this needs the {wanted} role")
    return claims


def refusal_for(exc: InvalidToken) -> Refusal:
    return invalid_token(exc.description)
