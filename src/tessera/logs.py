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
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str | None] = ContextVar("tessera_request_id", default=None)

# Structured fields a record may carry (passed with `extra=`); anything else is not emitted.
FIELDS = ("method", "path", "status", "duration_ms", "client", "route")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"

# `scheme://anything-without-spaces@`: the user-info of a URL (up to its last `@`, as URL
# parsers read it), which is where a Redis or database URL carries its password.
URL_USER_INFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"<>]*@")


def redact(text: str) -> str:
    """`text` with the user-info of every URL in it replaced by `***` (as `redact_url` does
    for one URL): for exception messages, which may quote a configured URL. A line without
    `://` has no URL to redact (the pattern needs one): most lines, the access log's among
    them, skip the regular expression."""
    if "://" not in text:
        return text
    return URL_USER_INFO.sub(r"\1***@", text)


def log_fields(
    logger: logging.Logger, message: str, args: tuple[object, ...], **fields: object
) -> None:
    """`logger.info(message, *args, extra=fields)` without `Logger.info`'s walk up the stack
    to find its caller (for `%(pathname)s` and `%(lineno)d`, which no Tessera format shows):
    for a line written on every request from one place, the access log's. The record names
    this function as its origin."""
    if logger.isEnabledFor(logging.INFO):
        record = logger.makeRecord(
            logger.name, logging.INFO, __file__, 0, message, args, None, "log_fields", fields
        )
        logger.handle(record)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


class SecondStamp:
    """A record's time to the second, formatted once per second: lines come many per second,
    and formatting a date cost more than all the other fields of an access line."""

    def __init__(self, format: str, convert: Callable[[float], time.struct_time]) -> None:
        self.format = format
        self.convert = convert
        self.last = (-1, "")  # one tuple, so a reader never pairs one second with another's text

    def __call__(self, created: float) -> str:
        second = int(created)
        last = self.last
        if last[0] != second:
            last = self.last = (second, time.strftime(self.format, self.convert(second)))
        return last[1]


class TextFormatter(logging.Formatter):
    """`TEXT_FORMAT`, its time as `logging.Formatter` writes it (local time, milliseconds)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self.stamp = SecondStamp(self.default_time_format, time.localtime)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return f"{self.stamp(record.created)},{int(record.msecs):03d}"


class JSONFormatter(logging.Formatter):
    encoder = json.JSONEncoder(
        ensure_ascii=False
    )  # what `json.dumps(..., ensure_ascii=False)` makes

    def __init__(self) -> None:
        super().__init__()
        self.stamp = SecondStamp("%Y-%m-%dT%H:%M:%S", time.gmtime)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": f"{self.stamp(record.created)}.{int(record.msecs):03d}Z",
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
        return self.encoder.encode(entry)


class RedactingFormatter(logging.Formatter):
    """Another formatter's lines with URL user-info hidden: the last line of defence for
    messages and tracebacks from any library."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


def configure(format: str = "text", level: str = "info") -> None:
    """Send every log line (Tessera's and uvicorn's) to stderr in the chosen format."""
    global _installed
    handler = logging.StreamHandler(sys.stderr)
    _installed = handler
    handler.addFilter(RequestIdFilter())
    inner = JSONFormatter() if format == "json" else TextFormatter()
    handler.setFormatter(RedactingFormatter(inner))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # No line shows a thread or process name: spare every record looking them up.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Database drivers log statements with their parameters (SQLAlchemy at info level):
    # never let those through, they can carry user input.
    for name in ("aiosqlite", "asyncpg", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.WARNING)


# The handler `configure` installed last: `log_access` writes to it directly while it is the
# only place an access line would go.
_installed: logging.StreamHandler[Any] | None = None
ACCESS_MESSAGE = "%s %s %d %.1fms"


def log_access(
    logger: logging.Logger,
    *,
    method: str,
    path: str,
    status: int,
    elapsed_ms: float,
    route: str,
    client: str | None,
) -> None:
    """One access-log line: `log_fields`, or, when the line would reach nothing but the
    handler `configure` installed (the standalone server's own logging, untouched), the
    same bytes written straight to its stream. A record, its filter and two formatters
    cost a GET more than a tenth of its CPU in the server; this costs a fraction of that.
    Any other set-up (a handler or filter of the host's, another level) gets the record."""
    if not logger.isEnabledFor(logging.INFO):
        return
    args = (method, path, status, elapsed_ms)
    fields: dict[str, object] = {
        "method": method,
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": round(elapsed_ms, 2),
        "client": client,
    }
    handler = _installed
    if handler is None or not _only_to(handler, logger):
        log_fields(logger, ACCESS_MESSAGE, args, **fields)
        return
    formatter = handler.formatter
    assert isinstance(formatter, RedactingFormatter)
    created = time.time()
    msecs = int((created - int(created)) * 1000)
    message = ACCESS_MESSAGE % args
    rid = request_id.get() or "-"
    inner = formatter.inner
    if isinstance(inner, TextFormatter):
        line = f"{inner.stamp(created)},{msecs:03d} INFO    {logger.name} [{rid}] {message}"
    else:
        assert isinstance(inner, JSONFormatter)
        entry: dict[str, object] = {
            "ts": f"{inner.stamp(created)}.{msecs:03d}Z",
            "level": "info",
            "logger": logger.name,
            "message": message,
        }
        if rid != "-":
            entry["request_id"] = rid
        entry.update((name, fields[name]) for name in FIELDS)
        line = inner.encoder.encode(entry)
    handler.acquire()
    try:
        handler.stream.write(redact(line) + handler.terminator)
        handler.stream.flush()
    finally:
        handler.release()


def _only_to(handler: logging.Handler, logger: logging.Logger) -> bool:
    """Whether a record of `logger` would reach `handler` alone, through no filter but the
    request-id one `configure` gave it, and be formatted as `configure` set it up."""
    current: logging.Logger | None = logger
    while current is not None and current.parent is not None:  # up to the root
        if current.handlers or current.filters or not current.propagate:
            return False
        current = current.parent
    root = logging.getLogger()
    return (
        root.handlers == [handler]
        and not root.filters
        and handler.level <= logging.INFO
        and len(handler.filters) == 1
        and isinstance(handler.filters[0], RequestIdFilter)
        and isinstance(handler.formatter, RedactingFormatter)
        and isinstance(handler.formatter.inner, TextFormatter | JSONFormatter)
    )
