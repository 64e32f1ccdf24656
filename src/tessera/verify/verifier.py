"""`Verifier`: access-token verification for services other than the auth server.

The same `AccessTokenPolicy` as the server (one implementation of the token rules), keys from
a JWKS held in memory, and a bounded cache of tokens already verified: keyed by the exact token
string, an entry lives until the token's `exp` — never longer — and is dropped when its key
leaves the JWKS. A repeated token then costs a dictionary lookup.

DPoP (RFC 9449): a token bound to a key (`cnf.jkt`) is accepted only by `verify_dpop`, with a
proof by that key for this request, checked on every call (a cache hit included); `verify`
refuses it, as a resource server must refuse a bound token sent as Bearer.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import Any

import anyio.to_thread
import httpx

from tessera.clock import Clock, SystemClock
from tessera.dpop import ProofChecker, normalize_htu
from tessera.remote import redact_url
from tessera.revocations.feed import RevocationFeed
from tessera.tokens import AccessClaims, AccessTokenPolicy, InvalidToken
from tessera.tokens.access import ACCESS_TOKEN_TYPES, MAX_CLAIM_LENGTH, TESSERA_CLAIMS
from tessera.tokens.strict_json import StrictJSONError, b64url_decode, loads_object
from tessera.verify.binding import check_binding
from tessera.verify.credentials import BEARER, DPOP, Credential, request_url
from tessera.verify.jwks import JWKSCache

DEFAULT_CACHE_SIZE = 10_000


class Verifier:
    """Verify Tessera access tokens (or any issuer's RFC 9068-style JWTs) without calling the
    auth server. `verify(token)` returns the claims or raises `InvalidToken` (its `reason`:
    `expired`, `not_yet_valid`, `bad_signature`, `malformed`, `wrong_audience`, …).

    For another issuer's tokens pass `required_claims=RFC9068_CLAIMS` (no `role`/`sid`/`nbf`
    needed) and, if it does not type its tokens `at+jwt`, `token_types=("at+jwt", "jwt")`;
    if its claims hold strings longer than 256 characters (a long `scope`),
    `max_claim_length=None` (or a larger bound).

    Tessera's own policy applies here as on the auth server — strings in the claims of at most
    `max_claim_length`, no unpaired surrogate escapes, `exp - iat` and the age of `iat` at
    most `max_lifetime` — except that the server bounds lifetimes by its own access-token TTL
    plus leeway, which a verifier does not know: pass it as `max_lifetime` to be as strict.

    With `revocations=` (the auth server's `…/auth/revocations` URL, or a `RevocationFeed`),
    a background thread follows the sessions the server revokes, and their tokens are refused
    (`reason="revoked"`) within moments instead of at their `exp` — cache hits included, at
    the cost of one dictionary lookup.

    `proofs`: how DPoP proofs are checked (default: `ProofChecker()`, every asymmetric
    algorithm, its own replay cache, and no server nonces — a service has no secret to make
    them with unless given one: `ProofChecker(nonces=Nonces(secret))`). `public_url`: the
    scheme and host (and any path prefix a proxy strips) clients reach this service at, for
    the URL a proof must name; default: the request's own, as the framework sees it."""

    def __init__(
        self,
        jwks_url: str | None = None,
        *,
        issuer: str,
        audience: str,
        leeway: float = 10.0,
        max_lifetime: float = 86400.0,
        max_bytes: int = 8192,
        max_claim_length: int | None = MAX_CLAIM_LENGTH,
        cache_size: int = DEFAULT_CACHE_SIZE,
        required_claims: frozenset[str] = TESSERA_CLAIMS,
        token_types: tuple[str, ...] = ACCESS_TOKEN_TYPES,
        clock: Clock | None = None,
        jwks: JWKSCache | None = None,
        revocations: RevocationFeed | str | None = None,
        transport: httpx.BaseTransport | None = None,
        proofs: ProofChecker | None = None,
        public_url: str | None = None,
    ) -> None:
        if not 0 <= leeway <= 30:
            raise ValueError("leeway must be between 0 and 30 seconds (RFC 8725: keep it small)")
        self._clock = clock or SystemClock()
        self.policy = AccessTokenPolicy(
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            max_lifetime=max_lifetime,
            max_bytes=max_bytes,
            max_claim_length=max_claim_length,
            required=frozenset(required_claims),
            token_types=tuple(t.lower() for t in token_types),
        )
        self._owns_jwks = jwks is None
        if jwks is None:
            if jwks_url is None:
                raise ValueError("give jwks_url=…, or use Verifier.from_jwks(…)")
            jwks = JWKSCache(jwks_url, clock=self._clock, transport=transport)
        self.jwks = jwks
        self.jwks._on_change = self._forget_retired_keys
        self._cache: dict[str, AccessClaims] = {}
        self._cache_size = cache_size
        self._owns_feed = isinstance(revocations, str)
        if isinstance(revocations, str):
            revocations = RevocationFeed(revocations, clock=self._clock, transport=transport)
        self.revocations = revocations
        # Read on every verification: no follower, no set (and no cost).
        self._revoked = revocations.revoked.entries if revocations is not None else None
        self.proofs = proofs if proofs is not None else ProofChecker()
        if public_url is not None and normalize_htu(public_url) is None:
            raise ValueError("public_url must be an absolute http(s) URL")
        self.public_url = public_url.rstrip("/") if public_url else None

    @classmethod
    def from_jwks(
        cls, document: Mapping[str, Any], *, issuer: str, audience: str, **options: Any
    ) -> Verifier:
        """A verifier over a fixed key set (no fetching)."""
        clock = options.get("clock")
        return cls(
            issuer=issuer,
            audience=audience,
            jwks=JWKSCache(document=document, clock=clock),
            **options,
        )

    # verification ----------------------------------------------------------------------------

    def verify(self, token: str) -> AccessClaims:
        """Claims of a valid token sent as Bearer, or `InvalidToken` (a token bound to a DPoP
        key too: `verify_dpop` takes those). May fetch the JWKS (blocking, for at most its
        timeout) when the token names an unknown key, or when the key set is stale and no
        other thread is fetching it; use `averify` in async code."""
        hit = self._cached(token)
        if hit is None:
            self.jwks.refresh_if_stale()
            hit = self._verify(token, refetch=True)
        claims = self._unrevoked(hit)
        if "cnf" in claims.extra:  # bound to a key (the policy admits no other `cnf`)
            self._bound(claims, Credential(BEARER, token))
        return claims

    async def averify(self, token: str) -> AccessClaims:
        """`verify` for async code: any JWKS fetch runs in a worker thread."""
        claims = await self._aclaims(token)
        if "cnf" in claims.extra:
            self._bound(claims, Credential(BEARER, token))
        return claims

    def verify_dpop(self, token: str, proof: str | None, *, method: str, url: str) -> AccessClaims:
        """Claims of a valid DPoP-bound token sent with the DPoP scheme and `proof` (the `DPoP`
        header) for a request of `method` to `url` (its query is ignored). Raises
        `InvalidToken`, or `tessera.dpop.InvalidProof` / `UseNonce` for the proof."""
        proofs = (proof,) if proof is not None else ()
        return self.verify_credential(Credential(DPOP, token, proofs), method=method, url=url)

    async def averify_dpop(
        self, token: str, proof: str | None, *, method: str, url: str
    ) -> AccessClaims:
        """`verify_dpop` for async code."""
        proofs = (proof,) if proof is not None else ()
        credential = Credential(DPOP, token, proofs)
        return await self.averify_credential(credential, method=method, url=url)

    def verify_credential(
        self, credential: Credential, *, method: str = "", url: str = ""
    ) -> AccessClaims:
        """`verify` or `verify_dpop`, by the credential's scheme (what the adapters call)."""
        hit = self._cached(credential.token)
        if hit is None:
            self.jwks.refresh_if_stale()
            hit = self._verify(credential.token, refetch=True)
        claims = self._unrevoked(hit)
        if credential.scheme is BEARER and "cnf" not in claims.extra:
            return claims  # the common case: an unbound token sent as Bearer
        return self._bound(claims, credential, method, url)

    async def averify_credential(
        self, credential: Credential, *, method: str = "", url: str = ""
    ) -> AccessClaims:
        """`verify_credential` for async code: any JWKS fetch runs in a worker thread."""
        claims = await self._aclaims(credential.token)
        if credential.scheme is BEARER and "cnf" not in claims.extra:
            return claims
        return self._bound(claims, credential, method, url)

    def request_url(self, url: str, path: str) -> str:
        """The URL a proof must name for a request the framework sees as `url`, with the
        decoded `path` (mount prefix included): under `public_url` when set."""
        return request_url(url, path, self.public_url)

    def _bound(
        self, claims: AccessClaims, credential: Credential, method: str = "", url: str = ""
    ) -> AccessClaims:
        now = self._clock.now()
        return check_binding(claims, credential, self.proofs, method=method, url=url, now=now)

    async def _aclaims(self, token: str) -> AccessClaims:
        hit = self._cached(token)
        if hit is not None:
            return self._unrevoked(hit)
        if self.jwks.stale:
            await anyio.to_thread.run_sync(self.jwks.refresh_if_stale)
        try:
            claims = self._verify(token, refetch=False)
        except InvalidToken as exc:
            kid = self._unknown_kid(exc, token)
            if (
                kid is None
                or await anyio.to_thread.run_sync(self.jwks.refresh_for_unknown, kid) is None
            ):
                raise self._explained(exc) from None
            claims = self._verify(token, refetch=False)
        return self._unrevoked(claims)

    def _unrevoked(self, claims: AccessClaims) -> AccessClaims:
        if self._revoked is not None and claims.sid in self._revoked:
            raise InvalidToken("revoked", "session has been revoked")
        return claims

    def _cached(self, token: str) -> AccessClaims | None:
        claims = self._cache.get(token)
        if claims is None:
            return None
        if self._clock.now() < claims.exp:
            return claims
        self._cache.pop(token, None)  # never kept past exp
        return None

    def _verify(self, token: str, *, refetch: bool) -> AccessClaims:
        now = self._clock.now()
        try:
            claims = self.policy.verify(token, self.jwks.lookup, now)
        except InvalidToken as exc:
            kid = self._unknown_kid(exc, token) if refetch else None
            if kid is None or self.jwks.refresh_for_unknown(kid) is None:
                raise self._explained(exc) from None
            claims = self.policy.verify(token, self.jwks.lookup, self._clock.now())
        self._remember(token, claims)
        return claims

    def _explained(self, exc: InvalidToken) -> InvalidToken:
        """An unknown `kid` while the JWKS cannot be fetched or read (whatever its failure):
        the same refusal, saying why."""
        if exc.reason != "unknown_key" or self.jwks.healthy:
            return exc
        return InvalidToken(
            "unknown_key", "kid is not a known key: the issuer's JWKS is unavailable"
        )

    @staticmethod
    def _unknown_kid(exc: InvalidToken, token: str) -> str | None:
        if exc.reason != "unknown_key":
            return None
        try:
            kid = loads_object(b64url_decode(token.split(".", 1)[0])).get("kid")
        except (StrictJSONError, IndexError):
            return None
        return kid if isinstance(kid, str) else None

    def _remember(self, token: str, claims: AccessClaims) -> None:
        if self._cache_size <= 0:
            return
        if len(self._cache) >= self._cache_size:
            # Evict the oldest entry (dicts keep insertion order): bounded, O(1).
            # (another thread may change the cache meanwhile: it stays bounded all the same)
            with suppress(StopIteration, RuntimeError):
                self._cache.pop(next(iter(self._cache)), None)
        self._cache[token] = claims

    def _forget_retired_keys(self, kids: frozenset[str]) -> None:
        """The JWKS changed: drop cached tokens whose key is gone (rare, so parse here)."""
        for token in [t for t in list(self._cache) if _header_kid(t) not in kids]:
            self._cache.pop(token, None)  # a copy above: other threads may add meanwhile

    # health ----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {
            "jwks_url": redact_url(self.jwks.url) if self.jwks.url else None,
            "keys": sorted(self.jwks.kids),
            "jwks_healthy": self.jwks.healthy,
            "last_error": self.jwks.last_error,
            "cached_tokens": len(self._cache),
            "revocations": self.revocations.health() if self.revocations else None,
        }

    def close(self) -> None:
        """Stop following revocations and let go of the JWKS connection (a feed or key set
        passed in by the caller is the caller's)."""
        if self.revocations is not None and self._owns_feed:
            self.revocations.close()
        if self._owns_jwks:
            self.jwks.close()


def _header_kid(token: str) -> str:
    try:
        kid = loads_object(b64url_decode(token.split(".", 1)[0])).get("kid")
    except (StrictJSONError, IndexError):
        return ""
    return kid if isinstance(kid, str) else ""
