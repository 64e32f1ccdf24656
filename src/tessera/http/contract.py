"""What every Tessera route shares, `/auth/*` and `/oauth/*` alike: the service is ready
before the handler runs (started on first use, key rotations picked up, revocations followed),
every error is answered in the contract's JSON shape even in a host application without
Tessera's exception handlers, and the client is described the same way."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import fastapi.routing
from fastapi import Request
from fastapi.dependencies.models import Dependant
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
            handler = self.endpoint if takes_only_the_request(self) else super().get_route_handler()

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


def takes_only_the_request(route: APIRoute) -> bool:
    """Whether FastAPI's request handling would do nothing for `route` but call it with the
    request: an endpoint of one `Request` parameter that answers with a `Response` (the hot
    routes, which read their own body: `bodies`), with no dependency of its own or of the
    router it was included by. Such an endpoint is called directly: FastAPI's dependency
    solving, validation and response handling cost it a fifth of a refresh's non-signing work.
    The OpenAPI description is FastAPI's as ever (it is built from the route, not from this)."""
    if not answers_with_a_response(route.endpoint):
        return False
    effective = route
    # An included router's prefix and dependencies reach the route through this (FastAPI
    # 0.123+); unknown to an older or newer FastAPI: then the usual handling, always.
    context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
    if context_var is None:
        return False
    context = context_var.get()
    if context is not None and getattr(context, "original_route", None) is route:
        effective = context
    dependant: Dependant = effective.dependant
    return (
        dependant.request_param_name is not None
        and not dependant.dependencies
        and not dependant.path_params
        and not dependant.query_params
        and not dependant.header_params
        and not dependant.cookie_params
        and not dependant.body_params
        and dependant.websocket_param_name is None
        and dependant.http_connection_param_name is None
        and dependant.response_param_name is None
        and dependant.background_tasks_param_name is None
        and dependant.security_scopes_param_name is None
    )


def answers_with_a_response(endpoint: Callable[..., Any]) -> bool:
    try:
        answer = inspect.signature(endpoint, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError):
        return False
    return inspect.isclass(answer) and issubclass(answer, Response)


def client_info(request: Request) -> ClientInfo:
    """The client's address as the ASGI server reports it: behind a proxy, `tessera serve`
    (with TESSERA_TRUST_FORWARDED) lets uvicorn take it from the trusted hop of
    X-Forwarded-For; the leftmost entry is whatever the client wrote, so it is never used."""
    ip = request.client.host if request.client else None
    agent = request.headers.get("user-agent")
    return ClientInfo(ip=ip, user_agent=agent[:MAX_USER_AGENT] if agent else None)
