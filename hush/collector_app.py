"""``hush collect``: one more collector process, for intake beyond one core. Wiring only.

It shares only the salt dir, the spool dir and the sites snapshot (``sites.json``, which
``hush serve`` publishes) with the main process; it never opens DuckDB and imports neither the
store, the query engine nor the dashboard (a test holds that). On the shared port it answers
what it can itself: ``/api/event``, the pixel and the snippet (``/js/``). Every other request
(``/login``, the Stats API, ``/healthz``, ``/metrics`` ...) is forwarded to the main process over
``web.sock`` (``hush/forward.py``), so whichever process the kernel picks, the user's one URL
works and ``/healthz`` speaks for the whole server.

Each collector also listens on ``collectors/<pid>.sock`` in the data dir (mode 0600); there
``/healthz`` and ``/metrics`` are its own: the supervisor waits for it to be ready there, and
the main process's ``/metrics`` adds up every collector's intake counts from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette

from collector.client_address import ClientAddressResolver
from collector.clock import Clock, SystemClock
from collector.counters import IntakeCounters
from collector.devices import DeviceDetector
from collector.geo import CountryLookup
from collector.intake import PIXEL_PATH, Intake, send_answer
from collector.rate_limit import RateLimiter
from collector.sites import SiteDirectory
from collector.sources import SourceTable
from collector.spool import SpoolWriter
from collector.visitor import Salts, SaltStore
from hush.admin.socket_path import reachable
from hush.forward import Forwarder, on_unix_socket
from hush.settings import Settings
from snippet.assets import snippet_routes

log = logging.getLogger("hush.collect")

INTAKE_PATHS = frozenset({"/api/event", PIXEL_PATH})
MAINTENANCE_SECONDS = 1.0
PEER_METRICS_SECONDS = 0.5  # a collector that does not answer its socket in time is left out
_OUTCOME = re.compile(rb'^hush_intake_requests_total\{outcome="(\w+)"\} (\d+)$', re.M)
_TEXT = [(b"content-type", b"text/plain; version=0.0.4")]
_JSON = [(b"content-type", b"application/json")]


def open_salts(settings: Settings, clock: Clock) -> Salts:
    """The daily salts: in Redis when HUSH_SALT_STORE names one (the nodes of a lake), else in
    the salt dir. Raises ``UnsafeSaltDir`` (or ``UnsafeSaltStore``) for a place that is unsafe."""
    if settings.salt_store:
        from collector.shared_salt import RedisSaltStore  # imports redis: only when configured

        return RedisSaltStore(settings.salt_store, clock)
    return SaltStore(settings.salt_dir, clock)


def build_intake(
    settings: Settings,
    *,
    sites: SiteDirectory,
    salts: Salts,
    spool: SpoolWriter,
    counters: IntakeCounters,
    clock: Clock,
    devices: DeviceDetector | None = None,
    countries: CountryLookup | None = None,
) -> Intake:
    """The intake as every collector process wires it (``hush serve``'s and ``hush collect``'s)."""
    return Intake(
        sites=sites,
        salts=salts,
        spool=spool,
        counters=counters,
        addresses=ClientAddressResolver(settings.trusted_proxies),  # its own trusted-peer set
        rate_limiter=RateLimiter(
            settings.rate_limit,
            clock,
            site_per_minute=settings.site_rate_limit,
            ipv6_prefix=settings.rate_limit_ipv6_prefix,
            limited=counters.limited,
        ),
        devices=devices or DeviceDetector(),
        countries=countries or CountryLookup(settings.geoip_db, fallback_dir=settings.data_dir),
        sources=SourceTable(),
        clock=clock,
    )


class CollectorApp:
    """The ASGI app of ``hush collect``: intake, snippet, and a forwarder for the rest."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        devices: DeviceDetector | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.salts = open_salts(settings, self.clock)  # first: an unsafe salt place stops us
        self.sites = SiteDirectory(settings.sites_snapshot_path)
        self.counters = IntakeCounters(self.clock)
        self.spool = SpoolWriter(
            settings.spool_dir,
            segment_seconds=settings.segment_seconds,
            segment_bytes=settings.segment_bytes,
            fsync_interval=settings.fsync_interval,
            trailer=self.counters.drain_line,
        )
        self.intake = build_intake(
            settings,
            sites=self.sites,
            salts=self.salts,
            spool=self.spool,
            counters=self.counters,
            clock=self.clock,
            devices=devices,
        )
        self.snippet = Starlette(routes=snippet_routes())
        self.forward = Forwarder(settings.web_socket)
        self.ready = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        path = scope["path"]
        if path in INTAKE_PATHS:
            await self.intake(scope, receive, send)
        elif path.startswith("/js/"):
            await self.snippet(scope, receive, send)
        elif on_unix_socket(scope):
            await self._own(path, send)
        else:
            await self.forward(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        tasks: list[asyncio.Task[None]] = []
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                tasks = [
                    asyncio.create_task(self.spool.run(), name="spool"),
                    asyncio.create_task(self._maintain(), name="maintenance"),
                ]
                self.ready = True
                log.info("hush collect is ready (pid %d)", os.getpid())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self.spool.close()  # the last segment closes with its counters: nothing lost
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _maintain(self) -> None:
        """Delete expired salts (P3) and pick up a changed sites snapshot, every second."""
        while True:
            for gone in self.salts.sweep():
                log.info("deleted expired salt %s", os.path.basename(gone))
            self.sites.reload()
            await asyncio.sleep(MAINTENANCE_SECONDS)

    async def _own(self, path: str, send: Any) -> None:
        """``/healthz`` and ``/metrics`` of this process, on its own socket only."""
        if path == "/healthz":
            status = 200 if self.ready else 503
            body = orjson.dumps({"status": "ok" if self.ready else "starting", "pid": os.getpid()})
            await send_answer(send, status, _JSON, body)
        elif path == "/metrics":
            await send_answer(send, 200, _TEXT, render_intake_totals(self.counters.totals))
        else:
            await send_answer(send, 404, _JSON, b'{"error":"not found"}')


def render_intake_totals(totals: Counter[str]) -> bytes:
    lines = [
        "# HELP hush_intake_requests_total Requests to /api/event by outcome.",
        "# TYPE hush_intake_requests_total counter",
        *(f'hush_intake_requests_total{{outcome="{k}"}} {n}' for k, n in sorted(totals.items())),
    ]
    return ("\n".join(lines) + "\n").encode()


async def collector_totals(directory: Path) -> Counter[str]:
    """Every running collector's intake counts, added up (from ``collectors/*.sock``)."""
    try:
        sockets = [path for path in directory.iterdir() if path.suffix == ".sock"]
    except FileNotFoundError:
        return Counter()
    answers = await asyncio.gather(*(_get_metrics(path) for path in sockets))
    totals: Counter[str] = Counter()
    for body in answers:
        for outcome, count in _OUTCOME.findall(body):
            totals[outcome.decode()] += int(count)
    return totals


async def _get_metrics(path: Path) -> bytes:
    try:
        with reachable(path) as address:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(address), PEER_METRICS_SECONDS
            )
    except (OSError, TimeoutError):
        return b""  # a collector that died, or is stopping: its counts are in the spool
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nhost: hush\r\nconnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), PEER_METRICS_SECONDS)
    except (OSError, TimeoutError):
        return b""
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return body if head.startswith(b"HTTP/1.1 200") else b""


def create_collector_app(
    settings: Settings, *, clock: Clock | None = None, devices: DeviceDetector | None = None
) -> CollectorApp:
    """The ASGI app of ``hush collect``."""
    return CollectorApp(settings, clock=clock, devices=devices)


def control_socket(settings: Settings, pid: int | None = None) -> Path:
    """Where collector ``pid`` (default: this process) answers its own /healthz and /metrics."""
    return settings.collectors_dir / f"{pid or os.getpid()}.sock"
