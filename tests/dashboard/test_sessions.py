"""Visits, bounces and durations (DESIGN.md §4), intervals, globs, realtime and the privacy
threshold (P7), through the real server with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest

from tests.servers import ManualClock, ThreadServer, utc

pytestmark = pytest.mark.server

SITE = {"site_id": "example.com"}
DAY = {**SITE, "period": "day", "date": "2026-03-10"}


def at(clock: ManualClock, hour: int, minute: int, day: int = 10) -> None:
    clock.set(utc(2026, 3, day, hour, minute))


@pytest.fixture(scope="module")
def visits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    """2026-03-10 (UTC site):
    A: 10:00 /, 10:05 /pricing, 10:10 Signup            -> a visit of 600 s, no bounce
       11:00 /blog (50 minutes later: a new visit)      -> a bounce
    B: 10:00 /, 10:01 and 10:02 engagement reports       -> a bounce of 120 s
       (scrolled 40% then 70%, engaged 20 s then 5 s more)
    C: 12:00 /docs, 12:02 Outbound with interactive=false -> a bounce of 120 s
    D: 23:50 /, then 00:10 on 2026-03-11 /              -> a visit each day (ids are daily)
    """
    clock = ManualClock(utc(2026, 3, 10, 10, 0))
    hush = ThreadServer(tmp_path_factory.mktemp("visits"), clock).start()
    try:
        hush.cli("sites", "add", "example.com")
        hush.add_key()
        a, b, c, d = "203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"

        def send(name: str, path: str, ip: str, **extra: object) -> None:
            body = {"n": name, "u": f"https://example.com{path}", "d": "example.com", **extra}
            assert hush.event(body, ip=ip).status_code == 202

        at(clock, 10, 0)
        send("pageview", "/", a)
        send("pageview", "/", b)
        at(clock, 10, 1)
        send("engagement", "/", b, sd=40, e=20_000)
        at(clock, 10, 2)
        send("engagement", "/", b, sd=70, e=5_000)  # a second report of the same page view
        at(clock, 10, 5)
        send("pageview", "/pricing", a)
        at(clock, 10, 10)
        send("Signup", "/pricing", a)
        at(clock, 11, 0)
        send("pageview", "/blog", a)
        at(clock, 12, 0)
        send("pageview", "/docs", c)
        at(clock, 12, 2)
        send("Outbound", "/docs", c, i=False)
        at(clock, 23, 50)
        send("pageview", "/", d)
        at(clock, 0, 10, day=11)
        send("pageview", "/", d)
        hush.wait_for_events(1)
        at(clock, 23, 59, day=11)
        yield hush
    finally:
        hush.stop()


def test_visits_bounces_and_durations(visits: ThreadServer) -> None:
    metrics = "visitors,visits,pageviews,events,bounce_rate,visit_duration,views_per_visit"
    result = visits.results("aggregate", **DAY, metrics=metrics)
    assert {m: v["value"] for m, v in result.items()} == {
        "visitors": 4,  # A, B, C, D
        "visits": 5,  # A twice
        "pageviews": 6,
        "events": 8,  # engagement events are not events
        "bounce_rate": 80,  # 4 of 5: only A's first visit is not a bounce
        "visit_duration": 168,  # (600 + 0 + 120 + 120 + 0) / 5
        "views_per_visit": 1.2,
    }


def test_a_session_ends_at_local_midnight(visits: ThreadServer) -> None:
    two_days = {**SITE, "period": "custom", "date": "2026-03-10,2026-03-11"}
    result = visits.results(
        "aggregate", **two_days, metrics="visitors,visits", filters="visit:entry_page==/"
    )
    # A and B on the 10th, D on both days: D's visits are two, and D counts once a day.
    assert result == {"visitors": {"value": 4}, "visits": {"value": 4}}


def test_entry_and_exit_pages(visits: ThreadServer) -> None:
    entry = visits.results(
        "breakdown", **DAY, property="visit:entry_page", metrics="visitors,visits,bounce_rate"
    )
    assert entry == [
        {"entry_page": "/", "visitors": 3, "visits": 3, "bounce_rate": 67},
        {"entry_page": "/blog", "visitors": 1, "visits": 1, "bounce_rate": 100},
        {"entry_page": "/docs", "visitors": 1, "visits": 1, "bounce_rate": 100},
    ]
    exits = visits.results("breakdown", **DAY, property="visit:exit_page", metrics="visits")
    assert sorted((row["exit_page"], row["visits"]) for row in exits) == [
        ("/", 2),
        ("/blog", 1),
        ("/docs", 1),
        ("/pricing", 1),
    ]


def test_event_filters_keep_the_sessions_that_contain_a_match(visits: ThreadServer) -> None:
    signed_up = visits.results(
        "aggregate", **DAY, metrics="visitors,pageviews,events", filters="event:name==Signup"
    )
    assert {m: v["value"] for m, v in signed_up.items()} == {
        "visitors": 1,
        "pageviews": 0,
        "events": 1,
    }
    # visits is a session metric: Plausible's v1 refuses it with an event:name filter
    refused = visits.stats("aggregate", **DAY, metrics="visits", filters="event:name==Signup")
    assert refused.status_code == 400


def test_intervals_hour_week_and_month(visits: ThreadServer) -> None:
    hours = visits.results("timeseries", **DAY, metrics="visitors,pageviews")
    assert len(hours) == 24
    busy = {p["date"]: (p["visitors"], p["pageviews"]) for p in hours if p["visitors"]}
    assert busy == {
        "2026-03-10 10:00:00": (2, 3),
        "2026-03-10 11:00:00": (1, 1),
        "2026-03-10 12:00:00": (1, 1),
        "2026-03-10 23:00:00": (1, 1),
    }
    months = visits.results("timeseries", **SITE, period="12mo", metrics="visitors")
    assert len(months) == 12
    assert months[-1] == {"date": "2026-03-01", "visitors": 5}  # daily uniques summed
    weeks = visits.results("timeseries", **SITE, period="month", interval="week")
    assert {"date": "2026-03-09", "visitors": 5} in weeks


def test_glob_filters(visits: ThreadServer) -> None:
    def pages(filters: str) -> list[str]:
        rows = visits.results("breakdown", **DAY, property="event:page", filters=filters)
        return sorted(row["page"] for row in rows)

    assert pages("event:page==/blo*") == ["/blog"]
    assert pages("event:page==/**") == ["/", "/blog", "/docs", "/pricing"]
    assert pages("event:page==/*|/pricing") == ["/", "/blog", "/docs", "/pricing"]
    assert pages("event:page!~o") == ["/", "/pricing"]


def test_realtime_visitors_counts_the_last_five_minutes(visits: ThreadServer) -> None:
    response = visits.stats("realtime/visitors", **SITE)
    assert response.status_code == 200
    assert response.json() == 0  # the clock stands at 23:59 on 2026-03-11
    visits.clock.set(utc(2026, 3, 11, 0, 13))
    assert visits.stats("realtime/visitors", **SITE).json() == 1


@pytest.fixture
def small_counts(tmp_path: Path, clock: ManualClock) -> Iterator[ThreadServer]:
    hush = ThreadServer(tmp_path, clock, HUSH_MIN_VISITORS="3").start()
    try:
        hush.cli("sites", "add", "example.com")
        hush.add_key()
        for n in range(5):
            hush.pageview("https://example.com/", ip=f"203.0.113.{n}")
        hush.pageview("https://example.com/a", ip="198.51.100.1")
        hush.pageview("https://example.com/b", ip="198.51.100.2")
        hush.wait_for_events(7)
        yield hush
    finally:
        hush.stop()


def test_breakdown_rows_under_k_fold_into_one_row(small_counts: ThreadServer) -> None:
    today = {**SITE, "period": "day"}
    pages = small_counts.results(
        "breakdown", **today, property="event:page", metrics="visitors,pageviews"
    )
    assert pages == [
        {"page": "/", "visitors": 5, "pageviews": 5},
        {"page": "(fewer than 3)", "visitors": None, "pageviews": None, "suppressed": True},
    ]
    first = small_counts.results("breakdown", **today, property="event:page", limit=1)
    assert first == [{"page": "/", "visitors": 5}]  # the folded row counts toward limit


def test_filtered_figures_under_k_are_suppressed_and_site_totals_are_not(
    small_counts: ThreadServer,
) -> None:
    today = {**SITE, "period": "day"}
    assert small_counts.results("aggregate", **today, metrics="visitors,pageviews") == {
        "visitors": {"value": 7},
        "pageviews": {"value": 7},
    }
    assert small_counts.results(
        "aggregate", **today, metrics="visitors,pageviews", filters="event:page==/a"
    ) == {
        "visitors": {"value": None, "suppressed": True},
        "pageviews": {"value": None, "suppressed": True},
    }
    series = small_counts.results("timeseries", **today, interval="day", filters="event:page==/a")
    assert series == [{"date": "2026-03-10", "visitors": None, "suppressed": True}]
    shown = small_counts.results("timeseries", **today, interval="day", filters="event:page==/")
    assert shown == [{"date": "2026-03-10", "visitors": 5}]


def test_hours_are_the_sites_local_hours(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 3, 10, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo")))
    hush = ThreadServer(tmp_path, clock).start()
    try:
        hush.cli("sites", "add", "example.com", "--timezone", "Asia/Tokyo")
        hush.add_key()
        hush.pageview("https://example.com/")
        hush.wait_for_events(1)
        hours = hush.results("timeseries", **SITE, period="day")
        assert [p["date"] for p in hours if p["visitors"]] == ["2026-03-10 09:00:00"]
    finally:
        hush.stop()


def test_scroll_depth_and_time_on_page_are_per_page_of_a_visit(visits: ThreadServer) -> None:
    result = visits.results("aggregate", **DAY, metrics="time_on_page", filters="event:page==/")
    # B's page: the deepest scroll of its reports, and their engaged time added up.
    assert result == {"time_on_page": {"value": 25}}
    response = httpx.post(
        f"{visits.base_url}/api/v2/query",
        json={
            "site_id": "example.com",
            "metrics": ["scroll_depth"],
            "date_range": ["2026-03-10", "2026-03-10"],
            "filters": [["is", "event:page", ["/"]]],
        },
        headers={"Authorization": f"Bearer {visits.api_key}"},
    )
    assert response.json()["results"] == [{"metrics": [70], "dimensions": []}]
