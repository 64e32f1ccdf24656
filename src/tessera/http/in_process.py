"""A `Verifier` over this process's own Tessera: for views of the application Tessera runs
beside (`tessera.http.beside`) that are protected by a framework adapter (`tessera.verify.drf`,
`.django`, `.flask`, …), which all take a `Verifier`.

It reads the service's key ring and revoked sessions in memory, so there is no URL to
configure, no JWKS fetch (nor an HTTP request to itself from inside a request), and a logout
or a revocation in this process refuses the session's access tokens at once — as the
service's own `require()` does. Keys rotated by another process (`tessera keys rotate`,
another replica) arrive with the ring's reloads: on Tessera's requests and with the key
schedule run in the background, long before a pre-published key signs anything.

A service in another process verifies through the JWKS instead: `Verifier(jwks_url=…)`.
"""

from __future__ import annotations

from typing import Any, cast

from tessera.dpop import ProofChecker
from tessera.keys import KeyRing
from tessera.revocations.feed import RevocationFeed
from tessera.revocations.revoked import RevokedSessions
from tessera.service import AuthService
from tessera.tokens import SigningKey
from tessera.verify.jwks import JWKSCache
from tessera.verify.verifier import Verifier

__all__ = ["in_process_verifier"]


def in_process_verifier(auth: AuthService) -> Verifier:
    """A `Verifier` with `auth`'s issuer, audience, leeway, token bounds, DPoP proof checks and
    public URL, over its key ring and revoked sessions."""
    s = auth.settings
    return Verifier(
        issuer=s.issuer,
        audience=s.audience,
        leeway=s.leeway,
        max_lifetime=auth.tokens.max_lifetime,
        max_bytes=s.max_token_bytes,
        clock=auth.clock,
        jwks=RingKeys(auth.keys),
        # The verifier only reads `.revoked` of its feed (and `health()`): the service's
        # own set, kept current by its follower and by this process's revocations.
        revocations=cast(RevocationFeed, Revoked(auth.revocations.revoked)),
        proofs=auth.proofs or ProofChecker(algorithms=tuple(s.dpop_algorithms)),
        public_url=s.public_url,
    )


class RingKeys(JWKSCache):
    """The key set of a `KeyRing` as a verifier's JWKS: looked up in memory, never fetched."""

    def __init__(self, ring: KeyRing) -> None:
        super().__init__()  # no URL: never stale, never fetches
        self._ring = ring

    def lookup(self, kid: str) -> SigningKey | None:
        return self._ring.lookup(kid)

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(key["kid"] for key in self._ring.jwks()["keys"])


class Revoked:
    """The service's revoked sessions, in the shape a `Verifier` reads a feed."""

    def __init__(self, revoked: RevokedSessions) -> None:
        self.revoked = revoked

    def health(self) -> dict[str, Any]:
        return {"in_process": True, "revoked_sessions": len(self.revoked)}

    def close(self) -> None:
        """The service's: nothing to close here."""
