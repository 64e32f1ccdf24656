"""Runs the browser client's unit tests (`tests/js/*.test.mjs`) with Node's own test runner, and
checks the DPoP proofs its code makes with the server's own checker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tessera.dpop import Nonces, ProofChecker

JS_TESTS = Path(__file__).with_name("js")


def test_tessera_js_unit_tests() -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is required in CI for the browser client's unit tests")
        pytest.skip("node is not installed")
    result = subprocess.run(
        [node, "--test", *sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout


def test_the_servers_checker_accepts_the_proofs_tessera_js_makes() -> None:
    """The proof format, judged by the server's own checker (RFC 9449 §4.3): proofs that
    tessera.js's code makes in Node verify, and name the key tessera.js says they do."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    now = 1_800_000_000.0
    nonces = Nonces(b"k" * 32)
    nonce = nonces.issue(now)
    requests = [
        ("POST", "https://auth.example.com/auth/login", "https://auth.example.com/auth/login"),
        ("GET", "https://api.example.com:8443/v1/me?x=1#f", "https://api.example.com:8443/v1/me"),
        ("patch", "https://api.example.com/v1/x", "https://api.example.com/v1/x"),
    ]
    args = [str(now), "header.claims.signature", nonce]
    args += [item for method, url, _ in requests for item in (method, url)]
    result = subprocess.run(
        [node, str(JS_TESTS / "make_proofs.mjs"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    made = json.loads(result.stdout)
    checker = ProofChecker(nonces=nonces, require_nonce=True)
    for proof, (method, _, url) in zip(made["proofs"], requests, strict=True):
        checked = checker.check(
            proof,
            method=method,
            url=url,
            now=now,
            access_token="header.claims.signature",
            jkt=made["jkt"],
        )
        assert (checked.alg, checked.nonce) == ("ES256", nonce)
