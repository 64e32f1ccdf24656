"""Access-token policy: what is minted, and every refusal RFC 8725 asks for."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from tessera.tokens import AccessTokenPolicy, InvalidToken, SigningKey, generate_key

NOW = 1_800_000_000.0
POLICY = AccessTokenPolicy(issuer="https://auth.test", audience="api", leeway=10)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


@pytest.fixture(scope="module", params=["RS256", "ES256", "EdDSA", "HS256"])
def key(request: pytest.FixtureRequest) -> SigningKey:
    return generate_key(request.param)


def mint(key: SigningKey, **overrides: Any) -> str:
    token, _ = POLICY.mint(key, sub="user-1", role="user", sid="sess-1", now=NOW, ttl=600)
    if not overrides:
        return token
    header, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not DROP}
    return sign(key, json.loads(base64.urlsafe_b64decode(header + "==")), claims)


DROP = object()


def sign(key: SigningKey, header: dict[str, Any], claims: dict[str, Any] | str) -> str:
    payload = segment(claims) if isinstance(claims, dict) else b64(claims.encode())
    signing_input = segment(header) + "." + payload
    return signing_input + "." + b64(key.sign(signing_input.encode()))


def verify(key: SigningKey, token: object, now: float = NOW) -> Any:
    return POLICY.verify(token, {key.kid: key}.get, now)


def reason(key: SigningKey, token: object, now: float = NOW) -> str:
    with pytest.raises(InvalidToken) as caught:
        verify(key, token, now)
    return caught.value.reason


def test_minted_token_has_the_contract_shape(key: SigningKey) -> None:
    token = mint(key)
    header_segment, payload_segment, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_segment + "=="))
    claims = json.loads(base64.urlsafe_b64decode(payload_segment + "=="))
    assert header == {"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}
    assert set(claims) == {"iss", "aud", "sub", "role", "sid", "jti", "iat", "nbf", "exp"}
    assert claims["exp"] - claims["iat"] == 600
    assert claims["iat"] == claims["nbf"] == int(NOW)
    verified = verify(key, token)
    assert (verified.sub, verified.role, verified.sid) == ("user-1", "user", "sess-1")


def test_a_configured_client_id_is_minted_for_rfc_9068(key: SigningKey) -> None:
    policy = AccessTokenPolicy(issuer="https://auth.test", audience="api", client_id="web-app")
    token, claims = policy.mint(key, sub="user-1", role="user", sid="sess-1", now=NOW, ttl=600)
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["client_id"] == "web-app" == claims.as_dict()["client_id"]
    assert set(payload) == {"iss", "aud", "sub", "role", "sid", "jti", "iat", "nbf", "exp"} | {
        "client_id"
    }
    assert policy.verify(token, {key.kid: key}.get, NOW).extra == {"client_id": "web-app"}


def test_expiry_and_leeway(key: SigningKey) -> None:
    token = mint(key)
    assert verify(key, token, NOW + 600 + 9).sub == "user-1"
    assert reason(key, token, NOW + 600 + 10) == "expired"
    assert reason(key, token, NOW - 11) == "not_yet_valid"
    assert verify(key, token, NOW - 9).sub == "user-1"


def test_signature_is_checked(key: SigningKey) -> None:
    token = mint(key)
    header, payload, signature = token.split(".")
    forged_payload = segment(
        {**json.loads(base64.urlsafe_b64decode(payload + "==")), "role": "admin"}
    )
    assert reason(key, f"{header}.{forged_payload}.{signature}") == "bad_signature"
    other = generate_key(key.alg)
    resigned = sign(other, {"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}, "{}")
    assert reason(key, resigned) == "bad_signature"


@pytest.mark.parametrize(
    ("claim", "value", "expected"),
    [
        ("exp", DROP, "invalid_claim"),
        ("exp", "1800000600", "invalid_claim"),
        ("exp", True, "invalid_claim"),
        ("exp", None, "invalid_claim"),
        ("nbf", DROP, "invalid_claim"),
        ("iat", DROP, "invalid_claim"),
        ("sub", DROP, "invalid_claim"),
        ("sub", 42, "invalid_claim"),
        ("sub", "", "invalid_claim"),
        ("role", DROP, "invalid_claim"),
        ("sid", ["x"], "invalid_claim"),
        ("jti", DROP, "invalid_claim"),
        ("iss", "https://auth.test.evil", "wrong_issuer"),
        ("iss", "https://auth.tes", "wrong_issuer"),
        ("iss", DROP, "invalid_claim"),
        ("aud", "api2", "wrong_audience"),
        ("aud", "ａpi", "wrong_audience"),  # noqa: RUF001 - a look-alike is the point
        ("aud", DROP, "invalid_claim"),
        ("aud", [], "invalid_claim"),
        ("aud", 7, "invalid_claim"),
        ("exp", 1_800_000_000 + 10**9, "invalid_lifetime"),
        ("exp", 1_800_000_000, "invalid_lifetime"),
        ("iat", 1_800_000_100, "not_yet_valid"),
        ("exp", 10**400, "invalid_claim"),
        ("iat", -(10**300), "invalid_claim"),
        ("nbf", 2**60, "invalid_claim"),
    ],
)
def test_claim_checks(key: SigningKey, claim: str, value: Any, expected: str) -> None:
    assert reason(key, mint(key, **{claim: value})) == expected


def test_audience_list_containing_ours_is_accepted(key: SigningKey) -> None:
    assert verify(key, mint(key, aud=["other", "api"])).aud == ["other", "api"]


@pytest.mark.parametrize(
    ("header_change", "expected"),
    [
        ({"alg": "none"}, "wrong_algorithm"),
        ({"alg": "HS512"}, "wrong_algorithm"),
        ({"typ": "JWT"}, "wrong_type"),
        ({"typ": DROP}, "wrong_type"),
        ({"kid": "unknown"}, "unknown_key"),
        ({"kid": "../../etc/passwd"}, "unknown_key"),
        ({"kid": DROP}, "malformed"),
        ({"jku": "https://evil.example/jwks"}, "unsupported_header"),
        ({"jwk": {"kty": "oct", "k": "AAAA"}}, "unsupported_header"),
        ({"x5u": "https://evil.example/cert"}, "unsupported_header"),
        ({"x5c": ["MIIB"]}, "unsupported_header"),
        ({"crit": ["exp"]}, "unsupported_header"),
        ({"crit": []}, "unsupported_header"),
        ({"b64": False}, "unsupported_header"),
        ({"zip": "DEF"}, "unsupported_header"),
    ],
)
def test_header_checks(key: SigningKey, header_change: dict[str, Any], expected: str) -> None:
    header: dict[str, Any] = {"alg": key.alg, "kid": key.kid, "typ": "at+jwt", **header_change}
    header = {k: v for k, v in header.items() if v is not DROP}
    token, _ = POLICY.mint(key, sub="u", role="r", sid="s", now=NOW, ttl=60)
    payload = token.split(".")[1]
    signing_input = segment(header) + "." + payload
    forged = signing_input + "." + b64(key.sign(signing_input.encode()))
    assert reason(key, forged) == expected


def test_hmac_with_the_public_key_is_refused() -> None:
    rsa = generate_key("RS256")
    public = rsa.key.as_pem(private=False)
    token, _ = POLICY.mint(rsa, sub="u", role="r", sid="s", now=NOW, ttl=60)
    header = segment({"alg": "HS256", "kid": rsa.kid, "typ": "at+jwt"})
    signing_input = header + "." + token.split(".")[1]
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    assert reason(rsa, signing_input + "." + b64(mac)) == "wrong_algorithm"


@pytest.mark.parametrize(
    "token",
    [
        None,
        42,
        "",
        "a",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "....",
        "eyJ.eyJ.",
        "e30.e30.",
        "W10.e30.AA",  # header is an array
        "bnVsbA.e30.AA",  # header is null
        "e30=.e30.AA",  # padding
        "e30+.e30.AA",  # standard alphabet
        " e30.e30.AA",
        "x" * 9000,
    ],
)
def test_malformed_tokens(token: object) -> None:
    key = generate_key("HS256")
    assert reason(key, token) in {"malformed", "too_large", "wrong_type"}


def test_size_cap_is_checked_first() -> None:
    key = generate_key("HS256")
    assert reason(key, "a." + "b" * 9000 + ".c") == "too_large"


def test_hostile_json(key: SigningKey) -> None:
    base = {"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}
    duplicate_header = f'{{"alg":"none","alg":"{key.alg}","kid":"{key.kid}","typ":"at+jwt"}}'
    signing_input = b64(duplicate_header.encode()) + "." + segment({})
    token = signing_input + "." + b64(key.sign(signing_input.encode()))
    assert reason(key, token) == "malformed"
    good, _ = POLICY.mint(key, sub="u", role="r", sid="s", now=NOW, ttl=60)
    claims = json.loads(base64.urlsafe_b64decode(good.split(".")[1] + "=="))
    text = json.dumps(claims)[:-1] + ', "sub": "admin"}'
    assert reason(key, sign(key, base, text)) == "malformed"
    assert (
        reason(key, sign(key, base, json.dumps({**claims, "x": "NaN"}).replace('"NaN"', "NaN")))
        == "malformed"
    )
    assert reason(key, sign(key, base, '{"a":' + "[" * 2000 + "]" * 2000 + "}")) == "malformed"
    assert reason(key, sign(key, base, '"just a string"')) == "malformed"
    assert reason(
        key, sign(key, base, json.dumps({**claims, "exp": 1e400}).replace("Infinity", "1e400"))
    ) in {
        "invalid_claim",
        "malformed",
    }


def test_non_canonical_base64_is_refused(key: SigningKey) -> None:
    token = mint(key)
    header, payload, signature = token.split(".")
    # Flip unused low bits of the last character: same bytes, different string.
    last = signature[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    rest = len(signature) % 4
    if rest:
        tweaked = alphabet[alphabet.index(last) + 1]
        assert reason(key, f"{header}.{payload}.{signature[:-1]}{tweaked}") == "malformed"
