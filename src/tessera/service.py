"""`AuthService`: the assembled auth service. It builds the parts — store, keys, sessions, users,
limits, metrics, revocations — and the actions (login, refresh, logout, revoke) from
`Settings`, and owns start-up and shutdown. It knows no front door: the HTTP face
(`tessera.Tessera`, with `router` and `require()`) and the command line are built on it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tessera.actions import Login, Logout, Refresh, Revoke
from tessera.clock import Clock, SystemClock
from tessera.dpop import Nonces, ProofChecker
from tessera.keys import KeyRing
from tessera.limits import InFlight, RateLimits
from tessera.metrics import Metrics
from tessera.revocations.watch import RevocationWatch
from tessera.sealing import Sealer, load_master_secret
from tessera.sessions import SessionPolicy, Sessions
from tessera.settings import Settings
from tessera.store import SessionRecord, SQLStore, Store
from tessera.store.migrate import upgrade
from tessera.tokens import AccessClaims, AccessTokenPolicy, InvalidToken, SigningKey
from tessera.users import Authenticator, PasswordHasher, UserDirectory, hashing_threads

RETIRE_MARGIN = 5.0  # seconds beyond the last moment a replaced key may still have signed
# Password checks in progress per hashing thread before further logins are shed: the last of
# them waits for about four argon2 runs (0.15 s each at the default cost here), not a queue.
PASSWORD_CHECKS_PER_CPU = 4
VERIFIED_CACHE_SIZE = 10_000  # access tokens remembered as verified (as `Verifier` does)


class AuthService:
    """One auth service. Build it once per process; `start()` (or a lifespan, or the first
    request) migrates the database and loads the key ring."""

    # Whether this process runs the periodic upkeep (`tessera.maintenance`): under
    # `serve --workers N` only worker 0 does, so a machine runs it once, not N times.
    housekeeping: bool = True

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        authenticator: Authenticator | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.clock: Clock = clock or SystemClock()
        s = self.settings
        master = load_master_secret(s.secret.get_secret_value() if s.secret else None, s.data_dir)
        self._owns_store = store is None
        self.store: Store = store or SQLStore.from_url(
            s.resolved_database_url(),
            pool_size=s.db_pool_size,
            max_overflow=s.db_max_overflow,
            statement_timeout=s.db_statement_timeout,
        )
        self.keys = KeyRing(
            self.store,
            Sealer(master, "signing-keys"),
            self.clock,
            algorithm=s.algorithm,
            # Other replicas may sign with the old key until their next reload.
            retire_after=s.access_ttl + s.leeway + s.key_reload_interval + RETIRE_MARGIN,
            reload_interval=s.key_reload_interval,
            rotate_every=s.key_rotation_interval,
            prepublish=s.key_prepublish,
        )
        self.tokens = AccessTokenPolicy(
            issuer=s.issuer,
            audience=s.audience,
            leeway=s.leeway,
            # Our own tokens live `access_ttl` (whole seconds): one signed by our key for
            # longer, or issued longer ago, was not minted under this policy.
            max_lifetime=min(s.max_token_lifetime, math.ceil(s.access_ttl) + s.leeway),
            max_bytes=s.max_token_bytes,
            client_id=s.client_id,
        )
        # DPoP proofs: one checker (and replay cache) per process; nonces under the deployment's
        # secret, so any replica accepts any replica's. None when DPoP is off.
        self.proofs: ProofChecker | None = None
        if s.dpop != "off":
            self.proofs = ProofChecker(
                algorithms=s.dpop_algorithms,
                max_age=s.dpop_proof_max_age,
                nonces=Nonces(master),
                require_nonce=s.dpop_require_nonce,
            )
        self.revocations = RevocationWatch(
            self.store, self.clock, poll_interval=s.revocation_poll_interval
        )
        self.sessions = Sessions(
            self.store,
            Sealer(master, "refresh-tokens"),
            self.clock,
            SessionPolicy(
                idle_ttl=s.refresh_idle_ttl,
                max_age=s.session_max_age,
                reuse_grace=s.reuse_grace,
                access_ttl=s.access_ttl,
            ),
            # Refuse a session's access tokens here before the revoking request is answered.
            on_revoke=self.revocations.published,
        )
        self.passwords = PasswordHasher(
            time_cost=s.argon2_time_cost,
            memory_kib=s.argon2_memory_kib,
            parallelism=s.argon2_parallelism,
        )
        self.users = UserDirectory(self.store, self.passwords, self.clock)
        self.authenticator: Authenticator = authenticator or self.users
        self.limits = RateLimits(
            login_per_user=s.login_limit_per_user,
            login_per_user_total=s.login_limit_per_user_total,
            login_per_ip=s.login_limit_per_ip,
            login_window=s.login_limit_window,
            refresh_per_token=s.refresh_limit,
            refresh_window=s.refresh_limit_window,
            redis_url=s.redis_url,
        )
        self.password_checks = InFlight(
            total=s.login_max_in_flight or PASSWORD_CHECKS_PER_CPU * hashing_threads(),
            per_key=s.login_max_in_flight_per_ip,
        )
        self.metrics = Metrics()
        self.metrics.watch_key_age(self.keys.active_age)
        self.metrics.watch_revocations(
            lambda: len(self.revocations.revoked), lambda: float(self.revocations.pushing)
        )
        self.login = Login(
            self.authenticator,
            self.users,
            self.sessions,
            self.limits,
            self.password_checks,
            self.store,
            self.metrics,
            self.clock,
        )
        self.refresh = Refresh(self.sessions, self.limits, self.metrics)
        self.logout = Logout(self.sessions, self.metrics)
        self.revoke = Revoke(self.sessions, self.metrics)
        self._started = False
        self._starting: asyncio.Lock | None = None
        self._verified: dict[str, tuple[AccessClaims, SigningKey]] = {}

    # life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Migrate the database, load (or create) the signing keys and the sessions revoked
        so far. Idempotent."""
        if self._started:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._started:
                return
            if isinstance(self.store, SQLStore):
                await upgrade(self.store.engine)
            await self.keys.ensure()
            self.revocations.closing = False
            await self.revocations.sync()
            self._started = True

    async def ready(self) -> None:
        """Called on every request: start on first use, pick up key rotations, keep
        following revocations."""
        if not self._started:
            await self.start()
        await self.keys.maybe_reload()
        self.revocations.follow()

    async def close(self) -> None:
        await self.revocations.stop()
        if self._owns_store:
            await self.store.close()
        self._started = False

    @asynccontextmanager
    async def lifespan(self, _app: Any = None) -> AsyncIterator[None]:
        await self.start()
        self.revocations.follow()
        try:
            yield
        finally:
            await self.close()

    # tokens ----------------------------------------------------------------------------------

    def mint_access_token(self, session: SessionRecord) -> tuple[str, AccessClaims]:
        """An access token for `session`, never outliving the session's absolute end (bound to
        the session's DPoP key, if it has one)."""
        now = self.clock.now()
        return self.tokens.mint(
            self.keys.signing_key(),
            sub=session.subject,
            role=session.role,
            sid=session.id,
            now=now,
            # `exp` counts whole seconds from int(now): capped at the end's whole second.
            ttl=min(self.settings.access_ttl, math.floor(session.expires_at) - int(now)),
            jkt=session.jkt,
            name=session.name,
        )

    async def verify_access_token(self, token: object) -> AccessClaims:
        """Verify with the in-memory key ring and revocation set; raises `InvalidToken`.

        A token already verified is remembered, as `Verifier` does: keyed by the exact token
        string, never past its `exp`, and only while the ring still holds the key that
        verified it; a repeated token then costs a dictionary lookup, not a signature check.
        The revocation set is checked either way. Makes the service `ready()` first, for
        callers outside Tessera's routes (whose route class already did; a second call is a
        flag and a clock read)."""
        await self.ready()
        claims = self._verify_signed(token, self.clock.now())
        if claims.sid in self.revocations.revoked:
            raise InvalidToken("revoked", "session has been revoked")
        return claims

    def _verify_signed(self, token: object, now: float) -> AccessClaims:
        if isinstance(token, str) and (hit := self._verified.get(token)) is not None:
            claims, key = hit
            if now < claims.exp and self.keys.lookup(key.kid) is key:
                return claims
            self._verified.pop(token, None)
        used: list[SigningKey] = []

        def lookup(kid: str) -> SigningKey | None:
            key = self.keys.lookup(kid)
            if key is not None:
                used.append(key)
            return key

        claims = self.tokens.verify(token, lookup, now)
        if isinstance(token, str) and len(used) == 1:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)), None)  # the oldest: bounded
            self._verified[token] = (claims, used[0])
        return claims
