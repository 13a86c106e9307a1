"""``POST /api/event`` over real HTTP takes the fast path (``collector.connections``): it must
answer exactly as the ASGI path does in-process, keep the order of pipelined answers, honour
keep-alive and ``Connection: close``, and store every event it acknowledges."""

from __future__ import annotations

import gc
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import Harness, in_process
from tests.servers import ThreadServer, running

PAGE = {"n": "pageview", "u": "https://example.com/fast", "d": "example.com"}
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)
# (what, body, extra headers): every kind of answer the intake gives a POST.
CASES: list[tuple[str, bytes, dict[str, str]]] = [
    ("accepted", b'{"n":"pageview","u":"https://example.com/a","d":"example.com"}', {}),
    (
        "custom event with props",
        b'{"n":"Signup","u":"https://example.com/a","d":"example.com","p":{"plan":"pro"}}',
        {},
    ),
    ("gpc", b'{"n":"pageview","u":"https://example.com/a","d":"example.com"}', {"Sec-GPC": "1"}),
    (
        "bot",
        b'{"n":"pageview","u":"https://example.com/a","d":"example.com"}',
        {"User-Agent": "curl/8.5.0"},
    ),
    (
        "oversized agent",
        b'{"n":"pageview","u":"https://example.com/a","d":"example.com"}',
        {"User-Agent": "Mozilla/5.0 " + "x" * 1100},
    ),
    ("unknown site", b'{"n":"pageview","u":"https://other.example/","d":"other.example"}', {}),
    ("host mismatch", b'{"n":"pageview","u":"https://evil.example/","d":"example.com"}', {}),
    ("not json", b"{nope", {}),
    ("not an object", b"[1, 2]", {}),
    ("bad props", b'{"n":"x","u":"https://example.com/","d":"example.com","p":[1]}', {}),
    ("missing url", b'{"n":"pageview","d":"example.com"}', {}),
    ("not utf-8", b'{"n":"\xff","u":"https://example.com/","d":"example.com"}', {}),
    ("wrong type", b"{}", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("over 32 KiB", b'{"n":"' + b"x" * 40_000 + b'"}', {}),
    ("empty", b"", {}),
]
COMPARED = (
    "content-type",
    "content-length",
    "x-hush-dropped",
    "access-control-allow-origin",
    "access-control-expose-headers",
    "connection",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    hush = ThreadServer(tmp_path_factory.mktemp("fast"), None)
    assert hush.server.config.http.intake is hush.app.intake  # the path these tests are about
    with running(hush, site="example.com"):
        yield hush


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with in_process(tmp_path_factory.mktemp("asgi")) as harness:
        yield harness


def _headers(extra: dict[str, str]) -> dict[str, str]:
    return {
        "Content-Type": "text/plain",
        "User-Agent": CHROME,
        "X-Forwarded-For": "203.0.113.7",
        **extra,
    }


def _seen(response: httpx.Response) -> tuple[Any, ...]:
    return (
        response.status_code,
        response.content,
        *(response.headers.get(name) for name in COMPARED),
    )


@pytest.mark.parametrize(("what", "body", "extra"), CASES, ids=[case[0] for case in CASES])
def test_over_http_the_intake_answers_as_it_does_in_process(
    server: ThreadServer, app: Harness, what: str, body: bytes, extra: dict[str, str]
) -> None:
    over_http = httpx.post(f"{server.base_url}/api/event", content=body, headers=_headers(extra))
    in_process_ = app.client.post("/api/event", content=body, headers=_headers(extra))
    assert _seen(over_http) == _seen(in_process_), what
    assert "set-cookie" not in over_http.headers
    assert over_http.headers["date"]  # uvicorn's default headers, as on every other answer


def _request(body: bytes, *, version: str = "1.1", extra: str = "") -> bytes:
    return (
        f"POST /api/event HTTP/{version}\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        f"User-Agent: {CHROME}\r\nX-Forwarded-For: 203.0.113.8\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _answers(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` whole answers (heads and bodies) read from ``sock``."""
    data, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(answers)} answers"
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(data) < length:
            data += sock.recv(65536)
        answers.append(head)
        data = data[length:]
    return answers


def test_pipelined_requests_are_answered_in_their_order(server: ThreadServer) -> None:
    body = b'{"n":"pageview","u":"https://example.com/pipelined","d":"example.com"}'
    preflight = b"OPTIONS /api/event HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            _request(body)
            + preflight  # the ASGI path, between two fast ones
            + _request(body, extra="Sec-GPC: 1\r\n")
            + _request(b"{nope")
            + _request(body)
        )
        heads = _answers(sock, 5)
    assert [head.split(b"\r\n")[0] for head in heads] == [
        b"HTTP/1.1 202 Accepted",
        b"HTTP/1.1 204 No Content",
        b"HTTP/1.1 202 Accepted",
        b"HTTP/1.1 400 Bad Request",
        b"HTTP/1.1 202 Accepted",
    ]
    assert b"x-hush-dropped: gpc" in heads[2]


@pytest.mark.parametrize(
    ("version", "extra"), [("1.0", ""), ("1.1", "Connection: close\r\n")], ids=["1.0", "close"]
)
def test_a_connection_that_asks_to_close_is_closed_after_its_answer(
    server: ThreadServer, version: str, extra: str
) -> None:
    body = b'{"n":"pageview","u":"https://example.com/closing","d":"example.com"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_request(body, version=version, extra=extra))
        [head] = _answers(sock, 1)
        assert b"connection: close" in head.lower()
        assert sock.recv(1) == b""  # closed by the server


def test_a_kept_alive_connection_serves_many_events_and_each_is_stored(
    tmp_path: Path,
) -> None:
    hush = ThreadServer(tmp_path, None)
    with running(hush, site="example.com"), httpx.Client(base_url=hush.base_url) as client:
        for i in range(40):
            page = {**PAGE, "u": f"https://example.com/kept/{i % 4}"}
            answer = client.post("/api/event", json=page, headers=_headers({}))
            assert answer.status_code == 202 and "x-hush-dropped" not in answer.headers
        hush.wait_for_events(40)
        assert hush.metric("pageviews", site_id="example.com", period="day") == 40


def test_answering_events_leaves_no_cycles_for_the_garbage_collector(
    server: ThreadServer,
) -> None:
    """Each cycle left behind is work for a collection pass, and a pass stalls every
    connection at once: under load they were hush's worst latencies."""
    body = b'{"n":"pageview","u":"https://example.com/no-cycles","d":"example.com"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        _answers_to(sock, body, 20)  # warm: connection state, caches
        gc.collect()
        gc.disable()
        try:
            _answers_to(sock, body, 200)
            found = gc.collect()
        finally:
            gc.enable()
    assert found < 50, f"{found} objects in cycles after 200 events"


def _answers_to(sock: socket.socket, body: bytes, count: int) -> None:
    for _ in range(count):
        sock.sendall(_request(body))
        [head] = _answers(sock, 1)
        assert head.startswith(b"HTTP/1.1 202")


def test_a_kept_alive_connection_left_idle_is_closed_after_the_keep_alive_timeout(
    tmp_path: Path,
) -> None:
    hush = ThreadServer(tmp_path, None, HUSH_KEEP_ALIVE_TIMEOUT="1")
    body = b'{"n":"pageview","u":"https://example.com/idle","d":"example.com"}'
    with (
        running(hush, site="example.com"),
        socket.create_connection(("127.0.0.1", hush.port), timeout=10) as sock,
    ):
        _answers_to(sock, body, 2)
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server, not by the 10 s socket timeout
        assert 0.9 <= time.monotonic() - started < 3
