"""JSON request bodies read by the route itself, for the hot routes: FastAPI's body
dependency costs more than the whole rest of a refresh's request handling. Same answers as
FastAPI gives (a `RequestValidationError`, which the contract renders as 400
`invalid_request`), and the same OpenAPI description (`json_body`)."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)
# FastAPI's error for a body that is not JSON (by its content type).
NOT_AN_OBJECT = {
    "type": "model_attributes_type",
    "loc": ("body",),
    "msg": "Input should be a valid dictionary or object to extract fields from",
    "input": None,
}


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def parse_body(request: Request, model: type[Model]) -> Model | None:
    """The request's JSON body as a `model`, or None when there is none (an empty body, or
    JSON `null`), as FastAPI's `Body(default=None)` would."""
    raw = await request.body()
    if not raw:
        return None
    content_type = request.headers.get("content-type")
    if content_type is not None and not _is_json(content_type):
        raise RequestValidationError([NOT_AN_OBJECT])
    if raw.strip() == b"null":
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None


def json_body(model: type[BaseModel], *, required: bool) -> dict[str, Any]:
    """`openapi_extra` describing a JSON body of `model`, for a route that reads it itself."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
