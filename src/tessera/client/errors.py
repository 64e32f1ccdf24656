"""What the client raises: log in again, try again later, or the login itself was refused."""

from __future__ import annotations


class LoginRequired(Exception):
    """The session is over (`/auth/refresh` said 401, or there never was one): log in again.

    After it, every request raises it again without touching the network, until `login()`
    succeeds.
    """


class TransientAuthError(Exception):
    """The auth server could not refresh right now (5xx, 429). The session is kept: retry later,
    after `retry_after` seconds when the server said so. Network failures surface as httpx's own
    `httpx.TransportError`, with the session kept as well."""

    def __init__(self, message: str, status_code: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


class LoginFailed(Exception):
    """`login()` was refused: `error` is the contract's code (`invalid_credentials`,
    `rate_limited`, …)."""

    def __init__(
        self, error: str, description: str, status_code: int, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status_code = status_code
        self.retry_after = retry_after
