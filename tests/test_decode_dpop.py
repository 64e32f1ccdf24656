"""`tessera decode` and DPoP, over the real command (typer's runner with a frozen clock, and the
console script once): a bound token's `cnf.jkt`, and a DPoP proof decoded as one — its
request, its key's RFC 7638 thumbprint, its age against the 60 s window, never an expiry —
with a private key in its `jwk` flagged loudly. The wording both decoders share is held by
the cases table (tests/test_inspection_cases.py); this is the command around it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tessera.dpop import ProofKey, access_token_hash
from tessera.tokens import generate_key
from tessera.tokens.strict_json import b64url_encode
from tests.decode_support import NOW, POLICY, freeze, run
from tests.test_decode import JSON_KEYS

SCRIPT = Path(sys.executable).with_name("tessera")
URL = "https://api.example/orders"
KEY = ProofKey.generate()


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch)


def forged_proof(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A proof of exactly this header and these claims (unsigned: the decoder checks no
    proof's signature)."""
    segments = (json.dumps(part).encode() for part in (header, claims))
    return ".".join(b64url_encode(segment) for segment in segments) + ".c2ln"


def test_a_proof_shows_its_request_key_and_age() -> None:
    token = "an.access.token"
    proof = KEY.proof("POST", URL + "?page=2", now=NOW - 12, access_token=token)
    result = run(proof)
    assert result.code == 0, result
    assert "DPoP proof" in result.out and "not a token" in result.out
    assert "  htm       POST" in result.out
    assert f"  htu       {URL}" in result.out  # without the query, as ProofKey makes it
    assert f"  ath       {access_token_hash(token)}" in result.out
    assert f"EC P-256, thumbprint {KEY.jkt} (RFC 7638)" in result.out
    assert "issued 12 s ago: within the 60 s window" in result.out
    status = result.out.rstrip().splitlines()[-1]
    assert status.startswith("FRESH DPoP PROOF (issued 12 s ago; within the 60 s window)")
    assert "signature not checked (a DPoP proof is signed by the key in its header)" in status
    assert "Warnings" not in result.out
    assert "expires" not in result.out


def test_a_proof_older_than_the_window_is_stale_and_exits_1() -> None:
    result = run(KEY.proof("GET", URL, now=NOW - 61))
    assert result.code == 1, result
    status = result.out.rstrip().splitlines()[-1]
    assert status.startswith("STALE DPoP PROOF (issued 1 m 1 s ago; outside the 60 s window)")
    assert run("--leeway", "5", KEY.proof("GET", URL, now=NOW - 61)).code == 0


def test_a_proof_from_the_future_exits_1() -> None:
    result = run(KEY.proof("GET", URL, now=NOW + 30))
    assert result.code == 1, result
    assert "iat is 30 s in the future: the client's clock and this one disagree" in result.out
    assert result.out.rstrip().splitlines()[-1].startswith("DPoP PROOF FROM THE FUTURE")


def test_an_exp_in_a_proof_is_no_validity_period() -> None:
    """A proof whose exp is long past is still judged by its iat, and one whose exp is far
    ahead does not become "valid until" then."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.public_jwk}
    for exp in (NOW - 3600, NOW + 86400):
        claims = {"jti": "j", "htm": "GET", "htu": URL, "iat": NOW - 5, "exp": exp}
        result = run(forged_proof(header, claims))
        assert result.code == 0, result
        assert "the proof carries exp: a proof is not a token" in result.out
        assert "expire" not in result.out and "exp (" not in result.out
        assert result.out.rstrip().splitlines()[-1].startswith("FRESH DPoP PROOF")


def test_a_private_key_in_a_proof_is_flagged_loudly_and_exits_2() -> None:
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.private_jwk()}
    result = run(forged_proof(header, {"jti": "j", "htm": "GET", "htu": URL, "iat": NOW}))
    assert result.code == 2, result
    assert 'THE PROOF\'S jwk HOLDS A PRIVATE KEY ("d")' in result.out
    assert "HOLDS A PRIVATE KEY: exposed" in result.out
    assert f"thumbprint {KEY.jkt}" in result.out  # of its public part, all the same
    assert result.out.rstrip().splitlines()[-1].startswith("PRIVATE KEY EXPOSED IN A DPoP PROOF")
    body = run("--json", forged_proof(header, {"iat": NOW})).json()
    assert body["proof"]["private_key"] is True


def test_a_proof_as_json() -> None:
    proof = KEY.proof("DELETE", URL, now=NOW - 3, nonce="n-1")
    result = run("--json", proof)
    assert result.code == 0, result
    body = result.json()
    assert set(body) == JSON_KEYS
    assert body["kind"] == "dpop_proof" and body["status"] == "fresh"
    assert body["bound_to"] is None
    facts = body["proof"]
    assert facts["htm"] == "DELETE" and facts["htu"] == URL and facts["nonce"] == "n-1"
    assert facts["ath"] is None and facts["jti"] == body["claims"]["jti"]
    assert (facts["key"], facts["jkt"], facts["private_key"]) == ("EC P-256", KEY.jkt, False)
    assert (facts["window"], facts["age"], facts["within_window"]) == (60, 3, True)
    assert set(body["times"]) == {"now", "leeway", "iat", "lifetime"}
    assert body["times"]["lifetime"] is None


def test_a_bound_token_shows_its_key() -> None:
    token, _ = POLICY.mint(
        generate_key("ES256"), sub="u", role="user", sid="s", now=NOW, ttl=300, jkt=KEY.jkt
    )
    result = run(token)
    assert result.code == 0, result
    assert "Bound to a key (DPoP)" in result.out
    assert f"  cnf.jkt   {KEY.jkt}" in result.out
    assert "usable only with a DPoP proof for each request" in result.out
    assert result.out.rstrip().splitlines()[-1].startswith("VALID (expires in 5 m)")
    body = run("--json", token).json()
    assert (body["kind"], body["bound_to"], body["proof"]) == ("token", KEY.jkt, None)
    unbound, _ = POLICY.mint(generate_key("ES256"), sub="u", role="u", sid="s", now=NOW, ttl=9)
    assert "Bound to a key" not in run(unbound).out
    assert run("--json", unbound).json()["bound_to"] is None


@pytest.mark.slow
def test_the_console_script_decodes_a_proof() -> None:
    assert SCRIPT.exists(), SCRIPT
    proof = KEY.proof("GET", URL, now=time.time() - 3600)
    done = subprocess.run(
        [str(SCRIPT), "decode", "-"],
        input=proof + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert f"thumbprint {KEY.jkt} (RFC 7638)" in done.stdout
    assert "STALE DPoP PROOF (issued 1 h ago; outside the 60 s window)" in done.stdout
