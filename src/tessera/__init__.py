"""Tessera: short-lived JWT access tokens and rotating, revocable refresh tokens.

The names below are importable from `tessera`. The light ones load here; the server's
(`Tessera`, `create_app`, `beside`, `in_process_verifier`, `install_error_handlers`,
`Settings`) load on first use, so a service
that only verifies tokens or calls an API (`tessera.verify`, `tessera.client`) never imports
the server's stack — nor needs it installed (`pip install tessera` vs `tessera[server]`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from tessera.clock import Clock, ManualClock, SystemClock
from tessera.errors import TesseraError
from tessera.tokens import AccessClaims, InvalidToken

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from tessera.http.app import create_app
    from tessera.http.beside import beside
    from tessera.http.errors import install_error_handlers
    from tessera.http.in_process import in_process_verifier
    from tessera.http.mount import Tessera
    from tessera.settings import Settings
    from tessera.users import Authenticator, Principal

# name -> module that defines it, imported on first access
LAZY = {
    "Authenticator": "tessera.users",
    "Principal": "tessera.users",
    "Settings": "tessera.settings",
    "Tessera": "tessera.http.mount",
    "beside": "tessera.http.beside",
    "create_app": "tessera.http.app",
    "in_process_verifier": "tessera.http.in_process",
    "install_error_handlers": "tessera.http.errors",
}

__all__ = [
    "AccessClaims",
    "Authenticator",
    "Clock",
    "InvalidToken",
    "ManualClock",
    "Principal",
    "Settings",
    "SystemClock",
    "Tessera",
    "TesseraError",
    "beside",
    "create_app",
    "in_process_verifier",
    "install_error_handlers",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in LAZY:
        raise AttributeError(f"module 'tessera' has no attribute {name!r}")
    value = getattr(import_module(LAZY[name]), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value
