"""The SQL that makes a chunk's events and intake counts, and ``write_chunk``, which runs it."""

from __future__ import annotations

import math
import re
from typing import Any

import pyarrow as pa

from aggregator.store import Store

ROWS_PER_VISITOR = 4.5  # measured mean; visitors are drawn with a margin above quota / this


def write_chunk(
    store: Store, rows: list[tuple[Any, ...]], tables: dict[str, pa.Table], params: dict[str, Any]
) -> int:
    """Generate and insert one chunk in one transaction; the number of events inserted."""
    margin = 1.25
    with store.write() as cur:
        cur.execute(_RANDOM_MACRO)
        for name, table in tables.items():
            cur.register(name, table)
        while True:
            cur.register("demo_plan", _plan_table(rows, margin))
            cur.execute(_SESSIONS)
            if cur.execute(_SHORT).fetchall() == [(0,)]:
                break
            margin *= 2  # rare: not enough visitors were drawn to fill a quota
        cur.execute(_INSERT_EVENTS, _only(params, _INSERT_EVENTS))
        cur.execute(_ACCEPTED)
        cur.execute(_INSERT_COUNTS, _only(params, _INSERT_COUNTS))
        [(inserted,)] = cur.execute("SELECT sum(keep) FROM demo_sessions").fetchall()
        for name in (*tables, "demo_plan"):
            cur.unregister(name)
        cur.execute("DROP TABLE demo_sessions")
        cur.execute("DROP TABLE demo_accepted")
    return int(inserted or 0)


def _plan_table(rows: list[tuple[Any, ...]], margin: float) -> pa.Table:
    day, _, quota, start_us, open_seconds, slots, key = zip(*rows, strict=True)
    visitors = [math.ceil(q / ROWS_PER_VISITOR * margin) + 20 for q in quota]
    return pa.table(
        {
            "plan_id": pa.array(range(len(rows)), pa.int64()),
            "day": pa.array(day, pa.date32()),
            "quota": pa.array(quota, pa.int64()),
            "visitors": pa.array(visitors, pa.int64()),
            "start_us": pa.array(start_us, pa.int64()),
            "open_seconds": pa.array(open_seconds, pa.float64()),
            "hour_slots": pa.array(slots, pa.int64()),
            "key": pa.array(key, pa.uint64()),
        }
    )


def _only(params: dict[str, Any], sql: str) -> dict[str, Any]:
    """The parameters a statement names (DuckDB refuses unused named parameters)."""
    named = set(re.findall(r"\$([a-z_]+)", sql))
    return {name: value for name, value in params.items() if name in named}


# u(k, n): the n-th uniform number in [0, 1) of key k (53 bits, as a double holds).
_RANDOM_MACRO = """
CREATE OR REPLACE TEMP MACRO u(k, n) AS
    (hash(xor(k, CAST(n AS UBIGINT))) >> 11) / 9007199254740992.0
"""

# Visitors, then their visits. A visitor's first visit starts at an hour drawn from the daily
# profile; later ones follow 90 minutes to 4.5 hours apart, and a visit lasts at most
# pace * (pages - 0.4) + 306 s < 31 minutes, so visits never touch each other (DESIGN §4: a
# gap of more than 30 minutes). Visits that would end after midnight (or now) are moved
# earlier (the first) or dropped (later ones). ``keep`` cuts the visits to the day's quota.
_SESSIONS = """
CREATE OR REPLACE TEMP TABLE demo_sessions AS
WITH visitors AS (
    SELECT plan_id, day, quota, start_us, open_seconds, hour_slots, v, hash(xor(key, v)) AS vk
    FROM (SELECT *, unnest(range(visitors)) AS v FROM demo_plan)
), traits AS (
    SELECT visitors.*, h.hour * 3600 + u(vk, 3) * 3600 AS t0, 5400 + u(vk, 4) * 10800 AS spacing,
        CASE WHEN u(vk, 1) < 0.82 THEN 1 WHEN u(vk, 1) < 0.96 THEN 2 ELSE 3 END AS visits
    FROM visitors JOIN demo_hours h ON h.slot = CAST(floor(u(vk, 2) * hour_slots) AS BIGINT)
), visit_rows AS (
    SELECT *, hash(xor(vk, CAST(1000 + j AS UBIGINT))) AS sk
    FROM (SELECT *, unnest(range(visits)) AS j FROM traits)
), shaped AS (
    SELECT *,
        CASE WHEN u(sk, 1) < 0.47 THEN 1 WHEN u(sk, 1) < 0.67 THEN 2 WHEN u(sk, 1) < 0.79 THEN 3
             WHEN u(sk, 1) < 0.87 THEN 4 WHEN u(sk, 1) < 0.92 THEN 5 WHEN u(sk, 1) < 0.96 THEN 6
             WHEN u(sk, 1) < 0.98 THEN 7 ELSE 8 END AS pages,
        15 + 185 * u(sk, 2) ** 2 AS pace,
        u(sk, 5) < 0.03 AS signup,
        u(sk, 6) < 0.05 AS download,
        u(sk, 10) < 0.12 AS other_host
    FROM visit_rows
), timed AS (
    SELECT *,
        CAST(least(pages, floor(pages * 0.6 + u(sk, 3))) AS BIGINT) AS engagements,
        CAST(floor(u(sk, 4) * pages) AS BIGINT) AS rotation,
        CAST(floor(u(sk, 7) * pages) AS BIGINT) AS signup_page,
        CAST(floor(u(sk, 8) * pages) AS BIGINT) AS download_page,
        pace * (pages - 0.4) + 306 AS span,
        CASE WHEN j = 0 THEN least(t0, open_seconds - 1 - pace * (pages - 0.4) - 306)
             ELSE t0 + j * spacing END AS start_s
    FROM shaped
), counted AS (
    SELECT *, pages + engagements + CAST(signup AS INT) + CAST(download AS INT) AS n
    FROM timed WHERE start_s + span < open_seconds
), cut AS (
    -- Narrow on purpose: the running sum sorts these rows in one thread.
    SELECT plan_id, v, j,
        quota - CAST(sum(n) OVER (PARTITION BY plan_id ORDER BY v, j) AS BIGINT) + n AS room
    FROM counted
)
-- Only what the events are made of: DuckDB holds a block per column of a table it writes,
-- and the 43 columns of every step (the lookups' text included) ran out of 32 MiB.
SELECT plan_id, day, vk, sk, pages, engagements, rotation, signup, signup_page, download_page,
    pace, other_host, greatest(0, least(n, room)) AS keep,
    start_us // 1000 + CAST(start_s * 1000 AS BIGINT) AS start_ms
FROM counted JOIN cut USING (plan_id, v, j)
WHERE room > 0
"""

_SHORT = """
SELECT count(*) FROM demo_plan p
LEFT JOIN (SELECT plan_id, sum(keep) AS got FROM demo_sessions GROUP BY plan_id) s USING (plan_id)
WHERE coalesce(s.got, 0) < p.quota
"""

# One row per event: slots 0 .. pages-1 are page views, then engagement events (for the page
# views rotation, rotation + 1, ...), then Signup, then Download. Page view k > 0 comes
# pace * (k + 0.6 u) s after the first, so page views are 0.4 to 1.6 paces apart. Engagement is
# sent as the page is left: just before the next page view, or up to 5 minutes after the last.
_EVENTS = """
WITH slots AS (
    SELECT d.*, s.device, s.browser, s.browser_version, s.os, s.os_version, c.country,
        a.referrer_host, a.referrer_path, a.source, a.utm_source, a.utm_medium, a.utm_campaign,
        a.utm_content, a.utm_term, a.channel, unnest(range(keep)) AS i
    FROM demo_sessions d
    JOIN demo_software s ON s.slot = CAST(floor(u(vk, 5) * 1000) AS BIGINT)
    JOIN demo_countries c ON c.slot = CAST(floor(u(vk, 6) * 1000) AS BIGINT)
    JOIN demo_arrivals a ON a.slot = CAST(floor(u(sk, 9) * 1000) AS BIGINT)
), kinds AS (
    SELECT *,
        CASE WHEN i < pages THEN 0 WHEN i < pages + engagements THEN 1
             WHEN i = pages + engagements AND signup THEN 2 ELSE 3 END AS kind
    FROM slots
), placed AS (
    SELECT *,
        CASE kind WHEN 0 THEN i WHEN 1 THEN (rotation + i - pages) % pages
                  WHEN 2 THEN signup_page ELSE download_page END AS k
    FROM kinds
), moments AS (
    SELECT *,
        CASE WHEN k = 0 THEN 0 ELSE pace * (k + 0.6 * u(sk, 100 + k)) END AS at_s,
        pace * (k + 1 + 0.6 * u(sk, 101 + k)) AS next_s,
        k = pages - 1 AS last_page
    FROM placed
), engaged AS (
    SELECT *,
        CASE WHEN kind <> 1 THEN NULL
             WHEN last_page THEN 1000 + 299000 * u(sk, 300 + k) ** 2
             ELSE least(300000, greatest(1000,
                  (next_s - at_s - 1) * 1000 * (0.5 + 0.5 * u(sk, 300 + k))))
        END AS engaged
    FROM moments
), events AS (
    SELECT *,
        make_timestamp((start_ms + CAST(1000 * CASE kind
            WHEN 0 THEN at_s
            WHEN 1 THEN CASE WHEN last_page THEN at_s + engaged / 1000 + 0.2 + 0.8 * u(sk, 400 + k)
                             ELSE next_s - 0.2 - 0.6 * u(sk, 400 + k) END
            ELSE at_s + 1 + 4 * u(sk, 500 + kind) END AS BIGINT)) * 1000) AS ts
    FROM engaged
)
"""

_INSERT_EVENTS = (
    """
INSERT INTO events (ts, site_id, day, name, hostname, path, referrer_host, referrer_path,
                    source, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
                    visitor, props, interactive, scroll_depth, engaged_ms,
                    browser, browser_version, os, os_version, device, country, channel)
"""
    + _EVENTS
    + """
SELECT ts, $site, day,
    CASE kind WHEN 0 THEN 'pageview' WHEN 1 THEN 'engagement' WHEN 2 THEN 'Signup'
              ELSE 'Download' END,
    CASE WHEN other_host THEN $other_host ELSE $host END,
    $paths[least(len($paths), CAST(floor(exp(u(sk, 200 + k) * ln(len($paths) + 1))) AS BIGINT))],
    CASE WHEN k = 0 THEN referrer_host ELSE '' END,
    CASE WHEN k = 0 THEN referrer_path ELSE '' END,
    CASE WHEN k = 0 THEN source ELSE $internal_source END,
    CASE WHEN k = 0 THEN utm_source ELSE '' END,
    CASE WHEN k = 0 THEN utm_medium ELSE '' END,
    CASE WHEN k = 0 THEN utm_campaign ELSE '' END,
    CASE WHEN k = 0 THEN utm_content ELSE '' END,
    CASE WHEN k = 0 THEN utm_term ELSE '' END,
    vk,
    CASE kind
        WHEN 2 THEN map(['plan'], [$plans[1 + CAST(floor(u(sk, 600) * len($plans)) AS BIGINT)]])
        WHEN 3 THEN map(['file'], [$files[1 + CAST(floor(u(sk, 601) * len($files)) AS BIGINT)]])
        ELSE MAP {} END,
    kind <> 1,
    CASE WHEN kind = 1 THEN CAST(least(100, floor(u(sk, 700 + k) * 115)) AS UTINYINT) END,
    CAST(round(engaged) AS UINTEGER),
    browser, browser_version, os, os_version, device, country,
    CASE WHEN k = 0 THEN channel ELSE $internal_channel END
FROM events
"""
)

# The collector counts every accepted request in its UTC hour.
_ACCEPTED = (
    "CREATE OR REPLACE TEMP TABLE demo_accepted AS"
    + _EVENTS
    + """
SELECT date_trunc('hour', ts) AS hour, count(*) AS n
FROM events GROUP BY ALL
"""
)

# Dropped and rejected requests: a small share of each hour's accepted ones, bots flatter over
# the day than people (floor(x + u) keeps the expected count x even when x is below 1).
_INSERT_COUNTS = """
INSERT INTO intake_counts (hour, site_id, reason, detail, n)
SELECT hour, $site, 'accepted', '', n FROM demo_accepted
UNION ALL
SELECT hour, CASE WHEN no_site THEN 0 ELSE $site END, reason, detail, n FROM (
    SELECT a.hour, d.reason, d.detail, d.no_site,
        CAST(floor(d.rate * (0.4 * a.n + 0.6 * a.mean) * (0.5 + u(a.hk, d.idx))
                   + u(a.hk, 100 + d.idx)) AS BIGINT) AS n
    FROM (SELECT hour, n, avg(n) OVER () AS mean,
                 hash(xor($key, CAST(epoch_ms(hour) AS UBIGINT))) AS hk
          FROM demo_accepted) a
    CROSS JOIN demo_drops d
) WHERE n > 0
"""
