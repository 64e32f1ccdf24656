"""Verify cost per algorithm: Tessera's `Verifier` cold and on a cache hit, against joserfc's
and PyJWT's decode-and-validate of the same token, with the raw `cryptography` signature check
as the floor. Runs are interleaved (each round times every contender once), medians reported."""

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

from tessera.tokens import AccessTokenPolicy, generate_key
from tessera.tokens.strict_json import b64url_decode
from tessera.verify import Verifier

ISSUER, AUDIENCE = "https://bench.tessera", "bench-api"
ROUNDS, NUMBER = 15, 300
TARGET_COLD_RATIO, TARGET_HIT_US = 1.15, 3.0


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


def measure(alg: str) -> dict[str, float]:
    fns = contenders(alg)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(ROUNDS):
        for name, fn in fns.items():
            samples[name].append(timeit.timeit(fn, number=NUMBER) / NUMBER * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


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
    return {"results": results, "markdown": "\n".join([*lines, "", *verdicts])}


if __name__ == "__main__":
    print(run()["markdown"])
