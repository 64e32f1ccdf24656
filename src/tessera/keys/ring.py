"""The signing key ring: one active key that signs, older keys that still verify, the JWKS.

Keys live in the store with their private half sealed (AES-GCM). Every process keeps the ring
in memory and re-reads it every `reload_interval`, so a rotation done by the CLI or another
replica is picked up without a restart.

The schedule (`maintain`, run periodically by every replica, coordinated through the store):
when the active key nears `rotate_every`, a "next" key is published in the JWKS at least
`prepublish` before it signs anything, so every verifier's cached JWKS knows it in time; then it
becomes active, and the replaced key keeps verifying (and stays in the JWKS) until every token
it signed has expired, then retires.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from tessera.clock import Clock
from tessera.sealing import Sealer
from tessera.store import AuditEvent, KeyConflict, KeyRecord, Store
from tessera.tokens import SigningKey, generate_key, import_pem, load_private_json

log = logging.getLogger("tessera.keys")


@dataclass(frozen=True)
class KeyInfo:
    """What `tessera keys list` shows about a key."""

    kid: str
    alg: str
    state: str
    created_at: float
    retire_at: float | None


class KeyRing:
    def __init__(
        self,
        store: Store,
        sealer: Sealer,
        clock: Clock,
        *,
        algorithm: str,
        retire_after: float,
        reload_interval: float = 10.0,
        rotate_every: float = 30 * 86400.0,
        prepublish: float = 900.0,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._clock = clock
        self.algorithm = algorithm
        self._retire_after = retire_after
        self._reload_interval = reload_interval
        self._rotate_every = rotate_every
        self._prepublish = prepublish
        self._keys: dict[str, SigningKey] = {}
        self._active: SigningKey | None = None
        self._records: list[KeyRecord] = []
        self._loaded_at = float("-inf")
        self._reloading: asyncio.Lock | None = None

    # reading ---------------------------------------------------------------------------------

    def lookup(self, kid: str) -> SigningKey | None:
        """The verification key for `kid`, from memory only."""
        return self._keys.get(kid)

    def signing_key(self) -> SigningKey:
        if self._active is None:
            raise RuntimeError("key ring not loaded; call ensure() at start-up")
        return self._active

    def jwks(self) -> dict[str, Any]:
        """Public keys of every key that may still have valid tokens out there."""
        entries = [jwk for key in self._keys.values() if (jwk := key.public_jwk()) is not None]
        return {"keys": entries}

    def active_age(self) -> float:
        """Seconds since the signing key became active (0 before the ring is loaded)."""
        for record in self._records:
            if record.state == "active":
                return self._clock.now() - (record.activated_at or record.created_at)
        return 0.0

    def info(self) -> list[KeyInfo]:
        return [
            KeyInfo(r.kid, r.alg, self._state(r), r.created_at, r.retire_at) for r in self._records
        ]

    def _state(self, record: KeyRecord) -> str:
        retired = record.retire_at is not None and record.retire_at <= self._clock.now()
        return "retired" if record.state == "previous" and retired else record.state

    # loading ---------------------------------------------------------------------------------

    async def ensure(self) -> None:
        """Load the ring; create the first key, or rotate to a changed algorithm, as needed."""
        await self.reload()
        if self._active is None:
            key = generate_key(self.algorithm)
            if await self._store.add_first_key(self._record(key)):
                log.info("created signing key %s (%s)", key.kid, key.alg)
            await self.reload()
        elif self._active.alg != self.algorithm:
            log.info("algorithm changed from %s to %s: rotating", self._active.alg, self.algorithm)
            try:
                await self.rotate()
            except KeyConflict:
                await self.reload()  # another replica rotated at the same moment
        if self._active is None:
            raise RuntimeError("no active signing key after start-up")

    async def reload(self) -> None:
        records = await self._store.list_keys()
        now = self._clock.now()
        keys: dict[str, SigningKey] = {}
        active: SigningKey | None = None
        for record in records:
            if record.state not in ("next", "active", "previous"):
                continue
            if (
                record.state == "previous"
                and record.retire_at is not None
                and record.retire_at <= now
            ):
                continue
            key = self._keys.get(record.kid) or self._load(record)
            keys[key.kid] = key
            if record.state == "active":
                active = key
        self._keys, self._active, self._records = keys, active, records
        self._loaded_at = now

    def _load(self, record: KeyRecord) -> SigningKey:
        """Unseal and parse a stored key: slow for RSA (key validation), so done once per kid."""
        private = self._sealer.open(record.sealed_private, record.kid.encode())
        return load_private_json(record.alg, record.kid, private)

    async def maybe_reload(self) -> None:
        """Re-read the ring if it is older than the reload interval. Cheap when it is not."""
        if self._clock.now() - self._loaded_at < self._reload_interval:
            return
        if self._reloading is None:
            self._reloading = asyncio.Lock()
        if self._reloading.locked():
            return  # someone is already at it; the current ring is still good
        async with self._reloading:
            try:
                await self.reload()
            except Exception:
                log.exception("could not reload the key ring; keeping the current one")
                self._loaded_at = self._clock.now()

    # the schedule ----------------------------------------------------------------------------

    async def maintain(self) -> None:
        """Pre-publish, promote and retire keys as the schedule says. Safe on every replica at
        once: each step is a compare-and-set in the store."""
        await self.reload()
        now = self._clock.now()
        by_state = {r.state: r for r in self._records if r.state in ("active", "next")}
        active, waiting = by_state.get("active"), by_state.get("next")
        if active is not None:
            age = now - (active.activated_at or active.created_at)
            if waiting is None and age >= self._rotate_every - self._prepublish:
                key = generate_key(self.algorithm)
                if await self._store.add_next_key(self._record(key, "next")):
                    log.info("pre-published signing key %s", key.kid)
                    await self._audit("key_prepublished", key.kid)
            elif (
                waiting is not None
                and now - waiting.created_at >= self._prepublish
                and age >= self._rotate_every
                and await self._store.promote_next_key(
                    waiting.kid, active.kid, now, now + self._retire_after
                )
            ):
                log.info("signing key is now %s (scheduled rotation)", waiting.kid)
                await self._audit("key_rotated", f"{active.kid} -> {waiting.kid} (scheduled)")
        await self._store.retire_keys(now)
        await self.reload()

    # changing --------------------------------------------------------------------------------

    async def rotate(self) -> SigningKey:
        """A new active key for the configured algorithm; the old one verifies until retired."""
        return await self._activate(generate_key(self.algorithm))

    async def import_pem(self, pem: bytes) -> SigningKey:
        key = import_pem(pem)
        if key.alg != self.algorithm:
            raise ValueError(
                f"this is a {key.alg} key but TESSERA_ALGORITHM is {self.algorithm}; "
                f"set TESSERA_ALGORITHM={key.alg} to use it"
            )
        if key.kid in {r.kid for r in await self._store.list_keys()}:
            raise ValueError(f"key {key.kid} is already in the ring")
        return await self._activate(key)

    async def _activate(self, key: SigningKey) -> SigningKey:
        now = self._clock.now()
        previous = self._active.kid if self._active else None
        await self._store.add_key(self._record(key), previous_retire_at=now + self._retire_after)
        await self._audit("key_rotated", f"{previous} -> {key.kid}")
        await self.reload()
        log.info("signing key is now %s (%s)", key.kid, key.alg)
        return key

    async def _audit(self, kind: str, detail: str) -> None:
        now = self._clock.now()
        await self._store.add_audit(AuditEvent(now, kind, None, None, None, None, detail=detail))

    def _record(self, key: SigningKey, state: str = "active") -> KeyRecord:
        now = self._clock.now()
        jwk = key.public_jwk()
        return KeyRecord(
            kid=key.kid,
            alg=key.alg,
            state=state,
            sealed_private=self._sealer.seal(key.private_json(), key.kid.encode()),
            public_jwk=json.dumps(jwk, sort_keys=True) if jwk else None,
            created_at=now,
            activated_at=now if state == "active" else None,
        )
