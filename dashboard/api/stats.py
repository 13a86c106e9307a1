"""Stats API v1, as Plausible documents it: ``/api/v1/stats/{aggregate,timeseries,breakdown}``
and ``/api/v1/stats/realtime/visitors``.

Each endpoint translates its query parameters into one ``aggregator.queries.Query`` and shapes
the rows the way Plausible's v1 answers, so existing Plausible clients work unchanged. Every
answer passes the privacy threshold (``dashboard.threshold``, P7) on its way out.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aggregator.clock import Clock
from aggregator.queries import (
    TIME_DIMENSIONS,
    Query,
    QueryError,
    realtime_visitors,
    run_query,
)
from aggregator.sites import Site, find_site
from aggregator.store import Store
from dashboard.api.keys import ApiKeys
from dashboard.api.params import (
    MAX_LIMIT,
    REALTIME_MINUTES,
    ApiError,
    date_range,
    default_interval,
    interval_dimension,
    parse_filters,
    parse_metrics,
    positive_int,
)
from dashboard.threshold import fold_rows, suppress

REALTIME_VISITORS_MINUTES = 5


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class StatsApi:
    def __init__(self, *, store: Store, keys: ApiKeys, clock: Clock, min_visitors: int) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._k = min_visitors

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/stats/aggregate", self._endpoint(self._aggregate)),
            Route("/api/v1/stats/timeseries", self._endpoint(self._timeseries)),
            Route("/api/v1/stats/breakdown", self._endpoint(self._breakdown)),
            Route("/api/v1/stats/realtime/visitors", self._endpoint(self._realtime, bare=True)),
        ]

    def _endpoint(self, handler: Any, *, bare: bool = False) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                site = await self._authorise(request)
                result = await run_in_threadpool(handler, site, request.query_params)
            except ApiError as exc:
                return error(exc.status, exc.message)
            except QueryError as exc:
                return error(400, str(exc))
            return JSONResponse(result if bare else {"results": result})

        return endpoint

    async def _authorise(self, request: Request) -> Site:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Missing API key. Please use a valid API key as a Bearer Token.")
        grant = await run_in_threadpool(self._keys.grant, token.strip())
        if grant is None:
            raise ApiError(401, "Invalid API key or site ID. Please check your credentials.")
        site_id = request.query_params.get("site_id")
        if not site_id:
            raise ApiError(400, "Missing site ID. Please provide the required site_id parameter.")
        site = await run_in_threadpool(find_site, self._store, site_id)
        if site is None or (grant.site_ids is not None and site.id not in grant.site_ids):
            # the same answer for a site that is not the key's as for one that does not exist
            raise ApiError(401, "Invalid API key or site ID. Please check your credentials.")
        return site

    # -- endpoints -------------------------------------------------------------------------

    def _aggregate(self, site: Site, params: Any) -> dict[str, Any]:
        metrics = parse_metrics(params)
        base = self._query(site, params, metrics)
        current = self._run(site, base)[0]
        results: dict[str, Any] = {metric: {"value": current[metric]} for metric in metrics}
        hidden = bool(base.filters) and suppress(
            current, visitors=current["visitors"], metrics=metrics, k=self._k
        )
        compare = params.get("compare")
        if compare == "previous_period":
            span = base.date_to - base.date_from + timedelta(days=1)
            previous = self._run(
                site,
                replace(
                    base,
                    date_from=base.date_from - span,
                    date_to=base.date_from - timedelta(days=1),
                ),
            )[0]
            hidden_before = bool(base.filters) and suppress(
                previous, visitors=previous["visitors"], metrics=metrics, k=self._k
            )
            for metric in metrics:
                before, now = previous[metric], current[metric]
                results[metric]["change"] = (
                    None if hidden or hidden_before else _change(metric, before, now)
                )
        elif compare:
            raise ApiError(400, "compare must be previous_period")
        for metric in metrics:
            results[metric]["value"] = current[metric]
            if hidden:
                results[metric]["suppressed"] = True
        return results

    def _timeseries(self, site: Site, params: Any) -> list[dict[str, Any]]:
        period = params.get("period", "30d")
        if period == "realtime":
            raise ApiError(400, "timeseries does not take period=realtime")
        interval = interval_dimension(params.get("interval") or default_interval(period))
        metrics = parse_metrics(params)
        query = self._query(site, params, metrics, dimensions=(interval,))
        rows = {_bucket(row[interval]): row for row in self._run(site, query)}
        series = []
        for bucket in _buckets(interval, query):
            row = rows.get(bucket) or {m: _empty(m) for m in _with_visitors(metrics)}
            point: dict[str, Any] = {"date": bucket, **{m: row[m] for m in metrics}}
            if query.filters and suppress(
                point, visitors=row["visitors"], metrics=metrics, k=self._k
            ):
                point["suppressed"] = True
            series.append(point)
        return series

    def _breakdown(self, site: Site, params: Any) -> list[dict[str, Any]]:
        prop = params.get("property")
        if not prop:
            raise ApiError(400, "The `property` parameter is required for breakdown.")
        if prop in TIME_DIMENSIONS:
            raise ApiError(400, f"cannot break down by {prop}; use timeseries")
        metrics = parse_metrics(params)
        limit = positive_int(params, "limit", 100, maximum=MAX_LIMIT)
        page = positive_int(params, "page", 1)
        query = self._query(site, params, metrics, dimensions=(prop,))
        key = prop.rsplit(":", 1)[-1]
        rows = []
        for row in self._run(site, query):
            value = row[prop]
            if prop == "visit:source" and value == "":
                value = "Direct / None"
            rows.append({key: value, **{m: row[m] for m in _with_visitors(metrics)}})
        rows = fold_rows(rows, key=key, metrics=metrics, k=self._k)
        shown = rows[(page - 1) * limit : page * limit]
        if "visitors" not in metrics:
            for row in shown:
                row.pop("visitors", None)
        return shown

    def _realtime(self, site: Site, _params: Any) -> int:
        since = datetime.fromtimestamp(self._clock.now(), UTC).replace(tzinfo=None)
        return realtime_visitors(
            self._store, site.id, since - timedelta(minutes=REALTIME_VISITORS_MINUTES)
        )

    # -- parameters ------------------------------------------------------------------------

    def _today(self, site: Site) -> date:
        return datetime.fromtimestamp(self._clock.now(), ZoneInfo(site.timezone)).date()

    def _run(self, site: Site, query: Query) -> list[dict[str, Any]]:
        """The query up to the site's today: later days hold no events, and leaving them out
        spares planning a search of their raw events (a month or 12mo period ends in the
        future). Empty buckets and the compared period still follow the asked range."""
        today = self._today(site)
        if query.date_from <= today < query.date_to:
            query = replace(query, date_to=today)
        return run_query(self._store, query)

    def _query(
        self,
        site: Site,
        params: Any,
        metrics: tuple[str, ...],
        *,
        dimensions: tuple[str, ...] = (),
    ) -> Query:
        now = self._clock.now()
        today = self._today(site)
        period = params.get("period", "30d")
        date_from, date_to = date_range(period, params.get("date"), today)
        since = None
        if period == "realtime":
            since = datetime.fromtimestamp(now, UTC).replace(tzinfo=None) - timedelta(
                minutes=REALTIME_MINUTES
            )
        return Query(
            site.id,
            date_from,
            date_to,
            _with_visitors(metrics),
            dimensions,
            parse_filters(params.get("filters", "")),
            timezone=site.timezone,
            since=since,
        )


def _with_visitors(metrics: tuple[str, ...]) -> tuple[str, ...]:
    """The threshold needs visitors even when they were not asked for."""
    return metrics if "visitors" in metrics else (*metrics, "visitors")


def _empty(metric: str) -> int | None:
    return 0 if metric in ("visitors", "visits", "pageviews", "events") else None


def _bucket(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


def _buckets(interval: str, query: Query) -> list[str]:
    """Every bucket of the range, so empty ones show as 0 (as Plausible's timeseries does)."""
    day = query.date_from
    out = []
    while day <= query.date_to:
        if interval == "time:hour":
            out.extend(f"{day.isoformat()} {hour:02d}:00:00" for hour in range(24))
        elif interval == "time:day":
            out.append(day.isoformat())
        elif interval == "time:week":
            monday = day - timedelta(days=day.weekday())
            if not out or out[-1] != monday.isoformat():
                out.append(monday.isoformat())
        elif not out or out[-1] != day.replace(day=1).isoformat():
            out.append(day.replace(day=1).isoformat())
        day += timedelta(days=1)
    return out


def _change(metric: str, before: float | None, now: float | None) -> float | None:
    if before is None or now is None:
        return None
    if metric == "bounce_rate":
        return round(now - before)  # percentage points, as Plausible reports it
    if not before:
        return 100 if now else 0
    return round((now - before) / before * 100)
