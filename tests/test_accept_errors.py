"""Failed accepts (out of descriptors) are reported once in a while, not each one; every other
loop error still reaches the handler before it. `serve` under the real condition:
`test_request_deadline.py::test_stalled_bodies_cannot_exhaust_serves_descriptors`."""

from __future__ import annotations

import asyncio
import errno

import pytest

from tessera.http.accept_errors import ACCEPT_FAILED, AcceptErrorLog


def test_failed_accepts_are_reported_once_per_period_and_other_errors_passed_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.new_event_loop()
    try:
        passed_on: list[str] = []
        loop.set_exception_handler(lambda _, context: passed_on.append(context["message"]))
        handler = AcceptErrorLog(loop, every=3600)
        failed = {"message": ACCEPT_FAILED, "exception": OSError(errno.EMFILE, "Too many")}
        for _ in range(2048):
            handler(loop, failed)
        handler(loop, {"message": "Task exception was never retrieved"})
    finally:
        loop.close()
    assert passed_on == ["Task exception was never retrieved"]
    reports = [r.getMessage() for r in caplog.records if r.name == "tessera.server"]
    assert len(reports) == 1 and "Too many" in reports[0]
