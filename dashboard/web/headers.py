"""Every answer of the read side: only for hush's public hosts, with DESIGN §7's headers.

The host check stops DNS rebinding (a page on evil.example whose name resolves to 127.0.0.1):
the dashboard, the APIs and ``/metrics`` answer only for the public host and loopback names.
The snippet (``/js/``) and ``/healthz`` answer any host; the intake never comes here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.datastructures import Headers, MutableHeaders

ANY_HOST_PREFIXES = ("/js/", "/healthz")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class ReadSideHeaders:
    def __init__(
        self, app: Any, *, hosts: frozenset[str], secure: bool, refusals: Counter[str]
    ) -> None:
        self._app = app
        self._hosts = hosts
        self._secure = secure
        self._refusals = refusals

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path: str = scope["path"]
        if not path.startswith(ANY_HOST_PREFIXES) and _host(scope) not in self._hosts:
            self._refusals["wrong_host"] += 1
            await _refuse_host(send)
            return
        logged_in = b"hush_session=" in Headers(scope=scope).get("cookie", "").encode()

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", CSP)
                headers["x-content-type-options"] = "nosniff"
                headers["referrer-policy"] = "same-origin"
                headers["x-frame-options"] = "DENY"
                if logged_in or path.startswith(("/login", "/setup/", "/reset/")):
                    headers["cache-control"] = "no-store"
                if self._secure:
                    headers["strict-transport-security"] = "max-age=31536000"
            await send(message)

        await self._app(scope, receive, send_with_headers)


def _host(scope: dict[str, Any]) -> str:
    host = Headers(scope=scope).get("host", "")
    if host.startswith("["):
        return host[1:].split("]", 1)[0].lower()
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


async def _refuse_host(send: Any) -> None:
    body = b'{"error": "this host name is not one hush answers for (HUSH_PUBLIC_URL)"}'
    await send(
        {
            "type": "http.response.start",
            "status": 421,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
