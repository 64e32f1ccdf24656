"""Logging: one line per event, JSON for machines (`TESSERA_LOG_FORMAT=json`) or text for
people, every line carrying the request id of the request it belongs to. Nothing secret is
ever logged: no passwords, tokens or keys — only ids, outcomes and timings; and every line
has the user-info of any URL in it hidden, whoever wrote it (a driver's error, a traceback)."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("tessera_request_id", default=None)

# Structured fields a record may carry (passed with `extra=`); anything else is not emitted.
FIELDS = ("method", "path", "status", "duration_ms", "client", "route")

# `scheme://anything-without-spaces@`: the user-info of a URL (up to its last `@`, as URL
# parsers read it), which is where a Redis or database URL carries its password.
URL_USER_INFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"<>]*@")


def redact(text: str) -> str:
    """`text` with the user-info of every URL in it replaced by `***` (as `redact_url` does
    for one URL): for exception messages, which may quote a configured URL."""
    return URL_USER_INFO.sub(r"\1***@", text)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", "-") != "-":
            entry["request_id"] = record.request_id  # type: ignore[attr-defined]
        for name in FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RedactingFormatter(logging.Formatter):
    """Another formatter's lines with URL user-info hidden: the last line of defence for
    messages and tracebacks from any library."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


def configure(format: str = "text", level: str = "info") -> None:
    """Send every log line (Tessera's and uvicorn's) to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    inner = JSONFormatter() if format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(RedactingFormatter(inner))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Database drivers log statements with their parameters (SQLAlchemy at info level):
    # never let those through, they can carry user input.
    for name in ("aiosqlite", "asyncpg", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.WARNING)
