"""The loopback admin endpoint through which the CLI reaches a running server's database.

DuckDB allows one process on the file, so while ``hush serve`` runs, ``hush sites`` and
``hush keys`` post their operation here with the token the server wrote (mode 0600) into the
data dir. Requests from any address but loopback are refused whatever their token.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aggregator.errors import AdminError
from hush.admin.operations import AdminContext, run_admin

LOOPBACK = frozenset({"127.0.0.1", "::1"})


def admin_route(*, context: AdminContext, token: str, after_change: Callable[[str], None]) -> Route:
    async def endpoint(request: Request) -> Response:
        peer = request.client.host if request.client else ""
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        if peer not in LOOPBACK or not hmac.compare_digest(given.encode(), token.encode()):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        try:
            body = orjson.loads(await request.body())
            op, args = body["op"], body.get("args", {})
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return JSONResponse({"error": 'expected {"op": ..., "args": {...}}'}, 400)
        try:
            result: dict[str, Any] = await run_in_threadpool(run_admin, context, op, args)
        except AdminError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        after_change(op)
        return JSONResponse(result)

    return Route("/_admin", endpoint, methods=["POST"])
