"""The access lines of one turn of the event loop go out in one write, at the end of that turn
(`LineHandler`): never held past it, never out of order with other records, and written at
once where no loop runs or when logging flushes (its shutdown does)."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from tessera import logs
from tessera.logs import LineHandler, configure, log_access


class Writes(io.StringIO):
    """A stream that remembers each write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


@pytest.fixture(autouse=True)
def restored_logging(configured_logging: None) -> None:
    """Each test runs `configure`: the loggers are put back after it."""


def configured(monkeypatch: pytest.MonkeyPatch) -> Writes:
    """`configure`'s handler, writing to a `Writes`. In the test's body: pytest adds its own
    capturing handler to the root logger for each phase, and `configure` replaces it, as it
    replaces any other, so that the access lines take their own path."""
    configure("text", "info")
    installed = logging.getLogger().handlers[0]
    assert isinstance(installed, LineHandler)
    writes = Writes()
    installed.setStream(writes)
    monkeypatch.setattr(logging.getLogger("tessera.access"), "disabled", False)
    return writes


def access(path: str) -> None:
    log_access(
        logging.getLogger("tessera.access"),
        method="GET",
        path=path,
        status=200,
        elapsed_ms=1.0,
        route=path,
        client="203.0.113.9",
    )


def broken(monkeypatch: pytest.MonkeyPatch, stream: Writes, *methods: str) -> list[object]:
    """`stream`'s `methods` raise as a pipe whose reader has gone; returns what the handler
    passes to `handleError` from then on."""
    failed: list[object] = []
    monkeypatch.setattr(logging.getLogger().handlers[0], "handleError", failed.append)

    def gone(*_: object) -> None:
        raise BrokenPipeError("the reader has gone")

    for method in methods:
        monkeypatch.setattr(stream, method, gone)
    return failed


def paths_in(text: str) -> list[str]:
    return [line.split()[-3] for line in text.splitlines()]


@pytest.mark.anyio
async def test_one_turns_lines_go_out_in_one_write_at_its_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = configured(monkeypatch)
    access("/a")
    access("/b")
    assert stream.getvalue() == ""  # this turn is not over
    await asyncio.sleep(0)
    assert len(stream.writes) == 1
    assert paths_in(stream.writes[0]) == ["/a", "/b"]
    access("/c")
    await asyncio.sleep(0)
    assert paths_in(stream.getvalue()) == ["/a", "/b", "/c"]
    assert len(stream.writes) == 2


@pytest.mark.anyio
async def test_another_record_comes_after_the_lines_logged_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = configured(monkeypatch)
    access("/a")
    logging.getLogger("tessera.store").warning("database slow")
    access("/b")
    await asyncio.sleep(0)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert "GET /a 200" in lines[0]
    assert lines[1].endswith("database slow")
    assert "GET /b 200" in lines[2]


@pytest.mark.anyio
async def test_flush_writes_the_waiting_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = configured(monkeypatch)
    access("/a")
    logging.getLogger().handlers[0].flush()  # as logging.shutdown() does
    assert paths_in(stream.getvalue()) == ["/a"]
    await asyncio.sleep(0)
    assert paths_in(stream.getvalue()) == ["/a"]  # not twice


def test_without_an_event_loop_a_line_is_written_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = configured(monkeypatch)
    access("/a")
    assert paths_in(stream.getvalue()) == ["/a"]


@pytest.mark.anyio
async def test_a_stream_that_fails_costs_the_lines_not_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = configured(monkeypatch)
    failed = broken(monkeypatch, stream, "write")
    access("/a")
    await asyncio.sleep(0)  # the write fails in the loop's callback, which carries on
    assert len(failed) == 1
    monkeypatch.undo()
    stream = configured(monkeypatch)
    access("/b")
    await asyncio.sleep(0)
    assert paths_in(stream.getvalue()) == ["/b"]


@pytest.mark.anyio
async def test_a_failing_stream_never_reaches_a_caller_that_logs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = configured(monkeypatch)
    failed = broken(monkeypatch, stream, "write", "flush")
    access("/a")
    logging.getLogger("tessera.store").warning("database slow")  # writes /a first: fails
    await asyncio.sleep(0)
    assert failed  # each failure went to handleError, as logging's own emit does


@pytest.mark.anyio
async def test_a_write_due_on_a_loop_that_closed_does_not_hold_later_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = configured(monkeypatch)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, LineHandler)
    gone = asyncio.new_event_loop()
    gone.close()
    handler.waiting.append((0.0, "-", "tessera.access", "GET", "/b", 200, 1.0, "/b", None))
    handler.due_on = gone  # the write of /b was due there, and never ran
    access("/a")
    await asyncio.sleep(0)
    assert paths_in(stream.getvalue()) == ["/b", "/a"]


@pytest.mark.anyio
async def test_configure_again_writes_what_the_old_handler_held_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = configured(monkeypatch)
    access("/a")
    configure("text", "info")
    assert paths_in(stream.getvalue()) == ["/a"]


def test_a_forked_child_leaves_the_parents_lines_to_the_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = configured(monkeypatch)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, LineHandler)
    handler.waiting.append((0.0, "-", "tessera.access", "GET", "/a", 200, 1.0, "/a", None))
    logs._after_fork_in_child()
    logging.getLogger("tessera.store").warning("in the child")
    assert "/a" not in stream.getvalue()
    assert stream.getvalue().endswith("in the child\n")
