"""The custom property names a site's events carry in a range: the choices of the dashboard's
properties panel. Custom properties live in raw events only (no rollup holds them), so this
looks within raw retention; each name is given with how many events carry it."""

from __future__ import annotations

from datetime import date

from aggregator.store import Store

MAX_KEYS = 100  # a panel's menu, not an inventory: senders cannot make it long


def prop_keys(store: Store, site_id: int, date_from: date, date_to: date) -> list[str]:
    with store.read() as cur:
        rows = cur.execute(
            "SELECT key, count(*) AS n FROM ("
            "  SELECT unnest(map_keys(props)) AS key FROM events"
            "  WHERE site_id = $site AND day BETWEEN $from AND $to AND cardinality(props) > 0"
            ") GROUP BY key ORDER BY n DESC, key LIMIT $most",
            {"site": site_id, "from": date_from, "to": date_to, "most": MAX_KEYS},
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
