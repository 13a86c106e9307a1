"""``POST /api/event``: the intake hot path, a raw ASGI app (no framework: ~20 µs saved per event)
around one decision core, ``Intake.respond``, that the HTTP protocol's fast path calls too.

Parse, decide, append, answer: validate size, type and body; prepare the event (scrub (P5),
site, source, channel and spam verdict: cached per body) and describe its agent (browser, OS,
device, bot verdict: cached per user agent); neither depends on the sender, and each is
cached apart, so a new agent on a known page pays only for its description; then, per
request, honour GPC and DNT (P6), resolve the client address (P1), rate-limit, hash the
visitor (P2, P3), look up the country, append one JSON line to the spool and answer 202 once
it is written. The address is a local variable of
``_finish`` and goes nowhere else: not into a cache, the spool line, a log line or an error.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from collector import outcome
from collector.body import RawEvent, parse_body, parse_query
from collector.cache import BoundedCache
from collector.channels import acquisition
from collector.client_address import ClientAddressResolver
from collector.clock import Clock
from collector.counters import ACCEPTED, IntakeCounters
from collector.devices import OTHER_BOT, DeviceDetector
from collector.geo import CountryLookup
from collector.outcome import Dropped, Rejected
from collector.rate_limit import RateLimiter
from collector.scrub import PageUrl, scrub_page_url, scrub_referrer
from collector.sites import Site, SiteDirectory
from collector.sources import SourceTable
from collector.spool import SpoolUnavailable, SpoolWrite, SpoolWriter
from collector.visitor import Salts, SaltsUnavailable, visitor_id

log = logging.getLogger("hush.intake")

MAX_BODY = 32 * 1024
CACHE_SIZE = 8192  # prepared bodies (~0.8 KiB each with their key: ~7 MiB at most)
TEXT_CACHE_SIZE = 4096  # scrubbed pages and referrers (~0.7 KiB each: ~3 MiB each at most)
MAX_CACHED = 1024  # characters of a URL or referrer worth caching
# Real browsers send 100-400 characters; past this an agent is dropped as a bot
# ("oversized user agent") before anything parses, caches or hashes it.
MAX_USER_AGENT = 1024
# Of a body declared or found too large, this much is read and thrown away before the 413 and
# the close, so a sender that does not wait for an answer (no Expect: 100-continue) still
# reads it instead of a reset; past it, or after DRAIN_SECONDS, the connection is closed.
MAX_DRAIN = 1024 * 1024
DRAIN_SECONDS = 2.0

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
_TOO_LARGE = Rejected(413, "body larger than 32 KiB", "too_large")
_OVERSIZED_AGENT = Dropped("bot", "oversized user agent", OTHER_BOT)
_CLOSE = [(b"connection", b"close")]

_ACCEPTED_START = {
    "type": "http.response.start",
    "status": 202,
    "headers": [*_TEXT, (b"content-length", b"2")],
}
_ACCEPTED_BODY = {"type": "http.response.body", "body": b"ok"}

PIXEL_PATH = "/api/event.gif"
# The smallest transparent GIF: 43 bytes.
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
_GIF_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"cache-control", b"no-store"),
    *_CORS,
]


class Intake:
    """The ASGI app behind ``/api/event``; everything it needs is handed in."""

    def __init__(
        self,
        *,
        sites: SiteDirectory,
        salts: Salts,
        spool: SpoolWriter,
        counters: IntakeCounters,
        addresses: ClientAddressResolver,
        rate_limiter: RateLimiter,
        devices: DeviceDetector,
        countries: CountryLookup,
        sources: SourceTable,
        clock: Clock,
    ) -> None:
        self._sites = sites
        self._salts = salts
        self._spool = spool
        self._counters = counters
        self._addresses = addresses
        self._rate_limiter = rate_limiter
        self._devices = devices
        self._countries = countries
        self._sources = sources
        self._clock = clock
        # Pages and referrers repeat heavily, so their scrubbed forms are cached (keyed by the
        # text the browser sent, in memory only; long texts are not cached). Addresses never
        # are: they live only as long as their request.
        self._scrub_page = lru_cache(maxsize=TEXT_CACHE_SIZE)(_scrub_page)
        self._scrub_referrer = lru_cache(maxsize=TEXT_CACHE_SIZE)(scrub_referrer)
        # Whole bodies repeat too (the same page view from many visitors); the sites version
        # in the key retires entries when a site's settings change. An entry goes in only
        # once its event was accepted: refused requests (GPC, rate-limited, bots, unknown
        # sites) cannot evict what real visitors use. Keys are at most 1 KiB.
        self._prepared: BoundedCache[tuple[bytes, int], Prepared] = BoundedCache(CACHE_SIZE)

    def cached(self) -> dict[str, tuple[int, int]]:
        """Entries and capacity of each cache, for /metrics (none of them holds an address)."""
        pages, referrers = self._scrub_page.cache_info(), self._scrub_referrer.cache_info()
        return {
            "prepared": (len(self._prepared), CACHE_SIZE),
            "pages": (pages.currsize, pages.maxsize or 0),
            "referrers": (referrers.currsize, referrers.maxsize or 0),
            "agents": self._devices.cached(),
        }

    @property
    def tracked_clients(self) -> int:
        """Client networks the rate limiter counts in its current window."""
        return self._rate_limiter.tracked

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            answer = await self._handle(scope, receive)
            if answer.written is not None:
                await answer.written
        except _ClientGone:
            return  # nobody is left to answer, and nothing was said: nothing to count
        except Exception as exc:
            answer = failure(exc)
        if answer.like is ACCEPTED_ANSWER:  # the common case, answered with prebuilt messages
            await send(_ACCEPTED_START)
            await send(_ACCEPTED_BODY)
        else:
            await send_answer(send, answer.status, answer.headers, answer.body)

    def respond(
        self, raw_headers: list[tuple[bytes, bytes]], body: bytes, client: tuple[str, int] | None
    ) -> Answer:
        """``POST /api/event`` once its whole body (at most ``MAX_BODY``) has arrived, decided
        and counted: the fast path of ``collector.connections``, which writes the answer once
        ``answer.written`` is done (``failure`` of its exception, if it failed)."""
        try:
            headers = _read_headers(raw_headers)
            return self._media_refusal(headers) or self._post(headers, body, client)
        except Exception as exc:
            return failure(exc)

    async def _handle(self, scope: dict[str, Any], receive: Any) -> Answer:
        method = scope["method"]
        headers = _read_headers(scope["headers"])
        client = scope.get("client")
        if scope["path"] == PIXEL_PATH:
            if method not in ("GET", "HEAD"):
                return self._reject(Rejected(405, "use GET", "bad_method"))
            event = parse_query(scope.get("query_string", b""))
            prepared = event if isinstance(event, Rejected) else self._prepare(event)
            return self._decide(prepared, client, headers, pixel=True)
        if method == "OPTIONS":
            return Answer(204, _PREFLIGHT, b"")
        if method != "POST":
            return self._reject(Rejected(405, "use POST", "bad_method"))
        refusal = self._media_refusal(headers)
        if refusal is not None:
            return refusal
        if headers.content_length > MAX_BODY:
            return await self._too_large(receive, drain=not headers.expects_continue)
        body = await _read_body(receive)
        if body is None:
            return await self._too_large(receive, drain=True)
        return self._post(headers, body, client)

    def _media_refusal(self, headers: _Headers) -> Answer | None:
        media_type = headers.content_type.split(b";", 1)[0].strip().lower()
        if media_type in _ACCEPTED_TYPES:
            return None
        return self._reject(
            Rejected(415, "send text/plain or application/json", "unsupported_media_type")
        )

    def _post(self, headers: _Headers, body: bytes, client: tuple[str, int] | None) -> Answer:
        key = None
        prepared: Prepared | Rejected
        if len(body) <= MAX_CACHED:
            key = (body, self._sites.version)
            cached = self._prepared.get(key)
            if cached is not None:
                prepared, key = cached, None  # already cached
            else:
                prepared = self._prepare_body(body)
        else:
            prepared = self._prepare_body(body)
        return self._decide(prepared, client, headers, pixel=False, remember=key)

    async def _too_large(self, receive: Any, *, drain: bool) -> Answer:
        """413, then close; read and discard up to ``MAX_DRAIN`` first unless the sender waits
        for an answer before it sends the body (Expect: 100-continue)."""
        if drain:
            try:
                async with asyncio.timeout(DRAIN_SECONDS):
                    await _discard_body(receive, MAX_DRAIN)
            except TimeoutError:
                pass
        self._counters.add(_TOO_LARGE.reason)
        body = orjson.dumps({"error": _TOO_LARGE.error})
        return Answer(_TOO_LARGE.status, [*_JSON, *_CLOSE], body)

    def _decide(
        self,
        prepared: Prepared | Rejected,
        client: tuple[str, int] | None,
        headers: _Headers,
        *,
        pixel: bool,
        remember: tuple[bytes, int] | None = None,
    ) -> Answer:
        """Count the event's outcome and say the answer: for an accepted event, with the
        spool write it must wait for."""
        if isinstance(prepared, Rejected):
            return self._reject(prepared)
        result = self._finish(prepared, client, headers)
        if isinstance(result, Dropped):
            site_id = prepared.site.id if prepared.site else 0
            self._counters.add(result.reason, site_id, result.detail, result.category)
            if prepared.seen and result is prepared.drop:
                self._counters.add_unknown(site_id, *prepared.seen)
            dropped = [(b"x-hush-dropped", result.reason.encode())]
            if pixel:
                return Answer(200, [*_GIF_HEADERS, *dropped], GIF)
            return Answer(202, [*_TEXT, *dropped], b"ok")
        if remember is not None:
            self._prepared.put(remember, prepared)
        written = self._spool.append(result)
        if pixel:
            return Answer(200, _GIF_HEADERS, GIF, written)
        return Answer(202, _TEXT, b"ok", written, ACCEPTED_ANSWER)

    def _prepare_body(self, body: bytes) -> Prepared | Rejected:
        """Parse and prepare a body (cached by body and sites version)."""
        event = parse_body(body)
        if isinstance(event, Rejected):
            return event
        return self._prepare(event)

    def _prepare(self, event: RawEvent) -> Prepared | Rejected:
        """Everything about an event that does not depend on who sent it, with what, or when:
        the same page view prepares the same way, so it is cached."""
        site = self._sites.get(event.domain)
        keep_fragment = event.hash_mode and site is not None and site.hash_routing
        if len(event.url) <= MAX_CACHED:
            page = self._scrub_page(event.url, keep_fragment)
        else:
            page = scrub_page_url(event.url, keep_fragment=keep_fragment)
        if isinstance(page, Rejected):
            return page
        if site is None:
            return Prepared(None, outcome.UNKNOWN_SITE, seen=(page.hostname, event.name))
        if not site.owns_host(page.hostname):
            return Prepared(site, outcome.HOST_MISMATCH, seen=(page.hostname, event.name))
        referrer = event.referrer
        if referrer is None or len(referrer) <= MAX_CACHED:
            referrer_host, referrer_path = self._scrub_referrer(referrer)
        else:
            referrer_host, referrer_path = scrub_referrer(referrer)
        if referrer_host and self._sources.is_spam(referrer_host):
            return Prepared(site, spam=True)
        came = acquisition(self._sources, site, page, referrer_host, referrer_path)
        fields = orjson.dumps(
            {
                "s": site.id,
                "n": event.name,
                "h": page.hostname,
                "p": page.path,
                "rh": came.referrer_host,
                "rp": came.referrer_path,
                "so": came.source.name,
                "us": page.utm_source,
                "um": page.utm_medium,
                "uc": page.utm_campaign,
                "ux": page.utm_content,
                "ut": page.utm_term,
                "pk": [key for key, _ in event.props],
                "pv": [value for _, value in event.props],
                "i": event.interactive,
                "sd": event.scroll_depth,
                "e": event.engaged_ms,
                "ch": came.channel,
            }
        )
        # The spool line's middle, serialised once: per request only its head is formatted,
        # and the agent's fields come from its own cache.
        return Prepared(site, fields=fields[1:-1])

    def _finish(
        self, prepared: Prepared, client: tuple[str, int] | None, headers: _Headers
    ) -> bytes | Dropped:
        """Decide about one prepared event with its sender; return its spool line when counted."""
        site = prepared.site
        if prepared.drop is not None or site is None:
            return prepared.drop or outcome.UNKNOWN_SITE
        if headers.gpc:
            return outcome.GPC
        if headers.dnt and site.honour_dnt:
            return outcome.DNT
        if len(headers.user_agent) > MAX_USER_AGENT:
            return _OVERSIZED_AGENT
        software = self._devices.describe(headers.user_agent)
        if software.dropped is not None:
            return software.dropped
        if prepared.spam:
            return outcome.SPAM_REFERRER
        address = self._addresses.resolve(client[0] if client else None, headers.forwarded_for)
        if address is None:
            return outcome.BAD_FORWARDED_FOR
        refusal = self._rate_limiter.refusal(address, site.id)
        if refusal:
            return outcome.RATE_LIMITED if refusal == "client" else outcome.SITE_RATE_LIMITED
        day, salt = self._salts.current(site.timezone)
        visitor = visitor_id(salt, site.domain, address, headers.user_agent)
        country = self._countries.country(address)
        del address  # the last use: from here on the event holds nothing that identifies
        self._counters.add(ACCEPTED, site.id)
        # The country is "" or two ASCII letters (collector.geo), the rest are integers: the
        # head needs no escaping.
        return b'{"t":%d,"d":%d,"v":%d,"c":"%s",%s,%s}\n' % (
            int(self._clock.now() * 1000),
            day.toordinal() - _UNIX_EPOCH_ORDINAL,
            visitor,
            country.encode(),
            prepared.fields,
            software.fields,
        )

    def _reject(self, rejected: Rejected) -> Answer:
        self._counters.add(rejected.reason)
        return Answer(rejected.status, _JSON, orjson.dumps({"error": rejected.error}))


def _scrub_page(url: str, keep_fragment: bool) -> PageUrl | Rejected:
    return scrub_page_url(url, keep_fragment=keep_fragment)


_UNIX_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class Answer:
    """What the intake answers: status, headers (without the length) and body, and for an
    accepted event the spool write to wait for before answering (P: acknowledged = stored).
    ``like`` is ``ACCEPTED_ANSWER`` for an answer that is the same as it, but for its write."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    written: SpoolWrite | None = None
    like: Answer | None = None


ACCEPTED_ANSWER = Answer(202, _TEXT, b"ok")


def failure(exc: BaseException) -> Answer:
    """The answer to a request the intake could not finish: 503 when the spool or the salt
    store cannot be used, 500 (and a log line) for a bug."""
    if isinstance(exc, SpoolUnavailable):
        return Answer(503, _JSON, b'{"error":"the spool cannot be written"}')
    if isinstance(exc, SaltsUnavailable):
        return Answer(503, _JSON, b'{"error":"the salt store does not answer"}')
    # A bug, not bad input. The message of an exception may quote a value the visitor sent
    # (even the address), so only its type and the stack are logged.
    log.error(
        "intake failed with %s\n%s",
        type(exc).__name__,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    return Answer(500, _JSON, b'{"error":"internal error"}')


@dataclass(frozen=True, slots=True)
class Prepared:
    """What an event will be, short of its sender and agent: the site, an early drop (unknown
    site, host mismatch), the referrer-spam verdict (a drop decided after GPC, DNT and the
    bot verdict), and the spool line's middle: its fields after the sender's, before the
    agent's (``"s":…,"ch":…``)."""

    site: Site | None
    drop: Dropped | None = None
    spam: bool = False
    fields: bytes = b""
    seen: tuple[str, str] | None = None  # scrubbed host and event name of an unknown host


class _ClientGone(Exception):
    """The client disconnected before its body arrived."""


@dataclass(slots=True)
class _Headers:
    content_type: bytes = b""
    content_length: int = -1
    user_agent: str = ""
    forwarded_for: str = ""
    gpc: bool = False
    dnt: bool = False
    expects_continue: bool = False


_WANTED = frozenset(
    (
        b"content-type",
        b"content-length",
        b"user-agent",
        b"x-forwarded-for",
        b"sec-gpc",
        b"dnt",
        b"expect",
    )
)


def _read_headers(raw: list[tuple[bytes, bytes]]) -> _Headers:
    """The headers the intake reads; Cookie and every other header are never looked at.

    Repeated X-Forwarded-For headers are joined once at the end (joining as they come was
    quadratic: 80,000 of them took 4 s); uvicorn's protocol caps the whole head
    (``collector.connections``), so their number is bounded too.
    """
    headers = _Headers()
    forwarded: list[bytes] = []
    for name, value in raw:
        if name not in _WANTED:
            continue
        if name == b"content-type":
            headers.content_type = value
        elif name == b"content-length":
            headers.content_length = int(value) if value.isdigit() else -1
        elif name == b"user-agent":
            headers.user_agent = value.decode("latin-1")
        elif name == b"x-forwarded-for":
            forwarded.append(value)
        elif name == b"sec-gpc":
            headers.gpc = value.strip() == b"1"
        elif name == b"dnt":
            headers.dnt = value.strip() == b"1"
        else:
            headers.expects_continue = value.strip().lower() == b"100-continue"
    if forwarded:
        headers.forwarded_for = b",".join(forwarded).decode("latin-1")
    return headers


async def _read_body(receive: Any) -> bytes | None:
    """The whole body, or None once it exceeds ``MAX_BODY`` (chunked bodies have no length)."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _discard_body(receive: Any, limit: int) -> None:
    """Read the rest of a body and throw it away, up to ``limit`` bytes."""
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def send_answer(
    send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    """One whole answer with its length (the intake's, and ``hush collect``'s own routes')."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
