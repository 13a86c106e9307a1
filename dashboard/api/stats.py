"""Stats API v1, as Plausible documents it: ``/api/v1/stats/{aggregate,timeseries,breakdown}``
and ``/api/v1/stats/realtime/visitors``, and ``/api/health``.

v1 is a thin translation: ``params.read_params`` turns a request into the v2-shaped
``ApiQuery``, the one query path (``dashboard.api.query``, shared with ``/api/v2/query``) runs
it with the privacy threshold (P7), and this module only shapes the rows as v1 answers them.
Every request passes authentication and the key's rate limit (``dashboard.api.auth``) first,
and every query runs under a time limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aggregator.clock import Clock
from aggregator.queries import GOAL, QueryError, realtime_visitors
from aggregator.sites import Site
from aggregator.store import QueryStopped, Store
from dashboard.api.auth import Gate
from dashboard.api.errors import ApiError
from dashboard.api.params import VERSION_OF, V1Request, count_buckets, read_params
from dashboard.api.query import ApiQuery, QueryPath, check_metrics, check_properties

REALTIME_VISITORS_MINUTES = 5
# Plausible's empty timeseries bucket: counts and rates 0, durations null.
EMPTY_BUCKET: dict[str, Any] = {
    "visitors": 0,
    "visits": 0,
    "pageviews": 0,
    "events": 0,
    "bounce_rate": 0,
    "views_per_visit": 0.0,
    "conversion_rate": 0.0,
    "visit_duration": None,
    "time_on_page": None,
    "scroll_depth": None,
}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def answer(call: Callable[[], Awaitable[Response]]) -> Response:
    """Run ``call`` (an awaitable's factory) and answer its refusals as ``{"error": ...}``."""
    try:
        return await call()
    except ApiError as exc:
        return error(exc.status, exc.message, exc.headers)
    except QueryError as exc:
        return error(400, str(exc))
    except QueryStopped as exc:
        return error(503, f"{exc}; ask for a shorter range, fewer filters or a rolled-up property")


class StatsApi:
    def __init__(self, *, store: Store, gate: Gate, path: QueryPath, clock: Clock) -> None:
        self._store = store
        self._gate = gate
        self._path = path
        self._clock = clock

    def routes(self) -> list[Route]:
        return [
            Route("/api/health", self._health),
            Route("/api/v1/stats/aggregate", self._endpoint(self._aggregate)),
            Route("/api/v1/stats/timeseries", self._endpoint(self._timeseries)),
            Route("/api/v1/stats/breakdown", self._endpoint(self._breakdown)),
            Route("/api/v1/stats/realtime/visitors", self._endpoint(self._realtime, bare=True)),
        ]

    async def _health(self, _request: Request) -> Response:
        """Plausible's health check (its clients call it to test their configuration)."""
        return JSONResponse({"clickhouse": "ok", "postgres": "ok", "sites_cache": "ok"})

    def _endpoint(self, handler: Any, *, bare: bool = False) -> Any:
        async def endpoint(request: Request) -> Response:
            async def call() -> Response:
                grant = await self._gate.grant(request)
                site = await self._gate.site(grant, request.query_params.get("site_id"))
                self._gate.count(request)
                result = await run_in_threadpool(handler, site, request.query_params)
                return JSONResponse(result if bare else {"results": result})

            return await answer(call)

        return endpoint

    # -- endpoints -------------------------------------------------------------------------

    def _read(self, site: Site, params: Any, endpoint: str) -> V1Request:
        asked = read_params(params, endpoint=endpoint, today=self._path.today(site))
        check_properties(asked.query)
        self._path.check_goals(site, asked.query)
        check_metrics(asked.query, v1=True)
        return asked

    def _aggregate(self, site: Site, params: Any) -> dict[str, Any]:
        asked = self._read(site, params, "aggregate")
        query = asked.query
        current = self._path.run(site, query)[0]
        results: dict[str, Any] = {m: {"value": _v1(m, current[m])} for m in query.metrics}
        if asked.compared is not None:
            first, last = asked.compared
            previous = self._path.run(site, replace(query, date_from=first, date_to=last))[0]
            hidden = current.get("suppressed") or previous.get("suppressed")
            for metric in query.metrics:
                before, now = _v1(metric, previous[metric]), _v1(metric, current[metric])
                results[metric]["change"] = None if hidden else _change(metric, before, now)
                results[metric]["comparison_value"] = before
        if current.get("suppressed"):
            for metric in query.metrics:
                results[metric]["suppressed"] = True
        return results

    def _timeseries(self, site: Site, params: Any) -> list[dict[str, Any]]:
        asked = self._read(site, params, "timeseries")
        interval, query = asked.interval, asked.query
        rows = {_bucket(row[interval]): row for row in self._path.run(site, query)}
        series = []
        for bucket in buckets(interval, query):
            row = rows.get(bucket)
            if row is None and query.filters and self._path.k > 1:
                point = {"date": bucket, **dict.fromkeys(query.metrics), "suppressed": True}
            elif row is None:
                point = {"date": bucket, **{m: EMPTY_BUCKET.get(m) for m in query.metrics}}
            else:
                point = {"date": bucket, **{m: _v1(m, row[m]) for m in query.metrics}}
                if row.get("suppressed"):
                    point["suppressed"] = True
            series.append(point)
        return series

    def _breakdown(self, site: Site, params: Any) -> list[dict[str, Any]]:
        asked = self._read(site, params, "breakdown")
        prop = asked.prop
        assert prop is not None
        query = asked.query
        names = {prop: _row_key(prop)}
        if prop in VERSION_OF:
            names[VERSION_OF[prop]] = _row_key(VERSION_OF[prop])
        rows = []
        for row in self._path.run(site, query):
            shaped = {
                names.get(k, k): (_v1(k, v) if k in query.metrics else v) for k, v in row.items()
            }
            rows.append(shaped)
        return rows[(asked.page - 1) * asked.limit : asked.page * asked.limit]

    def _realtime(self, site: Site, _params: Any) -> int:
        since = datetime.fromtimestamp(self._clock.now(), UTC).replace(tzinfo=None)
        return realtime_visitors(
            self._store,
            site.id,
            since - timedelta(minutes=REALTIME_VISITORS_MINUTES),
            timeout=self._path.seconds,
        )


def _row_key(prop: str) -> str:
    """A breakdown row's key: the property's last part (``goal`` for ``event:goal``)."""
    return "goal" if prop == GOAL else prop.rsplit(":", 1)[-1]


def _v1(metric: str, value: Any) -> Any:
    """v1 gives conversion rates with one decimal (v2: two)."""
    if metric == "conversion_rate" and value is not None:
        return round(value, 1)
    return value


def _bucket(value: Any) -> str | None:
    if value is None:  # a row retention folded out of its hour (aggregator/retention.py)
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value.isoformat())


def buckets(interval: str, query: ApiQuery) -> list[str]:
    """Every bucket of the range, so empty ones show (as Plausible's timeseries does);
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
    assert len(out) == count_buckets(interval, query.date_from, query.date_to)
    return out


def _change(metric: str, before: float | None, now: float | None) -> float | None:
    if before is None or now is None:
        return None
    if metric in ("bounce_rate", "conversion_rate"):
        return round(now - before, 1) if metric == "conversion_rate" else round(now - before)
    if not before:
        return 100 if now else 0
    return round((now - before) / before * 100)
