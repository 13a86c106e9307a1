"""The sockets and the uvicorn server both ``hush serve`` and ``hush collect`` run.

Every hush process on a port binds its own listening socket with ``SO_REUSEPORT``, and the
kernel spreads new connections over them (by a hash of the connection's addresses and ports,
so one kept-alive connection stays with one process). ``hush serve`` sets the option only when
it is to share the port (``--collectors`` above 1): otherwise a second server started by
mistake on the same port fails as it always did, instead of quietly taking half the traffic.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from collector.connections import bounded_protocol
from collector.intake import Intake
from collector.process import ProcessLimits, connection_limit
from hush.admin.socket_path import reachable
from hush.settings import Settings

log = logging.getLogger("hush")


class PortTaken(Exception):
    """The port is held by a process that does not share it; the message says what to do."""


def tcp_socket(host: str, port: int, *, share: bool) -> socket.socket:
    """A bound (not yet listening) TCP socket; with ``share``, other hush processes may join."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = (
            " (hush serve shares its port only when started with --collectors 2 or more)"
            if share
            else ""
        )
        raise PortTaken(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None
    sock.set_inheritable(False)
    return sock


def unix_socket(path: Path) -> socket.socket:
    """A bound Unix socket at ``path``, mode 0600 from birth (a stale one is replaced)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        with reachable(path) as address:
            sock.bind(address)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.set_inheritable(False)
    return sock


def uvicorn_server(
    settings: Settings,
    app: Any,
    *,
    limits: ProcessLimits,
    intake: Intake,
    observe: Callable[[float], None] | None = None,
) -> uvicorn.Server:
    """uvicorn as hush runs it: uvloop, the bounded httptools protocol with the fast path to
    ``intake`` (``collector.connections``), no access log."""
    connections = connection_limit(settings.max_connections, limits.open_files)
    config = uvicorn.Config(
        app,
        loop="uvloop" if _has("uvloop") else "asyncio",
        # httptools with a bounded head and a per-request deadline (collector/connections.py);
        # h11 would bound the head too (h11_max_incomplete_event_size) at ~2x the CPU.
        http=bounded_protocol(
            max_head_bytes=settings.max_header_bytes,
            request_timeout=settings.request_timeout,
            intake=intake,
            observe=observe,
        ),
        ws="none",
        lifespan="on",
        access_log=False,  # P1: an access log line would carry the client address
        proxy_headers=False,  # P1: hush resolves X-Forwarded-For itself, from trusted proxies
        server_header=False,
        log_config=None,
        limit_concurrency=connections,  # past it, uvicorn answers 503
        timeout_keep_alive=settings.keep_alive_timeout,
        backlog=min(2048, connections),
    )
    log.info(
        "limits: %d connections, %d open files, core dumps off%s",
        connections,
        limits.open_files,
        "" if not limits.dumpable else " (but the process stays dumpable: no prctl)",
    )
    return uvicorn.Server(config)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
