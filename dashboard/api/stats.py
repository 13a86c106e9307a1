"""Stats API v1, as Plausible documents it: ``/api/v1/stats/{aggregate,timeseries,breakdown}``
and ``/api/v1/stats/realtime/visitors``.

Each endpoint translates its query parameters into one ``aggregator.queries.Query`` and shapes
the rows the way Plausible's v1 answers, so existing Plausible clients work unchanged. Every
request passes three steps before its query runs: authentication (``_authorise``), the key's
rate limit, and the one parameter check (``dashboard.api.params``); every query runs under a
time limit, and every answer passes the privacy threshold (``dashboard.threshold``, P7).
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

from aggregator.api_keys import hash_key
from aggregator.clock import Clock
from aggregator.queries import (
    PEAK_VISITORS,
    Query,
    QueryError,
    realtime_visitors,
    run_query,
)
from aggregator.sites import Site, find_site
from aggregator.store import QueryTimeout, Store
from dashboard.api.keys import ApiKeys
from dashboard.api.params import REALTIME_MINUTES, ApiError, StatsParams, read_params
from dashboard.api.rate_limit import KeyRateLimiter
from dashboard.threshold import fold_rows, suppress

REALTIME_VISITORS_MINUTES = 5


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class StatsApi:
    def __init__(
        self,
        *,
        store: Store,
        keys: ApiKeys,
        clock: Clock,
        min_visitors: int,
        requests_per_hour: int = 600,
        query_seconds: float = 10.0,
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._k = min_visitors
        self._limiter = KeyRateLimiter(requests_per_hour, clock)
        self._query_seconds = query_seconds or None

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
                self._rate_limit(request)
                result = await run_in_threadpool(handler, site, request.query_params)
            except ApiError as exc:
                return error(exc.status, exc.message, exc.headers)
            except QueryError as exc:
                return error(400, str(exc))
            except QueryTimeout as exc:
                return error(
                    503, f"{exc}; ask for a shorter range, fewer filters or a rolled-up property"
                )
            return JSONResponse(result if bare else {"results": result})

        return endpoint

    async def _authorise(self, request: Request) -> Site:
        token = _bearer(request)
        if not token:
            raise ApiError(401, "Missing API key. Please use a valid API key as a Bearer Token.")
        grant = await run_in_threadpool(self._keys.grant, token)
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

    def _rate_limit(self, request: Request) -> None:
        """After authentication: count the request against its key's hourly limit."""
        wait = self._limiter.retry_after(hash_key(_bearer(request)))
        if wait is not None:
            raise ApiError(
                429,
                "Too many API requests. Your API key is limited to"
                f" {self._limiter.per_hour} requests per hour; retry in {wait} s.",
                headers={"Retry-After": str(wait)},
            )

    # -- endpoints -------------------------------------------------------------------------

    def _aggregate(self, site: Site, params: Any) -> dict[str, Any]:
        asked = self._params(site, params, "aggregate")
        base = self._query(site, asked)
        current = self._run(site, base)[0]
        results: dict[str, Any] = {metric: {"value": current[metric]} for metric in asked.metrics}
        hidden = self._hidden(base, current, asked.metrics)
        if asked.compared is not None:
            first, last = asked.compared
            previous = self._run(site, replace(base, date_from=first, date_to=last))[0]
            hidden_before = self._hidden(base, previous, asked.metrics)
            for metric in asked.metrics:
                before, now = previous[metric], current[metric]
                results[metric]["change"] = (
                    None if hidden or hidden_before else _change(metric, before, now)
                )
        for metric in asked.metrics:
            results[metric]["value"] = current[metric]
            if hidden:
                results[metric]["suppressed"] = True
        return results

    def _timeseries(self, site: Site, params: Any) -> list[dict[str, Any]]:
        asked = self._params(site, params, "timeseries")
        interval = asked.interval
        query = self._query(site, asked, dimensions=(interval,))
        rows = {_bucket(row[interval]): row for row in self._run(site, query)}
        series = []
        for bucket in _buckets(interval, query):
            row = rows.get(bucket) or {m: _empty(m) for m in query.metrics}
            point: dict[str, Any] = {"date": bucket, **{m: row[m] for m in asked.metrics}}
            if self._hidden(query, point, asked.metrics, people=row[PEAK_VISITORS]):
                point["suppressed"] = True
            series.append(point)
        return series

    def _breakdown(self, site: Site, params: Any) -> list[dict[str, Any]]:
        asked = self._params(site, params, "breakdown")
        prop = asked.prop
        assert prop is not None
        metrics = asked.metrics
        query = self._query(site, asked, dimensions=(prop,))
        key = prop.rsplit(":", 1)[-1]
        rows = []
        for row in self._run(site, query):
            value = row[prop]
            if prop == "visit:source" and value == "":
                value = "Direct / None"
            rows.append({key: value, **{m: row[m] for m in query.metrics}})
        rows = fold_rows(rows, key=key, metrics=metrics, k=self._k)
        shown = rows[(asked.page - 1) * asked.limit : asked.page * asked.limit]
        if "visitors" not in metrics:
            for row in shown:
                row.pop("visitors", None)
        return shown

    def _realtime(self, site: Site, _params: Any) -> int:
        since = datetime.fromtimestamp(self._clock.now(), UTC).replace(tzinfo=None)
        return realtime_visitors(
            self._store,
            site.id,
            since - timedelta(minutes=REALTIME_VISITORS_MINUTES),
            timeout=self._query_seconds,
        )

    # -- parameters ------------------------------------------------------------------------

    def _today(self, site: Site) -> date:
        return datetime.fromtimestamp(self._clock.now(), ZoneInfo(site.timezone)).date()

    def _params(self, site: Site, params: Any, endpoint: str) -> StatsParams:
        return read_params(params, endpoint=endpoint, today=self._today(site))

    def _hidden(
        self,
        query: Query,
        values: dict[str, Any],
        metrics: tuple[str, ...],
        *,
        people: int | None = None,
    ) -> bool:
        """Whether a filtered figure is about fewer than k people (and blank it if so)."""
        if not query.filters:
            return False
        count = values[PEAK_VISITORS] if people is None else people
        return suppress(values, people=count, metrics=metrics, k=self._k)

    def _run(self, site: Site, query: Query) -> list[dict[str, Any]]:
        """The query up to the site's today, under the time limit: later days hold no events,
        and leaving them out spares planning a search of their raw events (a month or 12mo
        period ends in the future). Empty buckets and the compared period still follow the
        asked range."""
        today = self._today(site)
        if query.date_from <= today < query.date_to:
            query = replace(query, date_to=today)
        return run_query(self._store, query, timeout=self._query_seconds)

    def _query(self, site: Site, asked: StatsParams, *, dimensions: tuple[str, ...] = ()) -> Query:
        since = None
        if asked.period == "realtime":
            now = datetime.fromtimestamp(self._clock.now(), UTC).replace(tzinfo=None)
            since = now - timedelta(minutes=REALTIME_MINUTES)
        return Query(
            site.id,
            asked.date_from,
            asked.date_to,
            _with_people(asked.metrics),
            dimensions,
            asked.filters,
            timezone=site.timezone,
            since=since,
        )


def _bearer(request: Request) -> str:
    """The request's Bearer token, or "" when it has none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _with_people(metrics: tuple[str, ...]) -> tuple[str, ...]:
    """The threshold needs visitors and their largest daily count even when not asked for."""
    extra = tuple(m for m in ("visitors", PEAK_VISITORS) if m not in metrics)
    return (*metrics, *extra)


def _empty(metric: str) -> int | None:
    return 0 if metric in ("visitors", "visits", "pageviews", "events", PEAK_VISITORS) else None


def _bucket(value: Any) -> str | None:
    if value is None:  # a row retention folded out of its hour (aggregator/retention.py)
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value.isoformat())


def _buckets(interval: str, query: Query) -> list[str]:
    """Every bucket of the range, so empty ones show as 0 (as Plausible's timeseries does);
    ``params.count_buckets`` bounds how many there are before any query runs."""
    out: list[str] = []
    for n in range((query.date_to - query.date_from).days + 1):
        day = query.date_from + timedelta(days=n)  # never a day past date_to: 9999-12-31 ends
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
    return out


def _change(metric: str, before: float | None, now: float | None) -> float | None:
    if before is None or now is None:
        return None
    if metric == "bounce_rate":
        return round(now - before)  # percentage points, as Plausible reports it
    if not before:
        return 100 if now else 0
    return round((now - before) / before * 100)
