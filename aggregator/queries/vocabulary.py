"""What a query may ask for: its dimensions, metrics and filter operators, the per-day
columns the metrics are made from, the ``Query`` record, and ``check`` against them all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from aggregator.goals import Goal

TIME_DIMENSIONS = {
    # Minutes are for the realtime view's last 30 minutes: raw events only, no rollup holds them.
    "time:minute": "date_trunc('minute', timezone($tz, timezone('UTC', ts)))",
    "time:hour": "date_trunc('hour', timezone($tz, timezone('UTC', ts)))",
    "time:day": "day",
    "time:week": "CAST(date_trunc('week', day) AS DATE)",
    "time:month": "CAST(date_trunc('month', day) AS DATE)",
}
# Time dimensions made from the local day alone: every rollup answers them.
DAY_DIMENSIONS = frozenset({"time:day", "time:week", "time:month"})

# Event properties: columns of each event.
EVENT_DIMENSIONS = {
    "event:page": "path",
    "event:hostname": "hostname",
    "event:name": "name",
}
PROPS_PREFIX = "event:props:"
# The names of the custom properties an event carries, each event once per name: the dimension
# of one rollup (the properties panel's menu, ``prop_keys``), never a query's.
PROP_NAMES = "event:props"
# A site's goals (aggregator/goals.py): an event is a conversion of each goal it matches.
GOAL = "event:goal"
# How Plausible names the visits without a source or referrer; stored as ''.
DIRECT = "Direct / None"
DIRECT_DIMENSIONS = frozenset({"visit:source", "visit:referrer"})

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
# Metrics computed from two queries (aggregator/queries/engine.py): conversions over the
# visitors of the same filtered set without the goal filter, in % with 2 decimals.
DERIVED_METRICS = frozenset({"conversion_rate"})
# The privacy threshold's count (P7 counts people): the largest number of distinct visitor ids
# of one local day in the group. Ids change daily, so summed visitors count visitor-days and
# one person on three days would add up to 3; no day's count can hold a person twice.
PEAK_VISITORS = "peak_visitors"
INTERNAL_METRICS = {PEAK_VISITORS: "max(visitors)"}
INTEGER_METRICS = (frozenset(METRICS) - {"views_per_visit"}) | {PEAK_VISITORS}
# Metrics that are counts: 0 (not null) when nothing matched.
COUNT_METRICS = frozenset({"visitors", "visits", "pageviews", "events", PEAK_VISITORS})


def folded_label(k: int) -> str:
    """The group value of the rows about fewer than k people, folded together (P7)."""
    return f"(fewer than {k})"


# ``matches``/``not_matches``: Plausible's globs (``*`` and ``**``); ``matches_regex``: a regular
# expression (Plausible v2's ``matches``).
OPERATORS = (
    "is",
    "is_not",
    "contains",
    "not_contains",
    "matches",
    "not_matches",
    "matches_regex",
    "not_matches_regex",
)
NEGATED = frozenset({"is_not", "not_contains", "not_matches", "not_matches_regex"})
GROUP_OPERATORS = ("and", "or", "not")
SESSION_GAP_MINUTES = 30


class QueryError(ValueError):
    """The query asks for something the engine does not offer; the message says what."""


@dataclass(frozen=True, slots=True)
class Filter:
    operator: str  # one of OPERATORS
    dimension: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FilterGroup:
    """Filters combined: ``and`` / ``or`` of its filters, or ``not`` of its one filter."""

    operator: str  # and | or | not
    filters: tuple[Filter | FilterGroup, ...]


AnyFilter = Filter | FilterGroup


def leaves(filters: tuple[AnyFilter, ...]) -> list[Filter]:
    """Every simple filter, inside groups too."""
    found: list[Filter] = []
    for item in filters:
        found.extend(leaves(item.filters) if isinstance(item, FilterGroup) else [item])
    return found


@dataclass(frozen=True, slots=True)
class Query:
    site_id: int
    date_from: date
    date_to: date
    metrics: tuple[str, ...] = ("visitors",)
    dimensions: tuple[str, ...] = ()
    filters: tuple[AnyFilter, ...] = ()
    limit: int | None = None
    offset: int = 0
    timezone: str = "UTC"  # for time:hour
    since: datetime | None = None  # only events at or after this UTC time (realtime)
    goals: tuple[Goal, ...] | None = None  # the site's goals; None: run_query reads them


def is_dimension(name: str) -> bool:
    return (
        name in EVENT_DIMENSIONS
        or name == GOAL
        or name in VISIT_DIMENSIONS
        or (name.startswith(PROPS_PREFIX) and len(name) > len(PROPS_PREFIX))
    )


def check(query: Query) -> None:
    for metric in query.metrics:
        if (
            metric not in METRICS
            and metric not in INTERNAL_METRICS
            and metric not in DERIVED_METRICS
        ):
            raise QueryError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    for dimension in query.dimensions:
        if dimension not in TIME_DIMENSIONS and not is_dimension(dimension):
            raise QueryError(f"unknown property {dimension!r}")
    for group in _groups(query.filters):
        if group.operator not in GROUP_OPERATORS:
            raise QueryError(f"unknown filter group {group.operator!r}")
        if not group.filters or (group.operator == "not" and len(group.filters) != 1):
            raise QueryError(f"a {group.operator!r} group needs filters (not: exactly one)")
    for item in leaves(query.filters):
        if not is_dimension(item.dimension):
            raise QueryError(f"cannot filter by {item.dimension!r}")
        if item.operator not in OPERATORS:
            raise QueryError(f"unknown filter operator {item.operator!r}")
        if not item.values:
            raise QueryError(f"the filter on {item.dimension} has no value")
    if query.date_from > query.date_to:
        raise QueryError("the date range ends before it starts")


def _groups(filters: tuple[AnyFilter, ...]) -> list[FilterGroup]:
    found: list[FilterGroup] = []
    for item in filters:
        if isinstance(item, FilterGroup):
            found.extend([item, *_groups(item.filters)])
    return found
