"""HTTP/1.1 on each connection: uvicorn's httptools protocol with the limits it leaves out.

uvicorn hands each connection to a protocol class (its ``http=`` option); this one subclasses
uvicorn's :class:`~uvicorn.protocols.http.httptools_impl.HttpToolsProtocol` and adds:

* **A header size limit** (``max_header_bytes``, 16 KiB). llhttp sets none and httptools
  gathers a header value however long it grows (ten connections sending 50 MiB of one endless
  header cost 506 MB). The bytes of a request line and headers are counted as they arrive and
  never more than the limit is handed to the parser; a head that does not end within it gets a
  431 problem and the connection is closed. A request pipelined behind another in the same
  read may get up to twice the limit, never more.
* **A header timeout** (``header_timeout``, 10 s). A new connection must complete its first
  request's headers within it, and a kept-alive one each later request's headers within it of
  the request's first byte (how long it may idle before that is uvicorn's keep-alive timeout,
  5 s), so a client that drips a header a byte at a time (slowloris), or connects and says
  nothing, cannot hold a connection: it gets 408 (nothing when it sent nothing) and is closed.
  The unread rest of a body whose request was already answered counts as such a wait too.
* **A cap on open connections** (``max_connections``), set below the process's file-descriptor
  limit: at the cap a new connection closes the oldest one that is waiting for request headers
  (idle or slow), so a burst of slow connections cannot leave a probe without a descriptor
  (300 slow connections under ``ulimit -n 256`` failed every ``/healthz``). When every
  connection has a request in progress, the new one gets 503 and is closed.
* **Draining.** When the worker stops (``SIGTERM``, or a rolling restart replacing it), uvicorn
  stops accepting and calls :meth:`TosguardProtocol.shutdown` on each connection. uvicorn's own
  closes every idle keep-alive connection at once, so a request a client had just sent on one
  got a reset; here an idle connection stays open for ``drain_grace`` (1 s) and the next
  request on it is answered, with ``Connection: close``, as is a request in progress; a
  connection that stays idle through the grace period is closed then.
* **Problem documents**: a malformed request gets an RFC 9457 problem (uvicorn's is a
  text/plain 400), as do the 408, 431 and 503 above.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import sys
import uuid
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from ..errors import Diagnostic, Span, UsageError
from . import problems
from .logs import ACCESS_LOGGER
from .problems import ProblemError, item

access_log = logging.getLogger(ACCESS_LOGGER)

#: Default cap on open connections per worker (further capped by the descriptor limit).
DEFAULT_MAX_CONNECTIONS = 1024
#: Seconds a connection refused for its request head stays open, reading and dropping what the
#: client still sends, so that closing it does not reset it before the client reads the answer.
LINGER = 2.0
#: The least the descriptor limit must leave for connections.
MIN_CONNECTIONS = 16
NR_OPEN = 1 << 20


@dataclass(frozen=True)
class HttpLimits:
    """The connection-level limits of one worker (see the module's documentation)."""

    max_header_bytes: int = 16 * 1024
    header_timeout: float = 10.0
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    drain_grace: float = 1.0
    access_log: bool = True


class ServeConfig(Config):
    """uvicorn's configuration, with this module's protocol and the limits it applies (the
    configuration is what uvicorn hands each worker process, so the limits travel with it)."""

    def __init__(self, app: Any, *, http_limits: HttpLimits, **options: Any):
        super().__init__(app, http=TosguardProtocol, ws="none", **options)
        self.http_limits = http_limits


# ---- file descriptors ---------------------------------------------------------------------------
def raise_open_files_limit() -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to its hard limit where allowed (workers
    inherit it); the soft limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # an unlimited hard limit: Linux's default fs.nr_open, the most a process may ask for
    target = NR_OPEN if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):  # not allowed: keep the soft limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def reserved_descriptors(limit: int) -> int:
    """Descriptors kept for everything but client connections: a worker holds some 30 at rest
    (standard streams, the event loop, listening sockets, pipes to the supervisor, metrics
    files), and a reload opens policy and cache files."""
    return max(48, limit // 8)


def connection_cap(requested: int, limit: int | None = None) -> int:
    """The cap on open connections per worker: ``requested`` (0: the default), which must fit
    under the descriptor ``limit`` less the descriptors a worker needs for other things;
    raises :class:`UsageError` when it does not."""
    if limit is None:
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit == resource.RLIM_INFINITY:
        limit = NR_OPEN
    room = limit - reserved_descriptors(limit)
    if room < MIN_CONNECTIONS:
        raise UsageError(Diagnostic(
            "usage-open-files-limit", f"the open-files limit ({limit}) leaves room for "
            f"{max(room, 0)} connections, fewer than {MIN_CONNECTIONS}", Span("--max-connections"),
            "raise it (`ulimit -n 4096`, or LimitNOFILE= in a systemd unit)"))
    if not requested:
        return min(DEFAULT_MAX_CONNECTIONS, room)
    if requested > room:
        raise UsageError(Diagnostic(
            "usage-max-connections", f"`--max-connections {requested}` does not fit under the "
            f"open-files limit ({limit}, of which {limit - room} are kept for the worker itself)",
            Span("--max-connections"),
            f"give at most {room}, or raise the limit (`ulimit -n`, LimitNOFILE=)"))
    return requested


# ---- connections --------------------------------------------------------------------------------
Waiting = OrderedDict["TosguardProtocol", None]
_waiting_by_server: weakref.WeakKeyDictionary[ServerState, Waiting] = weakref.WeakKeyDictionary()


#: Servers whose connections were told to drain: a connection that uvicorn accepted just before
#: it stopped accepting, and that was made only after it told the others, drains too.
_draining_servers: weakref.WeakSet[ServerState] = weakref.WeakSet()


def waiting_connections(state: ServerState) -> Waiting:
    """The connections of one server that wait for a request's headers (idle or slow), in the
    order to close them when the connection cap is reached: those already answered and closing
    first, then the others, longest waiting first."""
    waiting = _waiting_by_server.get(state)
    if waiting is None:
        waiting = _waiting_by_server[state] = OrderedDict()
    return waiting


class TosguardProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header size limit, a header timeout, a connection
    cap, draining, and problem documents for errors found before the app sees a request."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: HttpLimits = getattr(config, "http_limits", None) or HttpLimits()
        self.waiting = waiting_connections(server_state)
        self.head_bytes = 0  # bytes of the awaited request head handed to the parser
        self.reading_head = True  # the next request's headers are not complete yet
        self.request_begun = False  # and some of that request has arrived
        self.head_timer: asyncio.TimerHandle | None = None
        self.drain_timer: asyncio.TimerHandle | None = None
        self.linger_timer: asyncio.TimerHandle | None = None
        self.draining = False
        self.discarding = False  # input is dropped: the connection closes after its response

    # ---- the connection -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.waiting[self] = None
        self.arm_head_timer()
        if len(self.connections) > self.limits.max_connections:
            self.make_room()
        if self.server_state in _draining_servers and not self.transport.is_closing():
            self.shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        self.waiting.pop(self, None)
        self.cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Hand ``data`` to the parser in pieces, so that no more than ``max_header_bytes`` of
        a request head is ever given to it."""
        if self.discarding:
            return
        if self.drain_timer is not None:  # a request arrives: it is answered, then closed
            self.drain_timer.cancel()
            self.drain_timer = None
        limit = self.limits.max_header_bytes
        view = memoryview(data)
        while view and not self.transport.is_closing() and not self.discarding:
            if self.reading_head:
                room = limit - self.head_bytes
                if room <= 0:
                    break
                if self.head_timer is None:
                    self.arm_head_timer()
                piece, view = view[:room], view[room:]
                self.head_bytes += len(piece)
            else:  # a body: pieces of at most the limit, so that the head of a request
                piece, view = view[:limit], view[limit:]  # pipelined behind it is counted
            super().data_received(piece)  # type: ignore[arg-type]
        if self.transport.is_closing() or self.discarding:
            return
        if self.reading_head and self.head_bytes >= limit:
            self.refuse_head()
        elif self.draining and self.idle():  # only blank lines came: still idle
            self.arm_drain_timer()

    # ---- parser callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.request_begun = True

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.reading_head = self.request_begun = False
        self.waiting.pop(self, None)
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False  # answered, then closed

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_head = True
        self.head_bytes = 0

    def on_response_complete(self) -> None:
        queued = bool(self.pipeline)
        super().on_response_complete()
        if self.transport.is_closing() or queued:
            return
        self.waiting[self] = None  # idle, or reading the next head: first in line to close
        if not self.reading_head and self.head_timer is None:
            self.arm_head_timer()  # the rest of a body already answered: a wait like a head's
        if self.draining and self.idle():
            self.arm_drain_timer()

    # ---- limits ---------------------------------------------------------------------------
    def busy(self) -> bool:
        """A response is being produced (the latest request, or one queued behind it)."""
        return self.cycle is not None and not self.cycle.response_complete

    def idle(self) -> bool:
        return self.reading_head and not self.request_begun and not self.busy()

    def arm_head_timer(self) -> None:
        self.head_timer = self.loop.call_later(self.limits.header_timeout, self.head_timeout)

    def arm_drain_timer(self) -> None:
        if self.drain_timer is None:
            self.drain_timer = self.loop.call_later(self.limits.drain_grace, self.drain_timeout)

    def cancel_timers(self) -> None:
        for timer in (self.head_timer, self.drain_timer, self.linger_timer):
            if timer is not None:
                timer.cancel()
        self.head_timer = self.drain_timer = self.linger_timer = None

    def close_after_response(self) -> None:
        """Stop reading and close once the response in progress is sent: a request pipelined
        behind it broke a limit, and the response cannot be interleaved with a problem."""
        if self.cycle is not None:
            self.cycle.keep_alive = False
        self.discarding = True
        self.flow.pause_reading()

    def head_timeout(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.busy():
            self.close_after_response()
        elif self.request_begun:
            self.answer(ProblemError(
                "header-timeout", f"the request's headers did not arrive within "
                f"{self.limits.header_timeout:g} s", [item(
                    "http-header-timeout", "the request line and headers were not complete "
                    f"{self.limits.header_timeout:g} s after they began",
                    help="send the whole request head at once")]))
        else:  # nothing of a request came: an idle connection, closed without a word
            self.transport.close()

    def refuse_head(self) -> None:
        if self.busy():
            self.close_after_response()
            return
        limit = self.limits.max_header_bytes
        self.answer(ProblemError(
            "header-too-large", f"the request line and headers are larger than the limit of "
            f"{limit} bytes", [item("http-header-too-large", f"the request head passed {limit} "
                                    "bytes without ending", help="send fewer or shorter "
                                    "headers, and put data in the body")]), linger=True)

    def make_room(self) -> None:
        """At the cap: close the connection that has waited longest for request headers, or,
        when every other connection has a request in progress, this new one."""
        while (victim := next((c for c in self.waiting if c is not self), None)) is not None:
            del self.waiting[victim]
            if not victim.transport.is_closing() or victim.linger_timer is not None:
                victim.evict()
                return
        self.answer(self.too_many("every other connection has a request in progress"))

    def evict(self) -> None:
        if self.linger_timer is not None:  # answered already
            self.transport.abort()
        elif self.request_begun:
            self.answer(self.too_many("this connection was closed to make room for a new one "
                                      "while its request head was still arriving"))
        else:
            self.transport.close()

    def too_many(self, why: str) -> ProblemError:
        return ProblemError(
            "too-many-connections", f"the worker has its maximum of "
            f"{self.limits.max_connections} connections open",
            [item("http-too-many-connections", why,
                  help="retry after a second; send each request head at once")],
            headers={"Retry-After": "1"})

    # ---- draining -------------------------------------------------------------------------
    def shutdown(self) -> None:
        """The worker stops: answer what is in progress, then close. uvicorn's closes an idle
        keep-alive connection at once, under a client that may have just sent a request; this
        one gives it ``drain_grace`` to use it (that request is answered with
        ``Connection: close``)."""
        self.draining = True
        _draining_servers.add(self.server_state)
        if self.busy():
            self.cycle.keep_alive = False
        elif self.idle() or not self.reading_head:
            self.arm_drain_timer()
        # else a request head is arriving: it is answered with Connection: close (or cut off
        # by the header timeout)

    def drain_timeout(self) -> None:
        self.drain_timer = None
        if not self.transport.is_closing() and (self.idle() or not self.reading_head) \
                and not self.busy():
            self.transport.close()

    # ---- errors before the app --------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        """A request the parser refuses (uvicorn calls this with its exception being
        handled): a problem document instead of uvicorn's text/plain."""
        error = sys.exc_info()[1]
        reason = str(error).strip() if error is not None else ""
        self.answer(ProblemError(
            "malformed-request", "the request is not valid HTTP/1.1",
            [item("http-malformed", f"the HTTP parser refused the request: "
                  f"{reason or 'invalid request'}", help="send an HTTP/1.1 request "
                  "(RFC 9112); this service speaks no other protocol on this port")]),
            linger=True)

    def answer(self, error: ProblemError, *, linger: bool = False) -> None:
        """Send ``error`` as a problem document and close the connection. ``linger``: the
        client is likely still sending (a head too large, bytes that are not HTTP): end the
        output, then read and drop its input for up to ``LINGER`` seconds before closing, since
        closing with input unread resets the connection, and a reset can destroy the answer
        before the client reads it. Such a connection is the first one closed at the cap."""
        self.cancel_timers()
        self.waiting.pop(self, None)
        request_id = uuid.uuid4().hex
        body = problems.body(error, "", request_id)
        head = [STATUS_LINE[error.status]]
        headers = [*self.server_state.default_headers,
                   (b"content-type", problems.PROBLEM_MEDIA_TYPE.encode()),
                   (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close"),
                   (b"x-request-id", request_id.encode()),
                   *((k.lower().encode(), v.encode()) for k, v in error.headers.items())]
        head += [name + b": " + value + b"\r\n" for name, value in headers]
        self.transport.write(b"".join([*head, b"\r\n", body]))
        self.discarding = True
        if linger and self.transport.can_write_eof():
            self.transport.write_eof()
            self.flow.resume_reading()
            self.linger_timer = self.loop.call_later(LINGER, self.transport.abort)
            self.waiting[self] = None
            self.waiting.move_to_end(self, last=False)
        else:
            self.transport.close()
        if self.limits.access_log and access_log.isEnabledFor(logging.INFO):
            access_log.info("request", extra={"fields": {
                "request_id": request_id, "method": None, "path": None, "route": "<connection>",
                "status": error.status, "problem": error.kind,
                "client": self.client[0] if self.client else None}})
