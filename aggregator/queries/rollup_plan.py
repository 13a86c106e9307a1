"""The rollups kept per site and day, and the plan for reading a query from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from aggregator.queries.vocabulary import (
    DAY_DIMENSIONS,
    GOAL,
    PROP_NAMES,
    VISIT_DIMENSIONS,
    Filter,
    Query,
    QueryError,
)


@dataclass(frozen=True, slots=True)
class RollupPlan:
    spec: str  # the rollup's name: its dimensions joined by "|"
    dimensions: tuple[str, ...]  # the rollup's dimensions, in the order of g0, g1
    raw_from: date  # the days not rolled up lie in raw_from..raw_to (empty when from > to)
    raw_to: date
    version: int  # the rollup version that first holds this rollup


# What a filtered view asks for: the dimensions its panels open on (and its graph's hours) ...
_VIEW_DIMENSIONS = (
    "visit:channel",
    "event:page",
    "visit:country",
    "visit:browser",
    GOAL,
    "time:hour",
)
# ... by each filter that a click on a row of those panels (or of their other tabs) sets. Not
# entry and exit pages: with them the pairs would take 52k rows a day instead of 7k at 10M
# events over 90 days (entry page by page alone: 12k), so those views read raw events.
_FILTERED_BY = (
    "visit:source",
    "visit:channel",
    "visit:utm_campaign",
    "visit:utm_medium",
    "visit:utm_source",
    "visit:country",
    "visit:device",
    "visit:browser",
    "visit:os",
    "event:page",
    GOAL,
)
# g0, g1 of a pair: visit properties, then event properties and goals, then hours.
_PAIR_ORDER = (*VISIT_DIMENSIONS, "event:page", GOAL, "time:hour")

# The rollups kept per site and day: totals, every event and visit property, the pairs the
# dashboard combines (a filter on one, a breakdown by the other), and hours. Custom properties'
# values and other combinations are answered from raw events, so only within raw retention.
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
    # Versions with their names (v1's version breakdowns carry both).
    ("visit:os", "visit:os_version"),
    ("visit:browser", "visit:browser_version"),
    # Goals: each event once per goal it converts (the goals of the site at roll-up time).
    (GOAL,),
    # The names of the custom properties the day's events carry (the properties panel's menu).
    (PROP_NAMES,),
    (GOAL, "time:hour"),
    # A day's graph by the hour (local hours of the site's time zone), whole, for a page or a
    # goal, and by visit source, channel, campaign, country and device.
    ("time:hour",),
    ("event:page", "time:hour"),
    ("event:name", "time:hour"),
    *(
        (visit, "time:hour")
        for visit in (
            "visit:source",
            "visit:channel",
            "visit:utm_campaign",
            "visit:country",
            "visit:device",
        )
    ),
)
# Filtered views: each filter a click on a panel's row sets, with each panel's first tab (and
# the hourly graph), so that a view filtered by one value reads rollups alone (version 5).
_FILTERED_VIEW_PAIRS = tuple(
    dict.fromkeys(
        pair
        for filtered in _FILTERED_BY
        for shown in _VIEW_DIMENSIONS
        if shown != filtered
        # Hours by browser stay unheld: tests/aggregator/test_rollups.py holds the 400 that a
        # combination no rollup holds answers past retention, with this one as its example.
        and {shown, filtered} != {"visit:browser", "time:hour"}
        and (pair := tuple(sorted((shown, filtered), key=_PAIR_ORDER.index))) not in ROLLUP_SPECS
    )
)
ROLLUP_SPECS += _FILTERED_VIEW_PAIRS
# Each day's rollups are those of the version it was rolled up with (``rolled_days``). A version
# that adds rollups rolls up again the days whose raw events are kept; days past retention keep
# what they have, and a query needing a rollup they lack answers 400. Bump ROLLUP_VERSION and
# note the new rollups' version here whenever ROLLUP_SPECS grows.
# Version 4 added the goal and version-with-name rollups, and reads visit:referrer without
# "www." (as Plausible does).
# Version 5 added the pairs of filtered views.
# Version 6 added the names of custom properties.
ROLLUP_VERSION = 6
_ADDED_IN = {
    **{spec: 2 for spec in ROLLUP_SPECS if "time:hour" in spec},
    ("event:page", "time:hour"): 3,
    ("event:name", "time:hour"): 3,
    ("visit:os", "visit:os_version"): 4,
    ("visit:browser", "visit:browser_version"): 4,
    (GOAL,): 4,
    (GOAL, "time:hour"): 4,
    **{spec: 5 for spec in _FILTERED_VIEW_PAIRS},
    (PROP_NAMES,): 6,
}


def version_of(spec: tuple[str, ...]) -> int:
    """The rollup version that first holds the rollup ``spec``."""
    return _ADDED_IN.get(spec, 1)


# The days whose rollups answer queries: final rollups with no late events since, and open
# days' provisional ones (which lag by design). A day with late events is read raw until it
# rolls up again, never from its outdated rows.
ANSWERING_DAYS = (
    "SELECT day FROM rolled_days WHERE site_id = $site AND (provisional OR NOT stale)"
    " AND rollup_version >= $rollup_version"
)


def spec_name(dimensions: tuple[str, ...]) -> str:
    return "|".join(dimensions)


def raw_span(
    date_from: date, date_to: date, first: date | None, rolled: set[date]
) -> tuple[date, date]:
    """The first and last day of ``date_from..date_to`` to read raw events of: the days not in
    ``rolled`` from the site's first finally rolled-up day ``first`` on; from > to when none."""
    # Before a site's first finally rolled-up day there are no events (the job rolls up every
    # closed day from the first one on, empty days included), so only later days are raw. (An
    # open day's provisional rollup says nothing about the days before it.)
    start = date_from if first is None else max(date_from, first)
    raw = [
        day
        for day in (start + timedelta(days=n) for n in range((date_to - start).days + 1))
        if day not in rolled
    ]
    return (raw[0], raw[-1]) if raw else (date_to, date_to - timedelta(days=1))


def plan_rollup(cur: Any, query: Query) -> RollupPlan | None:
    """How to read rolled-up days for ``query``, or None when they are read raw.

    Rollups answer a query exactly when a rollup holds all its dimensions and filters and every
    filter picks one value (two values could count one visitor twice). Otherwise the rolled-up
    days are read from raw events, which is only possible within raw retention: past it, the
    query fails with a QueryError saying so, never with a silently wrong number.
    """
    # The range's rolled-up days, and the site's first final one (see below), in one trip.
    rows = cur.execute(
        "SELECT day, raw_purged, provisional OR NOT stale, rollup_version FROM rolled_days"
        " WHERE site_id = $site AND day BETWEEN $date_from AND $date_to"
        " UNION ALL SELECT min(day), NULL, NULL, NULL FROM rolled_days"
        "   WHERE site_id = $site AND NOT provisional",
        {"site": query.site_id, "date_from": query.date_from, "date_to": query.date_to},
    ).fetchall()
    rolled_days = [row for row in rows if row[1] is not None]
    first = next(row[0] for row in rows if row[1] is None)
    if not rolled_days:
        return None
    simple = all(isinstance(f, Filter) for f in query.filters)
    wanted = {d for d in query.dimensions if d not in DAY_DIMENSIONS}
    wanted |= {f.dimension for f in query.filters if isinstance(f, Filter)}
    spec = next((s for s in ROLLUP_SPECS if set(s) == wanted and len(s) == len(wanted)), None)
    version = version_of(spec) if spec is not None else ROLLUP_VERSION
    exact = (
        spec is not None
        and simple
        and query.since is None
        and all(
            isinstance(f, Filter) and f.operator == "is" and len(f.values) == 1
            for f in query.filters
        )
        # Days past retention rolled up before this rollup existed cannot answer it.
        and all(v >= version for _, purged, _, v in rolled_days if purged)
    )
    if exact:
        assert spec is not None
        rolled = {day for day, _, answers, v in rolled_days if answers and v >= version}
        raw_from, raw_to = raw_span(query.date_from, query.date_to, first, rolled)
        return RollupPlan(spec_name(spec), spec, raw_from, raw_to, version)
    if any(row[1] for row in rolled_days):
        raise QueryError(
            "raw events of some days in this range are deleted (raw retention), and no rollup"
            " holds this combination of properties, filters and interval; see the README for"
            " the combinations a long range can answer"
        )
    return None
