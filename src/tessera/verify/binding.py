"""The resource side of DPoP (RFC 9449 §7): a token bound to a key (`cnf.jkt`) is accepted only
with the DPoP scheme and a proof signed by that key for this request and this token; a token
that is not bound is accepted only as Bearer. Checked after the token itself, on every request:
a token remembered as verified is never remembered as proven."""

from __future__ import annotations

from tessera.dpop import InvalidProof, ProofChecker
from tessera.tokens import AccessClaims, InvalidToken
from tessera.verify.credentials import Credential

BOUND_AS_BEARER = "dpop_bound"  # InvalidToken reason: a bound token sent as Bearer
NOT_BOUND = "not_dpop_bound"  # InvalidToken reason: the DPoP scheme with an unbound token


def check_binding(
    claims: AccessClaims,
    credential: Credential,
    proofs: ProofChecker | None,
    *,
    method: str,
    url: str,
    now: float,
) -> AccessClaims:
    """`claims` (of `credential.token`, verified) if the credential holds to its binding;
    else `InvalidToken` (the wrong scheme for the token) or `InvalidProof`/`UseNonce`. With
    `proofs` None (DPoP off) a bound token is refused: nothing could check its proof."""
    if not credential.dpop:
        if claims.jkt is not None:
            raise InvalidToken(
                BOUND_AS_BEARER,
                "the token is bound to a DPoP key: send it as 'Authorization: DPoP' with a proof",
            )
        return claims
    if claims.jkt is None:
        raise InvalidToken(NOT_BOUND, "the token is not bound to a DPoP key: send it as Bearer")
    if proofs is None:  # credential_of refuses the scheme first; never trust a proof unchecked
        raise InvalidProof("not_accepted", "DPoP proofs are not accepted here")
    if len(credential.proofs) > 1:
        raise InvalidProof("multiple_proofs", "send exactly one DPoP header")
    proofs.check(
        credential.proof,
        method=method,
        url=url,
        now=now,
        access_token=credential.token,
        jkt=claims.jkt,
    )
    return claims


def rejection_reason(exc: InvalidToken | InvalidProof) -> str:
    """The metrics label of a refusal: the token's reason, or `dpop_` and the proof's."""
    return exc.reason if isinstance(exc, InvalidToken) else "dpop_" + exc.reason


def dpop_refusal(exc: InvalidToken | InvalidProof, credential: Credential) -> bool:
    """Whether the answer is a DPoP challenge: a proof problem, the DPoP scheme used, or a
    DPoP token sent as Bearer."""
    return (
        isinstance(exc, InvalidProof)
        or credential.dpop
        or (isinstance(exc, InvalidToken) and exc.reason == BOUND_AS_BEARER)
    )
