"""The SQL over raw events: sessions built at query time (``sessions_sql``) and a query's
per-day rows from them (``raw_per_day``), with every value a bound parameter (``SqlParams``)."""

from __future__ import annotations

import re
from typing import Any

from aggregator.goals import Goal
from aggregator.queries.rollup_plan import ANSWERING_DAYS
from aggregator.queries.vocabulary import (
    DIRECT,
    DIRECT_DIMENSIONS,
    EVENT_DIMENSIONS,
    GOAL,
    NEGATED,
    PEAK_VISITORS,
    PER_DAY_COLUMNS,
    PROP_NAMES,
    PROPS_PREFIX,
    SESSION_GAP_MINUTES,
    TIME_DIMENSIONS,
    VISIT_DIMENSIONS,
    AnyFilter,
    Filter,
    FilterGroup,
    Query,
    leaves,
)

_SESSION_FIRST = {  # session attribute -> the event column its first event gives it
    "s_source": "source",
    # Plausible's referrer: host and path, without "www." (the scheme is never stored)
    "s_referrer": "regexp_replace(referrer_host, '^www[.]', '') || referrer_path",
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
_PAGE_PROPERTIES = frozenset({"event:page", "event:hostname"})


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


def stored_value(dimension: str, value: str) -> str:
    """A filter value as stored: ``Direct / None`` is the empty source or referrer."""
    return "" if dimension in DIRECT_DIMENSIONS and value == DIRECT else value


def filter_sql(item: AnyFilter, params: SqlParams, goals: tuple[Goal, ...] = ()) -> str:
    """One filter (or group of filters) as a condition on an event row of ``sessioned``."""
    if isinstance(item, FilterGroup):
        parts = [filter_sql(f, params, goals) for f in item.filters]
        if item.operator == "not":
            return f"NOT ({parts[0]})"
        return "(" + f" {item.operator.upper()} ".join(parts) + ")"
    if item.dimension == GOAL:
        return _goal_condition(item, params, goals)
    if item.dimension in VISIT_DIMENSIONS:
        column = VISIT_DIMENSIONS[item.dimension]
    else:
        column = _event_column(item.dimension, params)
    return _condition(column, item, params)


def _condition(column: str, item: Filter, params: SqlParams) -> str:
    base = "is" if item.operator == "is_not" else item.operator.removeprefix("not_")
    texts = [stored_value(item.dimension, v) for v in item.values]
    values = [params.add(_glob(v) if base == "matches" else v) for v in texts]
    if base == "contains":
        clause = " OR ".join(f"contains({column}, {v})" for v in values)
    elif base == "matches":
        clause = " OR ".join(f"regexp_full_match({column}, {v})" for v in values)
    elif base == "matches_regex":
        clause = " OR ".join(f"regexp_matches({column}, {v})" for v in values)
    else:
        clause = f"{column} IN ({', '.join(values)})"
    return f"NOT ({clause})" if item.operator in NEGATED else f"({clause})"


def _goal_match(goal: Goal, params: SqlParams) -> str:
    """Whether an event row is a conversion of ``goal``."""
    if goal.kind == "event":
        return f"name = {params.add(goal.target)}"
    return f"(name = 'pageview' AND regexp_full_match(path, {params.add(_glob(goal.target))}))"


def _goal_condition(item: Filter, params: SqlParams, goals: tuple[Goal, ...]) -> str:
    """``event:goal`` filters pick the events that are conversions of the goals named (``is``),
    or of the goals whose name contains a value (``contains``)."""
    if item.operator in ("contains", "not_contains"):
        chosen = [g for g in goals if any(v in g.display_name for v in item.values)]
    else:
        chosen = [g for g in goals if g.display_name in item.values]
    clause = " OR ".join(_goal_match(g, params) for g in chosen) or "false"
    return f"NOT ({clause})" if item.operator in NEGATED else f"({clause})"


def goal_join(params: SqlParams, goals: tuple[Goal, ...]) -> str:
    """A join giving each event one row per goal it converts (``goal_name``): an event can
    match several page goals."""
    if not goals:
        return " JOIN (SELECT CAST(NULL AS VARCHAR) AS goal_name WHERE false) gl ON true"
    cases = " OR ".join(
        f"(gl.goal_name = {params.add(g.display_name)} AND {_goal_match(g, params)})" for g in goals
    )
    names = ", ".join(f"({params.add(g.display_name)})" for g in goals)
    return f" JOIN (VALUES {names}) gl(goal_name) ON {cases}"


def _glob(pattern: str) -> str:
    """Plausible's globs as a regular expression: ``**`` any text, ``*`` any but "/"."""
    parts = re.split(r"(\*\*|\*)", pattern)
    return "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts
    )


def sessions_sql(raw_where: str, attributes: set[str] | None = None) -> str:
    """CTEs ending in ``sessioned``: the events that match ``raw_where``, each with its
    session number ``sn`` and its session's attributes (``bounce``, ``duration``, ``s_*``;
    only the ``s_*`` named in ``attributes`` when given: a smaller query plans faster), and
    ``sessions``: one row per session, ``day, visitor, sn`` and those attributes."""
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
sessions AS (
    SELECT day, visitor, sn,
        count(*) FILTER (WHERE name = 'pageview') <= 1
            AND count(*) FILTER (WHERE name NOT IN ('pageview', 'engagement')
                                 AND interactive) = 0 AS bounce,
        epoch(max(ts) - min(ts)) AS duration{pages}{first_values}
    FROM ev GROUP BY day, visitor, sn
),
sessioned AS (
    SELECT ev.* EXCLUDE (rn, starts), sessions.* EXCLUDE (day, visitor, sn)
    FROM ev JOIN sessions USING (day, visitor, sn)
)"""  # noqa: S608 - only fixed fragments


# Figures a visitor's sessions add up to however they are cut: counted per visitor and day.
SESSION_FREE_METRICS = frozenset({"visitors", "pageviews", "events", PEAK_VISITORS})


def _unsessioned_sql(raw_where: str) -> str:
    """``sessioned`` for a query that needs no session (``SESSION_FREE_METRICS``, no visit
    property): each visitor's day as one session. Sessions sort the day's events by visitor
    (three windows over every column, then a join): over a busy day's raw events, before its
    first rollup, a count of events and page views took DuckDB's whole pool and spilled
    36 MiB."""
    return f"""
sessioned AS (
    SELECT *, 0 AS sn, NULL::BOOLEAN AS bounce, NULL::DOUBLE AS duration
    FROM events WHERE {raw_where}
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
    simple = leaves(query.filters)
    used = set(query.dimensions) | {f.dimension for f in simple}
    goals = query.goals or ()
    raw_where = ["site_id = $site", "day BETWEEN $raw_from AND $raw_to"]
    if skip_rolled:
        raw_where.append(f"day NOT IN ({ANSWERING_DAYS})")
    if query.since is not None:
        raw_where.append(f"ts >= {params.add(query.since)}")
    # A page's figures are its page views' (as in Plausible), unless the query picks custom
    # events by name, goal or property: then they are counted on the pages they happened on.
    picks_events = any(
        f.dimension in ("event:name", GOAL) or f.dimension.startswith(PROPS_PREFIX) for f in simple
    )
    counted = (
        ["name IN ('pageview', 'engagement')"]
        if used & _PAGE_PROPERTIES and not picks_events and GOAL not in query.dimensions
        else []
    )
    conditions = [filter_sql(f, params, goals) for f in query.filters]
    if {"visit:entry_page", "visit:exit_page"} & set(query.dimensions):
        conditions.append("s_entry_page IS NOT NULL")  # sessions without a page view
    keep = " AND ".join([*counted, *conditions]) or "true"
    groups = []
    for dimension in query.dimensions:
        if dimension in TIME_DIMENSIONS:
            groups.append(TIME_DIMENSIONS[dimension])
        elif dimension in VISIT_DIMENSIONS:
            groups.append(VISIT_DIMENSIONS[dimension])
        elif dimension == GOAL:
            groups.append("goal_name")
        elif dimension == PROP_NAMES:
            groups.append("prop_name")
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
        for d in [*query.dimensions, *(f.dimension for f in simple)]
        if d in VISIT_DIMENSIONS
    }
    if {"visit:entry_page", "visit:exit_page"} & set(query.dimensions):
        needed.add("s_entry_page")
    if sessions:
        prefix = ""
    elif not needed and set(query.metrics) <= SESSION_FREE_METRICS:
        prefix = _unsessioned_sql(" AND ".join(raw_where)) + ","
    else:
        prefix = sessions_sql(" AND ".join(raw_where), needed) + ","
    carried = "".join(f", any_value({column}) AS {column}" for column in carry)
    joined = goal_join(params, goals) if GOAL in query.dimensions else ""
    if PROP_NAMES in query.dimensions:
        # An event once per name it carries; events without custom properties drop out.
        joined += " CROSS JOIN unnest(map_keys(props)) AS pn(prop_name)"
    return f"""{prefix}
fe AS (
    SELECT * FROM {sessions or "sessioned"}{joined} WHERE {keep}
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
