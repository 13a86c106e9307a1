"""What the snippet never does, in a real Chromium (DESIGN.md P4, P6, P9): no cookies, no
storage, no third parties, nothing at all under Global Privacy Control, and no error in the
page it runs on."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from tests.servers import ProcessServer, ThreadServer, free_port
from tests.snippet.pages import (
    STAY_ON_PAGE,
    VISIBILITY,
    PageServer,
    Visit,
    Visitor,
    add_site,
    header_fields,
    html,
    script_tag,
)

pytestmark = [pytest.mark.browser, pytest.mark.server]


# Chromium has neither Global Privacy Control nor (any more) Do Not Track built in: each is
# the navigator property the page sees plus the header every request carries.
GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
DNT = "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})"
# Watches every way into cookies and storage; storageReport() reads them without being watched.
STORAGE_SPY = """
(() => {
  const touched = []
  const watch = (target, name) => {
    let owner = target
    while (owner && !Object.getOwnPropertyDescriptor(owner, name)) {
      owner = Object.getPrototypeOf(owner)
    }
    const original = owner && Object.getOwnPropertyDescriptor(owner, name)
    if (!original) return null
    Object.defineProperty(target, name, {
      configurable: true,
      get() { touched.push(name); return original.get ? original.get.call(this) : original.value },
      set(value) { touched.push(name); if (original.set) original.set.call(this, value) },
    })
    return original
  }
  const cookie = watch(Document.prototype, 'cookie')
  const local = watch(window, 'localStorage')
  const session = watch(window, 'sessionStorage')
  const idb = watch(window, 'indexedDB')
  watch(window, 'caches')
  watch(Navigator.prototype, 'storage')
  window.storageReport = async () => ({
    touched,
    cookie: cookie.get.call(document),
    localStorage: local.get.call(window).length,
    sessionStorage: session.get.call(window).length,
    indexedDB: (await idb.get.call(window).databases()).length,
  })
})()
"""
# Records how the snippet sends: the options it gives fetch, the XMLHttpRequests it makes,
# and any sendBeacon call.
TRANSPORT_SPY = """
(() => {
  window.sent = {fetch: [], xhr: [], beacon: 0}
  const fetch = window.fetch
  if (fetch) {
    window.fetch = function (url, init) {
      sent.fetch.push({url: String(url), ...init, body: typeof init.body})
      return fetch.apply(this, arguments)
    }
  }
  const send = XMLHttpRequest.prototype.send
  XMLHttpRequest.prototype.send = function (body) {
    sent.xhr.push({withCredentials: this.withCredentials, body: typeof body})
    return send.apply(this, arguments)
  }
  navigator.sendBeacon = () => { sent.beacon++; return true }
})()
"""
ERRORS = """
window.pageErrors = []
addEventListener('error', (e) => pageErrors.push(String(e.message)))
addEventListener('unhandledrejection', (e) => pageErrors.push(String(e.reason)))
"""
LINKS = (
    '<a id="out" href="https://elsewhere.example/away">out</a>'
    '<a id="pdf" href="/files/report.pdf">pdf</a>'
    '<form><input name="q" value="x"><button id="send">send</button></form>'
)


def every_extra(hush: ProcessServer | ThreadServer, site: str, **more: str) -> str:
    return script_tag(
        hush.port,
        site,
        "hush.full",
        data_outbound="",
        data_downloads="",
        data_forms="",
        **more,
    )


def use_every_feature(tab: Visit) -> None:
    """A page view, client-side navigation, a custom event, clicks, a form, hiding the page."""
    tab.page.evaluate("history.pushState({}, '', '/app/next')")
    tab.page.evaluate("hush('Signup', {props: {plan: 'pro'}})")
    for target in ("#out", "#pdf", "#send"):
        tab.page.click(target)
    tab.page.evaluate("setHidden(true)")


def test_nothing_is_sent_or_counted_under_global_privacy_control(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = add_site(collector, "gpc.test")
    pages.add("/app/", html(head=every_extra(collector, site), body=LINKS + STAY_ON_PAGE))
    tab = visit(init_script=GPC + ";" + VISIBILITY, extra_http_headers={"Sec-GPC": "1"})
    tab.page.goto(pages.url(site, "/app/start"))
    use_every_feature(tab)
    tab.settle()
    assert tab.posts() == []

    # The no-script pixel is a request the browser makes by itself: the collector drops it.
    pixel = f"http://stats.test:{collector.port}/api/event.gif?d={site}&u=" + quote(
        pages.url(site, "/noscript"), safe=""
    )
    pages.add("/noscript", html(body=f'<noscript><img src="{pixel}" alt=""></noscript>'))
    no_js = visit(java_script_enabled=False, extra_http_headers={"Sec-GPC": "1"})
    no_js.page.goto(pages.url(site, "/noscript"))
    no_js.settle()
    [gif] = no_js.collector_responses()
    assert gif.headers["x-hush-dropped"] == "gpc"
    assert collector.metric("events", site_id=site, period="day") == 0


def test_do_not_track_is_decided_by_the_collector_from_the_sites_setting(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    honours = add_site(collector, "honours-dnt.test")
    ignores = add_site(collector, "ignores-dnt.test", honour_dnt=False)
    for site in (honours, ignores):
        pages.add(f"/{site}", html(head=script_tag(collector.port, site)))
    tab = visit(init_script=DNT, extra_http_headers={"DNT": "1"})
    for count, site in enumerate((honours, ignores), start=1):
        tab.page.goto(pages.url(site, f"/{site}"))
        tab.wait_for_answers(count)

    assert [(r.status, r.headers.get("x-hush-dropped")) for r in tab.answers()] == [
        (202, "dnt"),
        (202, None),
    ]
    collector.wait_for_events(1, site=ignores)
    assert collector.metric("events", site_id=honours, period="day") == 0


def test_no_cookie_no_storage_and_no_host_but_the_site_and_the_collector(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = add_site(collector, "private.test")
    pages.add("/app/", html(head=every_extra(collector, site), body=LINKS + STAY_ON_PAGE))
    tab = visit(init_script=STORAGE_SPY + ";" + VISIBILITY)
    tab.page.goto(pages.url(site, "/app/start"))
    use_every_feature(tab)
    tab.wait_for_posts(8)
    tab.settle()

    assert [event["n"] for event in tab.events()] == [
        "pageview",
        "engagement",
        "pageview",
        "Signup",
        "Outbound Link: Click",
        "File Download",
        "Form: Submission",
        "engagement",
    ]
    assert tab.page.evaluate("storageReport()") == {
        "touched": [],
        "cookie": "",
        "localStorage": 0,
        "sessionStorage": 0,
        "indexedDB": 0,
    }
    assert tab.context.cookies() == []
    assert tab.hosts() == {f"{site}:{pages.port}", f"stats.test:{collector.port}"}
    answers = tab.collector_responses()
    assert len(answers) >= 9  # the script and eight events
    for answer in answers:
        assert "set-cookie" not in answer.all_headers(), answer.url
    # Nothing a fingerprint could be made of: only the fields the source's header lists.
    assert set().union(*tab.events()) <= header_fields()


def test_a_content_security_policy_that_allows_only_the_collector_is_enough(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = add_site(collector, "csp.test")
    origin = f"http://stats.test:{collector.port}"
    policy = f"default-src 'none'; script-src {origin}; connect-src {origin}"
    pages.add(
        "/strict",
        html(head=every_extra(collector, site, data_hash=""), body=LINKS),
        headers={"Content-Security-Policy": policy},
    )
    tab = visit(
        init_script="window.violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => violations.push(e.violatedDirective + ' ' + e.blockedURI))"
    )
    tab.page.goto(pages.url(site, "/strict"))
    tab.page.evaluate("history.pushState({}, '', '/strict/next')")
    tab.wait_for_posts(3)  # a page view, its engagement, the next page view
    tab.settle()

    assert tab.page.evaluate("violations") == []
    collector.wait_for_events(2, site=site)


def test_it_posts_text_plain_with_fetch_keepalive_without_credentials_else_xhr_never_beacon(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = add_site(collector, "transport.test")
    pages.add("/", html(head=script_tag(collector.port, site)))
    with_fetch = visit(init_script=TRANSPORT_SPY)
    with_fetch.page.goto(pages.url(site, "/"))
    with_fetch.wait_for_posts(1)
    without_fetch = visit(init_script="delete window.fetch;" + TRANSPORT_SPY)
    without_fetch.page.goto(pages.url(site, "/"))
    without_fetch.wait_for_posts(1)

    endpoint = f"http://stats.test:{collector.port}/api/event"
    assert with_fetch.page.evaluate("sent") == {
        "fetch": [
            {
                "url": endpoint,
                "method": "POST",
                "body": "string",
                "keepalive": True,
                "credentials": "omit",
            }
        ],
        "xhr": [],
        "beacon": 0,
    }
    assert without_fetch.page.evaluate("sent") == {
        "fetch": [],
        "xhr": [{"withCredentials": False, "body": "string"}],
        "beacon": 0,
    }
    for tab in (with_fetch, without_fetch):
        [post] = tab.posts()
        assert post.headers["content-type"] == "text/plain;charset=UTF-8"
        assert "cookie" not in post.headers
    collector.wait_for_events(2, site=site)


def test_it_stays_silent_on_localhost_file_pages_under_automation_and_when_the_page_says_so(
    collector: ThreadServer, pages: PageServer, visit: Visitor, tmp_path: Path
) -> None:
    site = add_site(collector, "guards.test")
    tag = script_tag(collector.port, site)
    testing_tag = script_tag(collector.port, site, data_testing="")
    pages.add("/plain", html(head=tag))
    pages.add("/testing", html(head=testing_tag))
    pages.add("/ignored", html(head="<script>window.hushIgnore = true</script>" + tag))
    file_page = tmp_path / "page.html"
    file_page.write_text(html(head=tag))

    silent = visit()
    for url in (
        f"http://localhost:{pages.port}/plain",
        f"http://127.0.0.1:{pages.port}/plain",
        file_page.as_uri(),
        pages.url(site, "/ignored"),
    ):
        silent.page.goto(url)
        silent.page.evaluate("typeof hush == 'function' && hush('Custom')")
    silent.settle()
    assert silent.posts() == []
    silent.page.evaluate("window.hushIgnore = false; hush('Allowed again')")
    assert [event["n"] for event in silent.wait_for_posts(1)] == ["Allowed again"]

    automated = visit(
        init_script="Object.defineProperty(Navigator.prototype, 'webdriver', {get: () => true})"
    )
    automated.page.goto(pages.url(site, "/plain"))
    automated.settle()
    assert automated.posts() == []
    automated.page.goto(pages.url(site, "/testing"))
    automated.page.goto(f"http://localhost:{pages.port}/testing")
    sent = automated.wait_for_posts(2)
    assert [event["u"] for event in sent] == [
        pages.url(site, "/testing"),
        f"http://localhost:{pages.port}/testing",
    ]


def test_nothing_it_meets_makes_it_throw_into_the_page(
    collector: ThreadServer, pages: PageServer, visit: Visitor
) -> None:
    site = "fragile.test"
    dead = f"http://stats.test:{free_port()}/api/event"  # nothing listens there
    svg_link = (
        '<svg><a href="https://elsewhere.example/"><text id="svg" y="20">svg</text></a></svg>'
    )
    pages.add(
        "/fragile",
        html(
            head=script_tag(collector.port, site, "hush.full", data_api=dead, data_outbound=""),
            body=svg_link + STAY_ON_PAGE,
        ),
    )
    pages.add(
        "/broken",
        html(head=script_tag(collector.port, site, "hush.full", data_include="(unbalanced,/*")),
    )
    tab = visit(init_script=ERRORS)
    tab.page.goto(pages.url(site, "/fragile"))
    tab.page.evaluate(
        """() => {
            const loop = {}
            loop.self = loop
            hush('Circular', {props: loop})
            history.pushState({}, '', '/fragile/next')
        }"""
    )
    tab.page.click("#svg")
    tab.page.goto(pages.url(site, "/broken"))
    tab.page.evaluate("history.pushState({}, '', '/broken/next')")
    tab.settle()

    assert tab.page.evaluate("pageErrors") == []
    assert tab.page.evaluate("location.pathname") == "/broken/next"
    # Only /fragile posted (in vain): its page views and engagement, never the circular props.
    assert {post.url for post in tab.posts()} == {dead}
    assert [event["n"] for event in tab.events()][:3] == ["pageview", "engagement", "pageview"]
    assert "Circular" not in [event["n"] for event in tab.events()]
