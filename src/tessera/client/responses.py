"""Reading the auth server's and the APIs' answers: the error they name, when to try again,
and whether a 401 is about the access token."""

from __future__ import annotations

import email.utils
import time

import httpx


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (either form RFC 9110 allows), or None."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # neither seconds nor an HTTP date: ignore it
    return max(0.0, parsed.timestamp() - time.time())


def error_of(response: httpx.Response) -> tuple[str, str]:
    """The contract's `(error, error_description)`, or the status line's words."""
    try:
        body = response.json()
        return str(body.get("error", "error")), str(body.get("error_description", ""))
    except (ValueError, AttributeError):
        return "error", response.reason_phrase


def rejects_token(response: httpx.Response) -> bool:
    """A 401 that says the access token is the problem (RFC 6750 `invalid_token`)."""
    return response.status_code == 401 and "invalid_token" in response.headers.get(
        "www-authenticate", ""
    )
