"""A view's URL is its state (DESIGN §5): periods, shifts, comparisons and filters read from the
query string, written back into links, and refused with a message when they make no sense."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard.web.view_state import read_state

TODAY = date(2026, 3, 18)  # a Wednesday


def state(query: str, *, first_day: date | None = date(2025, 6, 1)):  # type: ignore[no-untyped-def]
    return read_state(parse_qs(query, keep_blank_values=True), TODAY, first_day=first_day)


@pytest.mark.parametrize(
    ("query", "first", "last", "interval"),
    [
        pytest.param("", date(2026, 2, 19), TODAY, "day", id="28 days by default"),
        pytest.param("period=day", TODAY, TODAY, "hour", id="today by the hour"),
        pytest.param(
            "period=yesterday", date(2026, 3, 17), date(2026, 3, 17), "hour", id="yesterday"
        ),
        pytest.param("period=7d", date(2026, 3, 12), TODAY, "day", id="7 days"),
        pytest.param("period=91d", date(2025, 12, 18), TODAY, "day", id="91 days"),
        pytest.param("period=month", date(2026, 3, 1), TODAY, "day", id="month to date"),
        pytest.param(
            "period=last_month", date(2026, 2, 1), date(2026, 2, 28), "day", id="last month"
        ),
        pytest.param("period=year", date(2026, 1, 1), TODAY, "day", id="year to date"),
        pytest.param("period=12mo", date(2025, 4, 1), TODAY, "week", id="12 months"),
        pytest.param("period=all", date(2025, 6, 1), TODAY, "week", id="all time"),
        pytest.param(
            "period=day&date=2026-03-01", date(2026, 3, 1), date(2026, 3, 1), "hour", id="a day"
        ),
        pytest.param(
            "period=month&date=2026-01-15", date(2026, 1, 1), date(2026, 1, 31), "day", id="a month"
        ),
        pytest.param(
            "period=custom&from=2026-01-01&to=2026-01-10",
            date(2026, 1, 1),
            date(2026, 1, 10),
            "day",
            id="custom",
        ),
        pytest.param("period=day&date=2027-01-01", TODAY, TODAY, "hour", id="never past today"),
    ],
)
def test_each_period_covers_its_days(query: str, first: date, last: date, interval: str) -> None:
    view = state(query)
    assert (view.date_from, view.date_to, view.interval) == (first, last, interval)
    assert view.problems == ()


@pytest.mark.parametrize(
    ("query", "compare_from", "compare_to"),
    [
        pytest.param(
            "period=7d&compare=previous_period", date(2026, 3, 5), date(2026, 3, 11), id="previous"
        ),
        pytest.param(
            "period=7d&compare=year_over_year",
            date(2025, 3, 12),
            date(2025, 3, 18),
            id="year over year",
        ),
        pytest.param(
            "period=7d&compare=year_over_year&match_day_of_week=1",
            date(2025, 3, 13),
            date(2025, 3, 19),
            id="year over year on the same weekdays",
        ),
        pytest.param(
            "period=day&compare=custom&compare_from=2026-01-01&compare_to=2026-01-01",
            date(2026, 1, 1),
            date(2026, 1, 1),
            id="custom",
        ),
    ],
)
def test_comparisons(query: str, compare_from: date, compare_to: date) -> None:
    view = state(query)
    assert view.comparison == (compare_from, compare_to)
    assert view.date_from.weekday() == compare_from.weekday() or "match" not in query


@pytest.mark.parametrize(
    "query",
    [
        "period=decade",
        "period=custom&from=2026-01-10",
        "period=custom&from=2026-02-01&to=2026-01-01",
        "date=not-a-date&period=day",
        "compare=sometimes",
        "interval=minute",
        "f=is,visit:nonsense,x",
        "f=equals,event:page,/",
        "f=is",
        "&".join(["f=is,event:page,/a"] * 50),
        "period=day&date=0001-01-01",
    ],
)
def test_a_bad_url_is_a_message_and_a_sensible_view(query: str) -> None:
    view = state(query)
    assert view.problems, query
    assert view.date_from <= view.date_to
    assert len(view.filters) <= 10


def test_filters_round_trip_through_links_even_with_commas() -> None:
    view = state("f=is,visit:source,Google&f=contains,event:page,/a\\,b")
    assert [(f.operator, f.dimension, f.values) for f in view.filters] == [
        ("is", "visit:source", ("Google",)),
        ("contains", "event:page", ("/a,b",)),
    ]
    again = state(urlsplit(view.url("/sites/x")).query)
    assert again.filters == view.filters
    narrowed = state(urlsplit(view.with_filter("/sites/x", "visit:source", "Bing")).query)
    assert [f.values for f in narrowed.filters] == [("/a,b",), ("Bing",)]
    fewer = state(urlsplit(view.without_filter("/sites/x", 0)).query)
    assert [f.dimension for f in fewer.filters] == ["event:page"]


def test_shifting_moves_by_the_period_and_stops_at_today() -> None:
    day = state("period=day&date=2026-03-17")
    assert "date=2026-03-16" in (day.shifted("/s", -1) or "")
    assert "date=2026-03-18" in (day.shifted("/s", 1) or "")
    assert state("period=day").shifted("/s", 1) is None
    month = state("period=month&date=2026-01-20")
    assert "date=2025-12-01" in (month.shifted("/s", -1) or "")
    assert state("period=7d").shifted("/s", -1) is None
