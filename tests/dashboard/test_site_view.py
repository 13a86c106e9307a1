"""``/sites/<domain>``: the marketing view a person reads, driven in process through the real
collector, store and query engine (issue 10)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from tests.harness import Harness, add_user, in_process, log_in
from tests.servers import CHROME_UA, SAFARI_IPHONE_UA, ManualClock, utc

PAGE = {"n": "pageview", "d": "example.com"}


@pytest.fixture(scope="module")
def hush(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """example.com with a known day: 4 visitors from Google, 2 direct, one on a phone; and
    other.example that marketing may not read. k = 3."""
    clock = ManualClock(utc(2026, 3, 10, 12, 0))
    with in_process(
        tmp_path_factory.mktemp("site-view"), clock=clock, HUSH_MIN_VISITORS="3"
    ) as harness:
        harness.add_site("other.example")
        for n in range(4):
            harness.store_events(
                {**PAGE, "u": "https://example.com/pricing", "r": "https://www.google.com/"},
                ip=f"203.0.113.{n + 1}",
            )
        for n in range(2):
            harness.store_events(
                {**PAGE, "u": "https://example.com/"},
                ip=f"198.51.100.{n + 1}",
                user_agent=SAFARI_IPHONE_UA if n == 0 else CHROME_UA,
            )
        clock.advance(86400)  # the next day: yesterday holds the events
        add_user(harness, "mo@example.com", "marketing", "example.com")
        log_in(harness, "mo@example.com")
        yield harness


def page(hush: Harness, query: str = "") -> str:
    response = hush.client.get(f"/sites/example.com{query}")
    assert response.status_code == 200, response.text
    return response.text


def cards(html: str) -> dict[str, str]:
    found = re.findall(
        r'class="name">([^<]+)</span>\s*<span class="value">(?:<abbr[^>]*>)?([^<]+)', html
    )
    return {name: unescape(value) for name, value in found}


def test_the_cards_count_the_period(hush: Harness) -> None:
    shown = cards(page(hush, "?period=7d"))
    assert shown["Unique visitors"] == "6"
    assert shown["Page views"] == "6"
    assert shown["Bounce rate"] == "100%"


def test_a_panel_row_links_to_the_view_filtered_by_it(hush: Harness) -> None:
    html = page(hush, "?period=7d&sources_tab=sources")
    link = re.search(r'href="([^"]+)" title="Filter by Google"', html)
    assert link, html
    filtered = hush.client.get(unescape(link.group(1))).text
    assert "Source is Google" in filtered
    assert cards(filtered)["Unique visitors"] == "4"
    remove = re.search(r'href="([^"]+)" aria-label="Remove the filter Source is Google"', filtered)
    assert remove
    assert cards(hush.client.get(unescape(remove.group(1))).text)["Unique visitors"] == "6"


def test_a_filtered_figure_about_fewer_than_k_people_is_hidden(hush: Harness) -> None:
    html = page(hush, "?period=7d&f=is,visit:source,Direct / None")  # 2 people
    assert cards(html)["Unique visitors"] == "< 3"
    assert "2" not in cards(html).values()


def test_small_rows_fold_into_one_row_that_shows_no_number(hush: Harness) -> None:
    html = page(hush, "?period=7d&devices_tab=devices")
    assert "fewer than 3 people" in html  # Mobile: 2 people
    assert "Mobile" not in html.split('id="panel-devices"')[1].split("</section>")[0]


def test_the_comparison_shows_the_change_in_words(hush: Harness) -> None:
    html = page(hush, "?period=day&date=2026-03-11&compare=previous_period")
    assert "compared with 10 Mar 2026" in html
    assert "down 100% from 6" in html


def test_the_graph_has_a_summary_and_its_data_as_a_table(hush: Harness) -> None:
    html = page(hush, "?period=7d")
    assert '<svg viewBox="0 0 720 220" role="img" aria-labelledby="graph-summary">' in html
    assert "Unique visitors over 7 buckets: highest 6 (Tue 10 Mar 2026)" in html
    assert "<summary>The data as a table</summary>" in html


def _axis_labels(html: str) -> list[str]:
    return re.findall(
        r'<text class="axis" x="\d+" y="[\d.]+" text-anchor="end">([^<]+)</text>', html
    )


def test_each_axis_line_is_labelled_with_the_value_it_stands_at(hush: Harness) -> None:
    # 6 visitors at most: lines at 0, 3 and 6 (a top of 5 once put "2" on the line at 2.5)
    assert _axis_labels(page(hush, "?period=7d")) == ["0", "3", "6"]


def test_todays_hours_still_to_come_are_not_drawn_as_zeros(hush: Harness) -> None:
    html = page(hush, "?period=day")  # at 12:00: hours 0 to 11 done, 12 filling, 13 to 23 to come
    finished = re.search(r'<polyline class="current" points="([^"]*)"', html)
    filling = re.search(r'<polyline class="current unfinished" points="([^"]*)"', html)
    assert finished and filling
    assert (len(finished[1].split()), len(filling[1].split())) == (12, 2)
    table = re.findall(r'<th scope="row">([^<]+)</th><td class="num">([^<]+)</td>', html)
    assert ("Wed 11 Mar 13:00", "–") in table
    assert ("Wed 11 Mar 11:00", "0") in table


def test_the_time_zone_is_stated_beside_the_period(hush: Harness) -> None:
    assert "days run midnight to midnight, UTC" in page(hush)


@pytest.mark.parametrize(
    "query",
    [
        "?period=fortnight",
        "?period=custom&from=2026-02-30&to=x",
        "?f=is,visit:planet,Mars",
        "?compare=custom&compare_from=2026-03-02",
        "?interval=second",
        "?" + "&".join(["f=is,event:page,/x"] * 2000),
        "?metric=salary",
        "?sources_tab=<script>",
    ],
)
def test_a_malformed_url_gives_the_page_with_a_message(hush: Harness, query: str) -> None:
    response = hush.client.get(f"/sites/example.com{query}")
    assert response.status_code == 200
    assert "<script>" not in response.text.split("<main")[1]


def test_the_add_a_filter_form_becomes_a_filter_in_the_url(hush: Harness) -> None:
    response = hush.client.get(
        "/sites/example.com?period=7d&fp=event:page&fo=contains&fv=pric",
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "f=contains%2Cevent%3Apage%2Cpric" in response.headers["location"]
    assert cards(hush.client.get(response.headers["location"]).text)["Page views"] == "4"


def test_a_marketing_user_cannot_open_a_site_not_granted(hush: Harness) -> None:
    response = hush.client.get("/sites/other.example")
    assert response.status_code == 403
    assert "may not read a site&#39;s traffic for other.example" in response.text


def test_an_empty_site_shows_the_tag_and_a_live_check(tmp_path: Path) -> None:
    with in_process(tmp_path) as fresh:
        add_user(fresh, "ana@example.com", "admin")
        log_in(fresh, "ana@example.com")
        assert (
            fresh.event({**PAGE, "u": "https://elsewhere.example/"}, headers={}).headers[
                "x-hush-dropped"
            ]
            == "host_mismatch"
        )
        fresh.load()
        html = fresh.client.get("/sites/example.com").text
        assert "No events yet" in html
        assert "data-domain=&#34;example.com&#34;" in html
        assert "host_mismatch</code> × 1: the page&#39;s host is not example.com" in html


def test_an_admin_defines_a_goal_and_the_view_counts_its_conversions(tmp_path: Path) -> None:
    with in_process(tmp_path) as fresh:
        for n in range(4):
            fresh.store_events({**PAGE, "u": "https://example.com/pricing"}, ip=f"203.0.113.{n}")
        fresh.store_events(
            {**PAGE, "n": "Signup", "u": "https://example.com/pricing"}, ip="203.0.113.0"
        )
        add_user(fresh, "ana@example.com", "admin")
        log_in(fresh, "ana@example.com")
        settings = fresh.client.get("/settings/sites").text
        token = re.search(r'name="csrf" value="([^"]+)"', settings)
        assert token
        added = fresh.client.post(
            "/settings/sites/goals/add",
            data={
                "csrf": token.group(1),
                "site": "example.com",
                "kind": "event",
                "target": "Signup",
            },
            headers={"Origin": "http://127.0.0.1:8000"},
        )
        assert "Added the goal Signup to example.com" in added.text
        html = fresh.client.get("/sites/example.com?period=day").text
        goals = html.split('id="panel-goals"')[1].split("</section>")[0]
        assert re.search(
            r">Signup</a></th>\s*<td class=\"num\">1</td><td class=\"num\">1</td>"
            r"<td class=\"num\">25.0%</td>",
            goals,
        ), goals
        link = re.search(r'href="([^"]+)" title="Filter by Signup"', goals)
        assert link
        shown = cards(fresh.client.get(unescape(link.group(1))).text)
        assert shown == {
            "Unique conversions": "1",
            "Total conversions": "1",
            "Conversion rate": "25.0%",
        }
        log = fresh.client.get("/audit-log").text
        assert "goal.create" in log
