"""Stats API v2, as Plausible documents it: ``POST /api/v2/query`` with a JSON query
(``site_id``, ``metrics``, ``date_range``, ``dimensions``, ``filters`` with ``and``/``or``/
``not``, ``order_by``, ``include``, ``pagination``), answering
``{"results": [{"metrics": [...], "dimensions": [...]}], "meta": {...}, "query": {...}}``.

It runs on the same query path as v1 (``dashboard.api.query``): the same P7 threshold (a
suppressed row's metrics are ``null`` and the row says ``"suppressed": true``), bounds, rate
limit and retention rules.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aggregator.queries import METRICS, PROPS_PREFIX, TIME_DIMENSIONS, is_dimension
from aggregator.sites import Site
from dashboard.api.auth import Gate
from dashboard.api.errors import ApiError
from dashboard.api.params import (
    FIRST_DATE,
    MAX_BUCKETS,
    MAX_FILTERS_CHARS,
    add_months,
    count_buckets,
    json_filters,
    parse_date,
)
from dashboard.api.query import NO_LOCATIONS, ApiQuery, QueryPath, check_metrics, check_properties
from dashboard.api.stats import answer, buckets

V2_METRICS = (*METRICS, "conversion_rate")
MAX_BODY = 16_384
MAX_DIMENSIONS = 3
DEFAULT_LIMIT = 10_000
RELATIVE = {"day": 1, "7d": 7, "28d": 28, "30d": 30, "91d": 91}


class QueryApi:
    def __init__(self, *, gate: Gate, path: QueryPath) -> None:
        self._gate = gate
        self._path = path

    def routes(self) -> list[Route]:
        return [Route("/api/v2/query", self._query, methods=["POST"])]

    async def _query(self, request: Request) -> Response:
        async def call() -> Response:
            grant = await self._gate.grant(request)
            body = await request.body()
            if len(body) > MAX_BODY:
                raise ApiError(413, f"a query is at most {MAX_BODY} bytes")
            try:
                asked = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise ApiError(400, "the body must be a JSON object (the query)") from None
            if not isinstance(asked, dict):
                raise ApiError(400, "the body must be a JSON object (the query)")
            site_id = asked.get("site_id")
            site = await self._gate.site(grant, site_id if isinstance(site_id, str) else None)
            self._gate.count(request)
            return JSONResponse(await run_in_threadpool(self._run, site, asked))

        return await answer(call)

    def _run(self, site: Site, asked: dict[str, Any]) -> dict[str, Any]:
        today = self._path.today(site)
        date_from, date_to = _date_range(asked.get("date_range"), today)
        metrics = _metrics(asked.get("metrics"))
        dimensions = _dimensions(asked.get("dimensions", []), date_from, date_to)
        raw_filters = asked.get("filters", [])
        if len(orjson.dumps(raw_filters)) > MAX_FILTERS_CHARS:
            raise ApiError(400, f"filters must be at most {MAX_FILTERS_CHARS} characters long")
        filters = json_filters(raw_filters)
        order_by = _order_by(asked.get("order_by"), metrics, dimensions)
        include = asked.get("include", {})
        pagination = asked.get("pagination", {})
        if not isinstance(include, dict) or not isinstance(pagination, dict):
            raise ApiError(400, "include and pagination are objects")
        limit = _count(pagination, "limit", DEFAULT_LIMIT, lowest=1)
        offset = _count(pagination, "offset", 0, lowest=0)
        query = ApiQuery(metrics, date_from, date_to, dimensions, filters, order_by)
        check_properties(query)
        self._path.check_goals(site, query)
        check_metrics(query, v1=False)
        for dimension in dimensions:
            if dimension in TIME_DIMENSIONS:
                points = count_buckets(dimension, date_from, date_to)
                if points > MAX_BUCKETS:
                    raise ApiError(
                        400, f"this query would have {points} time buckets; at most {MAX_BUCKETS}"
                    )
        rows = self._path.run(site, query)
        if any(d in TIME_DIMENSIONS for d in dimensions) and not order_by:
            time = next(d for d in dimensions if d in TIME_DIMENSIONS)
            rows.sort(key=lambda row: str(row[time]))
        results = []
        for row in rows[offset : offset + limit]:
            result: dict[str, Any] = {
                "metrics": [row.get(m) for m in metrics],
                "dimensions": [_label(row[d]) for d in dimensions],
            }
            if row.get("suppressed"):
                result["suppressed"] = True
            results.append(result)
        meta: dict[str, Any] = {}
        if include.get("time_labels"):
            labelled = next((d for d in dimensions if d in TIME_DIMENSIONS), None)
            if labelled is None:
                raise ApiError(400, "include.time_labels needs a time dimension")
            meta["time_labels"] = buckets(labelled, query)
        if include.get("total_rows"):
            meta["total_rows"] = len(rows)
        echoed = {
            "site_id": site.domain,
            "metrics": list(metrics),
            "date_range": [f"{date_from}T00:00:00", f"{date_to}T23:59:59"],
            "filters": raw_filters,
            "dimensions": list(dimensions),
            "order_by": [list(o) for o in order_by],
            "include": include,
            "pagination": {"limit": limit, "offset": offset},
        }
        return {"results": results, "meta": meta, "query": echoed}


def _label(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _date_range(value: Any, today: date) -> tuple[date, date]:
    if isinstance(value, list):
        if len(value) != 2 or not all(isinstance(v, str) for v in value):
            raise ApiError(400, "date_range is a period name or [first, last] dates")
        first, last = (parse_date(v[:10]) for v in value)
        if first > last:
            raise ApiError(400, "the date range ends before it starts")
        return first, last
    if value in RELATIVE:
        days = RELATIVE[value]
        return (
            (today, today)
            if value == "day"
            else (today - timedelta(days=days), today - timedelta(days=1))
        )
    if value == "month":
        return today.replace(day=1), today
    if value in ("6mo", "12mo"):
        months = 6 if value == "6mo" else 12
        return add_months(today.replace(day=1), -months), today.replace(day=1) - timedelta(days=1)
    if value == "year":
        return today.replace(month=1, day=1), today
    if value == "all":
        return max(FIRST_DATE, date(2000, 1, 1)), today
    raise ApiError(
        400,
        f"unknown date_range {str(value)[:40]!r}; use day, 7d, 28d, 30d, 91d,"
        " month, 6mo, 12mo, year, all or [first, last]",
    )


def _metrics(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(m, str) for m in value):
        raise ApiError(400, "metrics is a non-empty list of metric names")
    for metric in value:
        if metric not in V2_METRICS:
            raise ApiError(
                400, f"unknown metric {metric[:40]!r}; use one of {', '.join(V2_METRICS)}"
            )
    return tuple(value)


def _dimensions(value: Any, first: date, last: date) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise ApiError(400, "dimensions is a list of dimension names")
    if len(value) > MAX_DIMENSIONS:
        raise ApiError(400, f"at most {MAX_DIMENSIONS} dimensions")
    found = []
    for dimension in value:
        if dimension == "time":  # Plausible picks the bucket from the range
            days = (last - first).days + 1
            dimension = "time:hour" if days == 1 else "time:day" if days <= 40 else "time:month"
        if dimension in NO_LOCATIONS:
            found.append(dimension)  # refused with hush's reason by check_properties
            continue
        if dimension not in TIME_DIMENSIONS and not is_dimension(dimension):
            raise ApiError(400, f"unknown dimension {dimension[:60]!r}")
        if dimension.startswith(PROPS_PREFIX) and len(dimension) > 200:
            raise ApiError(400, "a custom property name is at most 200 characters long")
        found.append(dimension)
    if len(set(found)) != len(found):
        raise ApiError(400, "a dimension is asked twice")
    return tuple(found)


def _order_by(
    value: Any, metrics: tuple[str, ...], dimensions: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ApiError(400, "order_by is a list of [metric or dimension, asc|desc]")
    found = []
    for item in value:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or item[0] not in (*metrics, *dimensions)
            or item[1] not in ("asc", "desc")
        ):
            raise ApiError(
                400,
                f"cannot order by {str(item)[:80]}: name an asked metric or dimension,"
                " then asc or desc",
            )
        found.append((str(item[0]), str(item[1])))
    return tuple(found)


def _count(pagination: dict[str, Any], name: str, default: int, *, lowest: int) -> int:
    value = pagination.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lowest <= value <= 1_000_000:
        raise ApiError(400, f"pagination.{name} must be a whole number from {lowest} to 1000000")
    return value
