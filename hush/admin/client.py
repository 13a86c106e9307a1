"""How the CLI reaches the database: through a running server's admin socket, or directly.

DuckDB admits one process on the file. When ``hush serve`` runs, it listens on ``admin.sock``
in the data dir (``hush.admin.endpoint``); the CLI hands the operation over there. When no
server answers, the CLI opens the file itself.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from typing import Any

import orjson

from aggregator.errors import AdminError
from aggregator.store import StoreBusy
from collector.clock import SystemClock
from hush.admin.operations import AdminContext, run_admin
from hush.admin.socket_path import reachable
from hush.settings import Settings
from hush.storage import open_store

# Generous: `hush demo` of ten million events takes about a minute.
OPERATION_SECONDS = 3600


class AdminFailed(Exception):
    """The operation was refused or could not reach the database; the message says why."""


def call_admin(settings: Settings, op: str, args: dict[str, Any]) -> dict[str, Any]:
    remote = _call_server(settings, op, args)
    if remote is not None:
        return remote
    try:
        store = open_store(settings, bounded=False)
    except StoreBusy:
        raise AdminFailed(
            f"{settings.database_path} is held by another process and no hush server answers "
            f"on {settings.admin_socket}"
        ) from None
    try:
        context = AdminContext(
            store,
            settings.sites_snapshot_path,
            SystemClock(),
            settings.raw_retention_days,
            settings.min_visitors,
        )
        return run_admin(context, op, args)
    except AdminError as exc:
        raise AdminFailed(str(exc)) from None
    finally:
        store.close()


def _call_server(settings: Settings, op: str, args: dict[str, Any]) -> dict[str, Any] | None:
    if not settings.admin_socket.exists():
        return None
    try:
        with (
            reachable(settings.admin_socket) as address,
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock,
        ):
            sock.settimeout(OPERATION_SECONDS)
            sock.connect(address)
            sock.sendall(orjson.dumps({"op": op, "args": args}) + b"\n")
            answer = orjson.loads(_read_line(sock))
    except (ConnectionRefusedError, FileNotFoundError):
        return None  # a socket file left by a server that is gone
    except (OSError, orjson.JSONDecodeError) as exc:
        raise AdminFailed(f"the server on {settings.admin_socket} did not answer: {exc}") from None
    if "error" in answer:
        raise AdminFailed(str(answer["error"]))
    return dict(answer["result"])


def _read_line(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while not chunks or not chunks[-1].endswith(b"\n"):
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def running_server(settings: Settings) -> str | None:
    """The base URL of the hush server that holds this data dir, if one answers."""
    try:
        info = json.loads(settings.server_file.read_text())
        with urllib.request.urlopen(info["url"] + "/healthz", timeout=5) as response:  # noqa: S310
            return str(info["url"]) if response.status == 200 else None
    except (FileNotFoundError, ValueError, KeyError, OSError):
        return None
