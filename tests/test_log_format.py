"""The access log's cheaper path writes the same lines: the text format's time exactly as
`logging.Formatter` writes it, the JSON `ts` in UTC to the millisecond, every field through
`log_fields`, and URL user-info still hidden in any line that holds a URL."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest

from tessera.logs import TEXT_FORMAT, configure, log_access, log_fields, request_id

# Around a second boundary, so a stale per-second stamp would show.
CREATED = (1_764_900_000.998, 1_764_900_001.002, 1_764_900_001.5, 1_764_903_601.25)


@pytest.fixture(autouse=True)
def restored_logging(configured_logging: None) -> None:
    """Every test here runs `configure`: each gets the loggers put back after it."""


def handler(log_format: str) -> logging.StreamHandler[io.StringIO]:
    """The handler `configure` installs, writing to a string."""
    configure(log_format, "info")
    installed = logging.getLogger().handlers[0]
    assert isinstance(installed, logging.StreamHandler)
    installed.setStream(io.StringIO())
    return installed


def record(created: float, message: str = "GET /x 200 0.1ms") -> logging.LogRecord:
    rec = logging.LogRecord("tessera.access", logging.INFO, __file__, 1, message, None, None)
    rec.created = created
    rec.msecs = int((created - int(created)) * 1000) + 0.0
    rec.request_id = "rid-1"
    return rec


def test_text_lines_have_the_time_logging_would_write() -> None:
    text = handler("text")
    stock = logging.Formatter(TEXT_FORMAT)
    for created in CREATED:
        assert text.format(record(created)) == stock.format(record(created))


def test_json_ts_is_utc_to_the_millisecond() -> None:
    json_handler = handler("json")
    for created in CREATED:
        entry = json.loads(json_handler.format(record(created)))
        whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        assert entry["ts"] == f"{whole}.{int((created % 1) * 1000):03d}Z"
        assert entry["request_id"] == "rid-1"


def test_log_fields_writes_the_message_and_every_field() -> None:
    stream = handler("json").stream
    access = logging.getLogger("tessera.access")
    was_disabled, access.disabled = access.disabled, False  # build_server may have turned it off
    token = request_id.set("req-7")
    try:
        log_fields(
            access,
            "%s %s %d %.1fms",
            ("GET", "/api/me", 200, 1.25),
            method="GET",
            path="/api/me",
            route="/api/me",
            status=200,
            duration_ms=1.25,
            client="127.0.0.1",
        )
        access.disabled = True
        log_fields(access, "not written", ())
    finally:
        access.disabled = was_disabled
        request_id.reset(token)
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "GET /api/me 200 1.2ms"
    assert entry["request_id"] == "req-7"
    fields = ("method", "path", "route", "status", "duration_ms", "client")
    assert {k: entry[k] for k in fields} == {
        "method": "GET",
        "path": "/api/me",
        "route": "/api/me",
        "status": 200,
        "duration_ms": 1.25,
        "client": "127.0.0.1",
    }


def test_a_url_password_is_hidden_and_a_plain_line_left_alone() -> None:
    text = handler("text")
    hidden = text.format(record(CREATED[0], "cannot reach redis://:hunter2@cache:6379/0"))
    assert "hunter2" not in hidden and "redis://***@cache:6379/0" in hidden
    plain = text.format(record(CREATED[0], "GET /a@b 200 0.1ms"))
    assert plain.endswith("[rid-1] GET /a@b 200 0.1ms")


class Inspecting(logging.Filter):
    """A filter of the host's own: the record path must then be taken (it sees each record)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.seen += 1
        return True


def write_access(path: str, client: str | None) -> None:
    log_access(
        logging.getLogger("tessera.access"),
        method="GET",
        path=path,
        status=404,
        elapsed_ms=12.3456,
        route="unmatched",
        client=client,
    )


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize(
    ("path", "client"),
    [("/api/me", "203.0.113.9"), ("/x\\u2028y/é", None), ("/go/redis://user:pw@host/0", "::1")],
)
def test_access_lines_written_directly_are_the_records_lines(
    monkeypatch: pytest.MonkeyPatch, log_format: str, path: str, client: str | None
) -> None:
    stream = handler(log_format).stream
    access = logging.getLogger("tessera.access")
    monkeypatch.setattr(access, "disabled", False)  # build_server may have turned it off
    token = request_id.set("req-9" if client else None)
    try:
        for created in CREATED:
            monkeypatch.setattr(time, "time", lambda created=created: created)
            # Straight to the stream: no record is made.
            with monkeypatch.context() as direct:
                direct.setattr(logging.Logger, "makeRecord", None)
                write_access(path, client)
            # Through a record, as any set-up other than `configure`'s gets it.
            inspecting = Inspecting()
            access.addFilter(inspecting)
            try:
                write_access(path, client)
            finally:
                access.removeFilter(inspecting)
            assert inspecting.seen == 1
    finally:
        request_id.reset(token)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 * len(CREATED)
    for direct_line, record_line in zip(lines[::2], lines[1::2], strict=True):
        assert direct_line == record_line
    assert "pw@" not in stream.getvalue()


def test_a_host_handler_gets_every_access_line_as_a_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = handler("text").stream
    access = logging.getLogger("tessera.access")
    monkeypatch.setattr(access, "disabled", False)
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    host = Keep()
    logging.getLogger("tessera").addHandler(host)
    try:
        write_access("/api/me", "203.0.113.9")
    finally:
        logging.getLogger("tessera").removeHandler(host)
    (record,) = kept
    assert record.__dict__["route"] == "unmatched"
    assert record.getMessage() == "GET /api/me 404 12.3ms"
    assert stream.getvalue().count("GET /api/me 404 12.3ms") == 1  # and the root's handler too
