"""A dashboard view's state, read from its URL and written back into links (DESIGN §5).

Everything a view shows follows from its query string: ``period`` (with ``date`` for the day,
month or year it is anchored on, or ``from``/``to`` for a custom range), ``compare``
(``previous_period``, ``year_over_year``, ``custom`` with ``compare_from``/``compare_to``) and
``match_day_of_week``, ``interval``, ``metric``, and repeatable ``f=<op>,<property>,<value>...``
filters in Plausible's readable form (a comma inside a value is written ``\\,``). A bad value
is a message on the page, never a 500: ``read_state`` returns the state and what it refused.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from urllib.parse import urlencode

from aggregator.queries import Filter

DEFAULT_PERIOD = "28d"
# period -> its label in the picker, in the picker's order
PERIODS = {
    "day": "Today",
    "yesterday": "Yesterday",
    "realtime": "Realtime",
    "7d": "Last 7 days",
    "28d": "Last 28 days",
    "30d": "Last 30 days",
    "91d": "Last 91 days",
    "month": "Month to date",
    "last_month": "Last month",
    "year": "Year to date",
    "12mo": "Last 12 months",
    "all": "All time",
    "custom": "Custom range",
}
COMPARISONS = {
    "": "No comparison",
    "previous_period": "Previous period",
    "year_over_year": "Year over year",
    "custom": "Custom period",
}
OPERATORS = {
    "is": "is",
    "is_not": "is not",
    "contains": "contains",
    "contains_not": "does not contain",
}
# The engine's operator names (aggregator/queries/vocabulary.py)
_ENGINE_OPERATOR = {
    "is": "is",
    "is_not": "is_not",
    "contains": "contains",
    "contains_not": "not_contains",
}
INTERVALS = ("minute", "hour", "day", "week", "month")
MAX_FILTERS = 10
MAX_VALUES = 20
MAX_VALUE_LENGTH = 500
EARLIEST = date(1970, 1, 1)
_SPLIT = re.compile(r"(?<!\\),")


@dataclass(frozen=True, slots=True)
class ViewFilter:
    operator: str
    dimension: str
    values: tuple[str, ...]

    @property
    def engine(self) -> Filter:
        return Filter(_ENGINE_OPERATOR[self.operator], self.dimension, self.values)

    @property
    def param(self) -> str:
        escaped = (value.replace("\\", "\\\\").replace(",", "\\,") for value in self.values)
        return ",".join((self.operator, self.dimension, *escaped))


@dataclass(frozen=True, slots=True)
class ViewState:
    period: str = DEFAULT_PERIOD
    anchor: date | None = None  # ``date``: the day a day/month/year period is on
    date_from: date = EARLIEST
    date_to: date = EARLIEST
    compare: str = ""
    compare_from: date | None = None
    compare_to: date | None = None
    match_day_of_week: bool = False
    interval: str = "day"
    metric: str = "visitors"
    filters: tuple[ViewFilter, ...] = ()
    custom: tuple[date | None, date | None] = (None, None)  # ``from`` and ``to`` as given
    extra: tuple[tuple[str, str], ...] = ()  # a page's own parameters (a panel's tab, a sort)
    today: date = EARLIEST
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def comparison(self) -> tuple[date, date] | None:
        return (
            (self.compare_from, self.compare_to) if self.compare_from and self.compare_to else None
        )

    @property
    def includes_today(self) -> bool:
        return self.date_from <= self.today <= self.date_to

    def params(self, **changes: object) -> list[tuple[str, str]]:
        """The query string's pairs, with ``changes`` applied (None drops a parameter)."""
        values: dict[str, object] = {
            "period": self.period if self.period != DEFAULT_PERIOD else None,
            "date": self.anchor.isoformat() if self.anchor and self.period in SHIFTABLE else None,
            "from": _iso(self.custom[0]) if self.period == "custom" else None,
            "to": _iso(self.custom[1]) if self.period == "custom" else None,
            "compare": self.compare or None,
            "compare_from": _iso(self.compare_from) if self.compare == "custom" else None,
            "compare_to": _iso(self.compare_to) if self.compare == "custom" else None,
            "match_day_of_week": "1" if self.match_day_of_week and self.compare else None,
            "interval": self.interval if self.interval != default_interval(self) else None,
            "metric": self.metric if self.metric != "visitors" else None,
        }
        values.update(changes)
        pairs = [(name, str(value)) for name, value in values.items() if value is not None]
        filters = changes.get("f", [f.param for f in self.filters])
        assert isinstance(filters, list)
        pairs = [pair for pair in pairs if pair[0] != "f"]
        pairs += [("f", str(text)) for text in filters]
        pairs += [pair for pair in self.extra if pair[0] not in changes]
        return pairs

    def url(self, path: str, **changes: object) -> str:
        query = urlencode(self.params(**changes))
        return f"{path}?{query}" if query else path

    def with_filter(self, path: str, dimension: str, value: str) -> str:
        """This view narrowed to ``dimension is value`` (replacing a filter on it)."""
        kept = [f.param for f in self.filters if f.dimension != dimension]
        return self.url(path, f=[*kept, ViewFilter("is", dimension, (value,)).param])

    def without_filter(self, path: str, index: int) -> str:
        return self.url(path, f=[f.param for n, f in enumerate(self.filters) if n != index])

    def shifted(self, path: str, step: int) -> str | None:
        """The previous (-1) or next (+1) day, month or year; None past today or for ranges."""
        if self.period not in SHIFTABLE:
            return None
        if self.period in ("day", "yesterday"):
            moved = self.date_from + timedelta(days=step)
            period, moved_anchor = "day", moved
        elif self.period in ("month", "last_month"):
            period, moved_anchor = "month", _add_months(self.date_from, step)
        else:
            period, moved_anchor = "year", self.date_from.replace(year=self.date_from.year + step)
        if moved_anchor > self.today or moved_anchor < EARLIEST:
            return None
        return self.url(path, period=period, date=moved_anchor.isoformat())


SHIFTABLE = frozenset({"day", "yesterday", "month", "last_month", "year"})


def read_state(query: dict[str, list[str]], today: date, *, first_day: date | None) -> ViewState:
    """The view a URL asks for, relative to the site's ``today``; ``first_day``: its earliest
    event (for "all time")."""
    problems: list[str] = []
    one = {name: values[0] for name, values in query.items() if values}
    period = one.get("period", DEFAULT_PERIOD)
    if period not in PERIODS:
        problems.append(f"there is no period {period!r}: showing the last 28 days")
        period = DEFAULT_PERIOD
    anchor = _date(one.get("date"), "date", problems)
    custom = (_date(one.get("from"), "from", problems), _date(one.get("to"), "to", problems))
    if period == "custom" and not all(custom):
        problems.append("a custom range needs a from and a to date: showing the last 28 days")
        period = DEFAULT_PERIOD
    date_from, date_to = _range(period, anchor, custom, today, first_day)
    if date_from > date_to:
        problems.append("that range ends before it starts: showing the last 28 days")
        period = DEFAULT_PERIOD
        date_from, date_to = _range(period, None, custom, today, first_day)
    state = ViewState(
        period=period,
        anchor=anchor if period in SHIFTABLE else None,
        date_from=date_from,
        date_to=date_to,
        custom=custom,
        today=today,
    )
    state = replace(state, interval=default_interval(state))
    interval = one.get("interval")
    if interval:
        if interval in allowed_intervals(state):
            state = replace(state, interval=interval)
        else:
            problems.append(f"interval {interval!r} does not fit this range")
    state = replace(state, metric=one.get("metric", "visitors"))
    compare = one.get("compare", "")
    if compare not in COMPARISONS:
        problems.append(f"there is no comparison {compare!r}")
        compare = ""
    state = _with_comparison(state, compare, one, problems)
    filters = _filters(query.get("f", []), problems)
    return replace(state, filters=filters, problems=tuple(problems))


def default_interval(state: ViewState) -> str:
    if state.period == "realtime":
        return "minute"
    if state.days == 1:
        return "hour"
    if state.days <= 91:
        return "day"
    return "week" if state.days <= 400 else "month"


def allowed_intervals(state: ViewState) -> tuple[str, ...]:
    if state.period == "realtime":
        return ("minute",)
    if state.days == 1:
        return ("hour",)
    if state.days <= 31:
        return ("day", "week")
    if state.days <= 400:
        return ("day", "week", "month")
    return ("week", "month")


def _range(
    period: str,
    anchor: date | None,
    custom: tuple[date | None, date | None],
    today: date,
    first_day: date | None,
) -> tuple[date, date]:
    on = min(anchor or today, today)
    match period:
        case "day" | "realtime":
            return on, on
        case "yesterday":
            return today - timedelta(days=1), today - timedelta(days=1)
        case "7d" | "28d" | "30d" | "91d":
            return today - timedelta(days=int(period[:-1]) - 1), today
        case "month":
            last = calendar.monthrange(on.year, on.month)[1]
            return on.replace(day=1), min(on.replace(day=last), today)
        case "last_month":
            start = _add_months(today.replace(day=1), -1)
            return start, today.replace(day=1) - timedelta(days=1)
        case "year":
            return on.replace(month=1, day=1), min(on.replace(month=12, day=31), today)
        case "12mo":
            return _add_months(today.replace(day=1), -11), today
        case "all":
            return min(first_day or today, today), today
        case _:
            assert custom[0] and custom[1]
            return custom[0], min(custom[1], today)


def _with_comparison(
    state: ViewState, compare: str, one: dict[str, str], problems: list[str]
) -> ViewState:
    match_dow = one.get("match_day_of_week") in ("1", "true", "on")
    if not compare or state.period == "realtime":
        return state
    span = timedelta(days=state.days)
    if compare == "previous_period":
        first = state.date_from - span
        if match_dow:
            first -= timedelta(days=(first.weekday() - state.date_from.weekday()) % 7)
        last = first + span - timedelta(days=1)
    elif compare == "year_over_year":
        first, last = _years_back(state.date_from), _years_back(state.date_to)
        if match_dow:  # to the nearest day of the same weekday, a year back
            shift = (first.weekday() - state.date_from.weekday()) % 7
            shift = shift - 7 if shift > 3 else shift
            first, last = first - timedelta(days=shift), last - timedelta(days=shift)
    else:
        first_given = _date(one.get("compare_from"), "compare_from", problems)
        last_given = _date(one.get("compare_to"), "compare_to", problems)
        if not first_given or not last_given or first_given > last_given:
            problems.append("a custom comparison needs a compare_from and a compare_to date")
            return state
        first, last = first_given, last_given
    if first < EARLIEST:
        problems.append("the comparison would start before 1970")
        return state
    return replace(
        state, compare=compare, compare_from=first, compare_to=last, match_day_of_week=match_dow
    )


def _filters(texts: list[str], problems: list[str]) -> tuple[ViewFilter, ...]:
    from aggregator.queries.vocabulary import is_dimension

    found: list[ViewFilter] = []
    for text in texts[: MAX_FILTERS + 1]:
        if len(found) == MAX_FILTERS:
            problems.append(f"a view takes at most {MAX_FILTERS} filters: the rest are ignored")
            break
        parts = [part.replace("\\,", ",").replace("\\\\", "\\") for part in _SPLIT.split(text)]
        if len(parts) < 3 or parts[0] not in OPERATORS or not is_dimension(parts[1]):
            problems.append(f"the filter {text[:80]!r} is not one hush knows: it is ignored")
            continue
        values = tuple(value[:MAX_VALUE_LENGTH] for value in parts[2 : 2 + MAX_VALUES])
        found.append(ViewFilter(parts[0], parts[1], values))
    return tuple(found)


def _date(text: str | None, name: str, problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        problems.append(f"{name}={text[:40]!r} is not a date (YYYY-MM-DD): it is ignored")
        return None
    if value < EARLIEST:
        problems.append(f"{name} is before 1970: it is ignored")
        return None
    return value


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _years_back(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)  # 29 February
