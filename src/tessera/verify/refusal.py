"""Framework-neutral RFC 6750 and RFC 9449 answers, shared by every adapter (and the auth server
itself): 401 `invalid_token` with a `WWW-Authenticate` challenge (`Bearer`, or `DPoP` when the
token is a DPoP token or the DPoP scheme was used), 401 `invalid_dpop_proof` and
`use_dpop_nonce` (with `DPoP-Nonce`), 403 `insufficient_scope`, and the contract's JSON error
body."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from tessera.dpop import InvalidProof, UseNonce
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


def dpop_challenge(
    algs: Sequence[str], error: str | None = None, description: str | None = None
) -> str:
    """A `WWW-Authenticate: DPoP …` value (RFC 9449 §7.1): the error, if any, and the proof
    algorithms accepted."""
    parts = []
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_UNSAFE.sub("?", description)}"')
    parts.append(f'algs="{" ".join(algs)}"')
    return "DPoP " + ", ".join(parts)


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


def missing_token(algs: Sequence[str] | None = None) -> Refusal:
    """No credentials at all: RFC 6750 §3.1's bare challenge, no error code; with `algs` (DPoP
    accepted too) both challenges, in one header (RFC 9110 §11.6.1, RFC 9449 §7.2)."""
    header = challenge()
    if algs:
        header += ", " + dpop_challenge(algs)
    return Refusal(401, "invalid_token", "missing bearer token", {"WWW-Authenticate": header})


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


def refusal_for(
    exc: InvalidToken | InvalidProof, algs: Sequence[str] | None = None, *, dpop: bool = False
) -> Refusal:
    """The answer to a refused token or proof. `dpop`: the token came with the DPoP scheme, or
    is a DPoP token sent as Bearer — its `invalid_token` is then a DPoP challenge."""
    if isinstance(exc, InvalidProof):
        return proof_refusal(exc, algs or ())
    if dpop and algs:
        header = dpop_challenge(algs, "invalid_token", exc.description)
        return Refusal(401, "invalid_token", exc.description, {"WWW-Authenticate": header})
    return invalid_token(exc.description)


def proof_refusal(exc: InvalidProof, algs: Sequence[str]) -> Refusal:
    """401 `invalid_dpop_proof`, or `use_dpop_nonce` with the nonce to use in `DPoP-Nonce`."""
    headers = {"WWW-Authenticate": dpop_challenge(algs, exc.error, exc.description)}
    if isinstance(exc, UseNonce):
        headers["DPoP-Nonce"] = exc.nonce
    return Refusal(401, exc.error, exc.description, headers)
