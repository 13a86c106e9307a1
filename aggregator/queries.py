"""The one query engine: metrics x dimensions x filters x date range (Plausible Stats API v2).

Every read of traffic goes through ``run_query``. SQL is assembled only from the fixed
fragments in this module; every value a caller supplies (site, dates, filter values, property
keys, limits) is a bound parameter.

How the numbers are made (DESIGN.md §4):

- **Sessions** are built at query time from raw events: the events of one visitor id on one
  local day, split where 30 minutes pass without an event (ids change at local midnight, so
  sessions end there). A session's source, channel, UTM fields, device, browser, OS and country
  are those of its first event; its entry and exit pages are its first and last page views.
  A session is closed 30 minutes after its last event or at midnight; until then its figures
  are provisional. Because sessions are recomputed from all events every time, it makes no
  difference whether events arrived in one load or in many.
- **Bounce**: a session with at most one page view and no interactive custom event
  (engagement events and events sent with ``interactive: false`` never count).
- **Visitors** are counted per local day and group, then summed over days: ids are daily, so
  unique visitors over a range are the sum of daily uniques (exact and additive).
- **Visit filters** (``visit:*``) keep the sessions whose attribute matches; **event filters**
  (``event:*``) keep the sessions that contain a matching event, and count only matching events
  in ``pageviews``, ``events``, ``scroll_depth`` and ``time_on_page``.
- Grouping by an event property (page, name, props) counts a session as a visit in each group
  it has events in; grouping by time puts events in the hour, day, week or month of their local
  time (a session spanning an hour boundary is a visit in both hours).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aggregator.store import Store

TIME_DIMENSIONS = {
    "time:hour": "date_trunc('hour', timezone($tz, timezone('UTC', ts)))",
    "time:day": "day",
    "time:week": "CAST(date_trunc('week', day) AS DATE)",
    "time:month": "CAST(date_trunc('month', day) AS DATE)",
}

# Event properties: columns of each event.
EVENT_DIMENSIONS = {
    "event:page": "path",
    "event:hostname": "hostname",
    "event:name": "name",
}
PROPS_PREFIX = "event:props:"

# Visit properties: attributes of the session, taken from its first event (or page views).
VISIT_DIMENSIONS = {
    "visit:entry_page": "s_entry_page",
    "visit:exit_page": "s_exit_page",
    "visit:source": "s_source",
    "visit:referrer": "s_referrer",
    "visit:channel": "s_channel",
    "visit:utm_source": "s_utm_source",
    "visit:utm_medium": "s_utm_medium",
    "visit:utm_campaign": "s_utm_campaign",
    "visit:utm_content": "s_utm_content",
    "visit:utm_term": "s_utm_term",
    "visit:browser": "s_browser",
    "visit:browser_version": "s_browser_version",
    "visit:os": "s_os",
    "visit:os_version": "s_os_version",
    "visit:device": "s_device",
    "visit:country": "s_country",
}
_SESSION_FIRST = {  # session attribute -> the event column its first event gives it
    "s_source": "source",
    "s_referrer": "referrer_host || referrer_path",
    "s_channel": "channel",
    "s_utm_source": "utm_source",
    "s_utm_medium": "utm_medium",
    "s_utm_campaign": "utm_campaign",
    "s_utm_content": "utm_content",
    "s_utm_term": "utm_term",
    "s_browser": "browser",
    "s_browser_version": "browser_version",
    "s_os": "os",
    "s_os_version": "os_version",
    "s_device": "device",
    "s_country": "country",
}

# What is kept per local day and group, from sessions (and, in rollups, stored as such).
# ``ev > 0``: a session counts as a visit of a group when it has events there other than
# engagement events.
PER_DAY_COLUMNS = """
    count(DISTINCT visitor) FILTER (WHERE ev > 0) AS visitors,
    count(*) FILTER (WHERE ev > 0) AS visits,
    sum(pv) AS pageviews,
    sum(ev) AS events,
    count(*) FILTER (WHERE ev > 0 AND bounce) AS bounces,
    coalesce(sum(duration) FILTER (WHERE ev > 0), 0) AS duration,
    coalesce(sum(sd_sum), 0) AS sd_sum,
    sum(sd_n) AS sd_n,
    coalesce(sum(em_sum), 0) AS em_sum,
    sum(em_n) AS em_n"""
BASE_COLUMNS = (
    "visitors",
    "visits",
    "pageviews",
    "events",
    "bounces",
    "duration",
    "sd_sum",
    "sd_n",
    "em_sum",
    "em_n",
)

# Metric -> how the days combine. Visitors are summed: ids are daily.
METRICS = {
    "visitors": "sum(visitors)",
    "visits": "sum(visits)",
    "pageviews": "sum(pageviews)",
    "events": "sum(events)",
    "bounce_rate": "round(100.0 * sum(bounces) / nullif(sum(visits), 0))",
    "visit_duration": "round(sum(duration) / nullif(sum(visits), 0))",
    "views_per_visit": "round(sum(pageviews) / nullif(sum(visits), 0), 2)",
    "scroll_depth": "round(sum(sd_sum) / nullif(sum(sd_n), 0))",
    "time_on_page": "round(sum(em_sum) / nullif(sum(em_n), 0) / 1000)",
}
INTEGER_METRICS = frozenset(METRICS) - {"views_per_visit"}
_PAGE_PROPERTIES = frozenset({"event:page", "event:hostname"})

OPERATORS = ("is", "is_not", "contains", "not_contains", "matches")
SESSION_GAP_MINUTES = 30


class QueryError(ValueError):
    """The query asks for something the engine does not offer; the message says what."""


@dataclass(frozen=True, slots=True)
class Filter:
    operator: str  # is | is_not | contains | not_contains | matches (a glob: * and **)
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
    timezone: str = "UTC"  # for time:hour
    since: datetime | None = None  # only events at or after this UTC time (realtime)


@dataclass(frozen=True, slots=True)
class RollupPlan:
    spec: str  # the rollup's name: its dimensions joined by "|"
    dimensions: tuple[str, ...]  # the rollup's dimensions, in the order of g0, g1
    raw_from: date  # the days not rolled up lie in raw_from..raw_to (empty when from > to)
    raw_to: date


# The rollups kept per site and day: totals, every event and visit property, and the pairs the
# dashboard combines (a filter on one, a breakdown by the other). Custom properties, hours and
# other pairs are answered from raw events, so only for the raw retention period.
ROLLUP_SPECS: tuple[tuple[str, ...], ...] = (
    (),
    *((dimension,) for dimension in ("event:page", "event:hostname", "event:name")),
    *((dimension,) for dimension in VISIT_DIMENSIONS),
    *(
        (visit, event)
        for event in ("event:page", "event:name")
        for visit in ("visit:source", "visit:channel", "visit:utm_campaign", "visit:country")
    ),
    ("visit:device", "event:page"),
    ("time:hour",),  # a day's graph by the hour (local hours of the site's time zone)
)
# Time dimensions made from the local day alone: every rollup answers them.
DAY_DIMENSIONS = frozenset({"time:day", "time:week", "time:month"})


def spec_name(dimensions: tuple[str, ...]) -> str:
    return "|".join(dimensions)


def plan_rollup(cur: Any, query: Query) -> RollupPlan | None:
    """How to read rolled-up days for ``query``, or None when they are read raw.

    Rollups answer a query exactly when a rollup holds all its dimensions and filters and every
    filter picks one value (two values could count one visitor twice). Otherwise the rolled-up
    days are read from raw events, which is only possible within raw retention: past it, the
    query fails with a QueryError saying so, never with a silently wrong number.
    """
    rolled_days = cur.execute(
        "SELECT day, raw_purged, hourly FROM rolled_days"
        " WHERE site_id = $site AND day BETWEEN $date_from AND $date_to",
        {"site": query.site_id, "date_from": query.date_from, "date_to": query.date_to},
    ).fetchall()
    if not rolled_days:
        return None
    wanted = {d for d in query.dimensions if d not in DAY_DIMENSIONS}
    wanted |= {f.dimension for f in query.filters}
    exact = (
        query.since is None
        and all(f.operator == "is" and len(f.values) == 1 for f in query.filters)
        # Days rolled up before hourly rollups existed have none.
        and ("time:hour" not in wanted or all(hourly for _, _, hourly in rolled_days))
    )
    if exact:
        rolled = {row[0] for row in rolled_days}
        # Before a site's first finally rolled-up day there are no events (the job rolls up
        # every closed day from the first one on, empty days included), so only later days are
        # raw. (An open day's provisional rollup says nothing about the days before it.)
        first = cur.execute(
            "SELECT min(day) FROM rolled_days WHERE site_id = $site AND NOT provisional",
            {"site": query.site_id},
        ).fetchone()[0]
        start = query.date_from if first is None else max(query.date_from, first)
        raw = [
            day
            for day in (start + timedelta(days=n) for n in range((query.date_to - start).days + 1))
            if day not in rolled
        ]
        raw_from, raw_to = (raw[0], raw[-1]) if raw else (query.date_to, query.date_from)
        for spec in ROLLUP_SPECS:
            if set(spec) == wanted and len(spec) == len(wanted):
                return RollupPlan(spec_name(spec), spec, raw_from, raw_to)
    if any(purged for _, purged, _ in rolled_days):
        raise QueryError(
            "raw events of some days in this range are deleted (raw retention), and no rollup"
            " holds this combination of properties, filters and interval; see the README for"
            " the combinations a long range can answer"
        )
    return None


def is_dimension(name: str) -> bool:
    return (
        name in EVENT_DIMENSIONS
        or name in VISIT_DIMENSIONS
        or (name.startswith(PROPS_PREFIX) and len(name) > len(PROPS_PREFIX))
    )


def check(query: Query) -> None:
    for metric in query.metrics:
        if metric not in METRICS:
            raise QueryError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    for dimension in query.dimensions:
        if dimension not in TIME_DIMENSIONS and not is_dimension(dimension):
            raise QueryError(f"unknown property {dimension!r}")
    for item in query.filters:
        if not is_dimension(item.dimension):
            raise QueryError(f"cannot filter by {item.dimension!r}")
        if item.operator not in OPERATORS:
            raise QueryError(f"unknown filter operator {item.operator!r}")
        if not item.values:
            raise QueryError(f"the filter on {item.dimension} has no value")
    if query.date_from > query.date_to:
        raise QueryError("the date range ends before it starts")


def run_query(store: Store, query: Query, *, use_rollups: bool = True) -> list[dict[str, Any]]:
    """Rows of ``{dimension: value, metric: number}``: groups ordered by the first metric,
    descending (time groups in time order); without dimensions, one row of totals.
    ``use_rollups=False`` reads raw events only (to check rollups against them)."""
    check(query)
    with store.read() as cur:
        plan = plan_rollup(cur, query) if use_rollups else None
        sql, params = build_sql(query, rollup=plan)
        rows = cur.execute(sql, params).fetchall()
    names = [*query.dimensions, *query.metrics]
    results = []
    for row in rows:
        record = dict(zip(names, row, strict=True))
        for metric in query.metrics:
            value = record[metric]
            if value is not None:
                record[metric] = int(value) if metric in INTEGER_METRICS else float(value)
            elif metric in ("visitors", "visits", "pageviews", "events"):
                record[metric] = 0
        results.append(record)
    return results


def realtime_visitors(store: Store, site_id: int, since: datetime) -> int:
    """Distinct visitors with an event at or after ``since`` (UTC)."""
    with store.read() as cur:
        row = cur.execute(
            "SELECT count(DISTINCT visitor) FROM events"
            " WHERE site_id = $site AND ts >= $since AND name <> 'engagement'",
            {"site": site_id, "since": since},
        ).fetchone()
    return int(row[0]) if row else 0


class SqlParams:
    """Bound parameters, named in order of first use."""

    def __init__(self, **initial: Any) -> None:
        self.values: dict[str, Any] = dict(initial)

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def _event_column(dimension: str, params: SqlParams) -> str:
    if dimension.startswith(PROPS_PREFIX):
        key = params.add(dimension[len(PROPS_PREFIX) :])
        return f"coalesce(props[{key}], '(none)')"
    return EVENT_DIMENSIONS[dimension]


def _condition(column: str, item: Filter, params: SqlParams) -> str:
    values = [params.add(_glob(v) if item.operator == "matches" else v) for v in item.values]
    if item.operator in ("contains", "not_contains"):
        clause = " OR ".join(f"contains({column}, {v})" for v in values)
    elif item.operator == "matches":
        clause = " OR ".join(f"regexp_full_match({column}, {v})" for v in values)
    else:
        clause = f"{column} IN ({', '.join(values)})"
    negated = item.operator in ("is_not", "not_contains")
    return f"NOT ({clause})" if negated else f"({clause})"


def _glob(pattern: str) -> str:
    """Plausible's globs as a regular expression: ``**`` any text, ``*`` any but "/"."""
    parts = re.split(r"(\*\*|\*)", pattern)
    return "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts
    )


def sessions_sql(raw_where: str, attributes: set[str] | None = None) -> str:
    """CTEs ending in ``sessioned``: the events that match ``raw_where``, each with its
    session number ``sn`` and its session's attributes (``bounce``, ``duration``, ``s_*``;
    only the ``s_*`` named in ``attributes`` when given: a smaller query plans faster)."""
    wanted = set(_SESSION_FIRST) | {"s_entry_page", "s_exit_page"}
    if attributes is not None:
        wanted &= attributes
    first_values = "".join(
        f",\n        arg_min({column}, rn) AS {name}"
        for name, column in _SESSION_FIRST.items()
        if name in wanted
    )
    pages = "".join(
        f",\n        {function}(path, rn) FILTER (WHERE name = 'pageview') AS {name}"
        for function, name in (("arg_min", "s_entry_page"), ("arg_max", "s_exit_page"))
        if name in wanted
    )
    return f"""
ordered AS (
    -- A total order within a visitor's day, on content alone, so that events sent at the same
    -- instant always fall the same way (page views first): sessions, entry pages and sources
    -- come out identical however and whenever they are computed.
    SELECT *, row_number() OVER (
        PARTITION BY day, visitor
        ORDER BY ts, name <> 'pageview', name, path, source, referrer_host, referrer_path,
                 utm_source, utm_medium, utm_campaign, utm_content, utm_term, channel
    ) AS rn
    FROM events WHERE {raw_where}
),
marked AS (
    SELECT *, CASE WHEN lag(ts) OVER w IS NULL
                     OR ts - lag(ts) OVER w > INTERVAL {SESSION_GAP_MINUTES} MINUTE
                   THEN 1 ELSE 0 END AS starts
    FROM ordered
    WINDOW w AS (PARTITION BY day, visitor ORDER BY rn)
),
ev AS (
    SELECT *, sum(starts) OVER (PARTITION BY day, visitor ORDER BY rn
                                ROWS UNBOUNDED PRECEDING) AS sn
    FROM marked
),
s AS (
    SELECT day, visitor, sn,
        count(*) FILTER (WHERE name = 'pageview') <= 1
            AND count(*) FILTER (WHERE name NOT IN ('pageview', 'engagement')
                                 AND interactive) = 0 AS bounce,
        epoch(max(ts) - min(ts)) AS duration{pages}{first_values}
    FROM ev GROUP BY day, visitor, sn
),
sessioned AS (
    SELECT ev.* EXCLUDE (rn, starts), s.* EXCLUDE (day, visitor, sn)
    FROM ev JOIN s USING (day, visitor, sn)
)"""  # noqa: S608 - only fixed fragments


def raw_per_day(
    query: Query,
    params: SqlParams,
    *,
    skip_rolled: bool = False,
    sessions: str | None = None,
    carry: tuple[str, ...] = (),
) -> str:
    """CTEs over raw events ending in ``per_day_raw``: one row per local day and group, with
    ``g0, g1, ...`` for the query's dimensions and the ``BASE_COLUMNS``. ``sessions`` names a
    table that already holds ``sessioned`` rows (rollups compute them once per day); the
    ``per_session`` CTE before it keeps the session attributes named in ``carry``."""
    used = set(query.dimensions) | {f.dimension for f in query.filters}
    raw_where = ["site_id = $site", "day BETWEEN $raw_from AND $raw_to"]
    if skip_rolled:
        raw_where.append("day NOT IN (SELECT day FROM rolled_days WHERE site_id = $site)")
    if query.since is not None:
        raw_where.append(f"ts >= {params.add(query.since)}")
    # A page is a page view's page (as in Plausible): custom events do not make page rows.
    counted = ["name IN ('pageview', 'engagement')"] if used & _PAGE_PROPERTIES else []
    event_filters = [
        _condition(_event_column(f.dimension, params), f, params)
        for f in query.filters
        if not f.dimension.startswith("visit:")
    ]
    visit_filters = [
        _condition(VISIT_DIMENSIONS[f.dimension], f, params)
        for f in query.filters
        if f.dimension.startswith("visit:")
    ]
    if {"visit:entry_page", "visit:exit_page"} & set(query.dimensions):
        visit_filters.append("s_entry_page IS NOT NULL")  # sessions without a page view
    keep = " AND ".join([*visit_filters, *counted, *event_filters]) or "true"
    groups = []
    for dimension in query.dimensions:
        if dimension in TIME_DIMENSIONS:
            groups.append(TIME_DIMENSIONS[dimension])
        elif dimension in VISIT_DIMENSIONS:
            groups.append(VISIT_DIMENSIONS[dimension])
        else:
            groups.append(_event_column(dimension, params))
    aliases = [f"g{i}" for i in range(len(groups))]
    group_select = "".join(
        f"{expr} AS {alias}, " for expr, alias in zip(groups, aliases, strict=True)
    )
    session_keys = ", ".join(["day", *aliases, "visitor", "sn"])
    day_keys = ", ".join(["day", *aliases])
    needed = {
        VISIT_DIMENSIONS[d]
        for d in [*query.dimensions, *(f.dimension for f in query.filters)]
        if d in VISIT_DIMENSIONS
    }
    if {"visit:entry_page", "visit:exit_page"} & set(query.dimensions):
        needed.add("s_entry_page")
    prefix = "" if sessions else sessions_sql(" AND ".join(raw_where), needed) + ","
    carried = "".join(f", any_value({column}) AS {column}" for column in carry)
    return f"""{prefix}
fe AS (
    SELECT * FROM {sessions or "sessioned"} WHERE {keep}
),
per_page AS (
    -- Engagement is per page of a visit: its deepest scroll, and its engaged time summed over
    -- the reports the snippet sent while the page was open.
    SELECT day, {group_select}visitor, sn, path AS page, any_value(bounce) AS bounce,
        any_value(duration) AS duration,
        count(*) FILTER (WHERE name = 'pageview') AS pv,
        count(*) FILTER (WHERE name <> 'engagement') AS ev,
        max(scroll_depth) FILTER (WHERE name = 'engagement') AS sd_max,
        sum(engaged_ms) FILTER (WHERE name = 'engagement') AS em_total{carried}
    FROM fe GROUP BY {session_keys}, path
),
per_session AS (
    SELECT {session_keys}, any_value(bounce) AS bounce, any_value(duration) AS duration,
        sum(pv) AS pv, sum(ev) AS ev,
        sum(sd_max) AS sd_sum, count(sd_max) AS sd_n,
        sum(em_total) AS em_sum, count(em_total) AS em_n{carried}
    FROM per_page GROUP BY {session_keys}
),
per_day_raw AS (
    SELECT {day_keys}, {PER_DAY_COLUMNS} FROM per_session GROUP BY {day_keys}
)"""  # noqa: S608 - only fixed fragments; every value is a bound parameter


def build_sql(query: Query, *, rollup: RollupPlan | None = None) -> tuple[str, dict[str, Any]]:
    """The SQL of a query: raw events for the days not rolled up (``rollup`` says which are,
    and how to read them), rollups for the rest."""
    params = SqlParams(site=query.site_id, raw_from=query.date_from, raw_to=query.date_to)
    if rollup is not None:
        # Raw events only for the days not rolled up (usually just today): the rest of the
        # events table is never read, thanks to DuckDB's per-block min/max of `day`.
        params.values.update(
            raw_from=rollup.raw_from,
            raw_to=rollup.raw_to,
            date_from=query.date_from,
            date_to=query.date_to,
        )
    if "time:hour" in query.dimensions:
        params.values["tz"] = query.timezone
    aliases = [f"g{i}" for i in range(len(query.dimensions))]
    rolled = ""
    if rollup is not None:
        params.values["spec"] = rollup.spec
        groups = []
        for dimension in query.dimensions:
            if dimension in DAY_DIMENSIONS:
                groups.append(TIME_DIMENSIONS[dimension])
            elif dimension == "time:hour":
                groups.append(f"CAST(r.g{rollup.dimensions.index(dimension)} AS TIMESTAMP)")
            else:
                groups.append(f"g{rollup.dimensions.index(dimension)}")
        wheres = ["r.site_id = $site", "r.spec = $spec", "r.day BETWEEN $date_from AND $date_to"]
        for item in query.filters:
            column = f"g{rollup.dimensions.index(item.dimension)}"
            wheres.append(f"r.{column} = {params.add(item.values[0])}")
        select = ", ".join(
            [f"{g} AS {a}" for g, a in zip(groups, aliases, strict=True)]
            + [f"r.{c} AS {c}" for c in BASE_COLUMNS]
        )
        rolled = (
            f"SELECT r.day AS day, {select} FROM rollups r"  # noqa: S608
            f" WHERE {' AND '.join(wheres)} UNION ALL BY NAME "
        )
    outer = ", ".join(f"{METRICS[m]} AS {m}" for m in query.metrics)
    if rollup is not None and rollup.raw_from > rollup.raw_to:
        # Every day is rolled up: no raw events to read (and a much smaller query to plan).
        del params.values["raw_from"], params.values["raw_to"]
        params.values.pop("tz", None)
        sql = f"WITH per_day AS ({rolled.removesuffix(' UNION ALL BY NAME ')})\n"
    else:
        cte = raw_per_day(query, params, skip_rolled=rollup is not None)
        sql = (
            f"WITH {cte},\nper_day AS ({rolled}"  # noqa: S608
            "SELECT * FROM per_day_raw)\n"
        )
    if aliases:
        order = ", ".join(aliases)
        if not any(d in TIME_DIMENSIONS for d in query.dimensions):
            order = ", ".join([f"{query.metrics[0]} DESC NULLS LAST", *aliases])
        sql += (
            f"SELECT {', '.join(aliases)}, {outer} FROM per_day"  # noqa: S608
            f" GROUP BY {', '.join(aliases)} ORDER BY {order}"
        )
    else:
        sql += f"SELECT {outer} FROM per_day"  # noqa: S608
    if query.limit is not None:
        sql += f" LIMIT {params.add(query.limit)} OFFSET {params.add(query.offset)}"
    return sql, params.values
