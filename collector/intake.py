"""``POST /api/event``: the intake hot path, a raw ASGI app (no framework: ~20 µs saved per event).

Parse, decide, append, answer: validate size, type and body; scrub (P5); honour GPC and DNT
(P6); resolve the client address (P1); rate-limit; hash the visitor (P2, P3); append one JSON
line to the spool and answer 202 once it is written. The address is a local variable of
``_accept`` and goes nowhere else: not into the spool line, a log line or an error.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import orjson

from collector import outcome
from collector.body import RawEvent, parse_body
from collector.client_address import ClientAddressResolver
from collector.clock import Clock
from collector.counters import ACCEPTED, IntakeCounters
from collector.outcome import Dropped, Rejected
from collector.rate_limit import RateLimiter
from collector.scrub import scrub_page_url, scrub_referrer
from collector.sites import SiteDirectory
from collector.spool import SpoolUnavailable, SpoolWriter
from collector.visitor import SaltStore, visitor_id

log = logging.getLogger("hush.intake")

MAX_BODY = 32 * 1024

_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"x-hush-dropped"),
]
_TEXT = [(b"content-type", b"text/plain; charset=utf-8"), *_CORS]
_JSON = [(b"content-type", b"application/json"), *_CORS]
_PREFLIGHT = [
    *_CORS,
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"content-type"),
    (b"access-control-max-age", b"86400"),
]
_ACCEPTED_TYPES = (b"text/plain", b"application/json")


class Intake:
    """The ASGI app behind ``/api/event``; everything it needs is handed in."""

    def __init__(
        self,
        *,
        sites: SiteDirectory,
        salts: SaltStore,
        spool: SpoolWriter,
        counters: IntakeCounters,
        addresses: ClientAddressResolver,
        rate_limiter: RateLimiter,
        clock: Clock,
    ) -> None:
        self._sites = sites
        self._salts = salts
        self._spool = spool
        self._counters = counters
        self._addresses = addresses
        self._rate_limiter = rate_limiter
        self._clock = clock

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await self._handle(scope, receive, send)
        except SpoolUnavailable:
            await _send(send, 503, _JSON, b'{"error":"the spool cannot be written"}')
        except Exception as exc:
            # A bug, not bad input. The message of an exception may quote a value the visitor
            # sent (even the address), so only its type and the stack are logged.
            log.error(
                "intake failed with %s\n%s",
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            await _send(send, 500, _JSON, b'{"error":"internal error"}')

    async def _handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            await _send(send, 204, _PREFLIGHT, b"")
            return
        if method != "POST":
            await self._reject(send, Rejected(405, "use POST", "bad_method"))
            return
        content_type = b""
        content_length = -1
        gpc = dnt = False
        user_agent = forwarded_for = ""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = int(value) if value.isdigit() else -1
            elif name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                text = value.decode("latin-1")
                forwarded_for = f"{forwarded_for},{text}" if forwarded_for else text
            elif name == b"sec-gpc":
                gpc = value.strip() == b"1"
            elif name == b"dnt":
                dnt = value.strip() == b"1"
            # Cookie and every other header are never read (P1, P4).
        media_type = content_type.split(b";", 1)[0].strip().lower()
        if media_type not in _ACCEPTED_TYPES:
            await self._reject(
                send,
                Rejected(415, "send text/plain or application/json", "unsupported_media_type"),
            )
            return
        if content_length > MAX_BODY:
            await self._reject(send, Rejected(413, "body larger than 32 KiB", "too_large"))
            return
        body = await _read_body(receive)
        if body is None:
            await self._reject(send, Rejected(413, "body larger than 32 KiB", "too_large"))
            return
        event = parse_body(body)
        if isinstance(event, Rejected):
            await self._reject(send, event)
            return
        result = self._accept(event, scope.get("client"), forwarded_for, user_agent, gpc, dnt)
        if isinstance(result, Rejected):
            await self._reject(send, result)
        elif isinstance(result, Dropped):
            await self._drop(send, result, event)
        else:
            await self._spool.append(result)
            await _send(send, 202, _TEXT, b"ok")

    def _accept(
        self,
        event: RawEvent,
        client: tuple[str, int] | None,
        forwarded_for: str,
        user_agent: str,
        gpc: bool,
        dnt: bool,
    ) -> bytes | Rejected | Dropped:
        """Decide about one well-formed event; return its spool line when it is counted."""
        site = self._sites.get(event.domain)
        page = scrub_page_url(
            event.url, keep_fragment=event.hash_mode and site is not None and site.hash_routing
        )
        if isinstance(page, Rejected):
            return page
        if site is None:
            return outcome.UNKNOWN_SITE
        if not site.owns_host(page.hostname):
            return outcome.HOST_MISMATCH
        if gpc:
            return outcome.GPC
        if dnt and site.honour_dnt:
            return outcome.DNT
        address = self._addresses.resolve(client[0] if client else None, forwarded_for)
        if address is None:
            return outcome.BAD_FORWARDED_FOR
        if not self._rate_limiter.allow(address):
            return outcome.RATE_LIMITED
        day, salt = self._salts.current(site.timezone)
        visitor = visitor_id(salt, site.domain, address, user_agent)
        del address
        referrer_host, referrer_path = scrub_referrer(event.referrer)
        if referrer_host and site.owns_host(referrer_host.removeprefix("www.")):
            referrer_host, referrer_path = "", ""  # a self-referral is not a source
        source = page.utm_source or page.ref or referrer_host.removeprefix("www.")
        self._counters.add(ACCEPTED, site.id)
        return orjson.dumps(
            {
                "t": int(self._clock.now() * 1000),
                "s": site.id,
                "d": day.toordinal() - _UNIX_EPOCH_ORDINAL,
                "n": event.name,
                "h": page.hostname,
                "p": page.path,
                "rh": referrer_host,
                "rp": referrer_path,
                "so": source,
                "us": page.utm_source,
                "um": page.utm_medium,
                "uc": page.utm_campaign,
                "ux": page.utm_content,
                "ut": page.utm_term,
                "v": visitor,
                "pk": [key for key, _ in event.props],
                "pv": [value for _, value in event.props],
                "i": event.interactive,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )

    async def _reject(self, send: Any, rejected: Rejected) -> None:
        self._counters.add(rejected.reason)
        body = orjson.dumps({"error": rejected.error})
        await _send(send, rejected.status, _JSON, body)

    async def _drop(self, send: Any, dropped: Dropped, event: RawEvent) -> None:
        site = self._sites.get(event.domain)
        self._counters.add(dropped.reason, site.id if site else 0)
        headers = [*_TEXT, (b"x-hush-dropped", dropped.reason.encode())]
        await _send(send, 202, headers, b"ok")


_UNIX_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()


async def _read_body(receive: Any) -> bytes | None:
    """The whole body, or None once it exceeds ``MAX_BODY`` (chunked bodies have no length)."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
