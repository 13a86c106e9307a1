"""A filtered ``/sites/<domain>`` view shows the same figures whichever path answers its panels:
raw events before its days are rolled up, rollups after, and the Stats API for the same filter."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest

from aggregator.rollups import refresh_open_days, roll_up_pending
from tests.harness import Harness, add_user, in_process, log_in
from tests.servers import CHROME_UA, SAFARI_IPHONE_UA, ManualClock, utc

PAGE = {"n": "pageview", "d": "example.com"}
GOOGLE = "https://www.google.com/"
NEWS = "https://news.ycombinator.com/"
# (referrer, user agent, pages, signs up): one visitor each, on 2026-03-10; the last two again
# on 2026-03-11 (today), so today's graph and the 7-day view have both days.
VISITS: list[tuple[str | None, str, tuple[str, ...], bool]] = [
    (GOOGLE, CHROME_UA, ("/pricing", "/"), True),
    (GOOGLE, CHROME_UA, ("/pricing",), True),
    (GOOGLE, SAFARI_IPHONE_UA, ("/", "/docs"), False),
    (GOOGLE, CHROME_UA, ("/docs",), False),
    (NEWS, SAFARI_IPHONE_UA, ("/", "/pricing"), True),
    (NEWS, CHROME_UA, ("/",), False),
    (None, SAFARI_IPHONE_UA, ("/docs",), False),
    (None, CHROME_UA, ("/pricing",), False),
]
FILTERS = [
    "f=is,visit:source,Google",
    "f=is,event:page,/pricing",
    "f=is,visit:browser,Chrome",
    "f=is,event:goal,Signup",
    "f=is,visit:entry_page,/",
    # Shapes no rollup holds: read from raw events either way.
    "f=is_not,visit:source,Google",
    "f=is,visit:source,Google&f=is,visit:device,Mobile",
]
PERIODS = ["period=day", "period=7d"]
PANELS = ("sources", "pages", "locations", "devices", "goals")


def send(
    hush: Harness,
    clock: ManualClock,
    visits: list[tuple[str | None, str, tuple[str, ...], bool]],
    net: int,
) -> None:
    """Each visit's page views a minute apart (its first one carries the referrer), then its
    signup."""
    for n, (referrer, agent, pages, signs_up) in enumerate(visits):
        ip = f"203.0.{net}.{n + 1}"
        for i, path in enumerate(pages):
            body = {**PAGE, "u": f"https://example.com{path}"}
            if i == 0 and referrer:
                body["r"] = referrer
            hush.store_events(body, ip=ip, user_agent=agent)
            clock.advance(60)
        if signs_up:
            hush.store_events(
                {**PAGE, "n": "Signup", "u": f"https://example.com{pages[-1]}"},
                ip=ip,
                user_agent=agent,
            )


@pytest.fixture(scope="module")
def hush(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """example.com with yesterday's visits and today's, a Signup goal, nothing rolled up yet
    (the tests roll up when they mean to)."""
    clock = ManualClock(utc(2026, 3, 10, 9, 0))
    with in_process(
        tmp_path_factory.mktemp("filtered-view"),
        clock=clock,
        HUSH_MAINTENANCE_INTERVAL="3600",
    ) as harness:
        harness.admin("goals.add", site="example.com", kind="event", target="Signup")
        send(harness, clock, VISITS, 0)
        clock.advance(86400)
        send(harness, clock, VISITS[-2:], 1)
        add_user(harness, "mo@example.com", "marketing", "example.com")
        log_in(harness, "mo@example.com")
        yield harness


def panels(html: str) -> dict[str, list[tuple[str, str]]]:
    """Each panel's rows as (label, visitors), and the metric cards as a panel of their own."""
    shown: dict[str, list[tuple[str, str]]] = {}
    for key in PANELS:
        section = html.split(f'id="panel-{key}"')[1].split("</section>")[0]
        assert 'class="error"' not in section, section
        shown[key] = [
            (unescape(label), unescape(value))
            for label, value in re.findall(
                r'title="Filter by ([^"]*)">[^<]*</a>\s*</th>\s*<td class="num">(?:<abbr[^>]*>)?'
                r"([^<]+)",
                section,
            )
        ]
    shown["cards"] = re.findall(
        r'class="name">([^<]+)</span>\s*<span class="value">(?:<abbr[^>]*>)?([^<]+)', html
    )
    return shown


def views(hush: Harness) -> dict[str, dict[str, list[tuple[str, str]]]]:
    found = {}
    for period in PERIODS:
        for extra in FILTERS:
            response = hush.client.get(f"/sites/example.com?{period}&{extra}")
            assert response.status_code == 200, response.text
            found[f"{period}&{extra}"] = panels(response.text)
    return found


def stats_rows(hush: Harness, prop: str, filters: str, period: str) -> list[tuple[str, str]]:
    results: list[dict[str, Any]] = hush.results(
        "breakdown",
        site_id="example.com",
        period=period,
        property=prop,
        filters=filters,
        metrics="visitors",
    )
    key = prop.split(":")[-1]
    return sorted((str(row[key] or ""), str(row["visitors"])) for row in results)


def test_a_filtered_view_reads_the_same_from_raw_events_and_from_rollups(hush: Harness) -> None:
    before = views(hush)  # nothing rolled up: every panel from raw events
    google = before["period=7d&f=is,visit:source,Google"]
    assert sorted(google["pages"]) == [("/", "2"), ("/docs", "2"), ("/pricing", "2")]
    store, clock = hush.app.store, hush.app.clock
    assert roll_up_pending(store, clock).days == 1
    assert refresh_open_days(store, clock).days == 1  # today's provisional rollup
    assert views(hush) == before


def test_a_filtered_views_panels_are_the_stats_api_for_the_same_filter(hush: Harness) -> None:
    html = hush.client.get("/sites/example.com?period=7d&f=is,visit:source,Google").text
    shown = panels(html)
    google = "visit:source==Google"
    for key, prop in [
        ("pages", "event:page"),
        ("sources", "visit:channel"),
        ("devices", "visit:browser"),
    ]:
        assert sorted(shown[key]) == stats_rows(hush, prop, google, "7d"), key
    goals = html.split('id="panel-goals"')[1].split("</section>")[0]
    assert re.search(r">Signup</a></th>\s*<td class=\"num\">2</td>", goals), goals
