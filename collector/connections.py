"""What one connection may cost: uvicorn's httptools protocol with a bounded head and a deadline.

uvicorn (0.54) bounds neither: httptools accumulates a header of any size (4 MB user agents
were accepted), and a connection that never finishes its request is kept forever, since the
keep-alive timer runs only between requests (a fresh connection that sends nothing, or half a
head, or half a body, was still open after 76 s). This protocol adds, for every route:

- **a bounded head**: past ``max_head_bytes`` of request line and headers, or ``MAX_HEADERS``
  headers, the answer is 431 and the connection closes. Bytes are counted as they arrive, so
  the bound holds however the head is split (at most one socket read, 256 KiB, beyond it);
- **a deadline**: a request must arrive whole (head and body) within ``request_timeout``
  seconds of its first byte, and a new connection must start one within that time; otherwise
  408 (when no answer was begun) and close. One sweep a second checks every connection, so
  the hot path only stores a timestamp (a timer per request would cost ~2 µs of ~50). The
  same sweep closes a connection kept idle past ``timeout_keep_alive`` after a fast answer.

uvicorn's ``limit_concurrency`` bounds the number of connections (past it, each request is
answered 503) and ``timeout_keep_alive`` closes idle kept-alive ones; both are set in
``hush serve``. Responses here carry no address and nothing is logged about a client (P1).

**The intake's fast path.** A ``POST /api/event`` with a length of at most 32 KiB, no
``Expect`` and nothing before it still unanswered on its connection is answered here, without
ASGI: no scope, no task, no send messages, but ``Intake.respond`` with the headers, the body
and the peer, and one ``write`` of the answer once its spool line is written. That is the
intake's decisions and counting as on the ASGI path (which every other request, and every
in-process test, takes), at about 40% less of the server's time per event. Pipelined
requests behind one still queue as uvicorn queues them, and keep-alive, shutdown and the
deadlines above work the same.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from collector.intake import ACCEPTED_ANSWER, MAX_BODY, Answer, Intake, failure

MAX_HEADERS = 100  # as Go's net/http and Apache
SWEEP_SECONDS = 1.0


class _HeadTooLarge(Exception):
    """Raised inside a parser callback to stop parsing a head that is over its bounds."""


def _status(code: int, phrase: str) -> bytes:
    body = phrase.encode()
    return (
        f"HTTP/1.1 {code} {phrase}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


_TOO_LARGE = _status(431, "Request Header Fields Too Large")
_TIMEOUT = _status(408, "Request Timeout")
FAST_URL = b"/api/event"


class _NoEvent:
    """uvicorn's protocol sets a cycle's message event when data or a disconnect arrives; a
    fast request has nobody waiting on it."""

    @staticmethod
    def set() -> None:
        pass


class _IntakeRequest:
    """A request on the fast path, with what uvicorn's protocol reads of a request in flight."""

    __slots__ = ("body", "disconnected", "keep_alive", "more_body", "response_complete", "since")
    message_event = _NoEvent

    def __init__(self, keep_alive: bool) -> None:
        self.body = b""
        self.more_body = True
        self.keep_alive = keep_alive
        self.response_complete = False
        self.disconnected = False
        self.since = time.perf_counter()


class BoundedHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with a bounded head and a deadline; see the module docstring.

    Use ``bounded_protocol(...)`` to get a subclass with the limits filled in.
    """

    max_head_bytes = 32 * 1024
    request_timeout = 10.0
    intake: Intake | None = None  # the fast path's, if any
    observe: Callable[[float], None] | None = None  # the fast path's latency, in seconds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # bytes received while the head is incomplete
        self._head_size = 0  # bytes of the URL and headers parsed so far
        self._refusing = False
        self._in_head = True  # until the current request's headers are complete
        self._reading_since: float | None = None  # a request (or the connection) is pending
        self._idle_since: float | None = None  # kept alive after a fast answer, since then

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._reading_since = self.loop.time()
        state = self.server_state
        if not getattr(state, "hush_sweeping", False):
            state.hush_sweeping = True  # type: ignore[attr-defined]
            self.loop.call_later(SWEEP_SECONDS, _sweep, self.loop, state)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        if self.timeout_keep_alive_task is not None:  # uvicorn's, armed by an ASGI answer
            self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():  # as uvicorn does (hush runs with ws="none")
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except (httptools.HttpParserError, _HeadTooLarge):
            if self._refusing:
                self._refuse(_TOO_LARGE)
            else:
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_head and self._head_bytes > self.max_head_bytes:
            self._refusing = True  # a head still incomplete past the bound: httptools holds it
            self._refuse(_TOO_LARGE)

    def on_message_begin(self) -> None:
        # What uvicorn's on_message_begin resets; its ASGI scope waits for on_headers_complete,
        # made only for a request that takes the ASGI path (~3% of the fast path's time).
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self._reading_since = self.loop.time()
        self._idle_since = None
        self._in_head = True
        self._head_bytes = self._head_size = 0

    def _begin_asgi(self) -> None:
        """uvicorn's on_message_begin (its scope), put off until the head is complete."""
        url, expect, headers = self.url, self.expect_100_continue, self.headers
        super().on_message_begin()
        self.url, self.expect_100_continue, self.headers = url, expect, headers
        self.scope["headers"] = headers

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        # uvicorn's on_header, plus one addition: the head's size, exact, whatever the reads.
        self._head_size += len(name) + len(value)
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._head_size > self.max_head_bytes or len(self.headers) > MAX_HEADERS:
            self._refusing = True
            raise _HeadTooLarge
        self._in_head = False
        if self.intake is not None and self._takes_fast_path():
            keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
            self.cycle = _IntakeRequest(keep_alive)  # type: ignore[assignment]
            return
        self._begin_asgi()
        super().on_headers_complete()

    def _takes_fast_path(self) -> bool:
        if self.url != FAST_URL or self.parser.get_method() != b"POST":
            return False
        if self.expect_100_continue or self.client is None or self.parser.should_upgrade():
            return False
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            return False  # pipelined behind an answer still to come: uvicorn queues it
        limit = self.limit_concurrency
        if limit is not None and len(self.connections) >= limit:
            return False  # uvicorn answers 503
        length = None
        for name, value in self.headers:
            if name == b"content-length":
                if length is not None:
                    return False
                length = value
            elif name == b"transfer-encoding":
                return False
        return length is not None and length.isdigit() and int(length) <= MAX_BODY  # else: 413

    def on_message_complete(self) -> None:
        request = self.cycle
        if isinstance(request, _IntakeRequest):
            self._reading_since = None
            self._answer_fast(request)
            return
        super().on_message_complete()
        self._reading_since = None

    def _answer_fast(self, request: _IntakeRequest) -> None:
        assert self.intake is not None
        answer = self.intake.respond(self.headers, request.body, self.client)
        if answer.written is None:
            self._write_fast(request, answer, None)
        else:  # right after the spool write, in the same turn of the event loop
            answer.written.then(lambda error: self._write_fast(request, answer, error))

    def _write_fast(
        self, request: _IntakeRequest, answer: Answer, error: BaseException | None
    ) -> None:
        if error is not None:
            answer = failure(error)
        request.response_complete = True
        if request.disconnected or self.transport.is_closing():
            return
        self.transport.write(_encode(answer, self.server_state.default_headers, request.keep_alive))
        if self.observe is not None:
            self.observe(time.perf_counter() - request.since)
        if not request.keep_alive:
            self.transport.close()
        self._fast_response_complete()

    def _fast_response_complete(self) -> None:
        """uvicorn's ``on_response_complete`` without its keep-alive timer, which it makes and
        cancels for every request (~3% of the fast path): the sweep closes a connection idle
        past ``timeout_keep_alive`` instead, within a second of it."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()  # one an earlier ASGI answer armed
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self._reading_since is None:  # no next request begun: idle from now
            self._idle_since = self.loop.time()

    def expire(self, now: float) -> None:
        """Close this connection if its pending request is past its deadline, or if it has
        been idle past the keep-alive timeout since a fast answer."""
        since = self._reading_since
        if since is None:
            idle = self._idle_since
            if idle is not None and now - idle >= self.timeout_keep_alive:
                self._idle_since = None
                if not self.transport.is_closing():
                    self.transport.close()  # as uvicorn's keep-alive timer does
            return
        if now - since < self.request_timeout or self.transport.is_closing():
            return
        cycle = self.cycle
        if self._in_head and (cycle is None or cycle.response_complete):
            self.transport.write(_TIMEOUT)
        elif cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False
        self.transport.close()

    def _refuse(self, answer: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()


_accepted: dict[bool, tuple[object, bytes]] = {}  # by keep-alive: uvicorn's headers, bytes


def _encode(answer: Answer, defaults: list[tuple[bytes, bytes]], keep_alive: bool) -> bytes:
    """The answer as HTTP/1.1 bytes, with uvicorn's default headers (its date); the accepted
    answer's bytes are kept until uvicorn renews those headers (once a second)."""
    accepted = answer.like is ACCEPTED_ANSWER
    if accepted:
        kept = _accepted.get(keep_alive)
        if kept is not None and kept[0] is defaults:
            return kept[1]
    parts = [STATUS_LINE[answer.status]]
    for name, value in (*defaults, *answer.headers):
        parts += [name, b": ", value, b"\r\n"]
    parts.append(b"content-length: %d\r\n" % len(answer.body))
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts += [b"\r\n", answer.body]
    encoded = b"".join(parts)
    if accepted:
        _accepted[keep_alive] = (defaults, encoded)
    return encoded


def _sweep(loop: asyncio.AbstractEventLoop, state: Any) -> None:
    now = loop.time()
    for connection in list(state.connections):
        if isinstance(connection, BoundedHttpProtocol):
            connection.expire(now)
    loop.call_later(SWEEP_SECONDS, _sweep, loop, state)


def bounded_protocol(
    *,
    max_head_bytes: int,
    request_timeout: float,
    intake: Intake | None = None,
    observe: Callable[[float], None] | None = None,
) -> type[BoundedHttpProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` with these limits, and with the fast
    path to ``intake`` (reporting each answer's latency to ``observe``) when given."""
    return type(
        "HushHttpProtocol",
        (BoundedHttpProtocol,),
        {
            "max_head_bytes": max_head_bytes,
            "request_timeout": request_timeout,
            "intake": intake,
            "observe": staticmethod(observe) if observe else None,
        },
    )
