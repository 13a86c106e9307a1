"""The figures of a dashboard view, from the one query engine, with P7 applied on the way out.

Pages and exports both read their numbers here, so a CSV never shows what the page hides:
``totals`` (the metric cards, now and compared), ``series`` (the graph's buckets) and
``breakdown`` (a panel's rows, small ones folded). Nothing here writes SQL: every figure is an
``aggregator.queries.Query``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aggregator.queries import PEAK_VISITORS, Query, QueryError, run_query
from aggregator.sites import Site
from aggregator.store import Store
from dashboard.api.query import EMPTY_LEFT_OUT  # visits without a UTM tag are no row
from dashboard.threshold import fold_rows, suppress
from dashboard.web.view_state import ViewState

REALTIME_MINUTES = 30
# A page's query never holds a server thread longer than this: the panel says so instead.
QUERY_SECONDS = 10.0
ADDITIVE = frozenset({"visitors", "visits", "pageviews", "events"})
INTERVAL_DIMENSION = {
    "minute": "time:minute",
    "hour": "time:hour",
    "day": "time:day",
    "week": "time:week",
    "month": "time:month",
}


@dataclass(frozen=True, slots=True)
class Figures:
    """One set of metric values; ``suppressed``: filtered and about fewer than k people."""

    values: dict[str, Any]
    suppressed: bool


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime | date
    value: Any
    suppressed: bool
    unfinished: bool
    future: bool = False  # not begun yet (today's later hours): no value, nothing drawn


@dataclass(frozen=True, slots=True)
class Report:
    store: Store
    site: Site
    state: ViewState
    k: int
    now: float

    @property
    def filtered(self) -> bool:
        return bool(self.state.filters)

    def query(
        self,
        metrics: tuple[str, ...],
        dimensions: tuple[str, ...] = (),
        *,
        compared: bool = False,
        limit: int | None = None,
        extra_filters: tuple[Any, ...] = (),
    ) -> Query:
        state = self.state
        first, last = (
            (state.compare_from, state.compare_to)
            if compared
            else (
                state.date_from,
                state.date_to,
            )
        )
        assert first is not None and last is not None
        since = None
        if state.period == "realtime":
            since = datetime.fromtimestamp(self.now, UTC).replace(tzinfo=None) - timedelta(
                minutes=REALTIME_MINUTES
            )
            first = first - timedelta(days=1)  # the last 30 minutes may begin yesterday
        return Query(
            self.site.id,
            first,
            last,
            _with_people(metrics),
            dimensions,
            tuple(f.engine for f in state.filters) + extra_filters,
            limit=limit,
            timezone=self.site.timezone,
            since=since,
        )

    def totals(self, metrics: tuple[str, ...], *, compared: bool = False) -> Figures:
        row = run_query(self.store, self.query(metrics, compared=compared), timeout=QUERY_SECONDS)[
            0
        ]
        hidden = self.filtered and suppress(
            row, people=row[PEAK_VISITORS] or 0, metrics=metrics, k=self.k
        )
        return Figures({m: row[m] for m in metrics}, hidden)

    def series(self, metric: str, *, compared: bool = False) -> list[Bucket]:
        dimension = INTERVAL_DIMENSION[self.state.interval]
        rows = run_query(
            self.store,
            self.query((metric,), (dimension,), compared=compared),
            timeout=QUERY_SECONDS,
        )
        by_start = {row[dimension]: row for row in rows}
        buckets = []
        for start in self.bucket_starts(compared=compared):
            row = by_start.get(start)
            value = row[metric] if row else (0 if metric in ADDITIVE else None)
            hidden = bool(
                row
                and self.filtered
                and suppress(row, people=row[PEAK_VISITORS] or 0, metrics=(metric,), k=self.k)
            )
            if self._future(start):
                buckets.append(Bucket(start, None, False, False, future=True))
                continue
            buckets.append(
                Bucket(start, row[metric] if hidden and row else value, hidden, self._open(start))
            )
        return buckets

    def breakdown(
        self,
        dimension: str,
        metrics: tuple[str, ...] = ("visitors",),
        *,
        limit: int | None = None,
        extra_filters: tuple[Any, ...] = (),
    ) -> list[dict[str, Any]]:
        """A panel's rows, largest first, rows about fewer than k people folded into one."""
        query = self.query(metrics, (dimension,), extra_filters=extra_filters)
        rows = [
            {"value": row[dimension], **{m: row[m] for m in (*metrics, PEAK_VISITORS)}}
            for row in run_query(self.store, query, timeout=QUERY_SECONDS)
            if not (dimension in EMPTY_LEFT_OUT and row[dimension] in ("", None))
        ]
        rows.sort(key=lambda row: (-(row.get(metrics[0]) or 0), str(row["value"])))
        folded = fold_rows(rows, key="value", metrics=metrics, k=self.k)
        return folded if limit is None else folded[:limit]

    def bucket_starts(self, *, compared: bool = False) -> list[Any]:
        state = self.state
        first, last = (
            (state.compare_from, state.compare_to)
            if compared
            else (
                state.date_from,
                state.date_to,
            )
        )
        assert first is not None and last is not None
        if state.interval == "minute":
            end = datetime.fromtimestamp(self.now, UTC).replace(
                tzinfo=None, second=0, microsecond=0
            )
            local = _local(end, self.site.timezone)
            return [local - timedelta(minutes=n) for n in range(REALTIME_MINUTES - 1, -1, -1)]
        if state.interval == "hour":
            return [
                datetime.combine(day, datetime.min.time()) + timedelta(hours=h)
                for day in _days(first, last)
                for h in range(24)
            ]
        if state.interval == "day":
            return list(_days(first, last))
        if state.interval == "week":
            starts: list[date] = []
            for day in _days(first, last):
                monday = day - timedelta(days=day.weekday())
                if not starts or starts[-1] != monday:
                    starts.append(monday)
            return starts
        months: list[date] = []
        for day in _days(first, last):
            if not months or months[-1] != day.replace(day=1):
                months.append(day.replace(day=1))
        return months

    def _range(self, compared: bool) -> tuple[date, date]:
        state = self.state
        if not compared:
            return state.date_from, state.date_to
        assert state.compare_from is not None and state.compare_to is not None
        return state.compare_from, state.compare_to

    def _future(self, start: Any) -> bool:
        """Whether the bucket begins after now (the rest of today, this month's later days)."""
        if self.state.interval == "minute":
            return False
        now_local = _local(
            datetime.fromtimestamp(self.now, UTC).replace(tzinfo=None), self.site.timezone
        )
        if isinstance(start, datetime):
            return start > now_local
        return bool(start > now_local.date())

    def _open(self, start: Any) -> bool:
        """Whether the bucket is still filling (it holds now)."""
        now_local = _local(
            datetime.fromtimestamp(self.now, UTC).replace(tzinfo=None), self.site.timezone
        )
        today = now_local.date()
        match self.state.interval:
            case "minute":
                return bool(start == now_local.replace(second=0, microsecond=0))
            case "hour":
                return bool(start == now_local.replace(minute=0, second=0, microsecond=0))
            case "day":
                return bool(start == today)
            case "week":
                return bool(start == today - timedelta(days=today.weekday()))
            case _:
                return bool(start == today.replace(day=1))


def _with_people(metrics: tuple[str, ...]) -> tuple[str, ...]:
    extra = tuple(m for m in ("visitors", PEAK_VISITORS) if m not in metrics)
    return (*metrics, *extra)


def _days(first: date, last: date) -> Any:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _local(utc: datetime, zone: str) -> datetime:
    from zoneinfo import ZoneInfo

    return utc.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


__all__ = ["Bucket", "Figures", "QueryError", "Report"]
