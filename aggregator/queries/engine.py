"""Running a query: its SQL over rollups and raw events, and its rows as numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aggregator.queries.raw_sql import SqlParams, raw_per_day
from aggregator.queries.rollup_plan import ANSWERING_DAYS, RollupPlan, plan_rollup
from aggregator.queries.vocabulary import (
    BASE_COLUMNS,
    COUNT_METRICS,
    DAY_DIMENSIONS,
    INTEGER_METRICS,
    INTERNAL_METRICS,
    METRICS,
    TIME_DIMENSIONS,
    Query,
    check,
)
from aggregator.store import Store


def run_query(
    store: Store, query: Query, *, use_rollups: bool = True, timeout: float | None = None
) -> list[dict[str, Any]]:
    """Rows of ``{dimension: value, metric: number}``: groups ordered by the first metric,
    descending (time groups in time order); without dimensions, one row of totals.
    ``use_rollups=False`` reads raw events only (to check rollups against them). With
    ``timeout`` (seconds) DuckDB stops a query that runs longer (``QueryTimeout``)."""
    check(query)
    with store.read(timeout=timeout) as cur:
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
