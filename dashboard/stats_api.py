"""Stats API v1, as Plausible documents it: ``/api/v1/stats/{aggregate,timeseries,breakdown}``.

Each endpoint translates its query parameters into one ``aggregator.queries.Query`` and shapes
the rows the way Plausible's v1 answers, so existing Plausible clients work unchanged.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aggregator.queries import TIME_DAY, Filter, Query, QueryError, run_query
from aggregator.sites import find_site
from aggregator.store import Store
from collector.clock import Clock
from collector.sites import Site
from dashboard.auth import ApiKeys

PERIODS = ("day", "7d", "30d", "month", "6mo", "12mo", "custom")
MAX_LIMIT = 1000


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class StatsApi:
    def __init__(self, *, store: Store, keys: ApiKeys, clock: Clock) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/stats/aggregate", self._endpoint(self._aggregate)),
            Route("/api/v1/stats/timeseries", self._endpoint(self._timeseries)),
            Route("/api/v1/stats/breakdown", self._endpoint(self._breakdown)),
        ]

    def _endpoint(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                site = await self._authorise(request)
                result = await run_in_threadpool(handler, site, request.query_params)
            except ApiError as exc:
                return error(exc.status, exc.message)
            except QueryError as exc:
                return error(400, str(exc))
            return JSONResponse({"results": result})

        return endpoint

    async def _authorise(self, request: Request) -> Site:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Missing API key. Please use a valid API key as a Bearer Token.")
        if not self._keys.is_valid(token.strip()):
            raise ApiError(401, "Invalid API key or site ID. Please check your credentials.")
        site_id = request.query_params.get("site_id")
        if not site_id:
            raise ApiError(400, "Missing site ID. Please provide the required site_id parameter.")
        site = await run_in_threadpool(find_site, self._store, site_id)
        if site is None:
            raise ApiError(401, "Invalid API key or site ID. Please check your credentials.")
        return site

    # -- endpoints -------------------------------------------------------------------------

    def _aggregate(self, site: Site, params: Any) -> dict[str, Any]:
        date_from, date_to = self._date_range(site, params)
        metrics = _metrics(params)
        filters = parse_filters(params.get("filters", ""))
        rows = run_query(self._store, Query(site.id, date_from, date_to, metrics, (), filters))
        results = {metric: {"value": rows[0][metric]} for metric in metrics}
        compare = params.get("compare")
        if compare == "previous_period":
            span = (date_to - date_from).days + 1
            previous = Query(
                site.id,
                date_from - timedelta(days=span),
                date_from - timedelta(days=1),
                metrics,
                (),
                filters,
            )
            before = run_query(self._store, previous)[0]
            for metric in metrics:
                results[metric]["change"] = _change(before[metric], rows[0][metric])
        elif compare:
            raise ApiError(400, "compare must be previous_period")
        return results

    def _timeseries(self, site: Site, params: Any) -> list[dict[str, Any]]:
        date_from, date_to = self._date_range(site, params)
        interval = params.get("interval", "day")
        if interval not in ("day", "date"):
            raise ApiError(400, "interval must be day (hour, week and month are not offered yet)")
        metrics = _metrics(params)
        filters = parse_filters(params.get("filters", ""))
        query = Query(site.id, date_from, date_to, metrics, (TIME_DAY,), filters)
        by_day = {row[TIME_DAY]: row for row in run_query(self._store, query)}
        series = []
        day = date_from
        while day <= date_to:
            row = by_day.get(day)
            series.append({"date": day.isoformat(), **{m: row[m] if row else 0 for m in metrics}})
            day += timedelta(days=1)
        return series

    def _breakdown(self, site: Site, params: Any) -> list[dict[str, Any]]:
        prop = params.get("property")
        if not prop:
            raise ApiError(400, "The `property` parameter is required for breakdown.")
        date_from, date_to = self._date_range(site, params)
        metrics = _metrics(params)
        limit = _positive_int(params, "limit", 100, maximum=MAX_LIMIT)
        page = _positive_int(params, "page", 1)
        filters = parse_filters(params.get("filters", ""))
        query = Query(
            site.id,
            date_from,
            date_to,
            metrics,
            (prop,),
            filters,
            limit=limit,
            offset=(page - 1) * limit,
        )
        key = prop.rsplit(":", 1)[-1]
        results = []
        for row in run_query(self._store, query):
            value = row[prop]
            if prop == "visit:source" and value == "":
                value = "Direct / None"
            results.append({key: value, **{m: row[m] for m in metrics}})
        return results

    # -- parameters ------------------------------------------------------------------------

    def _date_range(self, site: Site, params: Any) -> tuple[date, date]:
        today = datetime.fromtimestamp(self._clock.now(), ZoneInfo(site.timezone)).date()
        return date_range(params.get("period", "30d"), params.get("date"), today)


def date_range(period: str, date_param: str | None, today: date) -> tuple[date, date]:
    """The inclusive local dates a Plausible v1 ``period`` and ``date`` cover."""
    if period not in PERIODS:
        raise ApiError(400, f"period must be one of {', '.join(PERIODS)}")
    if period == "custom":
        if not date_param or "," not in date_param:
            raise ApiError(400, "period=custom needs date=YYYY-MM-DD,YYYY-MM-DD")
        first, last = (_parse_date(part) for part in date_param.split(",", 1))
        if first > last:
            raise ApiError(400, "the custom date range ends before it starts")
        return first, last
    end = _parse_date(date_param) if date_param else today
    if period == "day":
        return end, end
    if period in ("7d", "30d"):
        return end - timedelta(days=int(period[:-1]) - 1), end
    months = {"month": 1, "6mo": 6, "12mo": 12}[period]
    first = _add_months(end.replace(day=1), -(months - 1))
    last = end.replace(day=calendar.monthrange(end.year, end.month)[1])
    return first, last


def parse_filters(text: str) -> tuple[Filter, ...]:
    """Plausible v1 filters: ``event:page==/a|/b;visit:source!=Google;event:page~blog``."""
    filters = []
    for part in (p for p in text.split(";") if p.strip()):
        for symbol, operator in (("!=", "is_not"), ("==", "is"), ("~", "contains")):
            if symbol in part:
                dimension, _, values = part.partition(symbol)
                choices = tuple(v.strip() for v in values.split("|"))
                filters.append(Filter(operator, dimension.strip(), choices))
                break
        else:
            raise ApiError(400, f"cannot read filter {part!r}; use property==value")
    return tuple(filters)


def _metrics(params: Any) -> tuple[str, ...]:
    text = params.get("metrics", "visitors")
    metrics = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not metrics:
        raise ApiError(400, "metrics must name at least one metric")
    return metrics


def _positive_int(params: Any, name: str, default: int, *, maximum: int | None = None) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    value = int(text)
    if maximum is not None and value > maximum:
        raise ApiError(400, f"{name} must be at most {maximum}")
    return value


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ApiError(400, f"date {text!r} is not a date in YYYY-MM-DD form") from None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _change(before: int | None, now: int | None) -> int | None:
    if not before:
        return 100 if now else 0
    return round(((now or 0) - before) / before * 100)
