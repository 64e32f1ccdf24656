"""Request bodies of the OAuth endpoints: `application/x-www-form-urlencoded` (RFC 6749 §3.2),
read within a size bound, with empty parameters treated as absent and repeated ones refused."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from tessera.http.oauth.errors import OAuthError, invalid_request

FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 32


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """The parameters of a form body; `invalid_request` for anything else."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != FORM:
        raise invalid_request(f"the body must be {FORM}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            # Embedded apps may have no body limit of their own.
            raise OAuthError("request_too_large", "request body is too large", status=413)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError:  # bad UTF-8 (raw or percent-encoded), or too many fields
        raise invalid_request("the form body is not valid UTF-8 url-encoded data") from None
    params: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            raise invalid_request(f"parameter {name[:40]!r} is repeated")
        seen.add(name)
        if value != "":  # "sent without a value MUST be treated as if … omitted" (§3.2)
            params[name] = value
    return params


def form_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """`openapi_extra` describing a form body, for the schema (and the fuzzer that reads it)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"requestBody": {"required": True, "content": {FORM: {"schema": schema}}}}
