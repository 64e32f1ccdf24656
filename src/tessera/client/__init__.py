"""Python client: `TokenAuth`, an httpx auth that keeps a Tessera session alive."""

from tessera.client.auth import TokenAuth
from tessera.client.devices import DeviceSession
from tessera.client.errors import LoginFailed, LoginRequired, TransientAuthError
from tessera.client.store import FileTokenStore
from tessera.client.tokens import TokenSet

__all__ = [
    "DeviceSession",
    "FileTokenStore",
    "LoginFailed",
    "LoginRequired",
    "TokenAuth",
    "TokenSet",
    "TransientAuthError",
]
