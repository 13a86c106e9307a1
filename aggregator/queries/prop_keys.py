"""The custom property names a site's events carry in a range: the choices of the dashboard's
properties panel, most visitors first. Rolled-up days read the rollup of property names (from
rollup version 6 on), the other days raw events, so the names outlive raw retention as far as
P7 lets them: past it, a name of fewer than k visitors is folded with the day's other small
rows (``aggregator/retention.py``) and is no longer listed."""

from __future__ import annotations

from datetime import date

from aggregator.queries.rollup_plan import ANSWERING_DAYS, raw_span, spec_name, version_of
from aggregator.queries.vocabulary import PROP_NAMES
from aggregator.store import Store

MAX_KEYS = 100  # a panel's menu, not an inventory: senders cannot make it long

# Per day and name, what the rollup of names holds: visitors with an event (not engagement) that
# carries the name, and those events; raw events count the same, without building sessions.
_PROP_KEYS = f"""
SELECT key, sum(visitors) AS visitors, sum(events) AS events FROM (
    SELECT g0 AS key, visitors, events FROM rollups
    WHERE site_id = $site AND spec = $spec AND day BETWEEN $from AND $to
      AND day IN ({ANSWERING_DAYS})
      -- retention's "(fewer than k)" row of a purged day is no name
      AND NOT (regexp_full_match(g0, '\\(fewer than [0-9]+\\)') AND day IN
          (SELECT day FROM rolled_days WHERE site_id = $site AND raw_purged))
    UNION ALL
    SELECT key, count(DISTINCT visitor) FILTER (WHERE counted), count(*) FILTER (WHERE counted)
    FROM (
        SELECT day, visitor, name <> 'engagement' AS counted, unnest(map_keys(props)) AS key
        FROM events
        WHERE site_id = $site AND day BETWEEN $raw_from AND $raw_to AND cardinality(props) > 0
          AND day NOT IN ({ANSWERING_DAYS})
    ) GROUP BY day, key
) GROUP BY key ORDER BY visitors DESC, events DESC, key LIMIT $most
"""  # noqa: S608 - fixed fragments; every value is a bound parameter


def prop_keys(store: Store, site_id: int, date_from: date, date_to: date) -> list[str]:
    spec = (PROP_NAMES,)
    params = {"site": site_id, "from": date_from, "to": date_to, "rollup_version": version_of(spec)}
    with store.read() as cur:
        # Days the rollup answers, and days past retention rolled up before it (nothing holds
        # their names any more); the site's first final day (no events before it) last.
        days = cur.execute(
            "SELECT day, raw_purged OR ((provisional OR NOT stale)"
            "   AND rollup_version >= $rollup_version) FROM rolled_days"
            " WHERE site_id = $site AND day BETWEEN $from AND $to"
            " UNION ALL SELECT min(day), NULL FROM rolled_days"
            "   WHERE site_id = $site AND NOT provisional",
            params,
        ).fetchall()
        done = {day for day, is_done in days if is_done}
        first = next(day for day, is_done in days if is_done is None)
        # Constant bounds, so that DuckDB skips the blocks of rolled-up days (a subquery alone
        # read the props of every event in the range: 27 ms over 30 days at 10M events).
        raw_from, raw_to = raw_span(date_from, date_to, first, done)
        rows = cur.execute(
            _PROP_KEYS,
            {
                **params,
                "spec": spec_name(spec),
                "raw_from": raw_from,
                "raw_to": raw_to,
                "most": MAX_KEYS,
            },
        ).fetchall()
    return [row[0] for row in rows]


def first_day(store: Store, site_id: int) -> date | None:
    """The site's earliest counted day, raw or rolled up (for "all time")."""
    with store.read() as cur:
        row = cur.execute(
            "SELECT least((SELECT min(day) FROM events WHERE site_id = $site),"
            " (SELECT min(day) FROM rollups WHERE site_id = $site))",
            {"site": site_id},
        ).fetchone()
    return row[0] if row else None
