"""Revocation propagation: revoked sessions stop working everywhere, with no I/O per request.

The store publishes every revoked session; `RevocationWatch` follows it inside each server,
`RevocationFeed` follows a server's `GET /auth/revocations` inside other services, and both
fill a `RevokedSessions` set that every verification checks.
"""

from tessera.revocations.feed import RevocationFeed
from tessera.revocations.revoked import RevokedSessions
from tessera.revocations.watch import FeedPage, RevocationWatch

__all__ = ["FeedPage", "RevocationFeed", "RevocationWatch", "RevokedSessions"]
