"""The outermost middleware: request id, API-key check, metrics, the access log, and the last
line of defence that turns any error into a problem document (never a bare 500 page, never a
traceback to the client).

A client that goes away before its request body has arrived is no error of the service: the
access log shows status 499 (nginx's "client closed request"), and nothing else is logged. When
the connection's protocol answered the request itself while the app waited for its body (a
limit broken, a connection closed at the cap: :mod:`.protocol`), the app is told the client is
gone too, and the access log shows the protocol's status and problem under the same request id.

Pure ASGI, so a request costs no extra task and no body buffering.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import NamedTuple

from anyio import CancelScope
from starlette.requests import ClientDisconnect

from . import problems
from .auth import ApiKeys, offered_key
from .logs import ACCESS_LOGGER, SERVICE_LOGGER
from .metrics import Metrics
from .problems import ProblemError

REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
SCOPE_KEY = "tosguard"
#: The scope key under which the connection's protocol leaves a :class:`ProtocolAnswer`.
PROTOCOL_ANSWER = "tosguard.protocol_answer"
#: The access log's status for a request whose client left before it was answered.
CLIENT_CLOSED = 499


class ProtocolAnswer(NamedTuple):
    """A request the connection's protocol answered itself while the app waited for its body."""

    status: int
    kind: str
    request_id: str


access_log = logging.getLogger(ACCESS_LOGGER)
service_log = logging.getLogger(SERVICE_LOGGER)


class Context:
    """Per-request values shared between the middleware and the endpoints."""

    __slots__ = ("request_id", "key_id", "verdict", "revision", "deadline", "started")

    def __init__(self, request_id: str, timeout: float):
        self.request_id = request_id
        self.key_id: str | None = None
        self.verdict: str | None = None
        self.revision: str | None = None
        self.started = time.monotonic()
        self.deadline = self.started + timeout

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


def new_request_id(headers) -> str:
    """The client's ``X-Request-ID`` when it is a sane one, else a fresh id."""
    for name, value in headers:
        if name == b"x-request-id" and REQUEST_ID.fullmatch(value):
            return value.decode()
    return uuid.uuid4().hex


def context(scope) -> Context:
    return scope[SCOPE_KEY]


async def send_problem(send, error: ProblemError, instance: str, request_id: str) -> None:
    body = problems.body(error, instance, request_id)
    headers = [
        (b"content-type", problems.PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class StartupFailure(Exception):
    """The worker cannot serve (its policy set does not load); already logged in full."""


class ServiceMiddleware:
    def __init__(
        self,
        app,
        *,
        keys: ApiKeys,
        metrics: Metrics,
        timeout: float,
        public_paths: frozenset[str],
        access_log_enabled: bool = True,
    ):
        self.app = app
        self.keys = keys
        self.metrics = metrics
        self.timeout = timeout
        self.public_paths = public_paths
        self.access_log_enabled = access_log_enabled
        self.startup_failure: str | None = None

    def bind(self, app) -> ServiceMiddleware:
        """The middleware factory Starlette calls with the app it wraps (the middleware is
        built first, so that the app's lifespan can report to it)."""
        self.app = app
        return self

    def _lifespan_send(self, send):
        """Report a start-up failure already logged as such in one line, not with the
        traceback Starlette formats for it."""

        async def lifespan_send(message):
            if message["type"] == "lifespan.startup.failed" and self.startup_failure:
                message = {**message, "message": self.startup_failure}
            await send(message)

        return lifespan_send

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = scope.get(PROTOCOL_ANSWER)  # a ProtocolAnswer, if given before the app began
        request_id = answered.request_id if answered else new_request_id(scope["headers"])
        ctx = Context(request_id, self.timeout)
        scope[SCOPE_KEY] = ctx
        status, received, sent, started = 500, 0, 0, False
        request_id_header = (b"x-request-id", request_id.encode())

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def tagged_send(message):
            nonlocal status, sent, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [*message.get("headers", ()), request_id_header]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            with CancelScope(shield=True):  # a response, once begun, is sent whole
                await send(message)

        path = scope["path"]
        self.metrics.in_progress.inc()
        try:
            if self.keys.enabled and path not in self.public_paths:
                ctx.key_id = self.keys.match(offered_key(scope["headers"]))
                if ctx.key_id is None:
                    raise ProblemError(
                        "unauthorized",
                        "send an API key as `Authorization: Bearer KEY` or `X-API-Key: KEY`",
                        headers={"WWW-Authenticate": 'Bearer realm="tosguard"'},
                    )
            await self.app(scope, counting_receive, tagged_send)
        except ProblemError as error:
            if started:
                raise
            await send_problem(tagged_send, error, path, request_id)
        except ClientDisconnect:  # gone before its body arrived: nothing to answer, no error
            status = CLIENT_CLOSED
        except Exception as error:
            service_log.error(
                "internal error",
                exc_info=error,
                extra={"fields": {"request_id": request_id, "path": path}},
            )
            if started:
                raise
            await send_problem(
                tagged_send,
                ProblemError(
                    "internal", "an internal error occurred; it has been logged with the request id"
                ),
                path,
                request_id,
            )
        finally:
            self.metrics.in_progress.dec()
            elapsed = time.monotonic() - ctx.started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            answered = scope.get(PROTOCOL_ANSWER)
            if answered is not None:  # what the client got (the app's answer was dropped)
                status, sent = answered.status, 0
            self.metrics.observe(scope["method"], template, status, elapsed)
            if self.access_log_enabled and access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                problem = {"problem": answered.kind} if answered is not None else {}
                access_log.info(
                    "request",
                    extra={
                        "fields": {
                            "request_id": request_id,
                            "method": scope["method"],
                            "path": path,
                            "route": template,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 2),
                            "request_bytes": received,
                            "response_bytes": sent,
                            "client": client[0] if client else None,
                            "key_id": ctx.key_id,
                            "verdict": ctx.verdict,
                            "revision": ctx.revision,
                            **problem,
                        }
                    },
                )
