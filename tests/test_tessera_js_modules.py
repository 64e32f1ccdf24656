"""`{prefix}/tessera.js` and the modules it imports from `{prefix}/tessera/`, fetched as a
browser would: every import, followed to the end, is served as JavaScript with the same cache
headers, every shipped module is reachable from `tessera.js`, and no other name is served."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx
import pytest

from tessera.web import client_modules

pytestmark = pytest.mark.anyio

# `import … from "./x.js"` and `export … from "./x.js"`, possibly over several lines.
RELATIVE_IMPORT = re.compile(
    r"""^\s*(?:import|export)\b[^"';]*?\bfrom\s+["'](\.{1,2}/[^"']+)["']""", re.M
)


async def test_every_module_tessera_js_imports_is_served(client: httpx.AsyncClient) -> None:
    served: dict[str, str] = {}
    pending = ["/auth/tessera.js"]
    while pending:
        path = pending.pop()
        if path in served:
            continue
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "text/javascript; charset=utf-8", path
        assert response.headers["cache-control"] == "no-cache", path
        served[path] = response.text
        pending += [urljoin(path, module) for module in RELATIVE_IMPORT.findall(response.text)]
    assert len(served) > 1  # the parser found the imports
    assert set(served) == {"/auth/tessera.js"} | {f"/auth/tessera/{m}" for m in client_modules()}


async def test_nothing_else_is_served_under_the_modules_path(client: httpx.AsyncClient) -> None:
    for path in (
        "/auth/tessera/nope.js",
        "/auth/tessera/decoder.js",  # a static file, but not one of tessera.js's modules
        "/auth/tessera/..%2Fdemo.js",
        "/auth/tessera/",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found", path
