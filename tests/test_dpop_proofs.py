"""DPoP proofs (RFC 9449 §4.3), checked one rule at a time: RFC 9449's own examples verify,
and every way a proof can be wrong is refused with its own reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from joserfc.jwk import ECKey, OKPKey, RSAKey

from tessera.dpop import (
    InvalidProof,
    Nonces,
    ProofChecker,
    ProofKey,
    SeenProofs,
    UseNonce,
    access_token_hash,
    normalize_htu,
    thumbprint,
)
from tessera.dpop.keys import verify_signature
from tessera.tokens.strict_json import b64url_encode, dumps_compact

# RFC 9449, Figure 3 (a token request's proof) and Figure 13 (a resource request's), with the
# key's thumbprint (§6.1) and the access token the second is for (Figure 12).
RFC_TOKEN_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNo"
    "UklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERW"
    "clUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0"
    "dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-"
    "FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
RFC_RESOURCE_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNo"
    "UklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERW"
    "clUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1"
    "IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwi"
    "YXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey7"
    "1EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)
RFC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
RFC_ACCESS_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
RFC_TOKEN_IAT = 1562262616
NOW = 1_800_000_000.0
URL = "https://auth.example/auth/refresh"
SECRET = b"a shared secret of every replica, 32+ bytes long"


def test_rfc_9449s_examples_verify() -> None:
    checker = ProofChecker()
    proof = checker.check(
        RFC_TOKEN_PROOF,
        method="POST",
        url="https://server.example.com/token",
        now=RFC_TOKEN_IAT + 1,
    )
    assert (proof.jkt, proof.jti, proof.alg) == (RFC_JKT, "-BwC3ESc6acc2lTc", "ES256")
    assert access_token_hash(RFC_ACCESS_TOKEN) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    resource = checker.check(
        RFC_RESOURCE_PROOF,
        method="GET",
        url="https://resource.example.org/protectedresource",
        now=RFC_TOKEN_IAT + 3,
        access_token=RFC_ACCESS_TOKEN,
        jkt=RFC_JKT,
    )
    assert resource.ath == access_token_hash(RFC_ACCESS_TOKEN)


def forged(
    key: ProofKey,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    """A proof by `key` whose header and claims are changed as given."""
    base_header: dict[str, Any] = {"typ": "dpop+jwt", "alg": key.alg, "jwk": key.public_jwk}
    base_claims: dict[str, Any] = {"jti": "j-1", "htm": "POST", "htu": URL, "iat": int(NOW)}
    base_header.update(header or {})
    base_claims.update(claims or {})
    for name in drop:
        base_header.pop(name, None)
        base_claims.pop(name, None)
    signing_input = (
        b64url_encode(dumps_compact(base_header)) + "." + b64url_encode(dumps_compact(base_claims))
    )
    signature = key._algorithm.sign(signing_input.encode(), key.key)
    return signing_input + "." + b64url_encode(signature)


KEY = ProofKey.generate()
OTHER = ProofKey.generate()
PRIVATE_JWK = KEY.private_jwk()
with pytest.warns(UserWarning):  # joserfc's own warning: it is too small
    RSA_1024 = RSAKey.generate_key(1024, private=False)


# A huge public exponent would make each junk signature cost a private-key operation.
HUGE_E = {**RSAKey.generate_key(2048, private=False).as_dict(), "e": b64url_encode(b"\x01" * 300)}


def replace_signature(proof: str) -> str:
    head, body, _ = proof.split(".")
    return f"{head}.{body}.{b64url_encode(bytes(64))}"


REFUSED: list[tuple[str, Callable[[], str], str]] = [
    ("not three parts", lambda: "abc.def", "malformed"),
    ("not base64url", lambda: "a*b.c.d", "malformed"),
    ("duplicate header member", lambda: "eyJ0eXAiOiJhIiwidHlwIjoiYiJ9.e30.AA", "malformed"),
    ("too large", lambda: "a" * 5000, "malformed"),
    ("typ is a JWT", lambda: forged(KEY, {"typ": "JWT"}), "wrong_type"),
    ("no typ", lambda: forged(KEY, drop=("typ",)), "wrong_type"),
    ("alg none", lambda: forged(KEY, {"alg": "none"}), "bad_algorithm"),
    ("alg HS256", lambda: forged(KEY, {"alg": "HS256"}), "bad_algorithm"),
    ("a kid header too", lambda: forged(KEY, {"kid": "k1"}), "bad_header"),
    ("a jku header", lambda: forged(KEY, {"jku": "https://evil/jwks"}), "bad_header"),
    ("no jwk", lambda: forged(KEY, drop=("jwk",)), "bad_key"),
    ("a private jwk", lambda: forged(KEY, {"jwk": PRIVATE_JWK}), "private_key"),
    ("a symmetric jwk", lambda: forged(KEY, {"jwk": {"kty": "oct", "k": "AAAA"}}), "private_key"),
    (
        "another curve",
        lambda: forged(KEY, {"jwk": ECKey.generate_key("P-384").as_dict(private=False)}),
        "bad_key",
    ),
    (
        "an RSA key of 1024 bits",
        lambda: forged(KEY, {"alg": "RS256", "jwk": RSA_1024.as_dict()}),
        "bad_key",
    ),
    ("another key's jwk", lambda: forged(KEY, {"jwk": OTHER.public_jwk}), "bad_signature"),
    ("an RSA exponent not 65537", lambda: forged(KEY, {"alg": "RS256", "jwk": HUGE_E}), "bad_key"),
    ("a zero signature", lambda: replace_signature(forged(KEY)), "bad_signature"),
    ("no jti", lambda: forged(KEY, drop=("jti",)), "bad_claims"),
    ("a long jti", lambda: forged(KEY, claims={"jti": "j" * 257}), "bad_claims"),
    ("htm GET", lambda: forged(KEY, claims={"htm": "GET"}), "wrong_method"),
    ("htm post", lambda: forged(KEY, claims={"htm": "post"}), "wrong_method"),
    (
        "htu elsewhere",
        lambda: forged(KEY, claims={"htu": "https://evil.example/auth/refresh"}),
        "wrong_url",
    ),
    (
        "htu another path",
        lambda: forged(KEY, claims={"htu": "https://auth.example/auth/login"}),
        "wrong_url",
    ),
    (
        "htu http",
        lambda: forged(KEY, claims={"htu": "http://auth.example/auth/refresh"}),
        "wrong_url",
    ),
    ("htu relative", lambda: forged(KEY, claims={"htu": "/auth/refresh"}), "wrong_url"),
    ("iat a string", lambda: forged(KEY, claims={"iat": "1800000000"}), "bad_claims"),
    ("iat true", lambda: forged(KEY, claims={"iat": True}), "bad_claims"),
    ("iat old", lambda: forged(KEY, claims={"iat": int(NOW) - 120}), "stale"),
    ("iat ahead", lambda: forged(KEY, claims={"iat": int(NOW) + 60}), "stale"),
    ("nonce a number", lambda: forged(KEY, claims={"nonce": 5}), "bad_claims"),
]


@pytest.mark.parametrize(("make", "reason"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_every_broken_rule_is_refused_with_its_reason(make: Callable[[], str], reason: str) -> None:
    with pytest.raises(InvalidProof) as refused:
        ProofChecker().check(make(), method="POST", url=URL, now=NOW)
    assert refused.value.reason == reason
    assert refused.value.error == "invalid_dpop_proof"


def test_a_proof_is_accepted_once() -> None:
    checker = ProofChecker()
    proof = KEY.proof("POST", URL, now=NOW)
    assert checker.check(proof, method="POST", url=URL, now=NOW).jkt == KEY.jkt
    with pytest.raises(InvalidProof, match="already used"):
        checker.check(proof, method="POST", url=URL, now=NOW + 1)
    # Another process (another replica) remembers only its own.
    assert ProofChecker().check(proof, method="POST", url=URL, now=NOW + 1).jkt == KEY.jkt


def test_the_replay_cache_forgets_after_the_window_and_stays_bounded() -> None:
    seen = SeenProofs(max_entries=3)
    assert seen.first_use("a", until=10, now=0)
    assert not seen.first_use("a", until=10, now=5)
    assert seen.first_use("a", until=30, now=11)  # forgotten once its window ended
    for key in ("b", "c", "d"):
        assert seen.first_use(key, until=40, now=12)
    assert len(seen) == 3


def test_the_access_token_and_the_bound_key_must_match() -> None:
    checker = ProofChecker()
    token = "header.payload.signature"
    proof = KEY.proof("GET", "https://api.example/me", now=NOW, access_token=token)
    with pytest.raises(InvalidProof) as wrong_token:
        checker.check(
            proof, method="GET", url="https://api.example/me", now=NOW, access_token="x.y.z"
        )
    assert wrong_token.value.reason == "wrong_token"
    with pytest.raises(InvalidProof) as wrong_key:
        checker.check(
            proof,
            method="GET",
            url="https://api.example/me",
            now=NOW,
            access_token=token,
            jkt=OTHER.jkt,
        )
    assert wrong_key.value.reason == "wrong_key"
    without_ath = KEY.proof("GET", "https://api.example/me", now=NOW)
    with pytest.raises(InvalidProof, match="not for this access token"):
        checker.check(
            without_ath, method="GET", url="https://api.example/me", now=NOW, access_token=token
        )
    accepted = checker.check(
        proof, method="GET", url="https://api.example/me", now=NOW, access_token=token, jkt=KEY.jkt
    )
    assert accepted.ath == access_token_hash(token)


def test_nonces_are_required_when_asked_and_expire() -> None:
    nonces = Nonces(SECRET)
    checker = ProofChecker(nonces=nonces, require_nonce=True)
    with pytest.raises(UseNonce) as asked:
        checker.check(KEY.proof("POST", URL, now=NOW), method="POST", url=URL, now=NOW)
    assert asked.value.error == "use_dpop_nonce"
    nonce = asked.value.nonce
    assert Nonces(SECRET).valid(nonce, NOW + 10)  # any replica with the secret accepts it
    assert not Nonces(b"another deployment's secret......").valid(nonce, NOW)
    proof = KEY.proof("POST", URL, now=NOW, nonce=nonce)
    assert checker.check(proof, method="POST", url=URL, now=NOW + 1).nonce == nonce
    expired = KEY.proof("POST", URL, now=NOW + 400, nonce=nonce)
    with pytest.raises(UseNonce) as again:
        checker.check(expired, method="POST", url=URL, now=NOW + 400)
    assert again.value.nonce != nonce and nonces.valid(again.value.nonce, NOW + 400)
    tampered = nonce[:-2] + ("AA" if not nonce.endswith("AA") else "BA")
    with pytest.raises(UseNonce):
        checker.check(
            KEY.proof("POST", URL, now=NOW, nonce=tampered), method="POST", url=URL, now=NOW
        )


def test_a_client_whose_clock_is_off_recovers_with_a_nonce() -> None:
    """iat ten minutes behind: refused with a nonce, then accepted with it."""
    checker = ProofChecker(nonces=Nonces(SECRET))
    skewed = NOW - 600
    with pytest.raises(UseNonce) as asked:
        checker.check(KEY.proof("POST", URL, now=skewed), method="POST", url=URL, now=NOW)
    proof = KEY.proof("POST", URL, now=skewed, nonce=asked.value.nonce)
    assert checker.check(proof, method="POST", url=URL, now=NOW).jkt == KEY.jkt


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("HTTPS://Auth.Example:443/auth/refresh", "https://auth.example/auth/refresh"),
        ("https://auth.example/auth/refresh?x=1#frag", "https://auth.example/auth/refresh"),
        ("https://auth.example:8443/a/%7euser/./b/../c", "https://auth.example:8443/a/~user/c"),
        ("http://[::1]:80/x%2fy", "http://[::1]/x%2Fy"),
        ("https://auth.example", "https://auth.example/"),
        ("ftp://auth.example/x", None),
        ("https://user:pw@auth.example/x", None),
        ("https://auth.example:99999/x", None),
        ("/auth/refresh", None),
    ],
)
def test_htu_is_compared_after_normalisation(given: str, normal: str | None) -> None:
    assert normalize_htu(given) == normal


def test_thumbprints_follow_rfc_7638() -> None:
    """RFC 9449's example key has the thumbprint RFC 9449 gives (above); every key type agrees
    with joserfc's own RFC 7638 implementation, whatever members the JWK also carries."""
    keys = [ECKey.generate_key("P-256"), RSAKey.generate_key(2048), OKPKey.generate_key("Ed25519")]
    for key in keys:
        jwk = {**key.as_dict(private=False), "alg": "x", "kid": "y", "use": "sig"}
        assert thumbprint(jwk) == key.thumbprint()
    assert KEY.jkt == thumbprint(KEY.public_jwk)


def test_keys_survive_being_saved() -> None:
    saved = json.loads(json.dumps(KEY.private_jwk()))
    again = ProofKey.from_private_jwk(saved)
    assert again.jkt == KEY.jkt
    proof = again.proof("POST", URL, now=NOW)
    assert ProofChecker().check(proof, method="POST", url=URL, now=NOW).jkt == KEY.jkt


def test_eddsa_keys_sign_proofs_too() -> None:
    key = ProofKey.generate("EdDSA")
    proof = key.proof("POST", URL, now=NOW)
    assert ProofChecker().check(proof, method="POST", url=URL, now=NOW).alg == "EdDSA"
    assert not verify_signature("EdDSA", key.key, b"other", b"\0" * 64)


def test_only_asymmetric_algorithms_can_be_configured() -> None:
    with pytest.raises(ValueError, match="HS256"):
        ProofChecker(algorithms=("ES256", "HS256"))
    checker = ProofChecker(algorithms=("RS256",))
    with pytest.raises(InvalidProof) as refused:
        checker.check(KEY.proof("POST", URL, now=NOW), method="POST", url=URL, now=NOW)
    assert refused.value.reason == "bad_algorithm"
