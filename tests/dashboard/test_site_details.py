"""A panel's details view (``/sites/<domain>/<panel>``): its tabs and metrics, search, sort and
pages that keep the view's state, rows that filter the site view, and refusals that are
messages (a bad sort or page) or a 404 page (an unknown panel), never a 500."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.dashboard.pages import rows
from tests.harness import Harness, add_user, in_process, log_in
from tests.servers import ManualClock

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
DETAILS = "/sites/example.com/pages"
PAGES = 130  # more than one page of 100 rows


def pageview(path: str, referrer: str = "") -> dict[str, str]:
    return {"n": "pageview", "u": f"https://example.com{path}", "d": "example.com", "r": referrer}


def send(harness: Harness, body: dict[str, str], *, ip: str) -> None:
    """One event through the intake, loaded later with the rest (one load is faster)."""
    response = harness.event(body, ip=ip)
    assert response.status_code == 202 and "x-hush-dropped" not in response.headers


@pytest.fixture(scope="module")
def hush(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    clock = ManualClock(NOW)
    with in_process(tmp_path_factory.mktemp("details"), clock=clock) as harness:
        for n in range(PAGES):  # one visitor each, from Google or Bing
            source = "https://www.google.com/" if n % 2 else "https://www.bing.com/"
            send(harness, pageview(f"/p/{n:03d}", source), ip=f"203.0.113.{n + 1}")
        for n in range(5):  # five read the blog, one of them then /p/000, where the visit ends
            ip = f"198.51.100.{n + 1}"
            send(harness, pageview("/blog", "https://news.ycombinator.com/"), ip=ip)
        clock.advance(60)
        send(harness, pageview("/p/000"), ip="198.51.100.1")
        harness.load()
        harness.add_site("other.example")
        add_user(harness, "admin@example.com", "admin")
        add_user(harness, "mo@example.com", "marketing", "other.example")
        yield harness


@pytest.fixture
def admin(hush: Harness) -> Harness:
    hush.client.cookies.clear()
    assert log_in(hush, "admin@example.com").status_code == 303
    return hush


def table(page: str) -> list[dict[str, str]]:
    return rows(page)


def link(page: str, text: str) -> str:
    found = re.search(r'<a [^>]*?href="([^"]+)"[^>]*>' + re.escape(text), page)
    assert found, text
    return html.unescape(found.group(1))


def query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def test_the_details_of_top_pages_show_their_metrics(admin: Harness) -> None:
    page = admin.client.get(DETAILS)
    assert page.status_code == 200
    headings = re.findall(r'<th scope="col"[^>]*aria-sort="(\w+)"><a [^>]*>([^<]+)', page.text)
    assert [name.strip() for _, name in headings] == [
        "Page", "Unique visitors", "Page views", "Bounce rate", "Time on page", "Scroll depth",
    ]  # fmt: skip
    assert dict((name.strip(), sort) for sort, name in headings)["Unique visitors"] == "descending"
    found = table(page.text)
    assert len(found) == 100
    assert found[0] == {
        "first": "/blog",
        "visitors": "5",
        "pageviews": "5",
        "bounce_rate": "80%",
        "time_on_page": "–",
        "scroll_depth": "–",
    }
    assert found[1]["first"] == "/p/000" and found[1]["visitors"] == "2"
    assert "131 rows" in page.text and "page 1 of 2" in page.text


def test_every_panel_and_tab_has_details_and_visit_metrics(admin: Harness) -> None:
    from dashboard.web.panels import PANELS

    for panel in PANELS.values():
        for tab in panel.tabs:
            page = admin.client.get(f"/sites/example.com/{panel.key}?{panel.key}_tab={tab.key}")
            assert page.status_code == 200, (panel.key, tab.key)
            if tab.dimension != "event:page" and "Nothing in this period" not in page.text:
                assert "Visit duration" in page.text and "Visits" in page.text
    sources = table(admin.client.get("/sites/example.com/sources?sources_tab=sources").text)
    assert [(row["first"], row["visitors"]) for row in sources] == [
        ("Bing", "65"), ("Google", "65"), ("Hacker News", "5"),
    ]  # fmt: skip


def test_exit_pages_have_an_exit_rate_unless_an_event_filter_is_on(admin: Harness) -> None:
    exits = admin.client.get(f"{DETAILS}?pages_tab=exit").text
    assert "Exit rate" in exits
    by_page = {row["first"]: row for row in table(exits)}
    # /blog: 5 views, 4 visits ended there; /p/000: 2 views, 2 visits ended there
    assert by_page["/blog"]["exit_rate"] == "80%" and by_page["/p/000"]["exit_rate"] == "100%"
    filtered = admin.client.get(f"{DETAILS}?pages_tab=exit&f=is,event:page,/blog").text
    assert "Exit rate" not in re.sub(
        r"<p class=\"muted\">Exit rate is left out.*?</p>", "", filtered
    )
    assert "Exit rate is left out while an event filter is on" in filtered


def test_sorting_by_any_column_both_ways_keeps_the_view(admin: Harness) -> None:
    start = f"{DETAILS}?period=7d&f=contains,event:page,/p/"
    page = admin.client.get(start).text
    by_name = link(page, "Page")
    assert ("sort", "name") in query(by_name) and ("dir", "asc") in query(by_name)
    assert ("period", "7d") in query(by_name) and ("f", "contains,event:page,/p/") in query(by_name)
    ascending = admin.client.get(by_name).text
    assert 'aria-sort="ascending"' in ascending
    assert [row["first"] for row in table(ascending)][:3] == ["/p/000", "/p/001", "/p/002"]
    descending = admin.client.get(link(ascending, "Page")).text
    assert [row["first"] for row in table(descending)][:2] == ["/p/129", "/p/128"]
    fewest = admin.client.get(f"{start}&sort=visitors&dir=asc").text
    assert table(fewest)[0]["visitors"] == "1" and table(fewest)[-1]["first"] != "/p/000"


def test_search_narrows_the_rows_and_pages_keep_the_search_and_the_sort(admin: Harness) -> None:
    page = admin.client.get(f"{DETAILS}?q=/p/1&sort=name&dir=desc").text
    labels = [row["first"] for row in table(page)]
    assert labels == [f"/p/{n}" for n in range(129, 99, -1)]
    assert "30 rows" in page and 'value="/p/1"' in page
    first = admin.client.get(f"{DETAILS}?sort=name&dir=asc&period=7d").text
    older = link(first, "Next 100")
    assert {("sort", "name"), ("dir", "asc"), ("period", "7d"), ("page", "2")} <= set(query(older))
    second = admin.client.get(older).text
    assert table(second)[0]["first"] == "/p/099"  # after /blog, /p/000-098
    assert len(table(second)) == 31 and "page 2 of 2" in second
    assert "Next 100" not in second
    newer = link(second, "← Previous 100")
    assert ("page", "1") in query(newer) and ("sort", "name") in query(newer)


def test_a_country_is_searched_by_its_name(admin: Harness) -> None:
    page = admin.client.get("/sites/example.com/locations?q=nowhere-land")
    assert page.status_code == 200 and "Nothing in this period" in page.text


def test_each_row_filters_the_site_view(admin: Harness) -> None:
    page = admin.client.get(f"{DETAILS}?period=7d&sort=name").text
    target = link(page, "/blog")
    assert urlsplit(target).path == "/sites/example.com"
    assert ("f", "is,event:page,/blog") in query(target) and ("period", "7d") in query(target)
    assert ("pages_tab", "top") in query(target) and "sort" not in dict(query(target))
    assert admin.client.get(target).status_code == 200


def test_the_csv_link_keeps_the_view(admin: Harness) -> None:
    page = admin.client.get(f"{DETAILS}?q=/p/&sort=name&dir=desc&page=2").text
    csv_url = link(page, "Download CSV")
    assert urlsplit(csv_url).path == "/sites/example.com/pages.csv"
    assert {("q", "/p/"), ("sort", "name"), ("dir", "desc")} <= set(query(csv_url))
    assert "page" not in dict(query(csv_url))


def test_the_site_view_links_to_details_realtime_and_the_zip(admin: Harness) -> None:
    page = admin.client.get("/sites/example.com?period=7d").text
    assert urlsplit(link(page, "Details of pages")).path == DETAILS
    assert link(page, "Realtime") == "/sites/example.com/realtime"
    zipped = link(page, "Export (ZIP)")
    assert urlsplit(zipped).path == "/sites/example.com/export" and ("period", "7d") in query(
        zipped
    )


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ("sort=nonsense", "cannot be sorted by 'nonsense'"),
        ("sort=visitors&dir=sideways", "neither asc nor desc"),
        ("page=0", "is not a page number"),
        ("page=-3", "is not a page number"),
        ("page=abc", "is not a page number"),
        ("page=99999999999", "is not a page number"),
        ("page=7", "there is no page 7: showing page 2"),
        ("format=xlsx", "format must be csv"),
    ],
)
def test_bad_sort_and_page_are_messages(admin: Harness, params: str, says: str) -> None:
    page = admin.client.get(f"{DETAILS}?{params}")
    assert page.status_code == 200
    assert says in html.unescape(page.text)
    assert table(page.text)


def test_an_unknown_panel_or_site_is_a_404_page(admin: Harness) -> None:
    page = admin.client.get("/sites/example.com/nonsense")
    assert page.status_code == 404 and "has no panel" in html.unescape(page.text)
    assert "<title>" in page.text
    assert admin.client.get("/sites/nowhere.example/pages").status_code == 404


def test_a_marketing_user_without_the_site_is_refused(hush: Harness) -> None:
    hush.client.cookies.clear()
    assert log_in(hush, "mo@example.com").status_code == 303
    for path in (DETAILS, "/sites/example.com/pages.csv", "/sites/example.com/realtime"):
        assert hush.client.get(path).status_code == 403, path
    assert hush.client.get("/sites/other.example/pages").status_code == 200
    hush.client.cookies.clear()
    assert hush.client.get(DETAILS, follow_redirects=False).status_code == 303  # to /login
