"""Reading Plausible's Stats API v1 parameters: the one place every v1 endpoint's parameters
are checked, bounded and translated onto the v2-shaped ``ApiQuery`` the query path runs
(``V1Request``), or refused with an ``ApiError`` in Plausible's words (``errors``).

The bounds keep one key holder from exhausting the server (README, "Stats API limits"): every
parameter is short, filters are few, dates lie in 1970-01-01..9999-12-31 and a timeseries has
at most ``MAX_BUCKETS`` points, all checked before any query runs. ``read_filters`` reads both
filter forms v1 takes (``event:page==/blog/**;visit:source==Google`` and the JSON form
``[["is", "event:page", ["/"]]]``), and v2's JSON filters with ``and``/``or``/``not``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import orjson

from aggregator.queries import (
    GOAL,
    GROUP_OPERATORS,
    TIME_DIMENSIONS,
    AnyFilter,
    Filter,
    FilterGroup,
    is_dimension,
)
from dashboard.api import errors
from dashboard.api.errors import ApiError
from dashboard.api.query import NO_LOCATIONS, ApiQuery

__all__ = ["ApiError", "V1Request", "read_params"]

PERIODS = ("realtime", "day", "7d", "30d", "month", "6mo", "12mo", "custom")
INTERVALS = {
    "hour": "time:hour",
    "day": "time:day",
    "date": "time:day",
    "week": "time:week",
    "month": "time:month",
}
V1_METRICS = (
    "visitors",
    "visits",
    "pageviews",
    "events",
    "bounce_rate",
    "visit_duration",
    "views_per_visit",
    "time_on_page",
    "conversion_rate",
)
# Plausible v1's version breakdowns carry the name beside the version.
VERSION_OF = {"visit:os_version": "visit:os", "visit:browser_version": "visit:browser"}

MAX_LIMIT = 1000
MAX_PAGE = 100_000
MAX_PARAM_CHARS = 500  # any parameter but filters: a domain is at most 253
MAX_FILTERS_CHARS = 2_000
MAX_FILTERS = 10
MAX_FILTER_VALUES = 100
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(9999, 12, 31)
MAX_BUCKETS = 10_000  # 416 days by the hour, 27 years by the day


@dataclass(frozen=True, slots=True)
class V1Request:
    """A v1 request, translated: the v2-shaped query, and what only v1's answer shape needs."""

    query: ApiQuery
    period: str
    interval: str  # a time dimension (timeseries)
    prop: str | None  # the breakdown property
    limit: int
    page: int
    compared: tuple[date, date] | None  # the previous period, with compare=previous_period


def read_params(params: Mapping[str, str], *, endpoint: str, today: date) -> V1Request:
    """Every parameter of a v1 request to ``endpoint`` (aggregate, timeseries, breakdown),
    checked in Plausible's order (period, date, property, filters, metrics, limit)."""
    for name, value in params.items():
        bound = MAX_FILTERS_CHARS if name == "filters" else MAX_PARAM_CHARS
        if len(value) > bound:
            raise ApiError(400, f"{name[:40]} must be at most {bound} characters long")
    period = params.get("period", "30d")
    if period not in PERIODS or (endpoint == "timeseries" and period == "realtime"):
        raise errors.invalid_period(period)
    date_from, date_to = date_range(period, params.get("date"), today)
    # Each endpoint reads only its own parameters; others are ignored, as Plausible does.
    interval = INTERVALS[default_interval(period)]
    dimensions: tuple[str, ...] = ()
    if endpoint == "timeseries":
        interval = interval_dimension(params.get("interval") or default_interval(period))
        buckets = count_buckets(interval, date_from, date_to)
        if buckets > MAX_BUCKETS:
            raise ApiError(
                400,
                f"this timeseries would have {buckets} points; at most {MAX_BUCKETS}:"
                " ask for a shorter range or a longer interval",
            )
        dimensions = (interval,)
    prop = params.get("property")
    if endpoint == "breakdown":
        prop = check_property(prop)
        dimensions = (VERSION_OF[prop], prop) if prop in VERSION_OF else (prop,)
    filters = read_filters(params.get("filters", ""))
    metrics = parse_metrics(params.get("metrics", "visitors"))
    limit = 100
    if endpoint == "breakdown" and "limit" in params:
        text = params["limit"]
        if not re.fullmatch(r"[0-9]{1,9}", text) or not 1 <= int(text) <= MAX_LIMIT:
            raise ApiError(400, errors.LIMIT)
        limit = int(text)
    compare = params.get("compare") if endpoint == "aggregate" else None
    compared = None
    if compare == "previous_period":
        span = date_to - date_from + timedelta(days=1)
        if date_from - FIRST_DATE < span:
            raise ApiError(400, f"the previous period would start before {FIRST_DATE}")
        compared = (date_from - span, date_from - timedelta(days=1))
    elif compare:
        raise ApiError(400, "compare must be previous_period")
    query = ApiQuery(
        metrics,
        date_from,
        date_to,
        dimensions,
        filters,
        realtime=period == "realtime",
    )
    return V1Request(
        query=query,
        period=period,
        interval=interval,
        prop=prop,
        limit=limit,
        page=positive_int(params, "page", 1, maximum=MAX_PAGE),
        compared=compared,
    )


def check_property(prop: str | None) -> str:
    if not prop:
        raise ApiError(400, errors.PROPERTY_REQUIRED)
    if prop == "event:hostname":
        raise ApiError(400, errors.HOSTNAME_BREAKDOWN)
    if prop in NO_LOCATIONS:
        raise errors.no_locations(prop)
    if prop in TIME_DIMENSIONS or not is_dimension(prop):
        raise errors.invalid_property(prop)
    return prop


def date_range(period: str, date_param: str | None, today: date) -> tuple[date, date]:
    """The inclusive local dates a Plausible v1 ``period`` and ``date`` cover."""
    if period not in PERIODS:
        raise errors.invalid_period(period)
    if period == "custom":
        if date_param is None:
            raise ApiError(400, errors.CUSTOM_NEEDS_DATE)
        parts = date_param.split(",")
        if len(parts) != 2 or not all(_DATE.fullmatch(p.strip()) for p in parts):
            raise ApiError(400, errors.CUSTOM_BAD_DATE)
        try:
            first, last = (date.fromisoformat(part.strip()) for part in parts)
        except ValueError:
            raise ApiError(400, errors.CUSTOM_BAD_DATE) from None
        first, last = parse_date(str(first)), parse_date(str(last))  # hush's 1970 bound
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
        first = add_months(end.replace(day=1), -(months - 1))
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
        raise errors.invalid_interval(text)
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
# Plausible's JSON filter operators -> the engine's (v1 JSON filters and v2).
JSON_OPERATORS = {
    "is": "is",
    "is_not": "is_not",
    "contains": "contains",
    "contains_not": "not_contains",
    "matches": "matches_regex",
    "matches_not": "not_matches_regex",
    "matches_wildcard": "matches",
    "matches_wildcard_not": "not_matches",
}


def read_filters(text: str) -> tuple[AnyFilter, ...]:
    """v1's filters: JSON (``[["is", "event:page", ["/"]]]``) or Plausible's string form."""
    if text.lstrip().startswith("["):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ApiError(400, f"cannot read the filters {text[:100]!r} as JSON") from None
        return json_filters(parsed)
    return parse_filters(text)


def parse_filters(text: str) -> tuple[Filter, ...]:
    """Plausible v1 filters, joined by ``;``: ``event:page==/blog/**|/``, ``visit:source!=X``,
    ``event:page~pricing`` (contains), ``!~`` (does not contain); ``*`` in a value of ``==`` or
    ``!=`` matches anything but "/", ``**`` anything; ``\\|`` is a literal "|"."""
    parts = [p for p in text.split(";") if p.strip()]
    if len(parts) > MAX_FILTERS:
        raise ApiError(400, f"at most {MAX_FILTERS} filters, joined by ';'")
    filters = []
    for part in parts:
        match = _OPERATOR.search(part)
        dimension = part[: match.start()].strip() if match else part.strip()
        if match is None or not _PROPERTY.fullmatch(dimension):
            raise errors.invalid_filter_property(dimension[:100])
        check_filter_property(dimension)
        symbol, raw = match.group(), part[match.end() :]
        values = tuple(v.replace("\0", "|").strip() for v in raw.replace("\\|", "\0").split("|"))
        if len(values) > MAX_FILTER_VALUES:
            raise ApiError(400, f"a filter takes at most {MAX_FILTER_VALUES} values")
        operator = _OPERATORS[symbol]
        if symbol in ("==", "!=") and dimension != GOAL and any("*" in v for v in values):
            operator = "matches" if symbol == "==" else "not_matches"
        filters.append(Filter(operator, dimension, values))
    return tuple(filters)


def check_filter_property(dimension: str) -> None:
    if dimension in NO_LOCATIONS:
        raise errors.no_locations(dimension)
    if dimension in TIME_DIMENSIONS or dimension == "time" or not is_dimension(dimension):
        raise errors.invalid_filter_property(dimension)


def json_filters(value: Any, *, depth: int = 0) -> tuple[AnyFilter, ...]:
    """A list of Plausible's JSON filters: ``[op, dimension, [values]]`` (a fourth element,
    ``{"case_sensitive": ...}``, is accepted and ignored), or ``["and"|"or", [filters]]`` and
    ``["not", filter]``; at most ``MAX_FILTERS`` simple filters, nested at most 5 deep."""
    if not isinstance(value, list):
        raise ApiError(400, "filters must be a list of filters")
    found = tuple(json_filter(item, depth=depth) for item in value)
    if _count(found) > MAX_FILTERS:
        raise ApiError(400, f"at most {MAX_FILTERS} filters")
    return found


def json_filter(item: Any, *, depth: int) -> AnyFilter:
    if depth > 5:
        raise ApiError(400, "filters nest at most 5 groups deep")
    if not isinstance(item, list) or not item or not isinstance(item[0], str):
        raise ApiError(400, f"cannot read the filter {str(item)[:100]!r}")
    operator = item[0]
    if operator in GROUP_OPERATORS:
        if operator == "not":
            if len(item) != 2:
                raise ApiError(400, 'a not filter takes one filter: ["not", filter]')
            return FilterGroup("not", (json_filter(item[1], depth=depth + 1),))
        if len(item) != 2 or not isinstance(item[1], list) or not item[1]:
            raise ApiError(400, f'an {operator} filter takes a list: ["{operator}", [filters]]')
        return FilterGroup(operator, json_filters(item[1], depth=depth + 1))
    if operator not in JSON_OPERATORS:
        raise ApiError(400, f"unknown filter operator {operator[:40]!r}")
    if len(item) not in (3, 4) or not isinstance(item[1], str):
        raise ApiError(400, f"cannot read the filter {str(item)[:100]!r}")
    dimension, values = item[1], item[2]
    check_filter_property(dimension)
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ApiError(400, f"the filter on {dimension} needs a list of strings")
    if len(values) > MAX_FILTER_VALUES:
        raise ApiError(400, f"a filter takes at most {MAX_FILTER_VALUES} values")
    if dimension == GOAL and operator not in ("is", "contains"):
        raise ApiError(400, "only `is` and `contains` filters work on event:goal")
    if len(item) == 4 and not isinstance(item[3], dict):
        raise ApiError(400, "a filter's fourth element holds its modifiers, as an object")
    return Filter(JSON_OPERATORS[operator], dimension, tuple(values))


def _count(filters: tuple[AnyFilter, ...]) -> int:
    return sum(_count(f.filters) if isinstance(f, FilterGroup) else 1 for f in filters)


def parse_metrics(text: str, *, allowed: tuple[str, ...] = V1_METRICS) -> tuple[str, ...]:
    metrics = tuple(m.strip() for m in text.split(",") if m.strip())
    if not metrics:
        raise ApiError(400, "metrics must name at least one metric")
    for metric in metrics:
        if metric not in allowed:
            raise errors.unknown_metric(metric[:100])
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
        raise errors.invalid_date() from None
    if day < FIRST_DATE:
        raise ApiError(400, f"date {text!r} is before {FIRST_DATE}; dates start there")
    return day


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
