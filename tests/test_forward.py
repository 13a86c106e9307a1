"""The server believes a forwarded client address only on its own Unix socket (hush/forward.py)."""

from __future__ import annotations

from typing import Any

from hush.forward import PeerFromWebSocket


def seen_by_the_app(scope: dict[str, Any]) -> dict[str, Any]:
    """The scope the wrapped app is called with."""
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], _receive: Any, _send: Any) -> None:
        seen.update(scope)

    # The wrapper awaits nothing but the app, which awaits nothing: one step runs it whole,
    # with no event loop (the suite's other tests may hold one in this thread).
    step = PeerFromWebSocket(app)(scope, None, None)
    try:
        step.send(None)
    except StopIteration:
        return seen
    raise AssertionError("the wrapper waited for something")


def request(client: tuple[str, int] | None, server: tuple[str, int | None]) -> dict[str, Any]:
    return {
        "type": "http",
        "client": client,
        "server": server,
        "headers": [(b"host", b"stats.example"), (b"x-hush-peer", b"192.0.2.99")],
    }


def test_on_the_unix_socket_the_client_is_the_forwarded_address() -> None:
    scope = seen_by_the_app(request(None, ("/proc/self/fd/7/web.sock", None)))
    assert scope["client"] == ("192.0.2.99", 0)
    assert scope["headers"] == [(b"host", b"stats.example")]


def test_over_tcp_the_header_is_removed_and_never_believed() -> None:
    scope = seen_by_the_app(request(("203.0.113.5", 51000), ("127.0.0.1", 8000)))
    assert scope["client"] == ("203.0.113.5", 51000)
    assert scope["headers"] == [(b"host", b"stats.example")]
