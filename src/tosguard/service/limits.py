"""The request-body limit, counted on the bytes as they stream in.

A declared ``Content-Length`` over the limit is refused before a byte of the body is read. A
body without one (``Transfer-Encoding: chunked``) or one that lies about its length is counted
chunk by chunk as the endpoint reads it: the first chunk that crosses the limit raises
:class:`BodyTooLarge`, which the app renders as 413. Nothing over the limit is ever buffered.
"""

from __future__ import annotations

from .problems import ProblemError


class BodyTooLarge(ProblemError):
    def __init__(self, limit: int):
        super().__init__(
            "body-too-large",
            f"the request body is larger than the limit of {limit} bytes",
            headers={"Connection": "close"},
        )
        self.limit = limit


class BodyLimitMiddleware:
    """Pure ASGI middleware (no per-request task or buffering, unlike BaseHTTPMiddleware)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # h11 and httptools refuse a malformed length themselves
                if declared > limit:
                    raise BodyTooLarge(limit)
                break
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)
