"""Revocation propagation: revoked sessions stop working everywhere, with no I/O per request.

The store publishes every revoked session; `watch.RevocationWatch` follows it inside each
server, `RevocationFeed` follows a server's `GET /auth/revocations` inside other services, and
both fill a `RevokedSessions` set that every verification checks. This package's root loads
only what other services need (the feed and the set); the server's side is in `watch`,
`signal` and `waiters`.
"""

from tessera.revocations.feed import RevocationFeed
from tessera.revocations.revoked import RevokedSessions

__all__ = ["RevocationFeed", "RevokedSessions"]
