"""What the snippet counts, seen through the Stats API: a real Chromium on a test site's origin
posting to a real ``hush serve`` on another (issue 3, "Proof, in a real browser")."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import duckdb
import pytest

from tests.servers import ProcessServer, ThreadServer, wait_until
from tests.snippet.pages import (
    STAY_ON_PAGE,
    VISIBILITY,
    PageServer,
    Visitor,
    add_site,
    html,
    script_tag,
)

pytestmark = [pytest.mark.browser, pytest.mark.server]

QUEUE_STUB = (
    "<script>window.hush=window.hush||function(){(hush.q=hush.q||[]).push(arguments)}</script>"
)
# Headless Chromium does not prerender what speculation rules ask for: this stands in for a
# page prerendered and then shown.
PRERENDER = """
(() => {
  let prerendering = true
  Object.defineProperty(Document.prototype, 'prerendering',
                        {configurable: true, get: () => prerendering})
  window.activate = () => {
    prerendering = false
    document.dispatchEvent(new Event('prerenderingchange'))
  }
})()
"""


def breakdown(
    hush: ProcessServer | ThreadServer, site: str, prop: str, metric: str
) -> dict[str, int]:
    rows = hush.results(
        "breakdown", site_id=site, period="day", property=prop, metrics=metric, limit=100
    )
    key = prop.rsplit(":", 1)[1]
    return {row[key]: row[metric] for row in rows}


def stored_props(hush: ProcessServer) -> list[tuple[str, dict[str, str]]]:
    """(event name, props) of every stored event but page views; the server must be stopped."""
    con = duckdb.connect(str(hush.data_dir / "hush.duckdb"), read_only=True)
    rows = con.execute(
        "SELECT name, props FROM events WHERE name <> 'pageview' ORDER BY ts, name"
    ).fetchall()
    con.close()
    return [(name, dict(props)) for name, props in rows]


def test_one_page_view_per_load_and_per_client_side_navigation(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = add_site(collector, "views.test")
    pages.add("/app/", html(head=script_tag(collector.port, site)))
    tab = visit()
    tab.page.goto(
        pages.url(
            site, "/app/start?utm_source=newsletter&utm_medium=email&to=jane@example.com#top"
        ),
        referer="https://www.google.com/search?q=private+words",
    )
    tab.wait_for_posts(1)
    tab.page.evaluate(
        """() => {
            history.pushState({}, '', '/app/two')
            history.replaceState({}, '', '/app/two?tab=2')  // a new query: the same page
            history.pushState({}, '', '/app/two?tab=2')     // the same URL again
            history.pushState({}, '', '/app/three')
            history.back()                                  // popstate: back to /app/two
        }"""
    )
    sent = tab.wait_for_posts(4)
    tab.settle()

    assert [event["n"] for event in tab.events()] == ["pageview"] * 4
    assert [event["u"].split(f":{pages.port}")[1] for event in sent] == [
        "/app/start?utm_source=newsletter&utm_medium=email&to=jane@example.com",
        "/app/two",
        "/app/three",
        "/app/two?tab=2",
    ]
    assert sent[0] == {
        "n": "pageview",
        "u": pages.url(
            site, "/app/start?utm_source=newsletter&utm_medium=email&to=jane@example.com"
        ),
        "d": site,
        "r": "https://www.google.com/search?q=private+words",
    }
    collector.wait_for_events(4, site=site)
    assert breakdown(collector, site, "event:page", "pageviews") == {
        "/app/two": 2,
        "/app/start": 1,
        "/app/three": 1,
    }
    # The page views after the first have neither UTM fields nor (in the page) a new referrer.
    assert breakdown(collector, site, "visit:utm_source", "visitors")["newsletter"] == 1
    assert breakdown(collector, site, "visit:utm_medium", "visitors")["email"] == 1
    assert breakdown(collector, site, "visit:referrer", "visitors")["google.com/search"] == 1


def test_the_noscript_pixel_counts_a_page_view_without_javascript(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = add_site(collector, "nojs.test")
    url = pages.url(site, "/without-js")
    pixel = f"http://stats.test:{collector.port}/api/event.gif?d={site}&u={quote(url, safe='')}"
    noscript = f'<noscript><img src="{pixel}" alt="" width="1" height="1"></noscript>'
    pages.add("/without-js", html(head=script_tag(collector.port, site), body=noscript))
    tab = visit(java_script_enabled=False)
    tab.page.goto(url)
    collector.wait_for_events(1, site=site)
    assert breakdown(collector, site, "event:page", "pageviews") == {"/without-js": 1}


def test_custom_events_with_props_including_calls_queued_before_the_script_loaded(
    private_collector: ProcessServer, pages: PageServer, visit: Visitor
) -> None:
    hush = private_collector
    site = add_site(hush, "events.test")
    queued = "<script>hush('Signup', {props: {plan: 'pro'}})</script>"
    pages.add("/shop", html(head=QUEUE_STUB + queued + script_tag(hush.port, site)))
    tab = visit()
    tab.page.goto(pages.url(site, "/shop"))
    tab.wait_for_posts(2)
    tab.page.evaluate("hush('Play', {props: {track: 7, loud: true}, interactive: false})")
    tab.page.evaluate("hush('Play')")
    sent = tab.wait_for_posts(4)

    assert [(event["n"], event.get("p"), event.get("i")) for event in sent] == [
        ("pageview", None, None),
        ("Signup", {"plan": "pro"}, None),
        ("Play", {"track": 7, "loud": True}, False),
        ("Play", None, None),
    ]
    hush.wait_for_events(4, site=site)
    assert breakdown(hush, site, "event:name", "events") == {"pageview": 1, "Signup": 1, "Play": 2}
    hush.stop()
    assert sorted(stored_props(hush), key=str) == [
        ("Play", {"track": "7", "loud": "true"}),
        ("Play", {}),
        ("Signup", {"plan": "pro"}),
    ]


def test_outbound_links_downloads_forms_and_404s_when_their_attributes_ask(
    private_collector: ProcessServer, pages: PageServer, visit: Visitor
) -> None:
    hush = private_collector
    site = add_site(hush, "extras.test")
    links = (
        '<a id="out" href="https://elsewhere.example/path?token=abc#x">out</a>'
        '<a id="pdf" href="/files/report.PDF?v=2">pdf</a>'
        '<a id="zip" href="/files/fonts.zip"><span id="inside">zip</span></a>'
        '<a id="local" href="/elsewhere-on-this-site">local</a>'
        '<a id="mail" href="mailto:jane@example.com">mail</a>'
        '<form id="form" action="/thanks"><input name="q" value="x" required>'
        '<button id="send">send</button></form>' + STAY_ON_PAGE
    )
    every_extra = script_tag(
        hush.port,
        site,
        "hush.full",
        data_outbound="",
        data_downloads="pdf,zip",
        data_forms="",
        data_404="",
    )
    pages.add("/missing", html(head=every_extra, body=links), status=404)
    pages.add("/plain", html(head=script_tag(hush.port, site, "hush.full"), body=links))

    tab = visit()
    tab.page.goto(pages.url(site, "/missing/page"))
    tab.page.click("#out")
    tab.page.click("#out", button="middle")
    tab.page.click("#out", button="right")
    tab.page.click("#pdf")
    tab.page.click("#inside")
    tab.page.click("#local")
    tab.page.click("#mail")
    tab.page.click("#send")
    sent = tab.wait_for_posts(7)
    tab.settle()
    assert [(event["n"], event.get("p")) for event in tab.events()] == [
        ("pageview", None),
        ("404", None),
        ("Outbound Link: Click", {"url": "https://elsewhere.example/path"}),
        ("Outbound Link: Click", {"url": "https://elsewhere.example/path"}),
        ("File Download", {"url": pages.url(site, "/files/report.PDF")}),
        ("File Download", {"url": pages.url(site, "/files/fonts.zip")}),
        ("Form: Submission", None),
    ]
    assert sent[1]["u"] == pages.url(site, "/missing/page")

    plain = visit()
    plain.page.goto(pages.url(site, "/plain"))
    for link in ("#out", "#pdf", "#send"):
        plain.page.click(link)
    plain.wait_for_posts(1)
    plain.settle()
    assert [event["n"] for event in plain.events()] == ["pageview"]

    hush.wait_for_events(8, site=site)
    assert breakdown(hush, site, "event:name", "events") == {
        "pageview": 2,
        "Outbound Link: Click": 2,
        "File Download": 2,
        "404": 1,
        "Form: Submission": 1,
    }
    hush.stop()
    assert sorted(props["url"] for name, props in stored_props(hush) if "url" in props) == sorted(
        [
            "https://elsewhere.example/path",
            "https://elsewhere.example/path",
            pages.url(site, "/files/report.PDF"),
            pages.url(site, "/files/fonts.zip"),
        ]
    )


def engagement_metrics(hush: ProcessServer | ThreadServer, site: str) -> dict[str, Any]:
    """The day's scroll depth and time on page (v2: Plausible's v1 has no scroll depth)."""
    metrics = ["scroll_depth", "time_on_page"]
    rows = hush.query(site_id=site, metrics=metrics, date_range="day", dimensions=["event:page"])
    if not rows:
        return {"scroll_depth": None, "time_on_page": None}
    return dict(zip(metrics, rows[0]["metrics"], strict=True))


def test_leaving_a_page_reports_scroll_depth_and_engaged_time(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = add_site(collector, "read.test")
    # 4,000 px tall in a 720 px viewport: scrolled to 1,280 px, the visitor saw half of it.
    pages.add(
        "/article", html(head=script_tag(collector.port, site, "hush.engagement"), height=4000)
    )
    tab = visit(viewport={"width": 1280, "height": 720})
    tab.page.goto(pages.url(site, "/article"))
    tab.wait_for_posts(1)
    tab.page.mouse.wheel(0, 1280)
    wait_until(lambda: tab.page.evaluate("scrollY") == 1280, what="the scroll")
    tab.page.wait_for_timeout(1200)
    # Leaving hides the page: the browser fires visibilitychange, and the keepalive request
    # outlives the page (so Playwright, attached to the page, does not see it; the server does).
    tab.page.goto("about:blank")
    wait_until(
        lambda: engagement_metrics(collector, site)["scroll_depth"] is not None,
        what="the engagement event in the Stats API",
    )
    metrics = engagement_metrics(collector, site)
    assert metrics["scroll_depth"] == 50
    assert 1 <= metrics["time_on_page"] < 10


def test_engaged_time_counts_only_while_visible_and_is_reported_per_page(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = add_site(collector, "tabs.test")
    pages.add("/spa/", html(head=script_tag(collector.port, site, "hush.engagement")))
    tab = visit(init_script=VISIBILITY)
    tab.page.goto(pages.url(site, "/spa/a"))
    tab.wait_for_posts(1)
    tab.page.wait_for_timeout(400)
    tab.page.evaluate("setHidden(true)")  # switching to another tab
    tab.page.wait_for_timeout(1500)  # hidden: not engaged
    tab.page.evaluate("setHidden(false)")
    tab.page.wait_for_timeout(400)
    tab.page.evaluate("history.pushState({}, '', '/spa/b')")
    tab.page.wait_for_timeout(300)
    tab.page.evaluate("setHidden(true)")
    tab.page.evaluate("setHidden(true)")  # already hidden: nothing more to report
    sent = tab.wait_for_posts(5)
    tab.settle()

    assert [(event["n"], event["u"].rsplit("/", 1)[1]) for event in tab.events()] == [
        ("pageview", "a"),
        ("engagement", "a"),  # hidden
        ("engagement", "a"),  # left for /spa/b, after being visible again
        ("pageview", "b"),
        ("engagement", "b"),
    ]
    engaged = [event["e"] for event in sent if event["n"] == "engagement"]
    assert 350 <= engaged[0] < 1000
    assert 350 <= engaged[1] < 1000  # the 1.5 s hidden in between do not count
    assert 250 <= engaged[2] < 1000


def test_a_prerendered_page_is_counted_only_once_it_is_shown(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = add_site(collector, "prerender.test")
    pages.add("/next", html(head=QUEUE_STUB + script_tag(collector.port, site)))
    tab = visit(init_script=PRERENDER)
    tab.page.goto(pages.url(site, "/next"))
    tab.page.evaluate("hush('Queued while prerendered')")
    tab.settle()
    assert tab.posts() == []

    tab.page.evaluate("activate()")
    sent = tab.wait_for_posts(2)
    assert [event["n"] for event in sent] == ["pageview", "Queued while prerendered"]
    collector.wait_for_events(2, site=site)


def test_hash_routes_are_pages_when_the_tag_asks_and_the_site_allows(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = add_site(collector, "hashes.test", hash_routing=True)
    pages.add(
        "/",
        html(
            head=script_tag(collector.port, site, "hush.full", data_hash=""),
            body='<a id="settings" href="#/settings">settings</a>',
        ),
    )
    tab = visit()
    tab.page.goto(pages.url(site, "/#/inbox"))
    tab.wait_for_posts(1)
    tab.page.click("#settings")
    tab.wait_for_posts(2)
    tab.page.evaluate("location.hash = '#/inbox'")
    tab.page.evaluate("history.pushState({}, '', '#/inbox')")  # the same route again
    tab.wait_for_posts(3)
    tab.settle()

    sent = [event for event in tab.events() if event["n"] == "pageview"]
    assert [event["u"].split(f":{pages.port}")[1] for event in sent] == [
        "/#/inbox",
        "/#/settings",
        "/#/inbox",
    ]
    assert all(event["h"] is True for event in sent)
    collector.wait_for_events(3, site=site)
    assert breakdown(collector, site, "event:page", "pageviews") == {
        "/#/inbox": 2,
        "/#/settings": 1,
    }


def test_include_and_exclude_patterns_choose_the_pages_that_are_counted(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = add_site(collector, "paths.test")
    pages.add(
        "/",
        html(head=script_tag(collector.port, site, "hush.full", data_exclude="/private*, /tmp")),
    )
    pages.add(
        "/docs", html(head=script_tag(collector.port, site, "hush.full", data_include="/docs*"))
    )
    tab = visit()
    for path in ("/private/area", "/tmp/", "/public", "/docs/intro", "/docsets"):
        tab.page.goto(pages.url(site, path))
    tab.page.evaluate("history.pushState({}, '', '/not-docs')")
    tab.page.evaluate("hush('Ignored')")
    tab.wait_for_posts(3)
    tab.settle()

    sent = [(event["n"], event["u"].split(f":{pages.port}")[1]) for event in tab.events()]
    assert sent == [("pageview", "/public"), ("pageview", "/docs/intro"), ("pageview", "/docsets")]
