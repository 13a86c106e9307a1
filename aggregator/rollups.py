"""Daily rollups: each closed local day of each site, counted once per rollup in ``ROLLUP_SPECS``.

A day is rolled up once it is over in the site's time zone (plus a grace period for the spool
to drain), from the same per-day SQL the query engine runs on raw events, so a range reads the
same numbers from rollups as from raw events. Rolling a day up again replaces its rows: the
job is safe to run twice, and late events (the loader drops the day's ``rolled_days`` row) are
picked up by the next pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aggregator.queries import (
    BASE_COLUMNS,
    ROLLUP_SPECS,
    Query,
    SqlParams,
    raw_per_day,
    sessions_sql,
    spec_name,
)
from aggregator.sites import local_dates
from aggregator.store import Store
from collector.clock import Clock

log = logging.getLogger("hush.rollups")

GRACE = timedelta(minutes=5)  # after local midnight, for the last segments of the day to load


@dataclass(frozen=True, slots=True)
class RollupReport:
    days: int
    rows: int


def rollup_day(store: Store, site_id: int, day: date) -> int:
    """(Re)build every rollup of one site's local day; return the rows written.

    The day's sessions are computed once into a temporary table; every rollup is then one
    aggregation over it (the query engine's own per-day SQL, so the numbers are the same)."""
    rows = 0
    day_params = {"site": site_id, "raw_from": day, "raw_to": day}
    with store.write() as cur:
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE day_sessions AS WITH"  # noqa: S608
            + sessions_sql("site_id = $site AND day BETWEEN $raw_from AND $raw_to")
            + " SELECT * FROM sessioned",
            day_params,
        )
        cur.execute(
            "DELETE FROM rollups WHERE site_id = $site AND day = $day",
            {"site": site_id, "day": day},
        )
        for spec in ROLLUP_SPECS:
            query = Query(site_id, day, day, dimensions=spec)
            params = SqlParams(**day_params)
            params.values["spec"] = spec_name(spec)
            groups = [f"CAST(g{i} AS VARCHAR)" for i in range(len(spec))]
            groups += ["NULL"] * (2 - len(spec))
            sql = (
                f"INSERT INTO rollups WITH {raw_per_day(query, params, sessions='day_sessions')} "  # noqa: S608
                f"SELECT $site, day, $spec, {', '.join(groups)}, {', '.join(BASE_COLUMNS)}"
                " FROM per_day_raw"
            )
            params.values.pop("raw_from")
            params.values.pop("raw_to")
            written = cur.execute(sql, params.values).fetchall()
            rows += int(written[0][0]) if written else 0
        cur.execute("DROP TABLE day_sessions")
        cur.execute(
            "INSERT OR REPLACE INTO rolled_days (site_id, day, rolled_at, raw_purged)"
            " VALUES ($site, $day, $now, false)",
            {"site": site_id, "day": day, "now": datetime.now(UTC).replace(tzinfo=None)},
        )
    return rows


def days_to_roll_up(store: Store, now: float) -> list[tuple[int, date]]:
    """Closed local days with raw events that are not rolled up (or changed since)."""
    with store.read() as cur:
        pending = []
        for site_id, before in _closed_before(cur, now):
            rows = cur.execute(
                "SELECT DISTINCT day FROM events WHERE site_id = $site AND day < $before"
                " AND day NOT IN (SELECT day FROM rolled_days WHERE site_id = $site)"
                " ORDER BY day",
                {"site": site_id, "before": before},
            ).fetchall()
            pending.extend((site_id, row[0]) for row in rows)
    return pending


def roll_up_pending(store: Store, clock: Clock) -> RollupReport:
    days = rows = 0
    for site_id, day in days_to_roll_up(store, clock.now()):
        rows += rollup_day(store, site_id, day)
        days += 1
    _mark_empty_days(store, clock.now())
    if days:
        log.info("rolled up %d site-days into %d rows", days, rows)
    return RollupReport(days, rows)


def _mark_empty_days(store: Store, now: float) -> None:
    """Closed days without events after a site's first rolled-up day count as rolled up (with
    nothing in them), so queries never look for their raw events."""
    with store.write() as cur:
        for site_id, before in _closed_before(cur, now):
            cur.execute(
                "INSERT OR IGNORE INTO rolled_days (site_id, day, rolled_at, raw_purged)"
                " SELECT $site, CAST(d AS DATE), $now, false FROM generate_series("
                "   (SELECT min(day) FROM rolled_days WHERE site_id = $site),"
                "   CAST($before AS DATE) - 1, INTERVAL 1 DAY) AS t(d)"
                " WHERE EXISTS (SELECT 1 FROM rolled_days WHERE site_id = $site)"
                " AND NOT EXISTS (SELECT 1 FROM events"
                "   WHERE site_id = $site AND day = CAST(d AS DATE))",
                {"site": site_id, "before": before, "now": datetime.now(UTC).replace(tzinfo=None)},
            )


def _closed_before(cur: Any, now: float) -> list[tuple[int, date]]:
    """Each site's id and its first local day that is not closed yet (grace included)."""
    return [
        (site_id, day) for site_id, _domain, day in local_dates(cur, now - GRACE.total_seconds())
    ]
