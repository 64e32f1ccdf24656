"""Rate limits: login attempts per client address, per username from one address and per
username from everywhere; refreshes per refresh token.

Sliding-window counters. With `TESSERA_REDIS_URL` they live in Redis (the `limits` library's
strategy, one script call per hit), so every replica shares the counts; otherwise in this
process (`limits.windows`, O(1) per hit). If Redis becomes unreachable the limits keep working
per process rather than either letting everything through or refusing every login; a warning
says so.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from tessera.errors import RateLimited
from tessera.limits.windows import SlidingWindow
from tessera.remote import redact_url

log = logging.getLogger("tessera.limits")
RETRY_SHARED = 5.0  # seconds between attempts to reach an unreachable shared store


class RateLimits:
    def __init__(
        self,
        *,
        login_per_user: int,
        login_per_user_total: int,
        login_per_ip: int,
        login_window: float,
        refresh_per_token: int,
        refresh_window: float,
        redis_url: str | None = None,
    ) -> None:
        self._per_user_ip = _item(login_per_user, login_window)
        self._per_user = _item(login_per_user_total, login_window)
        self._per_ip = _item(login_per_ip, login_window)
        self._per_token = _item(refresh_per_token, refresh_window)
        self._redis_url = redis_url
        self._shared: SlidingWindowCounterRateLimiter | None = None
        self._local = {
            item: SlidingWindow(item.amount, item.get_expiry())
            for item in (self._per_user_ip, self._per_user, self._per_ip, self._per_token)
        }
        self._degraded_since: float | None = None

    @property
    def shared(self) -> bool:
        return self._redis_url is not None

    def _strategy(self) -> SlidingWindowCounterRateLimiter:
        # Built on first use: the store starts tasks and connections on the running loop.
        assert self._redis_url is not None
        if self._shared is None:
            storage: Storage = RedisStorage(
                "async+" + self._redis_url,
                implementation="redispy",
                key_prefix="tessera",
                wrap_exceptions=True,
                socket_timeout=1,
                socket_connect_timeout=1,
            )
            self._shared = SlidingWindowCounterRateLimiter(storage)
        return self._shared

    async def _run(self, method: str, item: RateLimitItem, key: str) -> object:
        """Call the shared store, or the local one while the shared one is unreachable."""
        retry_due = (
            self._degraded_since is None or time.time() - self._degraded_since >= RETRY_SHARED
        )
        if self._redis_url is not None and retry_due:
            try:
                if method == "refund":  # a negative hit: the counter's atomic decrement
                    result = await self._strategy().hit(item, "tessera", key, cost=-1)
                else:
                    result = await getattr(self._strategy(), method)(item, "tessera", key)
            except Exception as exc:  # noqa: BLE001 - any storage failure: degrade, keep limiting
                if self._degraded_since is None:  # the error's text may quote the URL
                    cause = getattr(exc, "storage_error", exc)  # `limits` wraps redis' error
                    log.warning(
                        "rate-limit store %s unreachable (%s): limiting per process",
                        redact_url(self._redis_url),
                        type(cause).__name__,
                    )
                self._degraded_since = time.time()
            else:
                if self._degraded_since is not None:
                    log.warning("rate-limit store reachable again")
                    self._degraded_since = None
                return result
        local = self._local[item]
        if method == "get_window_stats":
            return _Stats(time.time() + local.retry_after(key))
        return getattr(local, method)(key)

    async def _retry_after(self, item: RateLimitItem, key: str) -> int:
        stats = await self._run("get_window_stats", item, key)
        reset = getattr(stats, "reset_time", time.time() + 1)
        return max(1, math.ceil(reset - time.time()))

    # logins -----------------------------------------------------------------------------------

    @staticmethod
    def _user_key(username: str) -> str:
        return "user:" + username.strip().casefold()[:200]

    async def login_attempt(self, username: str, ip: str) -> LoginAttempt:
        """Before any password work: count the attempt against the address, the username from
        that address, and the username from everywhere — each count atomic, so a burst of
        concurrent attempts cannot slip past a check made before any of them was counted.
        `RateLimited` when one is used up (the counts taken so far are given back). Pass the
        result to `login_succeeded` on a correct password; a failure keeps its counts."""
        user = self._user_key(username)
        counts = (
            (self._per_ip, "ip:" + ip),
            (self._per_user_ip, f"{user}|ip:{ip}"),
            (self._per_user, user),
        )
        taken: list[tuple[RateLimitItem, str]] = []
        for item, key in counts:
            if not await self._run("hit", item, key):
                for done in taken:
                    await self._run("refund", *done)
                raise RateLimited(await self._retry_after(item, key))
            taken.append((item, key))
        return LoginAttempt(*taken)

    async def login_succeeded(self, attempt: LoginAttempt) -> None:
        """A correct password: the attempt no longer counts against the address or the
        username, and the failures of this username from this address are forgotten."""
        await self._run("refund", *attempt.ip)
        await self._run("clear", *attempt.user_from_ip)
        await self._run("refund", *attempt.user)

    async def address_attempt(self, ip: str) -> None:
        """Count one client authentication attempt (the OAuth introspection endpoint's) against
        the address's failures before checking it; `RateLimited` once they are used up."""
        key = "ip:" + ip
        if not await self._run("hit", self._per_ip, key):
            raise RateLimited(await self._retry_after(self._per_ip, key))

    async def address_succeeded(self, ip: str) -> None:
        """The authentication counted by `address_attempt` succeeded: give it back."""
        await self._run("refund", self._per_ip, "ip:" + ip)

    # refreshes --------------------------------------------------------------------------------

    async def refresh_attempt(self, token: str) -> None:
        """Count one presentation of a refresh token; `RateLimited` past the limit."""
        key = "refresh:" + hashlib.sha256(token.encode()).hexdigest()[:32]
        if not await self._run("hit", self._per_token, key):
            raise RateLimited(await self._retry_after(self._per_token, key))


@dataclass(frozen=True)
class LoginAttempt:
    """The counts one login attempt took, to give back if its password is right."""

    ip: tuple[RateLimitItem, str]
    user_from_ip: tuple[RateLimitItem, str]
    user: tuple[RateLimitItem, str]


class _Stats:
    """The one field of `limits`' window stats that is read here."""

    def __init__(self, reset_time: float) -> None:
        self.reset_time = reset_time


def _item(amount: int, window: float) -> RateLimitItem:
    return RateLimitItemPerSecond(amount, max(1, math.ceil(window)))
