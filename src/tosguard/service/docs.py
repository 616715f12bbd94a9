"""The API's documentation pages: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, over
``/openapi.json``, with their scripts and styles served by the service itself from the
installed package ``fastapi-offline`` (MIT; it ships ``swagger-ui-dist``'s bundle and
stylesheet and ReDoc's standalone script), so that the pages work without reaching a CDN, and
no third party learns who reads them. The pages are public, like ``/openapi.json``.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from .problems import ProblemError, item

STATIC = "/docs/static"
#: The files the pages load, with their media types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
PATHS = frozenset({"/docs", "/redoc", *(f"{STATIC}/{name}" for name in ASSETS)})


@cache
def assets_dir() -> Path | None:
    """Where the installed ``fastapi-offline`` keeps the files (None if it is missing)."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = Path(next(iter(spec.submodule_search_locations))) / "static"
    return directory if all((directory / name).is_file() for name in ASSETS) else None


def _missing() -> ProblemError:
    return ProblemError(
        "not-found",
        "the documentation pages need the package `fastapi-offline`",
        [
            item(
                "service-unknown-path",
                "the documentation's scripts are not installed",
                help="pip install 'tosguard[serve]'; the API itself is described at "
                "`/openapi.json`",
            )
        ],
    )


def install(app: FastAPI) -> None:
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        if assets_dir() is None:
            raise _missing()
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} {app.version}: API",
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        if assets_dir() is None:
            raise _missing()
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} {app.version}: API",
            redoc_js_url=f"{STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC}/favicon.png",
            with_google_fonts=False,
        )

    for name, media_type in ASSETS.items():
        _asset_route(app, name, media_type)


def _asset_route(app: FastAPI, name: str, media_type: str) -> None:
    @app.get(f"{STATIC}/{name}", include_in_schema=False, name=f"docs-{name}")
    async def asset() -> Response:
        directory = assets_dir()
        if directory is None:
            raise _missing()
        return Response(
            _read(directory / name),
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=86400"},
        )


@cache
def _read(path: Path) -> bytes:
    return path.read_bytes()
