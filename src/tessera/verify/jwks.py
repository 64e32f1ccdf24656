"""A JWKS held in memory: fetched from one configured URL, cached by `Cache-Control`, kept when
a fetch fails, and refetched for an unknown `kid` at most once per cooldown with one fetch in
flight — so a flood of tokens with random `kid`s costs one request, not one each.

A fetch is bounded as a whole (a deadline from connect to last byte, a size cap), and anything
wrong with it — unreachable, slow, too large, not strict JSON, not a key set — is one outcome:
a failed fetch, retried only after the cooldown. A token whose key is in memory never waits
for a fetch in flight.

Keys are only ever looked up in memory; the URL is fixed at construction, never taken from a
token.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from tessera.clock import Clock, SystemClock
from tessera.fetch import NO_KEEPALIVE, FetchError, bounded_get
from tessera.remote import check_fetch_url, redact_url
from tessera.tokens import SigningKey
from tessera.tokens.jwks import JWKS, JWKSError, parse_jwks, read_jwks

__all__ = ["MAX_JWKS_BYTES", "JWKSCache", "JWKSError", "parse_key_set", "read_key_set"]

log = logging.getLogger("tessera.verify")

MAX_JWKS_BYTES = 256 * 1024  # a key set is a few KiB; a JWKS larger than this is not one

_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*(\d+)", re.IGNORECASE)


def parse_key_set(document: object) -> dict[str, SigningKey]:
    """Usable verification keys of a JWKS document by `kid` (the rules: `tessera.tokens.jwks`);
    skipped entries are logged at debug level."""
    return _usable(parse_jwks(document))


def read_key_set(body: bytes) -> dict[str, SigningKey]:
    """`parse_key_set` of a fetched body, which must be strict JSON."""
    return _usable(read_jwks(body))


def _usable(jwks: JWKS) -> dict[str, SigningKey]:
    for entry in jwks.skipped:
        log.debug("skipping JWKS entry %r: %s", entry.kid, entry.reason)
    return jwks.keys


class JWKSCache:
    """Keys by `kid` for `Verifier`. `timeout` bounds each whole fetch, `max_bytes` its body;
    after a failed fetch, or a refetch for an unknown `kid`, the next waits `cooldown`."""

    def __init__(
        self,
        url: str | None = None,
        *,
        document: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
        default_ttl: float = 300.0,
        min_ttl: float = 30.0,
        max_ttl: float = 86400.0,
        cooldown: float = 30.0,
        timeout: float = 5.0,
        max_bytes: int = MAX_JWKS_BYTES,
        allow_http: bool = False,
        transport: httpx.BaseTransport | None = None,
        on_change: Callable[[frozenset[str]], None] | None = None,
    ) -> None:
        if url is not None:
            check_fetch_url(url, "JWKS", allow_http=allow_http)
        self.url = url
        self._clock = clock or SystemClock()
        self._default_ttl, self._min_ttl, self._max_ttl = default_ttl, min_ttl, max_ttl
        self._cooldown = max(30.0, cooldown)
        self._timeout, self._max_bytes = timeout, max_bytes
        self._client = (
            httpx.Client(transport=transport, limits=NO_KEEPALIVE) if url is not None else None
        )
        self._on_change = on_change
        self._lock = threading.Lock()  # one fetch in flight, across threads and event loops
        self._keys: dict[str, SigningKey] = parse_key_set(document) if document else {}
        self._expires_at = float("inf") if url is None else float("-inf")
        self._last_attempt = float("-inf")
        self.healthy = url is None
        self.last_error: str | None = None

    def lookup(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    @property
    def stale(self) -> bool:
        return self._clock.now() >= self._expires_at

    def refresh_if_stale(self) -> None:
        """Fetch when the cached set has expired (cheap when it has not). Never waits for
        another thread's fetch: until it lands, the keys in hand serve."""
        if self._clock.now() < self._expires_at or not self._lock.acquire(blocking=False):
            return
        try:
            if self._clock.now() >= self._expires_at:
                self._fetch()
        finally:
            self._lock.release()

    def refresh_for_unknown(self, kid: str) -> SigningKey | None:
        """An unknown `kid`: refetch, at most once per cooldown, then look again. Waits for a
        fetch in flight (at most its deadline) and looks in its result instead of fetching."""
        if self.url is None:
            return None
        with self._lock:
            key = self._keys.get(kid)
            if key is None and self._clock.now() - self._last_attempt >= self._cooldown:
                self._fetch()
                key = self._keys.get(kid)
        return key

    def _fetch(self) -> None:
        """Fetch and swap in the key set; on failure keep the old one. Caller holds the lock."""
        assert self.url is not None and self._client is not None
        now = self._clock.now()
        self._last_attempt = now
        try:
            fetched = bounded_get(
                self._client,
                self.url,
                deadline=self._timeout,
                max_bytes=self._max_bytes,
                accept="application/jwk-set+json, application/json",
            )
            keys = read_key_set(fetched.body)
        except (FetchError, JWKSError) as exc:
            self.healthy = False
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._expires_at = now + self._cooldown  # retry later, keep serving the old keys
            log.warning(
                "JWKS fetch from %s failed (%s); keeping %d keys",
                redact_url(self.url),
                exc,
                len(self._keys),
            )
            return
        changed = keys.keys() != self._keys.keys()
        self._keys = keys
        self._expires_at = now + self._ttl(fetched.headers.get("cache-control", ""))
        self.healthy, self.last_error = True, None
        if changed and self._on_change is not None:
            self._on_change(frozenset(keys))

    def _ttl(self, cache_control: str) -> float:
        match = _MAX_AGE.search(cache_control)
        if "no-store" in cache_control.lower() or "no-cache" in cache_control.lower():
            return self._min_ttl
        ttl = float(match.group(1)) if match else self._default_ttl
        return min(self._max_ttl, max(self._min_ttl, ttl))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
