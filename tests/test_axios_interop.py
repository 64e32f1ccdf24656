"""`auth.axios(instance)` with real axios releases from the npm registry, in Node over real HTTP
(tests/js/axios_interop.mjs): the token goes only where the request finally goes, whatever the
axios version does with `allowAbsoluteUrls` and whatever the app's own interceptors change
after Tessera's. The versions: the peer range's floor, the last one that ignores
`allowAbsoluteUrls` everywhere, the last one that ignores it in the fetch and xhr adapters, and
the one the browser tests use."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.npm import npm_package
from tests.test_browser_axios import AXIOS

pytestmark = pytest.mark.slow

JS = Path(__file__).with_name("js")
SCRIPT = JS / "axios_interop.mjs"
STATIC = Path(__file__).resolve().parent.parent / "src" / "tessera" / "web" / "static"


@pytest.mark.parametrize("version", ["axios@1.0.0", "axios@1.7.9", "axios@1.8.1", AXIOS])
def test_the_token_goes_only_where_axios_finally_sends_the_request(version: str) -> None:
    directory = npm_package(version, SCRIPT)
    node = shutil.which("node")
    assert node is not None  # else npm_package skipped (or failed in CI)
    env = {"PATH": "/usr/bin:/bin", "TESSERA_STATIC": str(STATIC)}
    env["TESSERA_FAKES"] = str(JS / "fakes.mjs")
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", str(directory / SCRIPT.name)],
        capture_output=True, text=True, timeout=120, check=False, env=env, cwd=directory,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout
