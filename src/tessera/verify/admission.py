"""One request's credential through a `Verifier`, as every framework adapter runs it: parse the
`Authorization` and `DPoP` headers, verify the token and its binding, and turn any refusal
into the RFC 6750 / RFC 9449 answer (`Refusal`)."""

from __future__ import annotations

from collections.abc import Iterable

from tessera.dpop import InvalidProof
from tessera.tokens import AccessClaims, InvalidToken
from tessera.verify.binding import dpop_refusal
from tessera.verify.credentials import Credential, credential_of
from tessera.verify.refusal import Refusal, refusal_for
from tessera.verify.verifier import Verifier


def credential(verifier: Verifier, authorization: str | None, proofs: Iterable[str]) -> Credential:
    """The request's credential (Bearer, or DPoP with its proofs), or a `Refusal`."""
    return credential_of(authorization, proofs, verifier.proofs.algorithms)


def claims_for(verifier: Verifier, credential: Credential, method: str, url: str) -> AccessClaims:
    """The credential's claims, or a `Refusal`. `url`: what a proof must name (only read for
    the DPoP scheme: `verifier.request_url(...)`)."""
    try:
        return verifier.verify_credential(credential, method=method, url=url)
    except (InvalidToken, InvalidProof) as exc:
        raise refused(verifier, credential, exc) from None


async def aclaims_for(
    verifier: Verifier, credential: Credential, method: str, url: str
) -> AccessClaims:
    """`claims_for` for async code."""
    try:
        return await verifier.averify_credential(credential, method=method, url=url)
    except (InvalidToken, InvalidProof) as exc:
        raise refused(verifier, credential, exc) from None


def refused(
    verifier: Verifier, credential: Credential, exc: InvalidToken | InvalidProof
) -> Refusal:
    algs = verifier.proofs.algorithms
    return refusal_for(exc, algs, dpop=dpop_refusal(exc, credential))
