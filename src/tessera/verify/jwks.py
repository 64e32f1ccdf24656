"""A JWKS held in memory: fetched from one configured URL, cached by `Cache-Control`, kept when
a fetch fails, and refetched for an unknown `kid` at most once per cooldown with one fetch in
flight — so a flood of tokens with random `kid`s costs one request, not one each.

Keys are only ever looked up in memory; the URL is fixed at construction, never taken from a
token.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from tessera.clock import Clock, SystemClock
from tessera.remote import check_fetch_url
from tessera.tokens import KeyMaterialError, SigningKey, from_public_jwk

log = logging.getLogger("tessera.verify")

_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*(\d+)", re.IGNORECASE)


class JWKSError(Exception):
    """The key set could not be fetched or read."""


def parse_key_set(document: object) -> dict[str, SigningKey]:
    """Usable verification keys of a JWKS document by `kid`; unusable entries are skipped
    (symmetric keys, unknown types and algorithms, private members are never used)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JWKSError("not a JWKS: no 'keys' list")
    keys: dict[str, SigningKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = from_public_jwk(entry)
        except (KeyMaterialError, ValueError, TypeError) as exc:
            log.debug("skipping JWKS entry %r: %s", entry.get("kid"), exc)
            continue
        if key.symmetric or key.kid in keys:
            continue  # a JWKS never carries secrets; a duplicate kid is ambiguous
        keys[key.kid] = key
    return keys


class JWKSCache:
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
        max_bytes: int = 1 << 20,
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
        self._transport = transport
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
        """Fetch when the cached set has expired (cheap when it has not)."""
        if self._clock.now() < self._expires_at:
            return
        with self._lock:
            if self._clock.now() >= self._expires_at:
                self._fetch()

    def refresh_for_unknown(self, kid: str) -> SigningKey | None:
        """An unknown `kid`: refetch, at most once per cooldown, then look again."""
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
        assert self.url is not None
        now = self._clock.now()
        self._last_attempt = now
        try:
            document, ttl = self._download()
            keys = parse_key_set(document)
        except (httpx.HTTPError, JWKSError, ValueError) as exc:
            self.healthy = False
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._expires_at = now + self._cooldown  # retry later, keep serving the old keys
            log.warning(
                "JWKS fetch from %s failed (%s); keeping %d keys", self.url, exc, len(self._keys)
            )
            return
        changed = keys.keys() != self._keys.keys()
        self._keys = keys
        self._expires_at = now + ttl
        self.healthy, self.last_error = True, None
        if changed and self._on_change is not None:
            self._on_change(frozenset(keys))

    def _download(self) -> tuple[object, float]:
        assert self.url is not None
        with (
            httpx.Client(timeout=self._timeout, transport=self._transport) as client,
            client.stream("GET", self.url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise JWKSError(f"JWKS endpoint answered {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self._max_bytes:
                    raise JWKSError("JWKS response is too large")
            ttl = self._ttl(response.headers.get("cache-control", ""))
        try:
            return json.loads(body), ttl
        except ValueError as exc:
            raise JWKSError("JWKS response is not JSON") from exc

    def _ttl(self, cache_control: str) -> float:
        match = _MAX_AGE.search(cache_control)
        if "no-store" in cache_control.lower() or "no-cache" in cache_control.lower():
            return self._min_ttl
        ttl = float(match.group(1)) if match else self._default_ttl
        return min(self._max_ttl, max(self._min_ttl, ttl))
