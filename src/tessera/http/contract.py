"""What every Tessera route shares, `/auth/*` and `/oauth/*` alike: the service is ready
before the handler runs (started on first use, key rotations picked up, revocations followed),
every error is answered in the contract's JSON shape even in a host application without
Tessera's exception handlers, and the client is described the same way."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from tessera.errors import TesseraError
from tessera.http.errors import (
    database_down,
    from_http_exception,
    from_tessera_error,
    from_validation_error,
    is_database_down,
)
from tessera.http.outages import report_for
from tessera.service import AuthService
from tessera.sessions import ClientInfo

MAX_USER_AGENT = 512


def contract_route(service: AuthService) -> type[APIRoute]:
    """The route class of `service`'s routers."""
    report = report_for(service.metrics)

    class ContractRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def contract_handler(request: Request) -> Response:
                try:
                    await service.ready()
                    return await handler(request)
                except TesseraError as exc:
                    return from_tessera_error(exc, report)
                except RequestValidationError as exc:
                    return from_validation_error(exc)
                except HTTPException as exc:
                    return from_http_exception(exc)
                except Exception as exc:
                    if is_database_down(exc):
                        return database_down(exc, report)
                    raise

            return contract_handler

    return ContractRoute


def client_info(request: Request) -> ClientInfo:
    """The client's address as the ASGI server reports it: behind a proxy, `tessera serve`
    (with TESSERA_TRUST_FORWARDED) lets uvicorn take it from the trusted hop of
    X-Forwarded-For; the leftmost entry is whatever the client wrote, so it is never used."""
    ip = request.client.host if request.client else None
    agent = request.headers.get("user-agent")
    return ClientInfo(ip=ip, user_agent=agent[:MAX_USER_AGENT] if agent else None)
