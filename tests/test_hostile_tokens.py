"""A corpus of hostile and broken access tokens (RFC 8725, RFC 7515/7519, published JWT library
advisories), each sent both to a protected route and to `Verifier.verify`: every one must be
refused — 401 with the contract's error shape and an RFC 6750 challenge, or `InvalidToken` —
never a 5xx and never another exception."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import utils

from tessera import ManualClock, Tessera, create_app
from tessera.tokens import InvalidToken, SigningKey, generate_key
from tessera.verify import Verifier
from tests.conftest import make_settings
from tests.live import run_async

ISSUER, AUDIENCE = "https://auth.test", "tessera-tests"
P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def seg(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


class Forge:
    """Builds hostile tokens around one real key and one real, valid token."""

    def __init__(self, key: SigningKey, now: float) -> None:
        self.key = key
        self.now = int(now)
        self.header = {"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}
        self.claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "role": "user",
            "sid": "session-1",
            "jti": "jti-1",
            "iat": self.now,
            "nbf": self.now,
            "exp": self.now + 600,
        }

    def signed(
        self,
        header: dict[str, Any] | None = None,
        claims: Any = None,
        raw_payload: str | None = None,
    ) -> str:
        h = seg(header if header is not None else self.header)
        p = (
            raw_payload
            if raw_payload is not None
            else seg(self.claims if claims is None else claims)
        )
        return f"{h}.{p}.{b64(self.key.sign(f'{h}.{p}'.encode()))}"

    def claim(self, **changes: Any) -> str:
        claims = {k: v for k, v in {**self.claims, **changes}.items() if v is not DROP}
        return self.signed(claims=claims)

    def head(self, **changes: Any) -> str:
        header = {k: v for k, v in {**self.header, **changes}.items() if v is not DROP}
        return self.signed(header=header)

    def hmac_with(self, secret: bytes, alg: str = "HS256") -> str:
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        h = seg({**self.header, "alg": alg})
        p = seg(self.claims)
        return f"{h}.{p}.{b64(hmac.new(secret, f'{h}.{p}'.encode(), digest).digest())}"

    def with_signature(self, signature: bytes, header: dict[str, Any] | None = None) -> str:
        return f"{seg(header or self.header)}.{seg(self.claims)}.{b64(signature)}"


DROP = object()


def corpus(rsa: Forge, ec: Forge) -> Iterator[tuple[str, str, Forge]]:
    """(name, token, whose key should verify it) for every attack."""
    good = rsa.signed()
    h, p, s = good.split(".")
    public = rsa.key.key.public_key
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pkcs1 = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk_json = json.dumps(rsa.key.public_jwk()).encode()
    n = public.public_numbers().n.to_bytes(256, "big")

    # alg none, in every spelling, with and without a signature
    for spelling in ("none", "None", "NONE", "nOnE"):
        yield f"alg-{spelling}", f"{seg({**rsa.header, 'alg': spelling})}.{p}.", rsa
        yield f"alg-{spelling}-with-sig", f"{seg({**rsa.header, 'alg': spelling})}.{p}.{s}", rsa
    # HMAC keyed with our public key, in every encoding (algorithm confusion)
    for name, secret in (
        ("pem", pem),
        ("pkcs1", pkcs1),
        ("der", der),
        ("jwk", jwk_json),
        ("n", n),
        ("pem-stripped", pem.strip()),
        ("n-b64", b64(n).encode()),
    ):
        for alg in ("HS256", "HS384", "HS512"):
            yield f"hmac-{alg}-{name}", rsa.hmac_with(secret, alg), rsa
    # an alg that is not the one bound to the kid
    for alg in ("RS384", "RS512", "PS256", "ES256", "EdDSA", "Ed25519"):
        yield f"alg-mismatch-{alg}", rsa.head(alg=alg), rsa
    # JWE and nested JWTs where a JWS is expected
    jwe_header = seg({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": rsa.key.kid})
    jwe = ".".join([jwe_header, *(b64(part) for part in (b"k", b"iv", b"ct", b"tag"))])
    yield "jwe-5-segments", jwe, rsa
    yield (
        "nested-cty-jwt",
        rsa.signed(header={**rsa.header, "cty": "JWT"}, raw_payload=b64(good.encode())),
        rsa,
    )
    # ECDSA signatures that are zero, out of range, DER-encoded or of the wrong length
    eh, ep, es = ec.signed().split(".")
    raw = base64.urlsafe_b64decode(es + "==")
    r, sv = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    yield "ecdsa-zero", f"{eh}.{ep}.{b64(bytes(64))}", ec
    yield "ecdsa-r-s-equal-n", f"{eh}.{ep}.{b64(P256_ORDER.to_bytes(32, 'big') * 2)}", ec
    yield "ecdsa-r-zero", f"{eh}.{ep}.{b64(bytes(32) + raw[32:])}", ec
    yield "ecdsa-der", f"{eh}.{ep}.{b64(utils.encode_dss_signature(r, sv))}", ec
    yield "ecdsa-short", f"{eh}.{ep}.{b64(raw[:63])}", ec
    longer = b64(raw + bytes(1))
    yield "ecdsa-long", f"{eh}.{ep}.{longer}", ec
    yield "ecdsa-double", f"{eh}.{ep}.{b64(raw * 2)}", ec
    yield "ecdsa-other-payload", f"{eh}.{seg({**ec.claims, 'role': 'admin'})}.{es}", ec
    # kid traversal, injection, oversized, wrong types; unknown kids
    for name, kid in (
        ("traversal", "../../../etc/passwd"),
        ("sql", "' OR 1=1 --"),
        ("url", "https://evil.example/k"),
        ("nul", "k\u0000id"),
        ("long", "k" * 5000),
        ("empty", ""),
        ("unicode", "ключ"),
        ("int", 7),
        ("list", [rsa.key.kid]),
        ("null", None),
        ("random", "abcdefghijklmnop"),
    ):
        yield f"kid-{name}", rsa.head(kid=kid), rsa
    yield "kid-missing", rsa.head(kid=DROP), rsa
    # header-supplied keys
    for name, value in (
        ("jwk", rsa.key.public_jwk()),
        ("jku", "https://evil.example/jwks.json"),
        ("x5u", "https://evil.example/cert.pem"),
        ("x5c", ["MIIBIjAN"]),
        ("x5t", "abc"),
    ):
        yield f"header-{name}", rsa.head(**{name: value}), rsa
    # crit, b64, zip
    yield "crit-exp", rsa.head(crit=["exp"]), rsa
    yield "crit-empty", rsa.head(crit=[]), rsa
    yield "b64-false", rsa.head(b64=False, crit=["b64"]), rsa
    yield "zip-def", rsa.head(zip="DEF"), rsa
    # typ: wrong or missing
    for name, typ in (
        ("JWT", "JWT"),
        ("jwt", "jwt"),
        ("id", "id_token+jwt"),
        ("missing", DROP),
        ("int", 1),
    ):
        yield f"typ-{name}", rsa.head(typ=typ), rsa
    # segment count, padding, alphabet and non-canonical base64
    yield "segments-2", f"{h}.{p}", rsa
    yield "segments-4", f"{h}.{p}.{s}.{s}", rsa
    yield "segments-empty-sig", f"{h}.{p}.", rsa
    yield "segments-empty-header", f".{p}.{s}", rsa
    yield "segments-trailing-dot", f"{good}.", rsa
    yield "padding", f"{h}=.{p}.{s}", rsa
    yield "padding-sig", f"{h}.{p}.{s}==", rsa
    yield (
        "alphabet-std",
        good.replace("-", "+").replace("_", "/") if ("-" in good or "_" in good) else good + "+",
        rsa,
    )
    yield "whitespace", f"{h}. {p}.{s}", rsa
    yield "newline-inside", f"{h}.\n{p}.{s}", rsa
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if len(s) % 4:
        yield "non-canonical-sig", f"{h}.{p}.{s[:-1]}{last[last.index(s[-1]) + 1]}", rsa
    yield "non-ascii", f"{h}.{p}é.{s}", rsa
    # hostile JSON
    yield "header-array", rsa.signed(header=[rsa.header]), rsa
    quoted = b64(b'"x"')
    yield "header-string", f"{quoted}.{p}.{s}", rsa
    yield "payload-array", rsa.signed(claims=[rsa.claims]), rsa
    yield "payload-null", rsa.signed(raw_payload=b64(b"null")), rsa
    dup = json.dumps(rsa.claims)[:-1] + ', "sub": "admin"}'
    yield "payload-duplicate", rsa.signed(raw_payload=b64(dup.encode())), rsa
    dup_header = f'{{"alg":"none","alg":"{rsa.key.alg}","kid":"{rsa.key.kid}","typ":"at+jwt"}}'
    yield "header-duplicate", f"{b64(dup_header.encode())}.{p}.{s}", rsa
    exp_text = f'"exp": {rsa.claims["exp"]}'
    for name, number in (("nan", "NaN"), ("infinity", "Infinity"), ("1e400", "1e400")):
        text = json.dumps(rsa.claims).replace(exp_text, f'"exp": {number}')
        yield f"payload-{name}", rsa.signed(raw_payload=b64(text.encode())), rsa
    yield (
        "payload-deep",
        rsa.signed(raw_payload=b64(b'{"a":' + b"[" * 1500 + b"]" * 1500 + b"}")),
        rsa,
    )
    yield "payload-invalid-utf8", rsa.signed(raw_payload=b64(b'{"sub":"\xff\xfe"}')), rsa
    yield (
        "payload-bom",
        rsa.signed(raw_payload=b64(b"\xef\xbb\xbf" + json.dumps(rsa.claims).encode())),
        rsa,
    )
    yield "oversized", rsa.claim(pad="x" * 9000), rsa
    # every claim missing, null, or of the wrong type
    for name in ("iss", "aud", "sub", "role", "sid", "jti", "iat", "nbf", "exp"):
        yield f"claim-{name}-missing", rsa.claim(**{name: DROP}), rsa
        yield f"claim-{name}-null", rsa.claim(**{name: None}), rsa
        yield f"claim-{name}-wrong-type", rsa.claim(**{name: {"x": 1}}), rsa
    yield "exp-string", rsa.claim(exp=str(rsa.claims["exp"])), rsa
    yield "exp-bool", rsa.claim(exp=True), rsa
    yield "expired", rsa.claim(iat=rsa.now - 700, nbf=rsa.now - 700, exp=rsa.now - 100), rsa
    yield "not-yet-valid", rsa.claim(nbf=rsa.now + 100), rsa
    yield (
        "issued-in-future",
        rsa.claim(iat=rsa.now + 100, nbf=rsa.now + 100, exp=rsa.now + 700),
        rsa,
    )
    yield "absurd-lifetime", rsa.claim(exp=rsa.now + 10 * 365 * 86400), rsa
    yield "exp-before-iat", rsa.claim(exp=rsa.now - 1), rsa
    # wrong iss/aud, including look-alikes
    for name, iss in (
        ("other", "https://evil.test"),
        ("prefix", "https://auth.test.evil"),
        ("slash", "https://auth.test/"),
        ("case", "https://AUTH.test"),
        ("cyrillic", "https://\u0430uth.test"),
        ("list", [ISSUER]),
    ):
        yield f"iss-{name}", rsa.claim(iss=iss), rsa
    for name, aud in (
        ("other", "other-api"),
        ("cyrillic", "tessera-t\u0435sts"),
        ("fullwidth", "\uff54essera-tests"),
        ("list-without", ["a", "b"]),
        ("empty-list", []),
        ("empty", ""),
    ):
        yield f"aud-{name}", rsa.claim(aud=aud), rsa
    # other kinds of token presented as an access token
    yield "refresh-token", "tsr1_" + "A" * 43, rsa
    yield (
        "id-token",
        rsa.signed(
            header={**rsa.header, "typ": "JWT"},
            claims={**rsa.claims, "aud": "client-app", "nonce": "n"},
        ),
        rsa,
    )
    yield (
        "signed-by-another-key",
        Forge(generate_key("RS256"), rsa.now).signed(header=rsa.header),
        rsa,
    )


@pytest.fixture(scope="module")
def setting(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Tessera, Forge, Forge, Verifier, ManualClock]]:
    clock = ManualClock()
    service = Tessera(make_settings(tmp_path_factory.mktemp("hostile") / "d"), clock=clock)
    run_async(service.start())
    rsa = Forge(service.keys.signing_key(), clock.now())
    ec_key = generate_key("ES256")
    ec = Forge(ec_key, clock.now())
    jwks = {"keys": [*service.keys.jwks()["keys"], ec_key.public_jwk()]}
    verifier = Verifier.from_jwks(jwks, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    yield service, rsa, ec, verifier, clock
    run_async(service.close())


def test_corpus_is_large_enough(
    setting: tuple[Tessera, Forge, Forge, Verifier, ManualClock],
) -> None:
    _, rsa, ec, verifier, _ = setting
    cases = list(corpus(rsa, ec))
    assert len(cases) >= 60
    assert len({name for name, _, _ in cases}) == len(cases)
    # Sanity: the forge itself makes valid tokens, so refusals below are the attacks' doing.
    assert verifier.verify(rsa.signed()).sub == "user-1"
    assert verifier.verify(ec.signed()).sub == "user-1"


def test_every_hostile_token_is_refused(
    setting: tuple[Tessera, Forge, Forge, Verifier, ManualClock],
) -> None:
    service, rsa, ec, verifier, _ = setting
    app = create_app(service)
    failures: list[str] = []

    async def probe() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
            for name, token, _ in corpus(rsa, ec):
                try:
                    verifier.verify(token)
                    failures.append(f"{name}: Verifier accepted it")
                except InvalidToken:
                    pass
                except Exception as exc:  # noqa: BLE001 - the point is to catch anything else
                    failures.append(f"{name}: Verifier raised {type(exc).__name__}: {exc}")
                try:
                    header = ("Bearer " + token).encode("utf-8", "surrogateescape")
                    response = await client.get("/api/me", headers={"Authorization": header})
                except httpx.LocalProtocolError:
                    continue  # not even sendable as a header (a newline): nothing reaches us
                body = (
                    response.json()
                    if response.headers.get("content-type", "").startswith("application/json")
                    else {}
                )
                if response.status_code != 401 or body.get("error") != "invalid_token":
                    failures.append(
                        f"{name}: /api/me answered {response.status_code} {response.text[:120]}"
                    )
                elif not response.headers.get("www-authenticate", "").startswith("Bearer"):
                    failures.append(f"{name}: no WWW-Authenticate challenge")

    run_async(probe())
    assert failures == []
