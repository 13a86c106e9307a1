"""The app factory: wires collector, aggregator and dashboard into one ASGI app. Wiring only.

``/api/event`` goes straight to the raw ASGI intake (the hot path skips the framework); every
other path goes to a Starlette app whose lifespan starts the background work: the spool's
rotation and fsync, the loader thread, maintenance (rollups, retention) and the sweep of expired
salts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from aggregator.jobs import LoaderThread, MaintenanceThread
from aggregator.sites import publish_snapshot
from aggregator.store import Store
from collector.client_address import ClientAddressResolver
from collector.clock import Clock, SystemClock
from collector.counters import IntakeCounters
from collector.devices import DeviceDetector
from collector.geo import CountryLookup
from collector.intake import PIXEL_PATH, Intake
from collector.rate_limit import RateLimiter
from collector.sites import SiteDirectory
from collector.sources import SourceTable
from collector.spool import SpoolWriter
from collector.visitor import SaltStore
from dashboard.api.keys import ApiKeys
from dashboard.api.stats import StatsApi
from hush.admin.endpoint import admin_route
from hush.admin.operations import AdminContext
from hush.settings import Settings
from snippet.assets import snippet_routes

log = logging.getLogger("hush")

MAINTENANCE_SECONDS = 1.0
INTAKE_PATHS = frozenset({"/api/event", PIXEL_PATH})


class HushApp:
    """``hush serve``: collector, aggregator and dashboard in one process on one DuckDB file."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if settings.data_dir.stat().st_mode & 0o077:
            log.warning(
                "data dir %s can be read by other users; hush creates it 0700: chmod 700 it",
                settings.data_dir,
            )
        # First: an unsafe salt dir (P3) stops hush before anything is opened.
        self.salts = SaltStore(settings.salt_dir, self.clock)
        self.store = Store(settings.database_path)
        publish_snapshot(self.store, settings.sites_snapshot_path)
        self.sites = SiteDirectory(settings.sites_snapshot_path)
        self.counters = IntakeCounters(self.clock)
        self.loader = LoaderThread(self.store, settings.spool_dir, interval=settings.load_interval)
        self.spool = SpoolWriter(
            settings.spool_dir,
            segment_seconds=settings.segment_seconds,
            segment_bytes=settings.segment_bytes,
            fsync_interval=settings.fsync_interval,
            trailer=self.counters.drain_line,
            on_close=self.loader.wake,
        )
        self.intake = Intake(
            sites=self.sites,
            salts=self.salts,
            spool=self.spool,
            counters=self.counters,
            addresses=ClientAddressResolver(settings.trusted_proxies),
            rate_limiter=RateLimiter(
                settings.rate_limit,
                self.clock,
                site_per_minute=settings.site_rate_limit,
                ipv6_prefix=settings.rate_limit_ipv6_prefix,
            ),
            devices=DeviceDetector(),
            countries=CountryLookup(settings.geoip_db),
            sources=SourceTable(),
            clock=self.clock,
        )
        self.maintenance = MaintenanceThread(
            self.store,
            self.clock,
            retention_days=settings.raw_retention_days,
            interval=settings.maintenance_interval,
            live_interval=settings.live_rollup_interval,
        )
        self.keys = ApiKeys(self.store)
        self.admin_token = secrets.token_urlsafe(32)
        self.ready = False
        self.admin_context = AdminContext(
            self.store, settings.sites_snapshot_path, self.clock, settings.raw_retention_days
        )
        stats = StatsApi(
            store=self.store, keys=self.keys, clock=self.clock, min_visitors=settings.min_visitors
        )
        routes = [
            *stats.routes(),
            *snippet_routes(),
            Route("/healthz", self._healthz),
            Route("/metrics", self._metrics),
            admin_route(
                context=self.admin_context,
                token=self.admin_token,
                after_change=self.after_admin_change,
            ),
        ]
        self.web = Starlette(routes=routes, lifespan=self._lifespan)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in INTAKE_PATHS:
            await self.intake(scope, receive, send)
        else:
            await self.web(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self.loader.start()
        self.maintenance.start()
        tasks = [
            asyncio.create_task(self.spool.run(), name="spool"),
            asyncio.create_task(self._maintain(), name="maintenance"),
        ]
        self._write_server_file()
        self.ready = True
        log.info(
            "hush is ready: data in %s, salts in %s", self.settings.data_dir, self.settings.salt_dir
        )
        try:
            yield
        finally:
            self.ready = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.spool.close()
            await asyncio.to_thread(self.maintenance.stop)
            await asyncio.to_thread(self.loader.stop)
            self.settings.server_file.unlink(missing_ok=True)
            self.store.close()

    async def _maintain(self) -> None:
        """Delete salts whose local day is over (P3) and pick up changed sites, every second."""
        while True:
            for path in self.salts.sweep():
                log.info("deleted expired salt %s", path.name)
            self.sites.reload()
            await asyncio.sleep(MAINTENANCE_SECONDS)

    def after_admin_change(self, op: str) -> None:
        """Pick up what an admin operation changed (sites, keys) at once."""
        if op.startswith("sites."):
            self.sites.reload()
        elif op.startswith("keys."):
            self.keys.refresh()

    def _write_server_file(self) -> None:
        host = self.settings.host
        if host in ("0.0.0.0", "", "*"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        info = {"url": f"http://{host}:{self.settings.port}", "token": self.admin_token}
        path = self.settings.server_file
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(info))
        os.replace(path.with_suffix(".tmp"), path)

    async def _healthz(self, _request: Request) -> Response:
        if self.ready and self.loader.running:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "starting"}, status_code=503)

    async def _metrics(self, _request: Request) -> Response:
        lines = [
            "# HELP hush_intake_requests_total Requests to /api/event by outcome.",
            "# TYPE hush_intake_requests_total counter",
        ]
        for reason, n in sorted(self.counters.totals.items()):
            lines.append(f'hush_intake_requests_total{{outcome="{reason}"}} {n}')
        totals = self.loader.totals
        lines += [
            "# HELP hush_loaded_events_total Events loaded from the spool into DuckDB.",
            "# TYPE hush_loaded_events_total counter",
            f"hush_loaded_events_total {totals.events}",
            "# HELP hush_loaded_segments_total Spool segments loaded into DuckDB.",
            "# TYPE hush_loaded_segments_total counter",
            f"hush_loaded_segments_total {totals.segments}",
            "# HELP hush_torn_lines_total Spool lines skipped because they were damaged.",
            "# TYPE hush_torn_lines_total counter",
            f"hush_torn_lines_total {totals.torn_lines}",
            "# HELP hush_live_rollup_passes_total Refreshes of the open days' rollups.",
            "# TYPE hush_live_rollup_passes_total counter",
            f"hush_live_rollup_passes_total {self.maintenance.live_passes}",
            "# HELP hush_live_rollups_total Rebuilds of an open day's provisional rollup.",
            "# TYPE hush_live_rollups_total counter",
            f"hush_live_rollups_total {self.maintenance.live_rollups}",
            "# HELP hush_live_rollup_seconds How long the last refresh that rebuilt a day took.",
            "# TYPE hush_live_rollup_seconds gauge",
            f"hush_live_rollup_seconds {self.maintenance.live_seconds:.3f}",
        ]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def create_app(settings: Settings, *, clock: Clock | None = None) -> HushApp:
    """The ASGI app of ``hush serve``; tests may pass a clock they can move."""
    return HushApp(settings, clock=clock)
