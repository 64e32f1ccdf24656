"""The contract's error shape, `{"error": CODE, "error_description": TEXT}`, for every error."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from tessera.errors import TesseraError, Unavailable
from tessera.http.outages import UNCOUNTED, OutageReport, report_for
from tessera.metrics import Metrics
from tessera.store.faults import DatabaseUnavailable, classify

log = logging.getLogger("tessera.http")

STATUS_CODES = {
    400: "invalid_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def is_database_down(exc: BaseException) -> bool:
    """The database is unreachable or overloaded: a 503 the client may retry, not a 500.
    The store raises `DatabaseUnavailable` itself; this catches what escaped it."""
    return classify(exc) is not None


def error_response(
    status: int, code: str, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": code, "error_description": description},
        status_code=status,
        headers={**NO_STORE, **(headers or {})},
    )


def database_down(exc: Exception, report: OutageReport | None = None) -> JSONResponse:
    return from_tessera_error(classify(exc) or DatabaseUnavailable(exc), report)


def from_tessera_error(exc: TesseraError, report: OutageReport | None = None) -> JSONResponse:
    """The error's answer; a 503 is also reported (counted, and logged now and then)."""
    if isinstance(exc, Unavailable):
        (report or UNCOUNTED)(exc)
    return error_response(exc.status, exc.code, exc.description, exc.headers)


def from_http_exception(exc: HTTPException) -> JSONResponse:
    code = getattr(exc, "code", None) or STATUS_CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, detail, dict(exc.headers or {}))


def from_validation_error(exc: RequestValidationError) -> JSONResponse:
    return error_response(400, "invalid_request", describe_validation(exc.errors()))


def describe_validation(errors: Any) -> str:
    """A short, safe description: where and what, never the submitted value."""
    try:
        first = errors[0]
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = str(first.get("msg", "invalid"))
    except (IndexError, TypeError, AttributeError, KeyError):
        return "request is not valid"
    return f"{where}: {message}" if where else message


def install_error_handlers(app: FastAPI, metrics: Metrics | None = None) -> None:
    """Give every error of `app` — 404, 405, validation, auth, crashes — the contract's shape
    (503s counted in `metrics`, when given). A crash that is not an outage stays a 500, logged
    with its traceback."""
    report = report_for(metrics)

    async def tessera_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TesseraError)
        return from_tessera_error(exc, report)

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return from_http_exception(exc)

    async def validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return from_validation_error(exc)

    async def crash(_request: Request, exc: Exception) -> Response:
        if is_database_down(exc):
            return database_down(exc, report)
        log.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return error_response(500, "server_error", "internal error")

    app.add_exception_handler(TesseraError, tessera_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, crash)
