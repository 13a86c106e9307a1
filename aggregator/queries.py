"""The one query engine: metrics × dimensions × filters × date range (Plausible Stats API v2).

Every read of traffic goes through ``run_query``. SQL is assembled only from the fixed
fragments in ``DIMENSIONS`` and ``METRICS``; every value a caller supplies (site, dates,
filter values, limits) is a bound parameter.

Visitor ids change daily, so unique visitors over a range are the sum of daily uniques: each
query counts distinct visitors per local day and group, then sums the days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from aggregator.store import Store

# Dimension name -> column of the events table.
DIMENSIONS = {
    "event:page": "path",
    "event:hostname": "hostname",
    "event:name": "name",
    "visit:source": "source",
    "visit:referrer": "referrer_host || referrer_path",
    "visit:utm_source": "utm_source",
    "visit:utm_medium": "utm_medium",
    "visit:utm_campaign": "utm_campaign",
    "visit:utm_content": "utm_content",
    "visit:utm_term": "utm_term",
    "visit:channel": "channel",
    "visit:browser": "browser",
    "visit:browser_version": "browser_version",
    "visit:os": "os",
    "visit:os_version": "os_version",
    "visit:device": "device",
    "visit:country": "country",
}
PROPS_PREFIX = "event:props:"
TIME_DAY = "time:day"

# Metric -> (columns computed per local day and group, how the days combine). Visitor ids are
# daily, so distinct visitors are counted per day and summed; averages carry sum and count.
# ``{counted}`` is the events a metric counts: page views when pages are grouped or filtered
# (a page is a page view's page, as in Plausible), else every event but engagement events.
METRICS = {
    "visitors": (
        ("count(DISTINCT visitor) FILTER (WHERE {counted}) AS visitors",),
        "coalesce(CAST(sum(visitors) AS BIGINT), 0)",
    ),
    "pageviews": (
        ("count(*) FILTER (WHERE name = 'pageview') AS pageviews",),
        "coalesce(CAST(sum(pageviews) AS BIGINT), 0)",
    ),
    "events": (
        ("count(*) FILTER (WHERE name <> 'engagement') AS events",),
        "coalesce(CAST(sum(events) AS BIGINT), 0)",
    ),
    "scroll_depth": (
        (
            "sum(scroll_depth) FILTER (WHERE name = 'engagement') AS scroll_sum",
            "count(scroll_depth) FILTER (WHERE name = 'engagement') AS scroll_n",
        ),
        "CAST(round(sum(scroll_sum) / nullif(sum(scroll_n), 0)) AS BIGINT)",
    ),
    "time_on_page": (
        (
            "sum(engaged_ms) FILTER (WHERE name = 'engagement') AS engaged_sum",
            "count(engaged_ms) FILTER (WHERE name = 'engagement') AS engaged_n",
        ),
        "CAST(round(sum(engaged_sum) / nullif(sum(engaged_n), 0) / 1000) AS BIGINT)",
    ),
}

# Dimensions whose rows are page views only (as in Plausible: a page is a page view's page).
_PAGEVIEW_ONLY = frozenset({"event:page", "event:hostname"})
# Metrics read from engagement events; every other metric ignores those events.
_ENGAGEMENT_METRICS = frozenset({"scroll_depth", "time_on_page"})

OPERATORS = ("is", "is_not", "contains")


class QueryError(ValueError):
    """The query asks for something the engine does not offer; the message says what."""


@dataclass(frozen=True, slots=True)
class Filter:
    operator: str  # is | is_not | contains
    dimension: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Query:
    site_id: int
    date_from: date
    date_to: date
    metrics: tuple[str, ...] = ("visitors",)
    dimensions: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    limit: int | None = None
    offset: int = 0


def check(query: Query) -> None:
    for metric in query.metrics:
        if metric not in METRICS:
            raise QueryError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    for dimension in query.dimensions:
        if dimension != TIME_DAY and not _is_dimension(dimension):
            raise QueryError(f"unknown property {dimension!r}")
    for item in query.filters:
        if not _is_dimension(item.dimension):
            raise QueryError(f"cannot filter by {item.dimension!r}")
        if item.operator not in OPERATORS:
            raise QueryError(f"unknown filter operator {item.operator!r}")
    if query.date_from > query.date_to:
        raise QueryError("the date range ends before it starts")


def _is_dimension(name: str) -> bool:
    return name in DIMENSIONS or (name.startswith(PROPS_PREFIX) and len(name) > len(PROPS_PREFIX))


def _column(dimension: str, params: dict[str, Any]) -> str:
    """The SQL of a dimension; a custom property's key is a bound parameter, never SQL."""
    if dimension == TIME_DAY:
        return "day"
    if dimension.startswith(PROPS_PREFIX):
        name = f"prop{len(params)}"
        params[name] = dimension[len(PROPS_PREFIX) :]
        return f"coalesce(props[${name}], '(none)')"
    return DIMENSIONS[dimension]


def run_query(store: Store, query: Query) -> list[dict[str, Any]]:
    """Rows of ``{dimension: value, metric: number}`` ordered by the first metric, descending."""
    check(query)
    sql, params = _build(query)
    with store.read() as cur:
        rows = cur.execute(sql, params).fetchall()
    names = [*query.dimensions, *query.metrics]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _build(query: Query) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {
        "site": query.site_id,
        "date_from": query.date_from,
        "date_to": query.date_to,
    }
    where = ["site_id = $site", "day BETWEEN $date_from AND $date_to"]
    used = set(query.dimensions) | {f.dimension for f in query.filters}
    counted = "name = 'pageview'" if used & _PAGEVIEW_ONLY else "name <> 'engagement'"
    if not _ENGAGEMENT_METRICS & set(query.metrics):
        where.append(counted)
    for index, item in enumerate(query.filters):
        column = _column(item.dimension, params)
        names = []
        for value_index, value in enumerate(item.values):
            name = f"f{index}_{value_index}"
            params[name] = value
            names.append(name)
        if item.operator == "contains":
            clause = " OR ".join(f"contains({column}, ${n})" for n in names)
        else:
            clause = f"{column} IN ({', '.join('$' + n for n in names)})"
        where.append(f"NOT ({clause})" if item.operator == "is_not" else f"({clause})")

    group_columns = [_column(d, params) for d in query.dimensions]
    inner_group = ", ".join(dict.fromkeys(["day", *group_columns]))
    aliases = [f"g{i}" for i in range(len(group_columns))]
    inner_select = ", ".join(
        [
            *(f"{col} AS {alias}" for col, alias in zip(group_columns, aliases, strict=True)),
            *(column.format(counted=counted) for m in query.metrics for column in METRICS[m][0]),
        ]
    )
    outer_metrics = ", ".join(f"{METRICS[m][1]} AS {m}" for m in query.metrics)
    outer_dims = ", ".join(aliases)
    sql = f"SELECT {inner_select} FROM events WHERE {' AND '.join(where)} GROUP BY {inner_group}"  # noqa: S608
    if aliases:
        order = ", ".join([f"{query.metrics[0]} DESC", *aliases])
        if TIME_DAY in query.dimensions:
            order = ", ".join(aliases)
        sql = (
            f"SELECT {outer_dims}, {outer_metrics} FROM ({sql}) GROUP BY {outer_dims}"  # noqa: S608
            f" ORDER BY {order}"
        )
    else:
        sql = f"SELECT {outer_metrics} FROM ({sql})"  # noqa: S608
    if query.limit is not None:
        params["limit"], params["offset"] = query.limit, query.offset
        sql += " LIMIT $limit OFFSET $offset"
    return sql, params
