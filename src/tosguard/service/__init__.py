"""The HTTP service (``tosguard serve``): FastAPI over the same library API as the CLI.

Modules: :mod:`.app` (the app factory and endpoints), :mod:`.server` (uvicorn, workers,
signals), :mod:`.protocol` (HTTP/1.1 per connection: header limits and timeout, the connection
cap, draining), :mod:`.state` (the policy set in use and its reloads), :mod:`.checks` (the work
behind the endpoints), :mod:`.catalog` (the library as JSON), :mod:`.problems` (RFC 9457
errors), :mod:`.limits` (the streamed body limit), :mod:`.auth` (API keys), :mod:`.access`
(request ids, access log, metrics per request), :mod:`.metrics`, :mod:`.logs`,
:mod:`.openapi`, :mod:`.models` and :mod:`.config`.

Importing this package imports nothing of FastAPI; :func:`create_app` does.
"""

from __future__ import annotations

from .config import Settings

__all__ = ["Settings", "create_app"]


def create_app(*args, **kwargs):
    from .app import create_app as build

    return build(*args, **kwargs)
