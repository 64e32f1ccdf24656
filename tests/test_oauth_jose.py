"""Node's `jose` package (createRemoteJWKSet + jwtVerify) verifies Tessera's access tokens
from the JWKS URL that the RFC 8414 metadata names: what a Node resource server would do.

`jose` comes from the npm registry, installed once into `.cache/` (git-ignored). Without node
or npm the test is skipped, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.oauth_live import AUDIENCE, ISSUER, Live, oauth_server, password_tokens

pytestmark = pytest.mark.slow

JOSE = "jose@6.2.17"
SCRIPT = Path(__file__).with_name("js") / "jose_verify.mjs"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / JOSE.replace("@", "-")


def unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (required in CI)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def jose_dir() -> Path:
    """A directory holding `jose` in node_modules and the verification script beside it
    (ES modules resolve packages from the importing file's directory, not NODE_PATH)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("node and npm are needed for the jose interop test")
    if not (CACHE / "node_modules" / "jose" / "package.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm or "npm", "install", "--prefix", str(CACHE), "--no-audit", "--no-fund",
             "--loglevel=error", JOSE],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            unavailable(f"npm install {JOSE} failed: {result.stderr.strip()[-500:]}")
    shutil.copy(SCRIPT, CACHE / SCRIPT.name)
    return CACHE


def jose_verify(directory: Path, live: Live, alg: str, *tokens: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["node", str(directory / SCRIPT.name), live.metadata["jwks_uri"], ISSUER, AUDIENCE,
         alg, *tokens],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    answer: list[dict[str, Any]] = json.loads(result.stdout)
    return answer


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_jose_verifies_access_tokens_from_the_remote_jwks(
    tmp_path: Path, jose_dir: Path, algorithm: str
) -> None:
    with oauth_server(tmp_path, algorithm=algorithm) as live:
        token = password_tokens(live)["access_token"]
        header, payload, signature = token.split(".")
        tampered = f"{header}.{payload}.{signature[:-6]}AAAAAA"
        good, bad_signature = jose_verify(jose_dir, live, algorithm, token, tampered)
        (wrong_alg,) = jose_verify(jose_dir, live, "PS256", token)  # not the key's algorithm
        assert good["ok"], good
        assert good["header"]["typ"] == "at+jwt"
        assert good["header"]["alg"] == algorithm
        assert good["payload"]["client_id"] == "tessera"
        assert good["payload"]["iss"] == ISSUER
        assert bad_signature == {"ok": False, "code": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"}
        assert wrong_alg == {"ok": False, "code": "ERR_JOSE_ALG_NOT_ALLOWED"}
