"""The server's end of the CLI's channel: a Unix socket in the data dir, mode 0600.

DuckDB allows one process on the file, so while ``hush serve`` runs, ``hush sites``, ``users``,
``keys``, ``demo``, ``retention`` and ``audit`` hand their operation to the server through this
socket. It is never a TCP route, so no reverse proxy can expose it; the file's mode (and the
data dir's, 0700) are the credential: only hush's own user can connect.

The protocol is one JSON line each way: ``{"op": ..., "args": {...}}`` in, then
``{"result": {...}}`` or ``{"error": "..."}`` out.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from aggregator.errors import AdminError
from hush.admin.operations import AdminContext, run_admin
from hush.admin.socket_path import reachable

log = logging.getLogger("hush.admin")

MAX_REQUEST_BYTES = 1 << 20  # an operation's arguments are a few names; a password at most


class AdminEndpoint:
    """Listens on ``path`` while the server runs; ``after_change(op)`` follows each success."""

    def __init__(
        self, path: Path, *, context: AdminContext, after_change: Callable[[str], None]
    ) -> None:
        self._path = path
        self._context = context
        self._after_change = after_change
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._path.unlink(missing_ok=True)
        old = os.umask(0o177)  # the socket is born 0600: no window in which others may connect
        try:
            with reachable(self._path) as address:
                self._server = await asyncio.start_unix_server(
                    self._serve, address, limit=MAX_REQUEST_BYTES
                )
        finally:
            os.umask(old)
        os.chmod(self._path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            answer = await self._answer(await reader.readline())
            writer.write(orjson.dumps(answer) + b"\n")
            await writer.drain()
        except (ValueError, ConnectionError):
            pass  # a request over the limit, or a client that left: nothing to answer
        finally:
            writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = orjson.loads(line)
            op, args = request["op"], request.get("args", {})
            if not isinstance(op, str) or not isinstance(args, dict):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return {"error": 'expected {"op": ..., "args": {...}} on one line'}
        try:
            result = await asyncio.to_thread(run_admin, self._context, op, args)
        except AdminError as exc:
            return {"error": str(exc)}
        self._after_change(op)
        return {"result": result}
