"""The API docs page: Swagger UI at `/docs`, off unless `TESSERA_API_DOCS` is on.

FastAPI's own `/docs` and `/redoc` load unpinned scripts from a CDN with no integrity check;
such a script runs on the auth origin and could drive `/auth/refresh` with the user's cookie.
So no third-party script is ever served from here: when the docs are on, Swagger UI's files
come from an installed package (`fastapi-offline`, the `docs` extra), are served from this
origin, and the page's CSP allows scripts from this origin only. ReDoc is not offered: its
bundle injects its styles at run time, which that CSP refuses. `/openapi.json` stays
either way: JSON, never run by a browser, listing the routes the README documents anyway.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, Response

from tessera.web import asset

VENDOR_FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
OFF = "API docs are off: TESSERA_API_DOCS=true serves Swagger UI (needs tessera[docs])"
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


@cache
def vendor_dir() -> Path:
    """Where the installed package keeps Swagger UI's files."""
    try:
        return Path(str(files("fastapi_offline").joinpath("static")))
    except ModuleNotFoundError:
        raise RuntimeError(
            "TESSERA_API_DOCS=true needs Swagger UI's files: pip install 'tessera[docs]'"
        ) from None


def install_api_docs(app: FastAPI, enabled: bool) -> None:
    """Swagger UI at /docs when `enabled`; otherwise /docs and /redoc say why they are 404."""
    if not enabled:

        @app.get("/docs", include_in_schema=False)
        @app.get("/redoc", include_in_schema=False)
        async def docs_off() -> Response:
            raise HTTPException(404, OFF)

        return
    vendor = vendor_dir()  # fails at start, not on the first visit

    @app.get("/docs", include_in_schema=False)
    async def docs_page() -> Response:
        headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache"}
        return HTMLResponse(asset("docs.html"), headers=headers)

    @app.get("/docs/{name}", include_in_schema=False)
    async def docs_file(name: str, request: Request) -> Response:
        if name == "docs.js":
            return Response(asset(name), media_type="text/javascript; charset=utf-8")
        if name not in VENDOR_FILES:
            raise HTTPException(404, "no such file")
        path = vendor / name
        response = FileResponse(path, media_type=VENDOR_FILES[name], stat_result=path.stat())
        if request.headers.get("if-none-match") == response.headers["etag"]:
            # The 1.5 MB bundle is sent once per browser, then revalidated.
            return Response(status_code=304, headers={"etag": response.headers["etag"]})
        return response
