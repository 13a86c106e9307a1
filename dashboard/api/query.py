"""The one query path of the Stats API: v1's endpoints and v2's ``/api/v2/query`` both become
an ``ApiQuery`` (Plausible v2's shape: metrics x dimensions x filters x date range) and run
here, so both always agree.

``check_metrics`` holds Plausible's rules on which metrics go with which filters and dimensions;
``QueryPath.run`` runs the query under the time limit, up to the site's today, and applies the
privacy threshold (P7, ``dashboard.threshold``): figures about fewer than k people are ``None``
with ``suppressed``, and breakdown rows about fewer than k fold into one row at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aggregator.clock import Clock
from aggregator.goals import Goal, list_goals
from aggregator.queries import (
    DIRECT,
    DIRECT_DIMENSIONS,
    GOAL,
    PEAK_VISITORS,
    PROPS_PREFIX,
    TIME_DIMENSIONS,
    AnyFilter,
    Query,
    leaves,
    run_query,
)
from aggregator.sites import Site
from aggregator.store import Store
from dashboard.api import errors
from dashboard.threshold import fold_rows, suppress

SESSION_METRICS = ("visits", "bounce_rate", "visit_duration", "views_per_visit")
NO_LOCATIONS = ("visit:region", "visit:city", "visit:region_name", "visit:city_name")
EMPTY_LEFT_OUT = frozenset(
    f"visit:utm_{tag}" for tag in ("source", "medium", "campaign", "content", "term")
)
REALTIME_MINUTES = 30


@dataclass(frozen=True, slots=True)
class ApiQuery:
    """One question, as Plausible v2 asks it; dates are the site's local dates, inclusive."""

    metrics: tuple[str, ...]
    date_from: date
    date_to: date
    dimensions: tuple[str, ...] = ()
    filters: tuple[AnyFilter, ...] = ()
    order_by: tuple[tuple[str, str], ...] = ()
    realtime: bool = False  # only the last 30 minutes (v1's period=realtime)


@dataclass(slots=True)
class Answer:
    """Rows of ``{dimension: value, metric: number}``; a suppressed figure (P7) is ``None``
    and its row carries ``"suppressed": True``."""

    rows: list[dict[str, Any]]
    goals: list[Goal] = field(default_factory=list)


def is_event_only(prop: str) -> bool:
    return prop in ("event:name", GOAL) or prop.startswith(PROPS_PREFIX)


def check_properties(query: ApiQuery) -> None:
    for prop in (*query.dimensions, *(f.dimension for f in leaves(query.filters))):
        if prop in NO_LOCATIONS:
            raise errors.no_locations(prop)


def check_metrics(query: ApiQuery, *, v1: bool) -> None:
    """Plausible's rules (``validate_metric``): session metrics never with event-only
    filters or breakdowns, ``time_on_page`` with pages only, ``conversion_rate`` with goals."""
    if len(set(query.metrics)) != len(query.metrics):
        raise errors.ApiError(400, errors.DUPLICATE_METRICS)
    filtered = [f.dimension for f in leaves(query.filters)]
    props = [d for d in query.dimensions if d not in TIME_DIMENSIONS]
    for metric in query.metrics:
        if metric == "time_on_page":
            for prop in (GOAL, "event:name"):
                if prop in filtered:
                    raise errors.metric_with_filter(metric, prop)
            if props == ["event:page"]:
                continue
            if props:
                raise errors.time_on_page_in_breakdown()
            if "event:page" not in filtered:
                raise errors.time_on_page_needs_page()
        elif metric == "conversion_rate":
            if GOAL not in props and GOAL not in filtered:
                raise errors.conversion_rate_needs_goal()
        elif metric in SESSION_METRICS and (v1 or metric != "visits"):
            if metric == "views_per_visit" and v1:
                if "event:page" in filtered:
                    raise errors.views_per_visit_with_page()
                if props:
                    raise errors.not_in_breakdown(metric)
            if len(props) == 1 and is_event_only(props[0]):
                raise errors.session_metric_by(metric, props[0])
            found = next((p for p in filtered if is_event_only(p)), None)
            if found:
                raise errors.session_metric_with_filter(metric, found)


class QueryPath:
    def __init__(self, *, store: Store, clock: Clock, min_visitors: int, query_seconds: float):
        self._store = store
        self._clock = clock
        self._k = min_visitors
        self._seconds = query_seconds or None

    @property
    def k(self) -> int:
        return self._k

    @property
    def seconds(self) -> float | None:
        return self._seconds

    def today(self, site: Site) -> date:
        return datetime.fromtimestamp(self._clock.now(), ZoneInfo(site.timezone)).date()

    def goals(self, site: Site) -> list[Goal]:
        return list_goals(self._store, site.id)

    def check_goals(self, site: Site, query: ApiQuery) -> None:
        """Every goal an ``is`` filter names is configured (Plausible's ``validate_filter``)."""
        names = {g.display_name for g in self.goals(site)}
        for item in leaves(query.filters):
            if item.dimension == GOAL and item.operator in ("is", "is_not"):
                for value in item.values:
                    if value not in names:
                        raise errors.goal_not_configured(value)

    def run(self, site: Site, query: ApiQuery) -> list[dict[str, Any]]:
        """The rows of ``query``, P7 applied; ordered by ``order_by`` (folded row last)."""
        rows = self._run(site, query)
        people = [row.pop(PEAK_VISITORS) for row in rows]
        time_only = all(d in TIME_DIMENSIONS for d in query.dimensions)
        if time_only:
            # Aggregates and time buckets: a filtered figure about fewer than k is "< k".
            for row, count in zip(rows, people, strict=True):
                if query.filters and suppress(row, people=count, metrics=query.metrics, k=self._k):
                    row["suppressed"] = True
                if "visitors" not in query.metrics:
                    row.pop("visitors", None)
            return rows
        for row, count in zip(rows, people, strict=True):
            row[PEAK_VISITORS] = count
        keys = tuple(d for d in query.dimensions if d not in TIME_DIMENSIONS)
        rows = _order(rows, query.order_by)
        rows = fold_rows(rows, keys=keys, metrics=query.metrics, k=self._k)
        if "visitors" not in query.metrics:
            for row in rows:
                row.pop("visitors", None)
        return rows

    def _run(self, site: Site, query: ApiQuery) -> list[dict[str, Any]]:
        since = None
        if query.realtime:
            now = datetime.fromtimestamp(self._clock.now(), UTC).replace(tzinfo=None)
            since = now - timedelta(minutes=REALTIME_MINUTES)
        extra = tuple(m for m in ("visitors", PEAK_VISITORS) if m not in query.metrics)
        engine = Query(
            site.id,
            query.date_from,
            query.date_to,
            (*query.metrics, *extra),
            query.dimensions,
            query.filters,
            timezone=site.timezone,
            since=since,
        )
        # Later days than the site's today hold no events; leaving them out spares planning a
        # search of their raw events (a month or 12mo period ends in the future).
        today = self.today(site)
        if engine.date_from <= today < engine.date_to:
            engine = replace(engine, date_to=today)
        rows = run_query(self._store, engine, timeout=self._seconds)
        for row in rows:
            for dimension in query.dimensions:
                if dimension in DIRECT_DIMENSIONS and row[dimension] == "":
                    row[dimension] = DIRECT
        # Plausible lists neither visits without a UTM tag nor engagement reports as rows.
        return [
            row
            for row in rows
            if not any(d in EMPTY_LEFT_OUT and row[d] == "" for d in query.dimensions)
            and not ("event:name" in query.dimensions and row["event:name"] == "engagement")
        ]


def _order(
    rows: list[dict[str, Any]], order_by: tuple[tuple[str, str], ...]
) -> list[dict[str, Any]]:
    """Rows sorted by each (name, asc|desc) in turn; None sorts last."""
    for name, direction in reversed(order_by):
        present = [r for r in rows if r.get(name) is not None]
        missing = [r for r in rows if r.get(name) is None]
        present.sort(key=lambda r: r[name], reverse=direction == "desc")
        rows = present + missing
    return rows
