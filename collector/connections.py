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
  the hot path only stores a timestamp (a timer per request would cost ~2 µs of ~50).

uvicorn's ``limit_concurrency`` bounds the number of connections (past it, each request is
answered 503) and ``timeout_keep_alive`` closes idle kept-alive ones; both are set in
``hush serve``. Responses here carry no address and nothing is logged about a client (P1).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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


class BoundedHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with a bounded head and a deadline; see the module docstring.

    Use ``bounded_protocol(...)`` to get a subclass with the limits filled in.
    """

    max_head_bytes = 32 * 1024
    request_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # bytes received while the head is incomplete
        self._head_size = 0  # bytes of the URL and headers parsed so far
        self._refusing = False
        self._in_head = True  # until the current request's headers are complete
        self._reading_since: float | None = None  # a request (or the connection) is pending

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
        super().on_message_begin()
        self._reading_since = self.loop.time()
        self._in_head = True
        self._head_bytes = self._head_size = 0

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
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_since = None

    def expire(self, now: float) -> None:
        """Close this connection if its pending request is past its deadline."""
        since = self._reading_since
        if since is None or now - since < self.request_timeout or self.transport.is_closing():
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


def _sweep(loop: asyncio.AbstractEventLoop, state: Any) -> None:
    now = loop.time()
    for connection in list(state.connections):
        if isinstance(connection, BoundedHttpProtocol):
            connection.expire(now)
    loop.call_later(SWEEP_SECONDS, _sweep, loop, state)


def bounded_protocol(*, max_head_bytes: int, request_timeout: float) -> type[BoundedHttpProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` with these limits."""
    return type(
        "HushHttpProtocol",
        (BoundedHttpProtocol,),
        {"max_head_bytes": max_head_bytes, "request_timeout": request_timeout},
    )
