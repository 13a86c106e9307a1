"""Stats API v1: Plausible's shapes and the right numbers, through a real server (DESIGN §5)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest

from tests.servers import SAFARI_IPHONE_UA, ManualClock, ThreadServer, utc

pytestmark = pytest.mark.server

SITE = {"site_id": "example.com"}


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    """Three days of traffic on example.com (time zone Europe/Berlin), ending 2026-03-12.

    2026-03-10: A views / and /pricing; B views /; C views /blog?utm_source=newsletter;
                A and B leave / after scrolling 50% for 10 s and 100% for 30 s.
    2026-03-11: A comes back (a new day, a new id) and views /; D views /pricing from Google.
    2026-03-12: E views / at 00:30 Berlin time (still 2026-03-11 in UTC), then Signup.
    """
    clock = ManualClock(utc(2026, 3, 10, 9, 0))
    hush = ThreadServer(tmp_path_factory.mktemp("stats"), clock).start()
    try:
        hush.cli("sites", "add", "example.com", "--timezone", "Europe/Berlin")
        hush.add_key()
        hush.pageview("https://example.com/", ip="203.0.113.1")
        hush.pageview("https://example.com/pricing", ip="203.0.113.1")
        hush.pageview("https://example.com/", ip="203.0.113.2")
        hush.pageview("https://example.com/blog?utm_source=Newsletter", ip="203.0.113.3")
        for ip, depth, engaged in (("203.0.113.1", 50, 10_000), ("203.0.113.2", 100, 30_000)):
            engagement = {
                "n": "engagement",
                "u": "https://example.com/",
                "d": "example.com",
                "sd": depth,
                "e": engaged,
            }
            assert hush.event(engagement, ip=ip).status_code == 202
        hush.wait_for_events(4)
        clock.set(utc(2026, 3, 11, 15, 0))
        hush.pageview("https://example.com/", ip="203.0.113.1")
        hush.pageview(
            "https://example.com/pricing",
            ip="203.0.113.4",
            user_agent=SAFARI_IPHONE_UA,
            referrer="https://www.google.com/",
        )
        hush.wait_for_events(2)
        clock.set(datetime(2026, 3, 12, 0, 30, tzinfo=ZoneInfo("Europe/Berlin")))
        hush.pageview("https://example.com/", ip="203.0.113.5")
        hush.event(
            {"n": "Signup", "u": "https://example.com/", "d": "example.com", "p": {"plan": "pro"}},
            ip="203.0.113.5",
        )
        hush.wait_for_events(2)
        yield hush
    finally:
        hush.stop()


def test_aggregate_counts_visitors_and_pageviews_over_a_period(traffic: ThreadServer) -> None:
    assert traffic.results("aggregate", **SITE, metrics="visitors,pageviews", period="7d") == {
        "visitors": {"value": 6},  # daily uniques summed: 3 + 2 + 1
        "pageviews": {"value": 7},
    }
    day = traffic.results(
        "aggregate", **SITE, metrics="visitors,pageviews,events", period="day", date="2026-03-10"
    )
    assert day == {"visitors": {"value": 3}, "pageviews": {"value": 4}, "events": {"value": 4}}
    today = traffic.results("aggregate", **SITE, metrics="pageviews,events", period="day")
    assert today == {"pageviews": {"value": 1}, "events": {"value": 2}}


def test_the_default_is_visitors_over_the_last_30_days(traffic: ThreadServer) -> None:
    assert traffic.results("aggregate", **SITE) == {"visitors": {"value": 6}}


def test_custom_ranges_and_comparison_with_the_previous_period(traffic: ThreadServer) -> None:
    result = traffic.results(
        "aggregate",
        **SITE,
        period="custom",
        date="2026-03-11,2026-03-12",
        metrics="visitors",
        compare="previous_period",
    )
    # 2026-03-11..12: 2 + 1 visitors; the two days before: 0 + 3.
    assert result == {"visitors": {"value": 3, "change": 0, "comparison_value": 3}}
    result = traffic.results(
        "aggregate",
        **SITE,
        period="day",
        date="2026-03-11",
        metrics="pageviews",
        compare="previous_period",
    )
    assert result == {"pageviews": {"value": 2, "change": -50, "comparison_value": 4}}


def test_days_are_the_sites_local_days(traffic: ThreadServer) -> None:
    # E arrived at 2026-03-11 23:30 UTC, which is 00:30 on 2026-03-12 in Berlin.
    assert traffic.results("aggregate", **SITE, period="day", date="2026-03-12") == {
        "visitors": {"value": 1}
    }


def test_timeseries_has_one_point_per_day_including_empty_ones(traffic: ThreadServer) -> None:
    series = traffic.results("timeseries", **SITE, period="7d", metrics="visitors,pageviews")
    assert series == [
        {"date": "2026-03-06", "visitors": 0, "pageviews": 0},
        {"date": "2026-03-07", "visitors": 0, "pageviews": 0},
        {"date": "2026-03-08", "visitors": 0, "pageviews": 0},
        {"date": "2026-03-09", "visitors": 0, "pageviews": 0},
        {"date": "2026-03-10", "visitors": 3, "pageviews": 4},
        {"date": "2026-03-11", "visitors": 2, "pageviews": 2},
        {"date": "2026-03-12", "visitors": 1, "pageviews": 1},
    ]
    assert len(traffic.results("timeseries", **SITE, period="30d")) == 30


def test_breakdown_by_page_orders_by_visitors_and_pages(traffic: ThreadServer) -> None:
    pages = traffic.results(
        "breakdown", **SITE, period="30d", property="event:page", metrics="visitors,pageviews"
    )
    assert pages == [
        {"page": "/", "visitors": 4, "pageviews": 4},
        {"page": "/pricing", "visitors": 2, "pageviews": 2},
        {"page": "/blog", "visitors": 1, "pageviews": 1},
    ]
    second = traffic.results(
        "breakdown", **SITE, period="30d", property="event:page", limit=2, page=2
    )
    assert second == [{"page": "/blog", "visitors": 1}]


def test_breakdowns_by_source_campaign_and_event_name(traffic: ThreadServer) -> None:
    sources = traffic.results("breakdown", **SITE, period="30d", property="visit:source")
    assert sources == [
        {"source": "Direct / None", "visitors": 4},
        {"source": "Google", "visitors": 1},
        {"source": "Newsletter", "visitors": 1},
    ]
    names = traffic.results("breakdown", **SITE, period="day", property="event:name")
    assert names == [{"name": "Signup", "visitors": 1}, {"name": "pageview", "visitors": 1}]


def test_filters_narrow_every_endpoint(traffic: ThreadServer) -> None:
    def visitors(filters: str) -> int:
        result = traffic.results("aggregate", **SITE, period="30d", filters=filters)
        return result["visitors"]["value"]

    assert visitors("event:page==/pricing") == 2
    assert visitors("event:page==/pricing|/blog") == 3
    assert visitors("event:page!=/") == 3
    assert visitors("event:page~pri") == 2
    assert visitors("visit:utm_source==Newsletter") == 1  # as sent
    assert visitors("event:page==/pricing;visit:source==Google") == 1
    assert visitors("event:page==' OR 1=1 --") == 0
    series = traffic.results(
        "timeseries",
        **SITE,
        period="custom",
        date="2026-03-10,2026-03-11",
        filters="event:page==/pricing",
    )
    assert series == [{"date": "2026-03-10", "visitors": 1}, {"date": "2026-03-11", "visitors": 1}]


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        pytest.param({"period": "fortnight"}, 400, "invalid period `fortnight`", id="bad period"),
        pytest.param(
            {"period": "day", "date": "yesterday"}, 400, "Error parsing `date`", id="bad date"
        ),
        pytest.param(
            {"period": "custom"}, 400, "`date` parameter is required", id="custom without date"
        ),
        pytest.param(
            {"period": "custom", "date": "2026-03-12,2026-03-01"},
            400,
            "ends before",
            id="backwards range",
        ),
        pytest.param(
            {"metrics": "visitors,revenue"}, 400, "metric `revenue` is not recognized", id="metric"
        ),
        pytest.param({"filters": "event:page"}, 400, "Invalid filter property", id="filter syntax"),
        pytest.param(
            {"filters": "visit:ip==1"},
            400,
            "Invalid filter property 'visit:ip'",
            id="filter property",
        ),
        pytest.param({"compare": "last_year"}, 400, "compare must be", id="compare"),
    ],
)
def test_malformed_parameters_get_a_400_with_the_reason(
    traffic: ThreadServer, params: dict[str, str], status: int, error: str
) -> None:
    response = traffic.stats("aggregate", **SITE, **params)
    assert response.status_code == status
    assert error in response.json()["error"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        pytest.param({}, "`property` parameter is required", id="no property"),
        pytest.param({"property": "event:page; DROP TABLE events"}, "Invalid property", id="sql"),
        pytest.param({"property": "event:page", "limit": "0"}, "between 1 and 1000", id="limit 0"),
        pytest.param({"property": "event:page", "limit": "5000"}, "between 1 and 1000", id="limit"),
        pytest.param({"property": "event:page", "page": "-1"}, "page must be", id="page"),
    ],
)
def test_breakdown_parameters_are_checked(
    traffic: ThreadServer, params: dict[str, str], error: str
) -> None:
    response = traffic.stats("breakdown", **SITE, **params)
    assert response.status_code == 400
    assert error in response.json()["error"]


def test_only_a_valid_key_for_an_existing_site_reads(traffic: ThreadServer, tmp_path: Path) -> None:
    assert traffic.stats("aggregate", **SITE, key="").status_code == 401
    assert traffic.stats("aggregate", **SITE, key="hush_guess").status_code == 401
    assert traffic.stats("aggregate", site_id="nobody.example").status_code == 401
    missing = traffic.stats("aggregate")
    assert missing.status_code == 400
    assert "site_id" in missing.json()["error"]
    spare = traffic.cli("keys", "add", "--name", "spare").stdout.splitlines()[-1]
    assert traffic.stats("aggregate", **SITE, key=spare).status_code == 200
    traffic.cli("keys", "revoke", "spare")
    assert traffic.stats("aggregate", **SITE, key=spare).status_code == 401


def v2(server: ThreadServer, **query: Any) -> list[dict[str, Any]]:
    """``POST /api/v2/query`` on example.com (scroll_depth is a v2 metric, not a v1 one)."""
    response = httpx.post(
        f"{server.base_url}/api/v2/query",
        json={"site_id": "example.com", **query},
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def test_scroll_depth_and_time_on_page_come_from_engagement_events(traffic: ThreadServer) -> None:
    day = {"period": "day", "date": "2026-03-10"}
    result = traffic.results(
        "aggregate", **SITE, **day, metrics="time_on_page", filters="event:page==/"
    )
    assert result == {"time_on_page": {"value": 20}}
    dates = ["2026-03-10", "2026-03-10"]
    page = [["is", "event:page", ["/"]]]
    assert v2(traffic, metrics=["scroll_depth"], date_range=dates, filters=page) == [
        {"metrics": [75], "dimensions": []}
    ]
    pages = v2(
        traffic, metrics=["visitors", "scroll_depth"], date_range=dates, dimensions=["event:page"]
    )
    assert pages == [
        {"metrics": [2, 75], "dimensions": ["/"]},
        {"metrics": [1, None], "dimensions": ["/blog"]},
        {"metrics": [1, None], "dimensions": ["/pricing"]},
    ]
