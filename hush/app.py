"""The app factory: wires collector, aggregator and dashboard into one ASGI app. Wiring only.

``/api/event`` goes straight to the raw ASGI intake (the hot path skips the framework); every
other path goes to a Starlette app whose lifespan starts the background work: the spool's
rotation and fsync, the loader thread, maintenance (rollups, retention) and the sweep of expired
salts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

import dashboard
from aggregator import one_time_links, users
from aggregator.alerts import Alerter, AlertThread
from aggregator.audit_log import Actor
from aggregator.jobs import LoaderThread, MaintenanceThread
from aggregator.loader import LoadReport
from aggregator.sites import publish_snapshot
from collector.client_address import ClientAddressResolver
from collector.clock import Clock, SystemClock
from collector.counters import IntakeCounters
from collector.devices import DeviceDetector
from collector.geo import CountryLookup
from collector.sites import SiteDirectory
from collector.spool import SpoolWriter
from dashboard.web.headers import ReadSideHeaders
from dashboard.web.security import Limits
from hush.admin.endpoint import AdminEndpoint
from hush.admin.operations import AdminContext, run_admin
from hush.collector_app import INTAKE_PATHS, build_intake, collector_totals, open_salts
from hush.forward import PeerFromWebSocket
from hush.metrics import (
    DURATION_BUCKETS,
    LATENCY_BUCKETS,
    SIZE_BUCKETS,
    Histogram,
    family,
    process_memory,
    spool_state,
)
from hush.settings import Settings
from hush.storage import open_store
from snippet.assets import snippet_routes

log = logging.getLogger("hush")

MAINTENANCE_SECONDS = 1.0
FAILURES_UNHEALTHY = 3  # loader or maintenance passes failed in a row before /healthz says 503


class HushApp:
    """``hush serve``: collector, aggregator and dashboard in one process on one DuckDB file."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        devices: DeviceDetector | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if settings.data_dir.stat().st_mode & 0o077:
            log.warning(
                "data dir %s can be read by other users; hush creates it 0700: chmod 700 it",
                settings.data_dir,
            )
        # First: an unsafe salt dir or store (P3) stops hush before anything is opened.
        self.salts = open_salts(settings, self.clock)
        self.store = open_store(settings)
        publish_snapshot(self.store, settings.sites_snapshot_path)
        self.sites = SiteDirectory(settings.sites_snapshot_path)
        self.counters = IntakeCounters(self.clock)
        self.latency = {group: Histogram(LATENCY_BUCKETS) for group in ("intake", "pages", "api")}
        self.load_sizes = Histogram(SIZE_BUCKETS)
        self.load_seconds = Histogram(DURATION_BUCKETS)
        self.loader = LoaderThread(
            self.store,
            settings.spool_dir,
            # On a lake each load is a commit in the catalog: a load every few seconds, not
            # one at each closed segment.
            interval=settings.lake_commit_interval if self.store.lake else settings.load_interval,
            observe=self._observe_load,
        )
        self.spool = SpoolWriter(
            settings.spool_dir,
            segment_seconds=settings.segment_seconds,
            segment_bytes=settings.segment_bytes,
            fsync_interval=settings.fsync_interval,
            trailer=self.counters.drain_line,
            on_close=(lambda: None) if self.store.lake else self.loader.wake,
        )
        self.countries = CountryLookup(settings.geoip_db, fallback_dir=settings.data_dir)
        self.intake = build_intake(
            settings,
            countries=self.countries,
            sites=self.sites,
            salts=self.salts,
            spool=self.spool,
            counters=self.counters,
            clock=self.clock,
            devices=devices,
        )
        self.maintenance = MaintenanceThread(
            self.store,
            self.clock,
            retention_days=settings.raw_retention_days,
            audit_retention_days=settings.audit_retention_days,
            min_visitors=settings.min_visitors,
            interval=settings.maintenance_interval,
            live_interval=settings.live_rollup_interval,
        )
        self.ready = False
        self.admin_context = AdminContext(
            self.store,
            settings.sites_snapshot_path,
            self.clock,
            settings.raw_retention_days,
            settings.min_visitors,
            settings.maintenance_interval,
        )
        self.admin = AdminEndpoint(
            settings.admin_socket, context=self.admin_context, after_change=self.after_admin_change
        )
        self.addresses = ClientAddressResolver(settings.trusted_proxies)
        self.read_side = dashboard.routes(
            store=self.store,
            clock=self.clock,
            min_visitors=settings.min_visitors,
            api_rate_limit=settings.api_rate_limit,
            api_query_seconds=settings.api_query_seconds,
            public_url=settings.dashboard_url,
            client_key=self._client_key,
            operate=self.operate,
            limits=Limits(
                settings.rate_limit, settings.site_rate_limit, settings.rate_limit_ipv6_prefix
            ),
        )
        self.keys = self.read_side.keys
        self.alerter = Alerter(
            self.store,
            self.clock,
            webhook=settings.alert_webhook,
            dashboard_url=settings.dashboard_url,
        )
        self.alerts = AlertThread(self.alerter, interval=settings.alert_interval)
        routes = [
            *self.read_side.routes,
            *snippet_routes(),
            Route("/healthz", self._healthz),
            Route("/metrics", self._metrics),
        ]
        self.routes = routes
        web = Starlette(
            routes=routes,
            lifespan=self._lifespan,
            exception_handlers=self.read_side.exception_handlers,  # type: ignore[arg-type]
        )
        # Requests a collector process forwards arrive on web.sock with their client's address.
        self.web = PeerFromWebSocket(
            ReadSideHeaders(
                web,
                hosts=self.read_side.web.hosts,
                secure=self.read_side.web.secure,
                refusals=self.read_side.web.refusals,
            )
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.web(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        if path in INTAKE_PATHS:
            await self.intake(scope, receive, send)
            group = "intake"
        else:
            await self.web(scope, receive, send)
            group = "api" if path.startswith("/api/") else "pages"
        self.latency[group].observe(time.perf_counter() - started)

    def _observe_load(self, report: LoadReport, seconds: float) -> None:
        self.load_sizes.observe(report.events)
        self.load_seconds.observe(seconds)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self.loader.start()
        self.maintenance.start()
        self.alerts.start()
        tasks = [
            asyncio.create_task(self.spool.run(), name="spool"),
            asyncio.create_task(self._maintain(), name="maintenance"),
        ]
        await self.admin.start()
        self._write_server_file()
        self._offer_setup_link()
        # What start-up made (~300,000 objects: rules, tables, modules) lives as long as the
        # process: out of the collector's sight, a full collection no longer walks it (a
        # pause of tens of ms, in the intake's p99).
        gc.collect()
        gc.freeze()
        self.ready = True
        log.info(
            "hush is ready: data in %s, salts in %s",
            self.settings.data_dir,
            self.settings.salt_store.rpartition("@")[2] or self.settings.salt_dir,  # no password
        )
        try:
            yield
        finally:
            self.ready = False
            await self.admin.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.spool.close()
            await asyncio.to_thread(self.alerts.stop)
            await asyncio.to_thread(self.maintenance.stop)
            await asyncio.to_thread(self.loader.stop)
            self.settings.server_file.unlink(missing_ok=True)
            self.store.close()

    async def _maintain(self) -> None:
        """Delete salts whose local day is over (P3) and pick up changed sites, every second.
        On a lake, sites added or changed on another node reach this node's snapshot (and so
        its collectors) within a second or two."""
        while True:
            for gone in self.salts.sweep():
                log.info("deleted expired salt %s", os.path.basename(gone))
            if self.store.lake:
                try:
                    await asyncio.to_thread(
                        publish_snapshot, self.store, self.settings.sites_snapshot_path
                    )
                except Exception as exc:  # the catalog is unreachable: keep the last snapshot
                    log.warning("reading the lake's sites failed: %s", exc)
            self.sites.reload()
            await asyncio.sleep(MAINTENANCE_SECONDS)

    def after_admin_change(self, op: str) -> None:
        """Pick up what an admin operation changed (sites, keys) at once."""
        if op.startswith("sites."):
            self.sites.reload()
        elif op.startswith(("keys.", "users.")):
            self.keys.refresh()  # a key's grant follows its owner's role and sites

    def operate(self, actor: Actor, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """An admin operation from a page, as the logged-in ``actor``."""
        result = run_admin(self.admin_context, op, args, actor=actor)
        self.after_admin_change(op)
        return result

    def _offer_setup_link(self) -> None:
        """With no user yet, print a one-time link (an hour, once) that creates the first admin."""
        if users.user_count(self.store):
            return
        token = one_time_links.issue(self.store, one_time_links.SETUP, now=self.clock.now())
        print(
            "hush has no users yet. Within an hour, open this link once to create the first"
            f" admin:\n\n    {self.settings.dashboard_url}/setup/{token}\n",
            flush=True,
        )

    def _client_key(self, request: Request) -> bytes:
        """The client's address as bytes, for the login throttle's keyed hash (never kept)."""
        peer = request.client.host if request.client else None
        address = self.addresses.resolve(peer, request.headers.get("x-forwarded-for"))
        return (address or "").encode()

    def _write_server_file(self) -> None:
        host = self.settings.host
        if host in ("0.0.0.0", "", "*"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        info = {"url": f"http://{host}:{self.settings.port}"}
        path = self.settings.server_file
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(info))
        os.replace(path.with_suffix(".tmp"), path)

    def health(self) -> tuple[int, dict[str, Any]]:
        """``/healthz``: 200 when the store is open, the loader runs and keeps up; else 503
        with the reasons."""
        depth, lag = spool_state(self.settings.spool_dir)
        last = self.loader.last_success
        body: dict[str, Any] = {
            "status": "ok",
            "spool_segments": depth,
            "spool_lag_seconds": round(lag, 1),
            "last_load": datetime.fromtimestamp(last, UTC).isoformat() if last else None,
            "load_failures_in_a_row": self.loader.failures,
            "maintenance_failures_in_a_row": self.maintenance.failures,
        }
        if self.store.lake:  # one node of many: whether it is the one that maintains the lake
            body["maintenance_leader"] = self.maintenance.leader
        reasons = []
        if not (self.ready and self.loader.running):
            body["status"] = "starting"
            return 503, body
        if self.loader.failures >= FAILURES_UNHEALTHY:
            reasons.append(f"the last {self.loader.failures} loads of the spool failed")
        if self.maintenance.failures >= FAILURES_UNHEALTHY:
            reasons.append(f"the last {self.maintenance.failures} maintenance passes failed")
        if self.settings.health_spool_lag and lag > self.settings.health_spool_lag:
            reasons.append(f"the oldest spool segment has waited {lag:.0f} s to be loaded")
        if reasons:
            body.update(status="failing", reasons=reasons)
            return 503, body
        return 200, body

    async def _healthz(self, _request: Request) -> Response:
        status, body = self.health()
        return JSONResponse(body, status_code=status)

    async def _metrics(self, _request: Request) -> Response:
        lines = family(
            "hush_intake_requests_total", "counter", "Requests to /api/event by outcome."
        )
        # This process's intake and every hush collect process's (their own sockets).
        intake = self.counters.totals + await collector_totals(self.settings.collectors_dir)
        for reason, n in sorted(intake.items()):
            lines.append(f'hush_intake_requests_total{{outcome="{reason}"}} {n}')
        lines += family(
            "hush_request_seconds", "histogram", "Time to answer a request, by route group."
        )
        for group, histogram in self.latency.items():
            lines += histogram.lines("hush_request_seconds", f'route="{group}"')
        totals = self.loader.totals
        depth, lag = spool_state(self.settings.spool_dir)
        last = self.maintenance.last_success
        try:
            size = self.settings.database_path.stat().st_size
        except FileNotFoundError:
            size = 0
        gauges = [
            ("hush_loaded_events_total", "counter", "Events loaded from the spool.", totals.events),
            ("hush_loaded_segments_total", "counter", "Spool segments loaded.", totals.segments),
            ("hush_torn_lines_total", "counter", "Damaged spool lines skipped.", totals.torn_lines),
            (
                "hush_load_failures_total",
                "counter",
                "Loads of the spool that failed.",
                self.loader.failed_passes,
            ),
            ("hush_spool_segments", "gauge", "Spool segments waiting to be loaded.", depth),
            (
                "hush_spool_lag_seconds",
                "gauge",
                "Age of the oldest closed spool segment.",
                round(lag, 3),
            ),
            (
                "hush_maintenance_failures_total",
                "counter",
                "Maintenance passes that failed.",
                self.maintenance.failed_passes,
            ),
            (
                "hush_rollup_lag_seconds",
                "gauge",
                "Seconds since the last maintenance pass (rollups, retention) that worked.",
                round(time.time() - last, 1) if last else -1,
            ),
            (
                "hush_live_rollup_passes_total",
                "counter",
                "Refreshes of the open days' rollups.",
                self.maintenance.live_passes,
            ),
            (
                "hush_live_rollups_total",
                "counter",
                "Rebuilds of an open day's provisional rollup.",
                self.maintenance.live_rollups,
            ),
            (
                "hush_live_rollup_seconds",
                "gauge",
                "How long the last refresh that rebuilt a day took.",
                round(self.maintenance.live_seconds, 3),
            ),
            ("hush_database_bytes", "gauge", "Size of the DuckDB file.", size),
            (
                "hush_alerts_sent_total",
                "counter",
                "Alerts posted to the webhook.",
                self.alerter.sent,
            ),
            (
                "hush_alerts_failed_total",
                "counter",
                "Alerts whose every post failed.",
                self.alerter.failed,
            ),
            (
                "hush_alert_evaluation_failures_total",
                "counter",
                "Evaluations of the alert rules that failed.",
                self.alerter.evaluation_failures,
            ),
        ]
        cache = getattr(self.store, "rollup_cache", None)
        if cache is not None:  # a node of a lake
            gauges += [
                (
                    "hush_lake_maintenance_leader",
                    "gauge",
                    "1 while this node maintains the lake (holds the leader lock).",
                    int(self.maintenance.leader),
                ),
                (
                    "hush_lake_rollup_cache_refreshes_total",
                    "counter",
                    "Copies of changed rollups from the lake into this node's cache.",
                    cache.refreshes,
                ),
                (
                    "hush_lake_rollup_cache_failures_total",
                    "counter",
                    "Refreshes of the rollup cache that failed (the catalog unreachable).",
                    cache.failures,
                ),
            ]
        for name, kind, text, value in gauges:
            lines += [*family(name, kind, text), f"{name} {value}"]
        lines += await self._memory_lines()
        lines += family("hush_load_batch_events", "histogram", "Events per loader pass.")
        lines += self.load_sizes.lines("hush_load_batch_events")
        lines += family("hush_load_seconds", "histogram", "Duration of loader passes.")
        lines += self.load_seconds.lines("hush_load_seconds")
        lines += family(
            "hush_dashboard_refusals_total", "counter", "Dashboard requests refused, by reason."
        )
        for reason, n in sorted(self.read_side.web.refusals.items()):
            lines.append(f'hush_dashboard_refusals_total{{reason="{reason}"}} {n}')
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    async def _memory_lines(self) -> list[str]:
        """What the process holds: its memory, DuckDB's, the mapped country data, the caches."""
        # No labels: every label name /metrics uses is a fixed word from a short list.
        lines = []
        texts = {
            "resident": "This process's resident memory (RSS).",
            "peak": "The most resident memory this process has held.",
            "anonymous": "The anonymous (heap) part of the resident memory.",
            "file": "The file-backed part (libraries, the mapped country data).",
        }
        for kind, value in sorted(process_memory().items()):
            name = f"hush_process_{kind}_memory_bytes"
            lines += [*family(name, "gauge", texts[kind]), f"{name} {value}"]
        in_use, spilled = await asyncio.to_thread(self.store.memory)
        gauges = [
            ("hush_duckdb_memory_bytes", "DuckDB's memory in use (duckdb_memory()).", in_use),
            ("hush_duckdb_temporary_bytes", "DuckDB's temporary files (spilled).", spilled),
            (
                "hush_geo_mapped_bytes",
                "Size of the memory-mapped country database.",
                self.countries.mapped_bytes,
            ),
            (
                "hush_rate_limit_tracked_clients",
                "Client networks the rate limiter counts this minute.",
                self.intake.tracked_clients,
            ),
        ]
        for name, text, value in gauges:
            lines += [*family(name, "gauge", text), f"{name} {value}"]
        for cache, (size, capacity) in self.intake.cached().items():
            name = f"hush_{cache}_cache_entries"
            text = f"Entries in the intake's {cache} cache (at most {capacity})."
            lines += [*family(name, "gauge", text), f"{name} {size}"]
        return lines


def create_app(
    settings: Settings, *, clock: Clock | None = None, devices: DeviceDetector | None = None
) -> HushApp:
    """The ASGI app of ``hush serve``; tests may pass a clock they can move."""
    return HushApp(settings, clock=clock, devices=devices)
