"""Inspecting a JWT: decode it however broken, judge its dates, warn about what is wrong, and
check its signature with keys the user names. The engine of `tessera decode`; the decoder page
(`web/static/inspect.js`) follows the same rules.

Part of the light install: imports JOSE (through `tessera.tokens`), httpx and typer, nothing of
the server.
"""

from tessera.inspect.examine import MAX_TOKEN_CHARS, examine, header_warnings
from tessera.inspect.keys import (
    JWKS_TIMEOUT,
    MAX_KEY_BYTES,
    KeyInputError,
    KeySet,
    fetch_jwks,
    jwks_from,
    jwks_keys,
    pem_key,
    secret_key,
)
from tessera.inspect.render import render_json, render_text, status_line, terminal_safe
from tessera.inspect.report import EXIT_INVALID, EXIT_TIME, EXIT_VALID, Report
from tessera.inspect.text import span
from tessera.inspect.times import TimeClaim

__all__ = [
    "EXIT_INVALID",
    "EXIT_TIME",
    "EXIT_VALID",
    "JWKS_TIMEOUT",
    "MAX_KEY_BYTES",
    "MAX_TOKEN_CHARS",
    "KeyInputError",
    "KeySet",
    "Report",
    "TimeClaim",
    "examine",
    "fetch_jwks",
    "header_warnings",
    "jwks_from",
    "jwks_keys",
    "pem_key",
    "render_json",
    "render_text",
    "secret_key",
    "span",
    "status_line",
    "terminal_safe",
]
