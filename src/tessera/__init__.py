"""Tessera: short-lived JWT access tokens and rotating, revocable refresh tokens."""

from tessera.clock import Clock, ManualClock, SystemClock
from tessera.errors import TesseraError
from tessera.http.app import create_app
from tessera.http.errors import install_error_handlers
from tessera.service import Tessera
from tessera.settings import Settings
from tessera.tokens import AccessClaims, InvalidToken
from tessera.users import Authenticator, Principal

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
    "create_app",
    "install_error_handlers",
]
__version__ = "0.1.0"
