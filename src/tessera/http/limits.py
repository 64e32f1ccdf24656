"""Rate limits: failed logins per username and per client IP, refreshes per refresh token.

Sliding-window counters. With `TESSERA_REDIS_URL` they live in Redis (the `limits` library's
strategy, one script call per hit), so every replica shares the counts; otherwise in this
process (`local_limits`, O(1) per hit). If Redis becomes unreachable the limits keep working
per process rather than either letting everything through or refusing every login; a warning
says so.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from tessera.errors import RateLimited
from tessera.http.local_limits import SlidingWindow
from tessera.remote import redact_url

log = logging.getLogger("tessera.limits")
RETRY_SHARED = 5.0  # seconds between attempts to reach an unreachable shared store


class RateLimits:
    def __init__(
        self,
        *,
        login_per_user: int,
        login_per_ip: int,
        login_window: float,
        refresh_per_token: int,
        refresh_window: float,
        redis_url: str | None = None,
    ) -> None:
        self._per_user = _item(login_per_user, login_window)
        self._per_ip = _item(login_per_ip, login_window)
        self._per_token = _item(refresh_per_token, refresh_window)
        self._redis_url = redis_url
        self._shared: SlidingWindowCounterRateLimiter | None = None
        self._local = {
            item: SlidingWindow(item.amount, item.get_expiry())
            for item in (self._per_user, self._per_ip, self._per_token)
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

    async def _check(self, item: RateLimitItem, key: str) -> None:
        if not await self._run("test", item, key):
            stats = await self._run("get_window_stats", item, key)
            reset = getattr(stats, "reset_time", time.time() + 1)
            raise RateLimited(max(1, math.ceil(reset - time.time())))

    # logins -----------------------------------------------------------------------------------

    @staticmethod
    def _user_key(username: str) -> str:
        return "user:" + username.strip().casefold()[:200]

    async def login_attempt(self, username: str, ip: str) -> None:
        """Before any password work: count the attempt against the username (atomically, so a
        burst of concurrent guesses cannot all slip past the check) and refuse with
        `RateLimited` when either limit is used up. A success clears the username's count."""
        await self.address_allowed(ip)
        key = self._user_key(username)
        if not await self._run("hit", self._per_user, key):
            stats = await self._run("get_window_stats", self._per_user, key)
            reset = getattr(stats, "reset_time", time.time() + 1)
            raise RateLimited(max(1, math.ceil(reset - time.time())))

    async def address_allowed(self, ip: str) -> None:
        """`RateLimited` once the address has used up its failures (logins, and client
        authentication at the OAuth introspection endpoint)."""
        await self._check(self._per_ip, "ip:" + ip)

    async def login_failed(self, ip: str) -> None:
        """Failures count against the client's address (successes do not)."""
        await self._run("hit", self._per_ip, "ip:" + ip)

    async def login_succeeded(self, username: str) -> None:
        """A correct password clears that username's failures (the IP's count stays)."""
        await self._run("clear", self._per_user, self._user_key(username))

    # refreshes --------------------------------------------------------------------------------

    async def refresh_attempt(self, token: str) -> None:
        """Count one presentation of a refresh token; `RateLimited` past the limit."""
        key = "refresh:" + hashlib.sha256(token.encode()).hexdigest()[:32]
        if not await self._run("hit", self._per_token, key):
            stats = await self._run("get_window_stats", self._per_token, key)
            reset = getattr(stats, "reset_time", time.time() + 1)
            raise RateLimited(max(1, math.ceil(reset - time.time())))


class _Stats:
    """The one field of `limits`' window stats that is read here."""

    def __init__(self, reset_time: float) -> None:
        self.reset_time = reset_time


def _item(amount: int, window: float) -> RateLimitItem:
    return RateLimitItemPerSecond(amount, max(1, math.ceil(window)))
