"""Reading Plausible's Stats API v1 parameters: periods, dates, intervals, metrics, filters."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Any

from aggregator.queries import Filter

PERIODS = ("realtime", "day", "7d", "30d", "month", "6mo", "12mo", "custom")
INTERVALS = {
    "hour": "time:hour",
    "day": "time:day",
    "date": "time:day",
    "week": "time:week",
    "month": "time:month",
}
MAX_LIMIT = 1000
REALTIME_MINUTES = 30


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
        return end, end
    if period in ("7d", "30d"):
        return end - timedelta(days=int(period[:-1]) - 1), end
    months = {"month": 1, "6mo": 6, "12mo": 12}[period]
    first = _add_months(end.replace(day=1), -(months - 1))
    last = end.replace(day=calendar.monthrange(end.year, end.month)[1])
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


_FILTER = re.compile(r"^\s*([a-z_]+:[A-Za-z0-9_:\-. ]+?)\s*(==|!=|!~|~)(.*)$")


def parse_filters(text: str) -> tuple[Filter, ...]:
    """Plausible v1 filters, joined by ``;``: ``event:page==/blog/**|/``, ``visit:source!=X``,
    ``event:page~pricing`` (contains), ``!~`` (does not contain); ``*`` in a value of ``==``
    matches anything but "/", ``**`` anything; ``\\|`` is a literal "|"."""
    filters = []
    for part in (p for p in text.split(";") if p.strip()):
        match = _FILTER.match(part)
        if match is None:
            raise ApiError(400, f"cannot read filter {part!r}; use property==value")
        dimension, symbol, raw = match.groups()
        values = tuple(v.replace("\0", "|").strip() for v in raw.replace("\\|", "\0").split("|"))
        if symbol in ("==", "!=") and any("*" in v for v in values):
            if symbol == "!=":
                raise ApiError(400, "wildcards work with == only")
            filters.append(Filter("matches", dimension, values))
            continue
        operator = {"==": "is", "!=": "is_not", "~": "contains", "!~": "not_contains"}[symbol]
        filters.append(Filter(operator, dimension, values))
    return tuple(filters)


def parse_metrics(params: Any) -> tuple[str, ...]:
    text = params.get("metrics", "visitors")
    metrics = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not metrics:
        raise ApiError(400, "metrics must name at least one metric")
    return metrics


def positive_int(params: Any, name: str, default: int, *, maximum: int | None = None) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    value = int(text)
    if maximum is not None and value > maximum:
        raise ApiError(400, f"{name} must be at most {maximum}")
    return value


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ApiError(400, f"date {text!r} is not a date in YYYY-MM-DD form") from None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
