"""HTTP/1.1 on each connection: uvicorn's httptools protocol with the limits it leaves out.

uvicorn hands each connection to a protocol class (its ``http=`` option); this one subclasses
uvicorn's :class:`~uvicorn.protocols.http.httptools_impl.HttpToolsProtocol` and adds:

* **A header size limit** (``max_header_bytes``, 16 KiB). llhttp sets none and httptools
  gathers a header value however long it grows (ten connections sending 50 MiB of one endless
  header cost 506 MB). The bytes of a request line and headers are counted as they arrive and
  never more than the limit is handed to the parser; a head that does not end within it gets a
  431 problem and the connection is closed. A request pipelined behind another in the same
  read may get up to twice the limit, never more.
* **The same limit on what a body carries besides its data.** A chunked body's chunk-size
  lines, chunk extensions and trailer fields go through the same parser, and httptools grows a
  trailer value with ``+=`` on the event loop (a trailer fed 1 MiB at a time stalled every
  other request for 14 s and cost 44 MB). The bytes of a body handed to the parser that it does
  not deliver as body data are counted against ``max_header_bytes`` too (431 past it); the body
  is handed over in pieces of at most the limit, so at most twice the limit is ever parsed.
* **A header timeout** (``header_timeout``, 10 s). A new connection must complete its first
  request's headers within it, and a kept-alive one each later request's headers within it of
  the request's first byte (how long it may idle before that is uvicorn's keep-alive timeout,
  5 s), so a client that drips a header a byte at a time (slowloris), or connects and says
  nothing, cannot hold a connection: it gets 408 (nothing when it sent nothing) and is closed.
* **Little parsed after the answer.** Of a request answered before its body has arrived (a
  401, 404 or 415 sent without reading it), the rest is parsed and dropped so that the
  connection can carry the next request (a client's head and body often come in two writes,
  and the answer can come between them), but no more than ``DISCARD_BODY_BYTES`` (256 KiB, as
  Go's net/http) of body, and within the header timeout, as a head; past either, and when its
  framing breaks the limit, nothing more is parsed: the connection ends its output, reads and
  drops what the client still sends for ``LINGER`` seconds, then closes.
* **A write timeout** (``write_timeout``: the request's ``--timeout``). A client that does not
  read its answer leaves it in the transport's buffer (a report can be 30 MB); when the
  transport has paused writing for that long, or the end of a finished answer is still in the
  buffer after as long, the connection is aborted and the buffer freed.
* **A cap on open connections** (``max_connections``), set below the process's file-descriptor
  limit (300 slow connections under ``ulimit -n 256`` failed every ``/healthz``). At the cap a
  new connection closes another, in this order: one already answered and lingering; then the
  one that has waited longest for request headers (idle or slow) or for the rest of a body
  already answered; then the one whose request body has been arriving longest (503). A
  connection whose request has fully arrived (being computed or answered) is never closed for
  another. When no connection can be closed, the new one gets 503 and is closed.
* **Draining.** When the worker stops (``SIGTERM``, or a rolling restart replacing it), uvicorn
  stops accepting and calls :meth:`TosguardProtocol.shutdown` on each connection. uvicorn's own
  closes every idle keep-alive connection at once, so a request a client had just sent on one
  got a reset; here an idle connection stays open for ``drain_grace`` (1 s) and the next
  request on it is answered, with ``Connection: close``, as is a request in progress; a
  connection that stays idle through the grace period is closed then.
* **Problem documents**: a malformed request gets an RFC 9457 problem (uvicorn's is a
  text/plain 400), as do the 408, 431 and 503 above. When the app is waiting for the body of
  the request so answered, it is told the client is gone (its own answer is dropped) and its
  access-log line carries the protocol's status and problem.
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
from .access import PROTOCOL_ANSWER, SCOPE_KEY, ProtocolAnswer
from .logs import ACCESS_LOGGER, SERVICE_LOGGER
from .problems import ProblemError, item

access_log = logging.getLogger(ACCESS_LOGGER)
service_log = logging.getLogger(SERVICE_LOGGER)

#: Default cap on open connections per worker (further capped by the descriptor limit).
DEFAULT_MAX_CONNECTIONS = 1024
#: Seconds a connection refused for its request head stays open, reading and dropping what the
#: client still sends, so that closing it does not reset it before the client reads the answer.
LINGER = 2.0
#: How much of the body of a request answered already is read (and dropped) so that the
#: connection can carry the next request; past it, the connection closes.
DISCARD_BODY_BYTES = 256 * 1024
#: The least the descriptor limit must leave for connections.
MIN_CONNECTIONS = 16
NR_OPEN = 1 << 20


@dataclass(frozen=True)
class HttpLimits:
    """The connection-level limits of one worker (see the module's documentation)."""

    max_header_bytes: int = 16 * 1024
    header_timeout: float = 10.0
    write_timeout: float = 10.0
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
        raise UsageError(
            Diagnostic(
                "usage-open-files-limit",
                f"the open-files limit ({limit}) leaves room for "
                f"{max(room, 0)} connections, fewer than {MIN_CONNECTIONS}",
                Span("--max-connections"),
                "raise it (`ulimit -n 4096`, or LimitNOFILE= in a systemd unit)",
            )
        )
    if not requested:
        return min(DEFAULT_MAX_CONNECTIONS, room)
    if requested > room:
        raise UsageError(
            Diagnostic(
                "usage-max-connections",
                f"`--max-connections {requested}` does not fit under the "
                f"open-files limit ({limit}, of which {limit - room} are kept for the worker "
                "itself)",
                Span("--max-connections"),
                f"give at most {room}, or raise the limit (`ulimit -n`, LimitNOFILE=)",
            )
        )
    return requested


# ---- connections --------------------------------------------------------------------------------
Queue = OrderedDict["TosguardProtocol", None]


class Evictable:
    """The connections of one server that the connection cap may close, in two queues, each in
    the order to close them:

    * ``waiting``: connections waiting for a request's headers (idle or slow), or for the rest
      of a body whose request was answered already: those answered and lingering first, then
      the others, longest waiting first;
    * ``receiving``: connections whose request head has arrived and whose body is still
      arriving, the one whose body began first first.

    The first queue is used up before the second."""

    def __init__(self) -> None:
        self.waiting: Queue = OrderedDict()
        self.receiving: Queue = OrderedDict()


_evictable_by_server: weakref.WeakKeyDictionary[ServerState, Evictable] = (
    weakref.WeakKeyDictionary()
)


#: Servers whose connections were told to drain: a connection that uvicorn accepted just before
#: it stopped accepting, and that was made only after it told the others, drains too.
_draining_servers: weakref.WeakSet[ServerState] = weakref.WeakSet()


def evictable_connections(state: ServerState) -> Evictable:
    """The connections of one server that the connection cap may close."""
    evictable = _evictable_by_server.get(state)
    if evictable is None:
        evictable = _evictable_by_server[state] = Evictable()
    return evictable


class TosguardProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header size limit (on request heads and on the
    framing of chunked bodies), a header timeout, a write timeout, a connection cap, draining,
    and problem documents for errors found outside the app."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: HttpLimits = getattr(config, "http_limits", None) or HttpLimits()
        evictable = evictable_connections(server_state)
        self.waiting, self.receiving = evictable.waiting, evictable.receiving
        self.head_bytes = 0  # bytes of the awaited request head handed to the parser
        self.reading_head = True  # the next request's headers are not complete yet
        self.request_begun = False  # and some of that request has arrived
        self.body_bytes = 0  # body data the parser delivered on this connection
        self.framing_bytes = 0  # bytes of this request's body handed over that were not data
        self.messages = 0  # requests parsed completely on this connection
        self.discard_until: int | None = None  # answered already: body_bytes it may reach
        self.head_timer: asyncio.TimerHandle | None = None
        self.drain_timer: asyncio.TimerHandle | None = None
        self.linger_timer: asyncio.TimerHandle | None = None
        self.write_timer: asyncio.TimerHandle | None = None
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
        self.receiving.pop(self, None)
        self.cancel_timers()
        self.cancel_write_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Hand ``data`` to the parser in pieces, so that no more than ``max_header_bytes`` of
        a request head is ever given to it, and no more than twice that of a body's framing
        (chunk-size lines, extensions, trailers)."""
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
                super().data_received(piece)  # type: ignore[arg-type]
            elif self.body_overflows():
                break
            else:  # a body: pieces of at most the limit, so that the head of a request
                piece, view = view[:limit], view[limit:]  # pipelined behind it is counted
                self.feed_body(piece)
        if self.transport.is_closing() or self.discarding:
            return
        if self.reading_head and self.head_bytes >= limit:
            self.refuse_head()
        elif not self.reading_head and self.body_overflows():
            self.refuse_body()
        elif self.draining and self.idle():  # only blank lines came: still idle
            self.arm_drain_timer()

    def feed_body(self, piece: memoryview) -> None:
        """Hand the parser a piece of a body, and count what of it was not body data."""
        body, messages = self.body_bytes, self.messages
        super().data_received(piece)  # type: ignore[arg-type]
        if self.messages == messages:  # the body goes on: whatever was not data is framing
            self.framing_bytes += len(piece) - (self.body_bytes - body)

    # ---- parser callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.request_begun = True

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.reading_head = self.request_begun = False
        self.framing_bytes = 0
        self.discard_until = None
        self.waiting.pop(self, None)
        self.receiving[self] = None  # until the body has arrived (at once, for most requests)
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False  # answered, then closed

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.messages += 1
        self.receiving.pop(self, None)
        self.reading_head = True
        self.head_bytes = 0

    def on_response_complete(self) -> None:
        queued = bool(self.pipeline)
        super().on_response_complete()
        if self.transport.get_write_buffer_size():
            self.arm_write_timer()  # the end of the answer is still buffered: it must go too
        if self.transport.is_closing() or queued:
            return
        self.waiting[self] = None  # idle, or reading the next head: first in line to close
        if not self.reading_head:  # answered before its body arrived: a little more is read
            self.receiving.pop(self, None)
            self.discard_until = self.body_bytes + DISCARD_BODY_BYTES
            if self.head_timer is None:
                self.arm_head_timer()  # and it must come as soon as a head
        if self.draining and (self.idle() or not self.reading_head):
            self.arm_drain_timer()

    # ---- flow control ---------------------------------------------------------------------
    def pause_writing(self) -> None:
        """The transport's buffer is over its high-water mark (64 KiB): the client takes less
        than is written. It resumes under the low-water mark (16 KiB), so an answer must in
        effect be taken within the write timeout of the moment the client fell behind."""
        super().pause_writing()
        self.cancel_write_timer()
        self.arm_write_timer()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.cancel_write_timer()
        if not self.busy() and self.transport.get_write_buffer_size():
            self.arm_write_timer()  # the end of an answer: it must go too

    def arm_write_timer(self) -> None:
        if self.write_timer is None:
            self.write_timer = self.loop.call_later(self.limits.write_timeout, self.write_timeout)

    def cancel_write_timer(self) -> None:
        if self.write_timer is not None:
            self.write_timer.cancel()
            self.write_timer = None

    def write_timeout(self) -> None:
        """Writing stayed paused for ``write_timeout``, or the end of a finished answer is
        still in the buffer after as long: the client does not take its answer. Abort, which
        frees the buffer (closing would wait for the client to take it)."""
        self.write_timer = None
        pending = self.transport.get_write_buffer_size()
        if not pending and not self.flow.write_paused:
            return
        service_log.warning(
            "connection aborted: the client did not read its answer",
            extra={
                "fields": {
                    "client": self.client[0] if self.client else None,
                    "unsent_bytes": pending,
                    "write_timeout": self.limits.write_timeout,
                }
            },
        )
        self.waiting.pop(self, None)
        self.receiving.pop(self, None)
        self.discarding = True
        self.transport.abort()

    # ---- limits ---------------------------------------------------------------------------
    def busy(self) -> bool:
        """A response is being produced (the latest request, or one queued behind it)."""
        return self.cycle is not None and not self.cycle.response_complete

    def idle(self) -> bool:
        return self.reading_head and not self.request_begun and not self.busy()

    def body_overflows(self) -> bool:
        """The body arriving broke a limit: its framing passed ``max_header_bytes``, or, its
        request answered already, more than ``DISCARD_BODY_BYTES`` of it came after."""
        return self.framing_bytes > self.limits.max_header_bytes or (
            self.discard_until is not None and self.body_bytes > self.discard_until
        )

    def arm_head_timer(self) -> None:
        self.head_timer = self.loop.call_later(self.limits.header_timeout, self.head_timeout)

    def arm_drain_timer(self) -> None:
        if self.drain_timer is None:
            self.drain_timer = self.loop.call_later(self.limits.drain_grace, self.drain_timeout)

    def cancel_timers(self) -> None:
        """Cancel the timers that watch the input (the write timer watches the output until
        the connection is gone)."""
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

    def stop_reading(self) -> None:
        """Parse nothing more: end the output (once what is buffered is sent), then read and
        drop what the client still sends for up to ``LINGER`` seconds before closing, since
        closing with input unread resets the connection, and a reset can destroy the answer
        before the client reads it. Such a connection is the first one closed at the cap."""
        self.cancel_timers()
        self.discarding = True
        self.receiving.pop(self, None)
        if not self.transport.can_write_eof():
            self.waiting.pop(self, None)
            self.close()
            return
        self.transport.write_eof()
        self.flow.resume_reading()
        self.linger_timer = self.loop.call_later(LINGER, self.transport.abort)
        self.waiting[self] = None
        self.waiting.move_to_end(self, last=False)

    def close(self) -> None:
        """Close once the output is sent; if the client does not take it, the write timer
        aborts the connection (a transport closes only when its buffer is empty)."""
        self.transport.close()
        if self.transport.get_write_buffer_size():
            self.arm_write_timer()

    def head_timeout(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.busy():
            self.close_after_response()
        elif not self.reading_head:  # the rest of a body already answered: no more of it
            self.stop_reading()
        elif self.request_begun:
            self.answer(
                ProblemError(
                    "header-timeout",
                    f"the request's headers did not arrive within {self.limits.header_timeout:g} s",
                    [
                        item(
                            "http-header-timeout",
                            "the request line and headers were not complete "
                            f"{self.limits.header_timeout:g} s after they began",
                            help="send the whole request head at once",
                        )
                    ],
                )
            )
        else:  # nothing of a request came: an idle connection, closed without a word
            self.close()

    def refuse_head(self) -> None:
        if self.busy():
            self.close_after_response()
            return
        limit = self.limits.max_header_bytes
        self.answer(
            ProblemError(
                "header-too-large",
                f"the request line and headers are larger than the limit of {limit} bytes",
                [
                    item(
                        "http-header-too-large",
                        f"the request head passed {limit} bytes without ending",
                        help="send fewer or shorter headers, and put data in the body",
                    )
                ],
            ),
            linger=True,
        )

    def refuse_body(self) -> None:
        if not self.busy():  # answered already: nothing more is said, nor read
            self.stop_reading()
            return
        limit = self.limits.max_header_bytes
        self.answer(
            ProblemError(
                "header-too-large",
                f"the chunked body's framing and trailer fields are larger "
                f"than the limit of {limit} bytes",
                [
                    item(
                        "http-chunked-framing-too-large",
                        f"the chunk-size lines, chunk extensions and "
                        f"trailer fields of the body passed {limit} bytes before the body ended",
                        help="send the body with Content-Length, or in fewer chunks without "
                        "extensions or trailers",
                    )
                ],
            ),
            linger=True,
        )

    def make_room(self) -> None:
        """At the cap: close another connection (see :class:`Evictable` for which), or, when
        every other connection has a request in progress, this new one."""
        victim = self.eviction_victim()
        if victim is None:
            self.answer(self.too_many("every other connection has a request in progress"))
        else:
            victim.evict()

    def eviction_victim(self) -> TosguardProtocol | None:
        for other in self.waiting:
            if other is self:
                continue
            if other.linger_timer is not None:
                return other
            # passed over: one closing already (gone when its output is sent), or one whose
            # answer is still being written (the write timeout bounds it)
            if not other.transport.is_closing() and not other.flow.write_paused:
                return other
        victim, answered = None, []
        for other in self.receiving:
            if other is not self:
                if other.receives_body():
                    victim = other
                    break
                answered.append(other)  # its response has begun: not one to close any more
        for other in answered:
            del self.receiving[other]
        return victim

    def receives_body(self) -> bool:
        """The app waits for this connection's request body, and nothing has been answered."""
        return (
            not self.reading_head
            and not self.pipeline
            and self.cycle is not None
            and not self.cycle.response_started
            and not self.transport.is_closing()
            and not self.discarding
        )

    def evict(self) -> None:
        self.waiting.pop(self, None)
        self.receiving.pop(self, None)
        if self.linger_timer is not None or not (self.reading_head or self.busy()):
            self.transport.abort()  # answered already (and lingering, or its body's rest due)
        elif not self.reading_head:
            self.answer(
                self.too_many(
                    "this connection was closed to make room for a new one "
                    "while its request body was still arriving"
                ),
                linger=True,
            )
        elif self.request_begun:
            self.answer(
                self.too_many(
                    "this connection was closed to make room for a new one "
                    "while its request head was still arriving"
                )
            )
        else:
            self.close()

    def too_many(self, why: str) -> ProblemError:
        return ProblemError(
            "too-many-connections",
            f"the worker has its maximum of {self.limits.max_connections} connections open",
            [
                item(
                    "http-too-many-connections",
                    why,
                    help="retry after a second; send each request at once",
                )
            ],
            headers={"Retry-After": "1"},
        )

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
        if self.transport.is_closing() or self.discarding or self.busy():
            return
        if self.idle():
            self.close()
        elif not self.reading_head:  # the rest of a body already answered
            self.stop_reading()

    # ---- errors outside the app -------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        """A request the parser refuses (uvicorn calls this with its exception being
        handled): a problem document instead of uvicorn's text/plain."""
        error = sys.exc_info()[1]
        reason = str(error).strip() if error is not None else ""
        self.answer(
            ProblemError(
                "malformed-request",
                "the request is not valid HTTP/1.1",
                [
                    item(
                        "http-malformed",
                        f"the HTTP parser refused the request: {reason or 'invalid request'}",
                        help="send an HTTP/1.1 request "
                        "(RFC 9112); this service speaks no other protocol on this port",
                    )
                ],
            ),
            linger=True,
        )

    def answer(self, error: ProblemError, *, linger: bool = False) -> None:
        """Send ``error`` as a problem document and close the connection. ``linger``: the
        client is likely still sending (a head too large, bytes that are not HTTP): end the
        output, then read and drop its input for up to ``LINGER`` seconds before closing (see
        :meth:`stop_reading`).

        A response already on its way cannot be interleaved with a problem: the connection
        then closes after it. A request whose body the app is waiting for is answered here for
        it: the app is told the client is gone (what it sends is dropped), and its access-log
        line carries this answer (:data:`~.access.PROTOCOL_ANSWER`)."""
        cycle = self.cycle
        request: dict[str, Any] | None = None
        if self.busy():
            if self.reading_head or self.pipeline or cycle.response_started:
                self.close_after_response()
                return
            request = cycle.scope  # type: ignore[assignment]  # the app waits for its body
        self.cancel_timers()
        self.waiting.pop(self, None)
        self.receiving.pop(self, None)
        request_id = uuid.uuid4().hex
        if request is not None:
            context = request.get(SCOPE_KEY)
            request_id = context.request_id if context is not None else request_id
            request[PROTOCOL_ANSWER] = ProtocolAnswer(error.status, error.kind, request_id)
            cycle.disconnected = True  # the app's receive() says so; its send() does nothing
            cycle.message_event.set()
        body = problems.body(error, request["path"] if request else "", request_id)
        head = [STATUS_LINE[error.status]]
        headers = [
            *self.server_state.default_headers,
            (b"content-type", problems.PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"x-request-id", request_id.encode()),
            *((k.lower().encode(), v.encode()) for k, v in error.headers.items()),
        ]
        head += [name + b": " + value + b"\r\n" for name, value in headers]
        self.transport.write(b"".join([*head, b"\r\n", body]))
        self.discarding = True
        if linger:
            self.stop_reading()
        else:
            self.close()
        if request is None and self.limits.access_log and access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": None,
                        "path": None,
                        "route": "<connection>",
                        "status": error.status,
                        "problem": error.kind,
                        "client": self.client[0] if self.client else None,
                    }
                },
            )
