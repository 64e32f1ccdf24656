"""DPoP with a client we did not write: npm `oauth4webapi` (its `DPoP` option) gets tokens from
`/oauth/token` with a proof (the password grant, then a refresh), calls `/api/me` with
`Authorization: DPoP` and a proof of its own, handles our `use_dpop_nonce` — and the Python
`Verifier` accepts a proof it made, for a request to another service.

`oauth4webapi` comes from the npm registry, installed once into `.cache/` (git-ignored). Without
node or npm the test is skipped, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tessera.dpop import thumbprint
from tessera.tokens.strict_json import b64url_decode
from tessera.verify import Verifier
from tests.capture import capture_server
from tests.conftest import PASSWORD
from tests.oauth_live import AUDIENCE, ISSUER, Live, oauth_server
from tests.test_oauth_jose import unavailable

pytestmark = pytest.mark.slow

PACKAGE = "oauth4webapi@3.8.8"
SCRIPT = Path(__file__).with_name("js") / "oauth4webapi_dpop.mjs"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / PACKAGE.replace("@", "-")


@pytest.fixture(scope="module")
def client_dir() -> Path:
    """`oauth4webapi` in node_modules with the script beside it (ES modules resolve packages
    from the importing file's directory)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("node and npm are needed for the oauth4webapi interop test")
    if not (CACHE / "node_modules" / "oauth4webapi" / "package.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm or "npm", "install", "--prefix", str(CACHE), "--no-audit", "--no-fund",
             "--loglevel=error", PACKAGE],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            unavailable(f"npm install {PACKAGE} failed: {result.stderr.strip()[-500:]}")
    shutil.copy(SCRIPT, CACHE / SCRIPT.name)
    return CACHE


def run_client(directory: Path, live: Live, capture_url: str) -> dict[str, Any]:
    result = subprocess.run(
        ["node", str(directory / SCRIPT.name), json.dumps(live.metadata), "alice", PASSWORD,
         live.url + "/api/me", capture_url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


@pytest.mark.parametrize("require_nonce", [False, True], ids=["nonce when asked", "nonce always"])
def test_oauth4webapi_gets_bound_tokens_and_calls_the_api_with_proofs(
    tmp_path: Path, client_dir: Path, require_nonce: bool
) -> None:
    with (
        oauth_server(tmp_path, dpop_require_nonce=require_nonce) as live,
        capture_server() as capture,
    ):
        assert "ES256" in live.metadata["dpop_signing_alg_values_supported"]
        answer = run_client(client_dir, live, capture.url("127.0.0.1") + "/resource")
        assert answer["issued"] == answer["refreshed"] == "dpop"  # oauth4webapi lower-cases it
        assert answer["me"]["status"] == 200, answer["me"]
        assert json.loads(answer["me"]["body"])["sub"]
        if require_nonce:
            assert answer["retries"]["password"] == 1  # asked once, then remembered
        assert live.counted("tessera_refreshes_total", {"outcome": "rotated"}) == 1
        (seen,) = capture.seen
        # The token is bound to the key oauth4webapi made and proved.
        token = answer["access_token"]
        assert seen.authorization == f"DPoP {token}"
        proof = seen.headers["dpop"]
        jwk = json.loads(b64url_decode(proof.split(".")[0]))["jwk"]
        claims = json.loads(b64url_decode(token.split(".")[1]))
        assert claims["cnf"] == {"jkt": thumbprint(jwk)}
        # The Python verifier of another service accepts oauth4webapi's proof for it, once.
        verifier = Verifier(
            live.metadata["jwks_uri"], issuer=ISSUER, audience=AUDIENCE, clock=live.clock
        )
        url = capture.url("127.0.0.1") + "/resource"
        accepted = verifier.verify_dpop(token, proof, method="GET", url=url)
        assert accepted.jkt == thumbprint(jwk)
        with pytest.raises(Exception, match="already used"):
            verifier.verify_dpop(token, proof, method="GET", url=url)
