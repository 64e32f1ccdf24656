"""Logging: one line per event, JSON for machines (`TESSERA_LOG_FORMAT=json`) or text for
people, every line carrying the request id of the request it belongs to. Nothing secret is
ever logged: no passwords, tokens or keys — only ids, outcomes and timings; and every line
has the user-info of any URL in it hidden, whoever wrote it (a driver's error, a traceback)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
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


# What an access line says, taken when it is logged: the time, the request id, the logger's
# name, method, path, status, milliseconds, route template and client address.
AccessEntry = tuple[float, str, str, str, str, int, float, str, str | None]


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that also takes access lines (`log_access`) as they are logged, and
    formats and writes the lines of one turn of the event loop together, with one system
    call, at the end of that turn: per line, the formatting and the write were most of what
    the access log cost a request (a line's code runs far faster among others of its kind
    than alone between two requests'). No line waits for anything (the loop writes them
    before it next sleeps or polls); any other record, and `flush()` (logging's shutdown
    calls it), writes the waiting lines first, so lines keep the order they were logged in.
    As `emit` does, a failing stream costs the lines, never the caller."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.waiting: list[AccessEntry] = []
        self.due_on: asyncio.AbstractEventLoop | None = None  # the loop a write is due on

    def add_access(self, entry: AccessEntry) -> None:
        """`entry`'s line, at the end of this loop turn; at once when no event loop runs in
        this thread."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self.lock:  # type: ignore[union-attr]
            self.waiting.append(entry)
            if loop is not None and self.due_on is loop:
                return  # a write is already due at the end of this turn
            self.due_on = loop
        if loop is None:
            self._flush_quietly()
        else:
            loop.call_soon(self._flush_quietly)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self.write_waiting()
            super().flush()  # as StreamHandler's: a closed stream raises; shutdown ignores it

    def _flush_quietly(self) -> None:
        """`flush()` for a request or the event loop: a failure goes to `handleError`."""
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - as `emit` does: logging never breaks the caller
            self.handleError(logging.makeLogRecord({"msg": "access lines"}))

    def write_waiting(self) -> None:
        """Write the lines waiting (a failure goes to `handleError`), without flushing."""
        with self.lock:  # type: ignore[union-attr]
            entries, self.waiting, self.due_on = self.waiting, [], None
            if not entries:
                return
            try:
                self.stream.write("".join(self._lines(entries)))
            except Exception:  # noqa: BLE001 - as `emit` does: logging never breaks the caller
                self.handleError(logging.makeLogRecord({"msg": "access lines"}))

    def _lines(self, entries: list[AccessEntry]) -> Iterator[str]:
        for entry in entries:
            try:
                formatter = self.formatter
                if not isinstance(formatter, RedactingFormatter):
                    raise TypeError("the handler's formatter is not configure()'s")
                yield access_line(formatter, entry) + self.terminator
            except Exception:  # noqa: BLE001 - one bad line costs that line alone
                self.handleError(logging.makeLogRecord({"msg": "an access line"}))

    def emit(self, record: logging.LogRecord) -> None:
        if self.waiting:
            self.write_waiting()  # the stream is flushed by the emit that follows
        super().emit(record)

    def forget_waiting(self) -> None:
        """In a child process after a fork: the lines waiting are the parent's to write."""
        self.waiting, self.due_on = [], None


def configure(format: str = "text", level: str = "info") -> None:
    """Send every log line (Tessera's and uvicorn's) to stderr in the chosen format."""
    global _installed
    handler = LineHandler(sys.stderr)
    _installed = handler
    handler.addFilter(RequestIdFilter())
    inner = JSONFormatter() if format == "json" else TextFormatter()
    handler.setFormatter(RedactingFormatter(inner))
    root = logging.getLogger()
    for replaced in root.handlers:
        if isinstance(replaced, LineHandler):
            replaced.write_waiting()  # before anything the new one writes
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
_installed: LineHandler | None = None


def _after_fork_in_child() -> None:
    if _installed is not None:
        _installed.forget_waiting()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
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
    handler `configure` installed (the standalone server's own logging, untouched), what
    the line says handed straight to it (`LineHandler.add_access`), which writes the same
    bytes. A record, its filter and two formatters cost a GET more than a tenth of its CPU
    in the server; this costs a fraction of that.
    Any other set-up (a handler or filter of the host's, another level) gets the record."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _installed
    if handler is None or not _only_to(handler, logger):
        fields = access_fields(method, path, status, elapsed_ms, route, client)
        log_fields(logger, ACCESS_MESSAGE, (method, path, status, elapsed_ms), **fields)
        return
    rid = request_id.get() or "-"
    handler.add_access(
        (time.time(), rid, logger.name, method, path, status, elapsed_ms, route, client)
    )


def access_fields(
    method: str, path: str, status: int, elapsed_ms: float, route: str, client: str | None
) -> dict[str, object]:
    """An access line's structured fields (`FIELDS`)."""
    return {
        "method": method,
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": round(elapsed_ms, 2),
        "client": client,
    }


def access_line(formatter: RedactingFormatter, entry: AccessEntry) -> str:
    """The line `formatter` makes of a record of `entry` (`configure`'s formats only)."""
    created, rid, name, method, path, status, elapsed_ms, route, client = entry
    msecs = int((created - int(created)) * 1000)
    message = ACCESS_MESSAGE % (method, path, status, elapsed_ms)
    inner = formatter.inner
    if isinstance(inner, TextFormatter):
        line = f"{inner.stamp(created)},{msecs:03d} INFO    {name} [{rid}] {message}"
    else:
        assert isinstance(inner, JSONFormatter)
        as_json: dict[str, object] = {
            "ts": f"{inner.stamp(created)}.{msecs:03d}Z",
            "level": "info",
            "logger": name,
            "message": message,
        }
        if rid != "-":
            as_json["request_id"] = rid
        fields = access_fields(method, path, status, elapsed_ms, route, client)
        as_json.update((field, fields[field]) for field in FIELDS)
        line = inner.encoder.encode(as_json)
    return redact(line)


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
