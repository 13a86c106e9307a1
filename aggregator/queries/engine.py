"""Running a query: its SQL over rollups and raw events, and its rows as numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from aggregator.goals import Goal, goals_of
from aggregator.queries.raw_sql import SqlParams, raw_per_day, stored_value
from aggregator.queries.rollup_plan import ANSWERING_DAYS, RollupPlan, plan_rollup
from aggregator.queries.vocabulary import (
    BASE_COLUMNS,
    COUNT_METRICS,
    DAY_DIMENSIONS,
    DERIVED_METRICS,
    GOAL,
    INTEGER_METRICS,
    INTERNAL_METRICS,
    METRICS,
    TIME_DIMENSIONS,
    AnyFilter,
    Filter,
    FilterGroup,
    Query,
    QueryError,
    check,
    leaves,
)
from aggregator.store import Store


def run_query(
    store: Store, query: Query, *, use_rollups: bool = True, timeout: float | None = None
) -> list[dict[str, Any]]:
    """Rows of ``{dimension: value, metric: number}``: groups ordered by the first metric,
    descending (time groups in time order); without dimensions, one row of totals.
    ``use_rollups=False`` reads raw events only (to check rollups against them). With
    ``timeout`` (seconds) DuckDB stops a query that runs longer (``QueryTimeout``).

    Two figures take a second query, as Plausible makes them: ``conversion_rate`` (the
    visitors of the same filtered set without its goal filter are the divisor) and
    ``bounce_rate`` under an ``event:page`` filter or by ``event:page`` (the visits that
    entered on the page)."""
    check(query)
    with store.read(timeout=timeout) as cur:
        if query.goals is None and uses_goals(query):
            query = replace(query, goals=tuple(goals_of(cur, query.site_id)))
        check_goals_counted(query)
        derived = "conversion_rate" in query.metrics
        by_page = "bounce_rate" in query.metrics and _on_pages(query)
        if not derived and not by_page:
            return _run_sql(cur, query, use_rollups)
        sql_metrics = tuple(m for m in query.metrics if m not in DERIVED_METRICS)
        if derived and "visitors" not in sql_metrics:
            sql_metrics = (*sql_metrics, "visitors")
        main = replace(query, metrics=sql_metrics, limit=None, offset=0)
        rows = _run_sql(cur, main, use_rollups)
        if by_page:
            _entry_bounce_rates(cur, main, rows, use_rollups)
        if derived:
            _conversion_rates(cur, main, rows, use_rollups)
    names = [*query.dimensions, *query.metrics]
    rows = [{name: row[name] for name in names} for row in rows]
    if query.metrics[0] in DERIVED_METRICS and not set(query.dimensions) & set(TIME_DIMENSIONS):
        rows.sort(key=lambda row: -(row[query.metrics[0]] or 0))
    if query.limit is not None:
        rows = rows[query.offset : query.offset + query.limit]
    return rows


def uses_goals(query: Query) -> bool:
    return GOAL in query.dimensions or any(f.dimension == GOAL for f in leaves(query.filters))


def goals_asked(query: Query) -> list[Goal]:
    """The goals a query counts: every goal by ``event:goal``, else those its filters name."""
    goals = query.goals or ()
    if GOAL in query.dimensions:
        return list(goals)
    named = {v for f in leaves(query.filters) if f.dimension == GOAL for v in f.values}
    return [g for g in goals if g.display_name in named]


def check_goals_counted(query: Query) -> None:
    """A goal added after some days lost their raw events is not counted on those days: a
    range reaching them answers an error, never a number that leaves them out."""
    for goal in goals_asked(query):
        if goal.counted_from is not None and query.date_from < goal.counted_from:
            raise QueryError(
                f"the goal `{goal.display_name}` is counted from {goal.counted_from} (it was"
                " added after the raw events of earlier days were deleted); ask for a range"
                f" starting on {goal.counted_from} or later"
            )


def _on_pages(query: Query) -> bool:
    return "event:page" in query.dimensions or any(
        f.dimension == "event:page" for f in leaves(query.filters)
    )


def _as_entry_page(item: AnyFilter) -> AnyFilter:
    if isinstance(item, FilterGroup):
        return FilterGroup(item.operator, tuple(_as_entry_page(f) for f in item.filters))
    if item.dimension == "event:page":
        return Filter(item.operator, "visit:entry_page", item.values)
    return item


def _entry_bounce_rates(
    cur: Any, query: Query, rows: list[dict[str, Any]], use_rollups: bool
) -> None:
    """Bounce rate on pages counts the visits that entered on them (Plausible: "event:page
    filter is interpreted as entry_page filter only for bounce_rate")."""
    dimensions = tuple("visit:entry_page" if d == "event:page" else d for d in query.dimensions)
    entries = replace(
        query,
        metrics=("bounce_rate",),
        dimensions=dimensions,
        filters=tuple(_as_entry_page(f) for f in query.filters),
    )
    rates = {
        tuple(row[d] for d in dimensions): row["bounce_rate"]
        for row in _run_sql(cur, entries, use_rollups)
    }
    for row in rows:
        rate = rates.get(tuple(row[d] for d in query.dimensions))
        row["bounce_rate"] = rate if rate is not None else (0 if row.get("visits") else None)


def _conversion_rates(
    cur: Any, query: Query, rows: list[dict[str, Any]], use_rollups: bool
) -> None:
    """Unique conversions / visitors of the same filtered set without the goal filter, in %."""
    if not uses_goals(query):
        raise QueryError("conversion_rate needs an event:goal filter or dimension")
    filters = tuple(f for f in query.filters if not (isinstance(f, Filter) and f.dimension == GOAL))
    if any(f.dimension == GOAL for f in leaves(filters)):
        raise QueryError("conversion_rate needs its event:goal filters outside and/or/not groups")
    dimensions = tuple(d for d in query.dimensions if d != GOAL)
    total = replace(query, metrics=("visitors",), dimensions=dimensions, filters=filters)
    totals = {
        tuple(row[d] for d in dimensions): row["visitors"]
        for row in _run_sql(cur, total, use_rollups)
    }
    for row in rows:
        visitors = totals.get(tuple(row[d] for d in dimensions)) or 0
        row["conversion_rate"] = round(100 * row["visitors"] / visitors, 2) if visitors else 0.0


def _run_sql(cur: Any, query: Query, use_rollups: bool) -> list[dict[str, Any]]:
    plan = plan_rollup(cur, query) if use_rollups else None
    sql, params = build_sql(query, rollup=plan)
    fetched = cur.execute(sql, params).fetchall()
    names = [*query.dimensions, *query.metrics]
    results = []
    for row in fetched:
        record = dict(zip(names, row, strict=True))
        for metric in query.metrics:
            value = record[metric]
            if value is not None:
                record[metric] = int(value) if metric in INTEGER_METRICS else float(value)
            elif metric in COUNT_METRICS:
                record[metric] = 0
        results.append(record)
    return results


def realtime_visitors(
    store: Store, site_id: int, since: datetime, *, timeout: float | None = None
) -> int:
    """Distinct visitors with an event at or after ``since`` (UTC)."""
    with store.read(timeout=timeout) as cur:
        row = cur.execute(
            "SELECT count(DISTINCT visitor) FROM events"
            " WHERE site_id = $site AND ts >= $since AND name <> 'engagement'",
            {"site": site_id, "since": since},
        ).fetchone()
    return int(row[0]) if row else 0


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
    if "time:hour" in query.dimensions or "time:minute" in query.dimensions:
        params.values["tz"] = query.timezone
    aliases = [f"g{i}" for i in range(len(query.dimensions))]
    rolled = ""
    if rollup is not None:
        params.values["spec"] = rollup.spec
        params.values["rollup_version"] = rollup.version
        groups = []
        for dimension in query.dimensions:
            if dimension in DAY_DIMENSIONS:
                groups.append(TIME_DIMENSIONS[dimension])
            elif dimension == "time:hour":
                groups.append(f"CAST(r.g{rollup.dimensions.index(dimension)} AS TIMESTAMP)")
            else:
                groups.append(f"g{rollup.dimensions.index(dimension)}")
        wheres = [
            "r.site_id = $site",
            "r.spec = $spec",
            "r.day BETWEEN $date_from AND $date_to",
            f"r.day IN ({ANSWERING_DAYS})",
        ]
        for item in query.filters:
            assert isinstance(item, Filter)  # the plan reads rollups for simple filters only
            column = f"g{rollup.dimensions.index(item.dimension)}"
            value = stored_value(item.dimension, item.values[0])
            wheres.append(f"r.{column} = {params.add(value)}")
        if GOAL in rollup.dimensions:
            # Rows of goals removed since stay in the rollups: only today's goals count.
            names = [params.add(g.display_name) for g in query.goals or ()]
            column = f"g{rollup.dimensions.index(GOAL)}"
            wheres.append(f"r.{column} IN ({', '.join(names)})" if names else "false")
        select = ", ".join(
            [f"{g} AS {a}" for g, a in zip(groups, aliases, strict=True)]
            + [f"r.{c} AS {c}" for c in BASE_COLUMNS]
        )
        rolled = (
            f"SELECT r.day AS day, {select} FROM rollups r"  # noqa: S608
            f" WHERE {' AND '.join(wheres)} UNION ALL BY NAME "
        )
    expressions = {**METRICS, **INTERNAL_METRICS}
    outer = ", ".join(f"{expressions[m]} AS {m}" for m in query.metrics)
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
