"""Loading the files under `static/` and assembling the two pages with their CSPs.

The decoder is one self-contained document — its script and style inlined and allowed by hash
— so it works saved to disk and offline, and its CSP can say `connect-src 'none'`. Its script
is a module whose `import … from "./inspect.js"` is replaced by inspect.js itself, and
inspect.js's own imports (`inspect-*.js`) by theirs (modules all, which Node's tests import),
so the page loads nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib.resources import files

ASSET_TYPES = {
    "tessera.js": "text/javascript; charset=utf-8",
    "demo.js": "text/javascript; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
}


@cache
def asset(name: str) -> bytes:
    return files("tessera.web").joinpath("static", name).read_bytes()


@cache
def client_modules() -> frozenset[str]:
    """The modules `tessera.js` imports, in `static/tessera/`: served beside it, at
    `{prefix}/tessera/NAME`, with its content type (`asset(f"tessera/{name}")`)."""
    folder = files("tessera.web").joinpath("static", "tessera")
    return frozenset(entry.name for entry in folder.iterdir() if entry.name.endswith(".js"))


_LOCAL_IMPORT = re.compile(r'^import \{[^}]*\} from "\./([a-z-]+\.js)";\n', re.MULTILINE)


def inline_imports(source: str) -> str:
    """A module script with each `import {…} from "./name.js"` replaced by that file's source,
    its own imports inlined first and each file once: the names it imports become
    declarations of the one script (so no two of these files may declare the same name)."""
    seen: set[str] = set()

    def inline(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in seen:
            return ""
        seen.add(name)
        return _LOCAL_IMPORT.sub(inline, asset(name).decode())

    inlined = _LOCAL_IMPORT.sub(inline, source)
    if re.search(r"^\s*(?:import\b|export\s*(?:\*|\{[^}]*\})\s*from\b)", inlined, re.MULTILINE):
        raise ValueError("an import the decoder page could not load (its CSP allows none)")
    return inlined


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


@cache
def decoder_page() -> tuple[bytes, str]:
    """The decoder document and its Content-Security-Policy."""
    script = inline_imports(asset("decoder.js").decode())
    style = asset("decoder.css").decode()
    html = asset("decoder.html").decode().replace("{{style}}", style).replace("{{script}}", script)
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_sha256(script)}",
            f"style-src {_sha256(style)}",
            "connect-src 'none'",
            "img-src data:",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return html.encode(), csp


@cache
def demo_page(prefix: str) -> tuple[bytes, str]:
    """The demo document (for an auth prefix) and its Content-Security-Policy."""
    html = asset("demo.html").decode().replace("{{prefix}}", prefix)
    csp = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return html.encode(), csp
