"""`Verifier` and DPoP-bound tokens (RFC 9449 §7): `verify_dpop` checks the proof on every call,
cache hit or not; `verify` (the Bearer scheme) refuses a bound token; the URL a proof must
name; parsing `Authorization` and `DPoP` headers."""

from __future__ import annotations

import pytest

from tessera import ManualClock
from tessera.dpop import InvalidProof, Nonces, ProofChecker, ProofKey, UseNonce
from tessera.tokens import AccessTokenPolicy, SigningKey, generate_key
from tessera.verify import InvalidToken, Verifier
from tessera.verify.credentials import BEARER, DPOP, credential_of, request_url
from tessera.verify.refusal import Refusal

ISSUER, AUDIENCE = "https://auth.test", "tessera-dpop-tests"
POLICY = AccessTokenPolicy(issuer=ISSUER, audience=AUDIENCE)
URL = "https://api.example/reports"
CLOCK_OFF = 600.0  # seconds a client's clock is behind: far outside the proof window


@pytest.fixture
def signing() -> SigningKey:
    return generate_key("ES256")


def verifier_for(signing: SigningKey, clock: ManualClock, **options: object) -> Verifier:
    jwks = {"keys": [signing.public_jwk()]}
    return Verifier.from_jwks(jwks, issuer=ISSUER, audience=AUDIENCE, clock=clock, **options)


def mint(signing: SigningKey, clock: ManualClock, key: ProofKey | None) -> str:
    jkt = key.jkt if key is not None else None
    return POLICY.mint(
        signing, sub="u-1", role="user", sid="s-1", now=clock.now(), ttl=600, jkt=jkt
    )[0]


def test_a_cached_token_never_skips_its_proof(signing: SigningKey, clock: ManualClock) -> None:
    verifier = verifier_for(signing, clock)
    key = ProofKey.generate()
    token = mint(signing, clock, key)
    proof = key.proof("GET", URL, now=clock.now(), access_token=token)
    claims = verifier.verify_dpop(token, proof, method="GET", url=URL)
    assert claims.jkt == key.jkt
    assert verifier.health()["cached_tokens"] == 1
    other = ProofKey.generate().proof("GET", URL, now=clock.now(), access_token=token)
    for bad, reason in ((None, "missing"), (proof, "replayed"), (other, "wrong_key")):
        with pytest.raises(InvalidProof) as caught:
            verifier.verify_dpop(token, bad, method="GET", url=URL)
        assert caught.value.reason == reason
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(token)  # the Bearer scheme, from the cache: refused all the same
    assert refused.value.reason == "dpop_bound"
    fresh = key.proof("GET", URL, now=clock.now(), access_token=token)
    assert verifier.verify_dpop(token, fresh, method="GET", url=URL) is claims


@pytest.mark.anyio
async def test_the_async_calls_hold_to_the_same_rules(
    signing: SigningKey, clock: ManualClock
) -> None:
    verifier = verifier_for(signing, clock)
    key = ProofKey.generate()
    token = mint(signing, clock, key)
    proof = key.proof("GET", URL, now=clock.now(), access_token=token)
    assert (await verifier.averify_dpop(token, proof, method="GET", url=URL)).sub == "u-1"
    with pytest.raises(InvalidProof):
        await verifier.averify_dpop(token, proof, method="GET", url=URL)
    with pytest.raises(InvalidToken):
        await verifier.averify(token)


def test_an_unbound_token_is_bearer_only(signing: SigningKey, clock: ManualClock) -> None:
    verifier = verifier_for(signing, clock)
    token = mint(signing, clock, None)
    assert verifier.verify(token).jkt is None
    proof = ProofKey.generate().proof("GET", URL, now=clock.now(), access_token=token)
    with pytest.raises(InvalidToken) as caught:
        verifier.verify_dpop(token, proof, method="GET", url=URL)
    assert caught.value.reason == "not_dpop_bound"


def test_the_proof_names_method_url_and_token(signing: SigningKey, clock: ManualClock) -> None:
    verifier = verifier_for(signing, clock)
    key = ProofKey.generate()
    token = mint(signing, clock, key)
    cases = [
        (key.proof("POST", URL, now=clock.now(), access_token=token), "wrong_method"),
        (key.proof("GET", URL + "/x", now=clock.now(), access_token=token), "wrong_url"),
        (key.proof("GET", URL, now=clock.now(), access_token=token + "x"), "wrong_token"),
        (key.proof("GET", URL, now=clock.now()), "wrong_token"),  # no ath at all
    ]
    for proof, reason in cases:
        with pytest.raises(InvalidProof) as caught:
            verifier.verify_dpop(token, proof, method="GET", url=URL)
        assert caught.value.reason == reason
    # htu is compared after normalisation; the query does not count.
    same = key.proof(
        "GET", "HTTPS://API.example:443/%72eports", now=clock.now(), access_token=token
    )
    verifier.verify_dpop(token, same, method="GET", url=URL + "?page=2")


def test_no_nonces_unless_given_some(signing: SigningKey, clock: ManualClock) -> None:
    key = ProofKey.generate()
    token = mint(signing, clock, key)
    behind = clock.now() - CLOCK_OFF
    plain = verifier_for(signing, clock)
    with pytest.raises(InvalidProof) as caught:
        plain.verify_dpop(
            token, key.proof("GET", URL, now=behind, access_token=token), method="GET", url=URL
        )
    assert caught.value.reason == "stale" and not isinstance(caught.value, UseNonce)

    nonces = Nonces(b"a secret this service shares with no one")
    with_nonces = verifier_for(signing, clock, proofs=ProofChecker(nonces=nonces))
    with pytest.raises(UseNonce) as asked:
        with_nonces.verify_dpop(
            token, key.proof("GET", URL, now=behind, access_token=token), method="GET", url=URL
        )
    retry = key.proof("GET", URL, now=behind, access_token=token, nonce=asked.value.nonce)
    assert with_nonces.verify_dpop(token, retry, method="GET", url=URL).sub == "u-1"


def test_the_accepted_algorithms_are_the_checkers(signing: SigningKey, clock: ManualClock) -> None:
    verifier = verifier_for(signing, clock, proofs=ProofChecker(algorithms=("ES256",)))
    key = ProofKey.generate("EdDSA")
    token = mint(signing, clock, key)
    with pytest.raises(InvalidProof) as caught:
        verifier.verify_dpop(
            token, key.proof("GET", URL, now=clock.now(), access_token=token), method="GET", url=URL
        )
    assert caught.value.reason == "bad_algorithm"


# the URL a proof names ---------------------------------------------------------------------


def test_request_url() -> None:
    assert (
        request_url("http://internal:8000/reports?x=1", "/reports")
        == "http://internal:8000/reports"
    )
    # Behind a proxy: the public scheme and host, and the prefix the proxy strips.
    public = "https://api.example/v2/"
    assert request_url("http://internal:8000/r", "/r", public) == "https://api.example/v2/r"
    # Frameworks give the path decoded: it is encoded again, unreserved characters kept.
    assert request_url("http://h", "/a b/~c/ü") == "http://h/a%20b/~c/%C3%BC"
    assert request_url("http://h", "") == "http://h/"


def test_verifier_public_url(signing: SigningKey, clock: ManualClock) -> None:
    verifier = verifier_for(signing, clock, public_url="https://api.example/")
    assert verifier.request_url("http://10.0.0.7:8080/reports", "/reports") == URL
    assert verifier_for(signing, clock).request_url("http://10.0.0.7:8080/r", "/r") == (
        "http://10.0.0.7:8080/r"
    )
    for bad in ("api.example", "ftp://api.example", "https://"):
        with pytest.raises(ValueError, match="public_url"):
            verifier_for(signing, clock, public_url=bad)


# parsing the headers -----------------------------------------------------------------------

ALGS = ("ES256",)


def test_credentials() -> None:
    assert credential_of("Bearer abc", ["p"], ALGS).scheme == BEARER
    dpop = credential_of("dpop abc", ["p"], ALGS)
    assert (dpop.scheme, dpop.token, dpop.proof) == (DPOP, "abc", "p")
    assert credential_of("DPoP abc", [], ALGS).proof is None
    # Two headers, or two joined by a WSGI server: two proofs, which is no proof.
    for headers in (["p", "q"], ["p, q"]):
        two = credential_of("DPoP abc", headers, ALGS)
        assert two.proofs == ("p", "q") and two.proof is None
    for header in ("Basic dTpw", "DPoP", "DPoP ", "Bearer"):
        with pytest.raises(Refusal) as caught:
            credential_of(header, [], ALGS)
        assert caught.value.error == "invalid_token"
    with pytest.raises(Refusal) as off:
        credential_of("DPoP abc", ["p"], None)  # DPoP not accepted
    assert off.value.description == "authorization header is not a bearer token"
    with pytest.raises(Refusal) as missing:
        credential_of(None, [], ALGS)
    assert missing.value.headers["WWW-Authenticate"] == 'Bearer realm="tessera", DPoP algs="ES256"'
