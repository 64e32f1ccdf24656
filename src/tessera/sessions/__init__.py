"""Sessions: the refresh-token state machine."""

from tessera.sessions.service import ClientInfo, Issued, SessionPolicy, Sessions

__all__ = ["ClientInfo", "Issued", "SessionPolicy", "Sessions"]
