"""Reading Plausible's Stats API v1 parameters: the one place every endpoint's parameters are
checked, bounded and turned into a ``StatsParams`` record (or an ``ApiError`` saying why not).

The bounds keep one key holder from exhausting the server (README, "Stats API limits"): every
parameter is short, filters are few, dates lie in 1970-01-01..9999-12-31 and a timeseries has
at most ``MAX_BUCKETS`` points, all checked before any query runs.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from aggregator.queries import METRICS, TIME_DIMENSIONS, Filter, is_dimension

PERIODS = ("realtime", "day", "7d", "30d", "month", "6mo", "12mo", "custom")
INTERVALS = {
    "hour": "time:hour",
    "day": "time:day",
    "date": "time:day",
    "week": "time:week",
    "month": "time:month",
}
REALTIME_MINUTES = 30

MAX_LIMIT = 1000
MAX_PAGE = 100_000
MAX_PARAM_CHARS = 500  # any parameter but filters: a domain is at most 253
MAX_FILTERS_CHARS = 2_000
MAX_FILTERS = 10
MAX_FILTER_VALUES = 100
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(9999, 12, 31)
MAX_BUCKETS = 10_000  # 416 days by the hour, 27 years by the day


class ApiError(Exception):
    """A request the Stats API refuses: its status, message and any headers to send."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class StatsParams:
    """One request's parameters, checked: the local dates it covers and what it asks for."""

    period: str
    date_from: date
    date_to: date
    metrics: tuple[str, ...]
    filters: tuple[Filter, ...]
    interval: str  # a time dimension (timeseries)
    prop: str | None  # the breakdown property
    limit: int
    page: int
    compared: tuple[date, date] | None  # the previous period, with compare=previous_period


def read_params(params: Mapping[str, str], *, endpoint: str, today: date) -> StatsParams:
    """Every parameter of a Stats API request to ``endpoint`` (aggregate, timeseries,
    breakdown), checked against its bounds; ``today`` is the site's local date."""
    for name, value in params.items():
        bound = MAX_FILTERS_CHARS if name == "filters" else MAX_PARAM_CHARS
        if len(value) > bound:
            raise ApiError(400, f"{name[:40]} must be at most {bound} characters long")
    period = params.get("period", "30d")
    if endpoint == "timeseries" and period == "realtime":
        raise ApiError(400, "timeseries does not take period=realtime")
    date_from, date_to = date_range(period, params.get("date"), today)
    # Each endpoint reads only its own parameters; others are ignored, as Plausible does.
    interval = INTERVALS[default_interval(period)]
    if endpoint == "timeseries":
        interval = interval_dimension(params.get("interval") or default_interval(period))
        buckets = count_buckets(interval, date_from, date_to)
        if buckets > MAX_BUCKETS:
            raise ApiError(
                400,
                f"this timeseries would have {buckets} points; at most {MAX_BUCKETS}:"
                " ask for a shorter range or a longer interval",
            )
    prop = params.get("property")
    if endpoint == "breakdown":
        if not prop:
            raise ApiError(400, "The `property` parameter is required for breakdown.")
        if prop in TIME_DIMENSIONS:
            raise ApiError(400, f"cannot break down by {prop}; use timeseries")
        if not is_dimension(prop):
            raise ApiError(400, f"unknown property {prop!r}")
    compare = params.get("compare") if endpoint == "aggregate" else None
    compared = None
    if compare == "previous_period":
        span = date_to - date_from + timedelta(days=1)
        if date_from - FIRST_DATE < span:
            raise ApiError(400, f"the previous period would start before {FIRST_DATE}")
        compared = (date_from - span, date_from - timedelta(days=1))
    elif compare:
        raise ApiError(400, "compare must be previous_period")
    return StatsParams(
        period=period,
        date_from=date_from,
        date_to=date_to,
        metrics=parse_metrics(params.get("metrics", "visitors")),
        filters=parse_filters(params.get("filters", "")),
        interval=interval,
        prop=prop,
        limit=positive_int(params, "limit", 100, maximum=MAX_LIMIT),
        page=positive_int(params, "page", 1, maximum=MAX_PAGE),
        compared=compared,
    )


def date_range(period: str, date_param: str | None, today: date) -> tuple[date, date]:
    """The inclusive local dates a Plausible v1 ``period`` and ``date`` cover."""
    if period not in PERIODS:
        raise ApiError(400, f"period must be one of {', '.join(PERIODS)}")
    if period == "custom":
        if not date_param or "," not in date_param:
            raise ApiError(400, "period=custom needs date=YYYY-MM-DD,YYYY-MM-DD")
        first, last = (parse_date(part) for part in date_param.split(",", 1))
        if first > last:
            raise ApiError(400, "the custom date range ends before it starts")
        return first, last
    if period == "realtime":
        return today - timedelta(days=1), today  # the last 30 minutes may start yesterday
    end = parse_date(date_param) if date_param else today
    if period == "day":
        first, last = end, end
    elif period in ("7d", "30d"):
        first, last = end - timedelta(days=int(period[:-1]) - 1), end
    else:
        months = {"month": 1, "6mo": 6, "12mo": 12}[period]
        first = _add_months(end.replace(day=1), -(months - 1))
        last = end.replace(day=calendar.monthrange(end.year, end.month)[1])
    if first < FIRST_DATE:
        raise ApiError(400, f"period={period} with date={end} would start before {FIRST_DATE}")
    return first, last


def default_interval(period: str) -> str:
    if period in ("day", "realtime"):
        return "hour"
    if period in ("6mo", "12mo"):
        return "month"
    return "day"


def interval_dimension(text: str) -> str:
    if text not in INTERVALS:
        raise ApiError(400, "interval must be hour, day, week or month")
    return INTERVALS[text]


def count_buckets(interval: str, first: date, last: date) -> int:
    """How many points a timeseries by ``interval`` has from ``first`` to ``last``."""
    days = (last - first).days + 1
    if interval == "time:hour":
        return 24 * days
    if interval == "time:week":
        monday = first - timedelta(days=first.weekday())
        return (last - monday).days // 7 + 1
    if interval == "time:month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return days


# Finding the operator with a search of four fixed strings, then checking the property on its
# own, is linear in the length of the filter (a lazy property pattern followed by \s* took
# O(n²): 30,000 spaces held the server for 10 s).
_OPERATOR = re.compile(r"==|!=|!~|~")
_PROPERTY = re.compile(r"[a-z_]+:[A-Za-z0-9_:\-. ]+")
_OPERATORS = {"==": "is", "!=": "is_not", "~": "contains", "!~": "not_contains"}


def parse_filters(text: str) -> tuple[Filter, ...]:
    """Plausible v1 filters, joined by ``;``: ``event:page==/blog/**|/``, ``visit:source!=X``,
    ``event:page~pricing`` (contains), ``!~`` (does not contain); ``*`` in a value of ``==``
    matches anything but "/", ``**`` anything; ``\\|`` is a literal "|"."""
    parts = [p for p in text.split(";") if p.strip()]
    if len(parts) > MAX_FILTERS:
        raise ApiError(400, f"at most {MAX_FILTERS} filters, joined by ';'")
    filters = []
    for part in parts:
        match = _OPERATOR.search(part)
        dimension = part[: match.start()].strip() if match else ""
        if match is None or not _PROPERTY.fullmatch(dimension):
            raise ApiError(400, f"cannot read filter {part!r}; use property==value")
        if not is_dimension(dimension):
            raise ApiError(400, f"cannot filter by {dimension!r}")
        symbol, raw = match.group(), part[match.end() :]
        values = tuple(v.replace("\0", "|").strip() for v in raw.replace("\\|", "\0").split("|"))
        if len(values) > MAX_FILTER_VALUES:
            raise ApiError(400, f"a filter takes at most {MAX_FILTER_VALUES} values")
        if symbol in ("==", "!=") and any("*" in v for v in values):
            if symbol == "!=":
                raise ApiError(400, "wildcards work with == only")
            filters.append(Filter("matches", dimension, values))
            continue
        filters.append(Filter(_OPERATORS[symbol], dimension, values))
    return tuple(filters)


def parse_metrics(text: str) -> tuple[str, ...]:
    metrics = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not metrics:
        raise ApiError(400, "metrics must name at least one metric")
    for metric in metrics:
        if metric not in METRICS:
            raise ApiError(400, f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    return metrics


def positive_int(params: Mapping[str, str], name: str, default: int, *, maximum: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    # str.isdigit() is true of "²" too, which int() refuses: ASCII digits only.
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    value = int(text)
    if value > maximum:
        raise ApiError(400, f"{name} must be at most {maximum}")
    return value


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(text: str) -> date:
    """A ``YYYY-MM-DD`` date from 1970-01-01 to 9999-12-31."""
    stripped = text.strip()
    try:
        if not _DATE.fullmatch(stripped):
            raise ValueError(stripped)
        day = date.fromisoformat(stripped)
    except ValueError:
        raise ApiError(400, f"date {text!r} is not a date in YYYY-MM-DD form") from None
    if day < FIRST_DATE:
        raise ApiError(400, f"date {text!r} is before {FIRST_DATE}; dates start there")
    return day


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
