"""Requests a collector process cannot answer, forwarded to the main process over a Unix socket.

With ``SO_REUSEPORT`` the kernel spreads connections over every process on the port without
looking at paths, so a ``/login`` or a Stats API call can reach a ``hush collect`` process, which
has no store. It sends the request on, unchanged, over ``web.sock`` in the data dir (mode 0600:
only hush's own user can connect), where the main process listens beside its TCP port; the
answer streams back as it arrives. The user keeps one URL.

The client's address travels in ``x-hush-peer``, which the main process believes only on that
socket (``PeerFromWebSocket``): on TCP nobody can set it. It stays in memory for the request, as
every address does (P1).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httptools

from hush.admin.socket_path import reachable

PEER_HEADER = b"x-hush-peer"
MAX_FORWARDED_BODY = 1 << 20  # dashboard forms and Sites API calls are a few KiB
READ_BYTES = 64 * 1024
# Headers that belong to one hop (RFC 9110 §7.6.1); each side of the relay sets its own.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"expect",  # the whole body is sent at once: no 100 Continue to wait for
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        PEER_HEADER,
    }
)
_UNREACHABLE = b'{"error":"the main hush server cannot be reached"}'


class Forwarder:
    """An ASGI app that relays each HTTP request to the server listening on ``socket_path``."""

    def __init__(self, socket_path: Path, *, timeout: float = 60.0) -> None:
        self._path = socket_path
        self._timeout = timeout

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await _read_body(receive)
        if body is None:
            await _answer(send, 413, b'{"error":"request body too large"}')
            return
        try:
            with reachable(self._path) as address:
                reader, writer = await asyncio.open_unix_connection(address)
        except OSError:
            await _answer(send, 503, _UNREACHABLE)
            return
        response = _Response()
        try:
            writer.write(_request_head(scope, len(body)) + body)
            await writer.drain()
            await asyncio.wait_for(_relay(reader, response, send), self._timeout)
        except (OSError, TimeoutError, httptools.HttpParserError):
            if not response.started:  # once begun, the client sees the answer cut short
                await _answer(send, 502, _UNREACHABLE)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _request_head(scope: dict[str, Any], length: int) -> bytes:
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    lines = [b"%s %s HTTP/1.1" % (scope["method"].encode(), target)]
    for name, value in scope["headers"]:
        if name not in _HOP_BY_HOP and name != b"content-length":
            lines.append(name + b": " + value)
    client = scope.get("client")
    if client:
        lines.append(PEER_HEADER + b": " + str(client[0]).encode())
    lines += [b"content-length: %d" % length, b"connection: close", b"", b""]
    return b"\r\n".join(lines)


async def _read_body(receive: Any) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORWARDED_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Response:
    """httptools callbacks collecting one response: status, headers, then body pieces."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.pieces: list[bytes] = []
        self.done = False
        self.started = False  # http.response.start was sent to the client

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name not in _HOP_BY_HOP:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.pieces.append(body)

    def on_message_complete(self) -> None:
        self.done = True


async def _relay(reader: asyncio.StreamReader, response: _Response, send: Any) -> None:
    parser = httptools.HttpResponseParser(response)
    while not response.done:
        data = await reader.read(READ_BYTES)
        if not data:
            if response.started:
                break  # a HEAD answer, or the main process went away mid-answer: end it here
            raise OSError("the main process closed the connection before answering")
        parser.feed_data(data)
        if response.head_done and not response.started:
            await send(
                {
                    "type": "http.response.start",
                    "status": parser.get_status_code(),
                    "headers": response.headers,
                }
            )
            response.started = True
        if response.started and response.pieces:
            body, response.pieces = b"".join(response.pieces), []
            await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _answer(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class PeerFromWebSocket:
    """The main process's side: on ``web.sock`` the client is the one ``x-hush-peer`` names.

    A connection on the Unix socket has no peer address (uvicorn's scope says ``client`` None
    and a ``server`` without a port); only there is the header believed. Anywhere else it is
    removed before the app sees it.
    """

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            if any(name == PEER_HEADER for name, _ in headers):
                scope = dict(scope)
                scope["headers"] = [(n, v) for n, v in headers if n != PEER_HEADER]
                if on_unix_socket(scope):
                    peer = next(v for n, v in headers if n == PEER_HEADER).decode("latin-1")
                    scope["client"] = (peer, 0)
        await self._app(scope, receive, send)


def on_unix_socket(scope: dict[str, Any]) -> bool:
    """Whether the request came over a Unix socket (uvicorn gives no peer and no port)."""
    server = scope.get("server")
    return scope.get("client") is None and server is not None and server[1] is None
