"""Node's `jose` package (createRemoteJWKSet + jwtVerify) verifies Tessera's access tokens
from the JWKS URL that the RFC 8414 metadata names: what a Node resource server would do.

`jose` comes from the npm registry, installed once into `.cache/` (git-ignored). Without node
or npm the test is skipped, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.npm import npm_package
from tests.oauth_live import AUDIENCE, ISSUER, Live, oauth_server, password_tokens

pytestmark = pytest.mark.slow

JOSE = "jose@6.2.17"
SCRIPT = Path(__file__).with_name("js") / "jose_verify.mjs"


@pytest.fixture(scope="module")
def jose_dir() -> Path:
    return npm_package(JOSE, SCRIPT)


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
