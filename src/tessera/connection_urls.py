"""The database and Redis URLs, checked when the settings load.

A malformed URL is a settings error at start-up, not a surprise on the first request. The
messages say what is wrong and never repeat the URL: it may carry a password.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DATABASE_SCHEMES = ("sqlite", "sqlite+aiosqlite", "postgresql", "postgres", "postgresql+asyncpg")
DATABASE_FORMS = "sqlite:///path/to/file.db or postgresql://user:password@host:port/database"
REDIS_SCHEMES = ("redis", "rediss", "redis+unix")
REDIS_FORMS = (
    "redis://[[user]:password@]host[:port][/db], rediss://… (TLS) or redis+unix:///path/to/socket"
)


def check_database_url(url: str) -> str:
    """`url` if SQLAlchemy can parse it and Tessera has a driver for it, else ValueError."""
    from sqlalchemy import make_url  # only when a URL is configured: settings stay light
    from sqlalchemy.exc import ArgumentError

    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in DATABASE_SCHEMES:
        raise ValueError(f"not a supported database URL; expected {DATABASE_FORMS}")
    try:
        make_url(url)  # a port that is not a number fails here
        _port = urlsplit(url).port  # and here: out of range, or a bracket left open
    except (ArgumentError, ValueError):
        raise ValueError(
            f"not a valid database URL (check the host, the port, and that any special "
            f"character in the password is %-encoded); expected {DATABASE_FORMS}"
        ) from None
    return url


def check_redis_url(url: str) -> str:
    """`url` if the rate-limit store can use it, else ValueError: the scheme, a host (or a
    socket path), a numeric port and database number, and query options redis-py accepts."""
    from redis.connection import parse_url  # only when a URL is configured

    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "unix":
        raise ValueError(f"write a socket as redis+unix:///path/to/socket; expected {REDIS_FORMS}")
    if scheme not in REDIS_SCHEMES:
        raise ValueError(f"not a Redis URL; expected {REDIS_FORMS}")
    problem = _redis_problem(url, scheme)
    if problem is None:
        try:  # redis-py's own parser: the query options (db=, socket_timeout=, …)
            parse_url(url.replace("redis+unix://", "unix://", 1))  # type: ignore[no-untyped-call]
        except ValueError:
            problem = "an option in its query string has an invalid value"
    if problem is not None:
        raise ValueError(f"not a usable Redis URL: {problem}; expected {REDIS_FORMS}")
    return url


def _redis_problem(url: str, scheme: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return (
            "the port is not a number from 0 to 65535, or the host is malformed "
            "(%-encode any special character in the password)"
        )
    if scheme == "redis+unix":
        return None if parts.path.strip("/") else "the socket path is missing"
    if not parts.hostname:
        return "the host is missing (%-encode any special character in the password)"
    if port == 0:
        return "the port is 0"
    db = parts.path.strip("/")
    if db and not (db.isascii() and db.isdigit()):
        return "the database number (the path) is not a number"
    return None
