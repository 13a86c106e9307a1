"""Daily rollups: each local day of each site, counted once per rollup in ``ROLLUP_SPECS``.

A day is rolled up for good once it is over in the site's time zone (plus a grace period for
the spool to drain), from the same per-day SQL the query engine runs on raw events, so a range
reads the same numbers from rollups as from raw events. Rolling a day up again replaces its
rows: the job is safe to run twice, and late events (the loader marks the day's ``rolled_days``
row stale, and queries read the day raw meanwhile) are picked up by the next pass.

A day still open (today) gets a *provisional* rollup, rebuilt from its raw events every
``HUSH_LIVE_ROLLUP_INTERVAL`` seconds while events arrive, so that a dashboard never computes
sessions over a busy day's raw events on each call: today's figures lag by up to the interval.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aggregator.clock import Clock
from aggregator.goals import goals_of
from aggregator.queries import (
    BASE_COLUMNS,
    PER_DAY_COLUMNS,
    ROLLUP_SPECS,
    ROLLUP_VERSION,
    VISIT_DIMENSIONS,
    Query,
    SqlParams,
    raw_per_day,
    sessions_sql,
    spec_name,
)
from aggregator.sites import local_dates
from aggregator.store import Store

log = logging.getLogger("hush.rollups")

GRACE = timedelta(minutes=5)  # after local midnight, for the last segments of the day to load

# Every rollup counts the sessions of one base: its event property (or hour), or none. The base's
# per-session rows (with every session attribute) are computed once a day; each rollup is then
# one small aggregation of them (the query engine's per-day columns, so the numbers agree).
_SESSION_ATTRIBUTES = (*VISIT_DIMENSIONS.values(),)
_BASES = sorted({tuple(d for d in spec if not d.startswith("visit:")) for spec in ROLLUP_SPECS})


@dataclass(frozen=True, slots=True)
class RollupReport:
    days: int
    rows: int


def rollup_day(store: Store, site_id: int, day: date, *, provisional: bool = False) -> int:
    """(Re)build every rollup of one site's local day; return the rows written.

    ``provisional`` marks the rollup of a day that is not over yet (rebuilt as events arrive)."""
    rows = 0
    day_params = {"site": site_id, "raw_from": day, "raw_to": day}
    with store.write() as cur:
        [(timezone,)] = cur.execute(
            "SELECT timezone FROM sites WHERE id = $site", {"site": site_id}
        ).fetchall()
        local_hours = {"tz": timezone}
        goals = tuple(goals_of(cur, site_id))  # the rollup event:goal counts today's goals
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE day_sessions AS WITH"  # noqa: S608
            + sessions_sql("site_id = $site AND day BETWEEN $raw_from AND $raw_to")
            + " SELECT * FROM sessioned",
            day_params,
        )
        attributes = ", ".join(f"any_value({a}) AS {a}" for a in _SESSION_ATTRIBUTES)
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE day_visits AS"  # noqa: S608
            f" SELECT day, visitor, sn, {attributes} FROM day_sessions GROUP BY day, visitor, sn"
        )
        for n, base in enumerate(_BASES):
            # The day's sessions are all there is: only local hours need a parameter.
            params = SqlParams(**(local_hours if "time:hour" in base else {}))
            cte = raw_per_day(
                Query(site_id, day, day, dimensions=base, goals=goals),
                params,
                sessions="day_sessions",
            )
            cur.execute(
                f"CREATE OR REPLACE TEMP TABLE base_{n} AS WITH {cte}"  # noqa: S608
                " SELECT * FROM per_session JOIN day_visits USING (day, visitor, sn)",
                params.values,
            )
        cur.execute(
            "DELETE FROM rollups WHERE site_id = $site AND day = $day",
            {"site": site_id, "day": day},
        )
        # Every rollup of the day into one temporary table, then into rollups at once: on a
        # lake each INSERT writes files of its own (67 a day, one INSERT per rollup, made the
        # catalog and each node's first read of the rollups slow).
        cur.execute("CREATE OR REPLACE TEMP TABLE day_rollups AS SELECT * FROM rollups LIMIT 0")
        for spec in ROLLUP_SPECS:
            rows += _insert_rollup(cur, site_id, spec)
        cur.execute("INSERT INTO rollups SELECT * FROM day_rollups")
        cur.execute("DROP TABLE day_rollups")
        cur.execute("DROP TABLE day_sessions")
        cur.execute("DROP TABLE day_visits")
        for n in range(len(_BASES)):
            cur.execute(f"DROP TABLE base_{n}")
        # Replaced by DELETE + INSERT (a lake has no keys for INSERT OR REPLACE).
        cur.execute(
            "DELETE FROM rolled_days WHERE site_id = $site AND day = $day",
            {"site": site_id, "day": day},
        )
        cur.execute(
            "INSERT INTO rolled_days"
            " (site_id, day, rolled_at, raw_purged, provisional, stale, rollup_version)"
            " VALUES ($site, $day, $now, false, $provisional, false, $version)",
            {
                "site": site_id,
                "day": day,
                "now": datetime.now(UTC).replace(tzinfo=None),
                "provisional": provisional,
                "version": ROLLUP_VERSION,
            },
        )
    return rows


def _insert_rollup(cur: Any, site_id: int, spec: tuple[str, ...]) -> int:
    """One rollup of the day, from the per-session rows of its base."""
    base = tuple(d for d in spec if not d.startswith("visit:"))
    # The base's event properties (or hour) are its g0, g1; a visit property is a session
    # attribute.
    groups = [VISIT_DIMENSIONS.get(d) or f"g{base.index(d)}" for d in spec]
    keep = "true"
    if {"visit:entry_page", "visit:exit_page"} & set(spec):
        keep = "s_entry_page IS NOT NULL"  # sessions without a page view have no entry page
    values = [f"CAST({g} AS VARCHAR)" for g in groups] + ["NULL"] * (2 - len(groups))
    written = cur.execute(
        f"INSERT INTO day_rollups (site_id, day, spec, g0, g1, {', '.join(BASE_COLUMNS)})"  # noqa: S608
        f" SELECT $site, day, $spec, {', '.join(values)}, {PER_DAY_COLUMNS}"
        f" FROM base_{_BASES.index(base)} WHERE {keep}"
        f" GROUP BY {', '.join(['day', *groups])}",
        {"site": site_id, "spec": spec_name(spec)},
    ).fetchall()
    return int(written[0][0]) if written else 0


def days_to_roll_up(store: Store, now: float) -> list[tuple[int, date]]:
    """Closed local days with raw events and no current final rollup (none, stale, or of an
    older rollup version while the raw events are kept)."""
    return _days_with_events(
        store,
        now,
        "day < $before AND day NOT IN (SELECT day FROM rolled_days"
        "  WHERE site_id = $site AND NOT provisional AND NOT stale"
        "  AND (rollup_version >= $version OR raw_purged))",
        version=ROLLUP_VERSION,
    )


def open_days_to_refresh(store: Store, now: float) -> list[tuple[int, date]]:
    """Open local days with raw events whose provisional rollup is missing, stale or of an
    older rollup version."""
    return _days_with_events(
        store,
        now,
        "day >= $before AND day NOT IN (SELECT day FROM rolled_days"
        "  WHERE site_id = $site AND NOT stale AND rollup_version >= $version)",
        version=ROLLUP_VERSION,
    )


def _days_with_events(
    store: Store, now: float, which: str, **params: Any
) -> list[tuple[int, date]]:
    """(site, day) of each site's days with events that meet ``which`` (a fixed condition on
    ``$site``, ``$before``, the site's first day not closed yet, and ``params``), in order."""
    with store.read() as cur:
        pending: list[tuple[int, date]] = []
        for site_id, before in _closed_before(cur, now):
            rows = cur.execute(
                f"SELECT DISTINCT day FROM events WHERE site_id = $site AND {which} ORDER BY day",  # noqa: S608
                {"site": site_id, "before": before, **params},
            ).fetchall()
            pending.extend((site_id, row[0]) for row in rows)
    return pending


def roll_up_pending(store: Store, clock: Clock) -> RollupReport:
    """Roll up every closed day for good (replacing its provisional rollup, if any)."""
    days = rows = 0
    for site_id, day in days_to_roll_up(store, clock.now()):
        rows += rollup_day(store, site_id, day)
        days += 1
    _mark_empty_days(store, clock.now())
    store.rollups_changed()
    if days:
        log.info("rolled up %d site-days into %d rows", days, rows)
    return RollupReport(days, rows)


def refresh_open_days(store: Store, clock: Clock) -> RollupReport:
    """Rebuild the provisional rollups of open days that received events since the last one."""
    days = rows = 0
    for site_id, day in open_days_to_refresh(store, clock.now()):
        rows += rollup_day(store, site_id, day, provisional=True)
        days += 1
    if days:
        store.rollups_changed()
    return RollupReport(days, rows)


def drop_provisional(store: Store) -> None:
    """Forget every provisional rollup (live rollups turned off: open days are read raw)."""
    with store.write() as cur:
        cur.execute(
            "DELETE FROM rollups WHERE (site_id, day) IN"
            " (SELECT (site_id, day) FROM rolled_days WHERE provisional)"
        )
        cur.execute("DELETE FROM rolled_days WHERE provisional")
    store.rollups_changed()


def mark_changed(
    cur: Any, changed: str, params: dict[str, Any] | None = None, *, lake: bool = False
) -> None:
    """Days that received events after they were rolled up turn stale: a closed day is read
    raw until the next pass rolls it up again, an open day's provisional rollup keeps answering
    until its rebuild. ``changed`` is a fixed SQL query of (site_id, day) pairs; ``params`` are
    its bound values.

    On a ``lake`` the days are appended to ``changed_days`` instead (two loaders updating
    rolled_days at once would conflict), and the maintenance leader folds them in."""
    if lake:
        cur.execute(
            "INSERT INTO changed_days SELECT DISTINCT site_id, day, now()::TIMESTAMP"  # noqa: S608
            f" FROM ({changed})",
            params,
        )
        return
    cur.execute(
        "UPDATE rolled_days SET stale = true WHERE NOT raw_purged AND (site_id, day) IN"  # noqa: S608
        f" (SELECT (site_id, day) FROM ({changed}))",
        params,
    )


def fold_changed_days(store: Store) -> int:
    """A lake's ``changed_days`` into rolled_days' ``stale`` (what ``mark_changed`` does at
    once in the embedded file); return the days folded. Run by the maintenance leader before
    it rolls up, alone among the writers (the rows it deletes are the loaders')."""
    if not store.lake:
        return 0
    with store.write(exclusive=True) as cur:
        row = cur.execute("SELECT count(*) FROM changed_days").fetchone()
        if not row or not row[0]:
            return 0
        cur.execute(
            "UPDATE rolled_days SET stale = true WHERE NOT raw_purged AND (site_id, day) IN"
            " (SELECT (site_id, day) FROM changed_days)"
        )
        cur.execute("DELETE FROM changed_days")
    store.rollups_changed()
    return int(row[0])


def reroll_kept_days(store: Store, site_id: int) -> None:
    """After the site's goals change: every day whose raw events are kept is rolled up again
    (read raw meanwhile), so a goal added now is counted on all of them. Open days lose their
    provisional rollup at once: it would keep answering, without the goal, until its rebuild."""
    with store.write() as cur:
        mark_changed(
            cur,
            "SELECT site_id, day FROM rolled_days WHERE site_id = $site",
            {"site": site_id},
            lake=store.lake,
        )
        cur.execute(
            "DELETE FROM rollups WHERE site_id = $site AND day IN"
            " (SELECT day FROM rolled_days WHERE site_id = $site AND provisional)",
            {"site": site_id},
        )
        cur.execute(
            "DELETE FROM rolled_days WHERE site_id = $site AND provisional", {"site": site_id}
        )
    store.rollups_changed()


def _mark_empty_days(store: Store, now: float) -> None:
    """Closed days without events after a site's first rolled-up day count as rolled up (with
    nothing in them), so queries never look for their raw events."""
    with store.write() as cur:
        for site_id, before in _closed_before(cur, now):
            cur.execute(
                "INSERT INTO rolled_days"
                " (site_id, day, rolled_at, raw_purged, rollup_version)"
                " SELECT $site, CAST(d AS DATE), $now, false, $version FROM generate_series("
                "   (SELECT min(day) FROM rolled_days WHERE site_id = $site AND NOT provisional),"
                "   CAST($before AS DATE) - 1, INTERVAL 1 DAY) AS t(d)"
                " WHERE EXISTS (SELECT 1 FROM rolled_days WHERE site_id = $site)"
                " AND NOT EXISTS (SELECT 1 FROM rolled_days"
                "   WHERE site_id = $site AND day = CAST(d AS DATE))"
                " AND NOT EXISTS (SELECT 1 FROM events"
                "   WHERE site_id = $site AND day = CAST(d AS DATE))",
                {
                    "site": site_id,
                    "before": before,
                    "now": datetime.now(UTC).replace(tzinfo=None),
                    "version": ROLLUP_VERSION,
                },
            )


def _closed_before(cur: Any, now: float) -> list[tuple[int, date]]:
    """Each site's id and its first local day that is not closed yet (grace included)."""
    return [
        (site_id, day) for site_id, _domain, day in local_dates(cur, now - GRACE.total_seconds())
    ]
