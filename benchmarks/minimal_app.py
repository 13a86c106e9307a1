"""The baseline of ``benchmarks/ingest``: the least an ASGI app can do for ``POST /api/event``.

It reads the whole body and answers 202 "ok", nothing else, served by uvicorn with the settings
``hush serve`` uses (one worker, uvloop, httptools, no access log, no proxy headers, no server
header; lifespan off, as there is nothing to start). The ratio of hush's throughput to this
app's is the share of the server's time hush's own work leaves to HTTP.

    .venv/bin/python benchmarks/minimal_app.py --port 8001
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"2")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    _body = b"".join(chunks)  # as the intake does: the whole body, in one piece
    await send({"type": "http.response.start", "status": 202, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"ok"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="off",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_config=None,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
