"""Verify cost per algorithm: Tessera's `Verifier` cold and on a cache hit, against joserfc's
and PyJWT's decode-and-validate of the same token, with the raw `cryptography` signature check
as the floor. Then a DPoP request's extra cost: an ES256 proof checked cold (a fresh proof each
time, the proof key's import cached as it is for a returning client), next to a cold verify of
an ES256 access token in the same rounds. Runs are interleaved (each round times every
contender once), medians reported."""

from __future__ import annotations

import statistics
import time
import timeit
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from joserfc import jwt as jose_jwt

from tessera.dpop import ProofChecker, ProofKey
from tessera.tokens import AccessTokenPolicy, generate_key
from tessera.tokens.strict_json import b64url_decode
from tessera.verify import Verifier

ISSUER, AUDIENCE = "https://bench.tessera", "bench-api"
ROUNDS, NUMBER = 15, 300
TARGET_COLD_RATIO, TARGET_HIT_US = 1.15, 3.0
# A proof check is one more ES256 signature and a little JSON: at most about a cold verify.
TARGET_PROOF_RATIO = 1.5
PROOF_URL = "https://api.bench.tessera/reports"


def contenders(alg: str) -> dict[str, Callable[[], Any]]:
    key = generate_key(alg)
    policy = AccessTokenPolicy(issuer=ISSUER, audience=AUDIENCE)
    token, _ = policy.mint(key, sub="u", role="user", sid="s", now=time.time(), ttl=3600)
    jwks = {"keys": [key.public_jwk()]}
    cold = Verifier.from_jwks(jwks, issuer=ISSUER, audience=AUDIENCE, cache_size=0)
    warm = Verifier.from_jwks(jwks, issuer=ISSUER, audience=AUDIENCE)
    warm.verify(token)
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
        nbf={"essential": True},
        iat={"essential": True},
    )
    public = key.key.public_key
    pyjwt_alg = alg if alg != "EdDSA" else "EdDSA"
    header, payload, signature = token.split(".")
    message = f"{header}.{payload}".encode()
    raw = b64url_decode(signature)

    def joserfc_decode() -> None:
        registry.validate(jose_jwt.decode(token, key.key, algorithms=[alg]).claims)

    def pyjwt_decode() -> None:
        pyjwt.decode(
            token,
            public,
            algorithms=[pyjwt_alg],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]},
        )

    if alg == "RS256":

        def primitive() -> None:
            public.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "ES256":
        der = utils.encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )

        def primitive() -> None:
            public.verify(der, message, ec.ECDSA(hashes.SHA256()))
    else:

        def primitive() -> None:
            public.verify(raw, message)

    return {
        "cryptography primitive": primitive,
        "joserfc decode+validate": joserfc_decode,
        "PyJWT decode": pyjwt_decode,
        "Tessera Verifier, cold": lambda: cold.verify(token),
        "Tessera Verifier, cache hit": lambda: warm.verify(token),
    }


def dpop_contenders() -> dict[str, Callable[[], Any]]:
    """A cold ES256 verify, a cold proof check, and a whole DPoP request to a verifier that
    has the token cached: the proof is what the request adds. Every call takes a fresh proof
    (made beforehand: the client's cost, not the server's)."""
    signing, key = generate_key("ES256"), ProofKey.generate("ES256")
    policy = AccessTokenPolicy(issuer=ISSUER, audience=AUDIENCE)
    now = time.time()
    token, _ = policy.mint(signing, sub="u", role="user", sid="s", now=now, ttl=3600, jkt=key.jkt)
    unbound, _ = policy.mint(signing, sub="u", role="user", sid="s", now=now, ttl=3600)
    jwks = {"keys": [signing.public_jwk()]}
    cold = Verifier.from_jwks(jwks, issuer=ISSUER, audience=AUDIENCE, cache_size=0)
    warm = Verifier.from_jwks(jwks, issuer=ISSUER, audience=AUDIENCE)
    checker = ProofChecker()

    def proofs() -> Any:
        made = [
            key.proof("GET", PROOF_URL, now=now, access_token=token)
            for _ in range(ROUNDS * NUMBER + 1)
        ]
        return iter(made)

    for_checker, for_request = proofs(), proofs()
    checker.check(next(for_checker), method="GET", url=PROOF_URL, now=now, access_token=token)
    warm.verify_dpop(token, next(for_request), method="GET", url=PROOF_URL)  # token cached

    def check() -> None:
        proof = next(for_checker)
        checker.check(proof, method="GET", url=PROOF_URL, now=now, access_token=token, jkt=key.jkt)

    return {
        "Tessera Verifier, cold": lambda: cold.verify(unbound),
        "proof check, cold": check,
        "verify_dpop, token cached": lambda: warm.verify_dpop(
            token, next(for_request), method="GET", url=PROOF_URL
        ),
    }


def rounds(fns: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """µs per call of each contender: the median of `ROUNDS` interleaved rounds."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(ROUNDS):
        for name, fn in fns.items():
            samples[name].append(timeit.timeit(fn, number=NUMBER) / NUMBER * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def measure(alg: str) -> dict[str, float]:
    return rounds(contenders(alg))


def measure_dpop() -> dict[str, float]:
    results = rounds(dpop_contenders())
    cold = results["Tessera Verifier, cold"]
    results["proof_vs_cold_verify"] = results["proof check, cold"] / cold
    results["dpop_request_vs_cold_verify"] = results["verify_dpop, token cached"] / cold
    return results


def dpop_markdown(r: dict[str, float]) -> list[str]:
    ratio = r["proof_vs_cold_verify"]
    return [
        "## DPoP proof check (ES256, µs per request, median of interleaved rounds)",
        "",
        "| cold verify of an access token | proof check, cold | DPoP request, token cached "
        "| proof / cold verify |",
        "| --- | --- | --- | --- |",
        f"| {r['Tessera Verifier, cold']:.1f} | {r['proof check, cold']:.1f} "
        f"| {r['verify_dpop, token cached']:.1f} | {ratio:.2f} |",
        "",
        "A fresh proof every time (replay cache in use), its key's import cached as for a "
        'returning client; "DPoP request, token cached" is `Verifier.verify_dpop` with the '
        "token already verified: the whole resource-side cost of a repeated DPoP request.",
        "",
        f"- proof check {ratio:.2f} x a cold verify (target <= {TARGET_PROOF_RATIO}: "
        f"{'pass' if ratio <= TARGET_PROOF_RATIO else 'FAIL'})",
    ]


def run() -> dict[str, Any]:
    results = {alg: measure(alg) for alg in ("RS256", "ES256", "EdDSA")}
    lines = [
        "## Verify cost (µs per token, median of interleaved rounds)",
        "",
        "| algorithm | primitive | joserfc | PyJWT | Tessera cold | cold / joserfc | cache hit |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    verdicts = []
    for alg, r in results.items():
        ratio = r["Tessera Verifier, cold"] / r["joserfc decode+validate"]
        hit = r["Tessera Verifier, cache hit"]
        r["cold_vs_joserfc"] = ratio
        lines.append(
            f"| {alg} | {r['cryptography primitive']:.1f} | {r['joserfc decode+validate']:.1f} "
            f"| {r['PyJWT decode']:.1f} | {r['Tessera Verifier, cold']:.1f} | {ratio:.2f} "
            f"| {hit:.2f} |"
        )
        verdicts.append(
            f"- {alg}: cold {ratio:.2f} x joserfc (target <= {TARGET_COLD_RATIO}: "
            f"{'pass' if ratio <= TARGET_COLD_RATIO else 'FAIL'}); cache hit {hit:.2f} us "
            f"(target <= {TARGET_HIT_US}: {'pass' if hit <= TARGET_HIT_US else 'FAIL'})"
        )
    dpop = measure_dpop()
    text = [*lines, "", *verdicts, "", *dpop_markdown(dpop)]
    return {"results": results, "dpop": dpop, "markdown": "\n".join(text)}


if __name__ == "__main__":
    print(run()["markdown"])
