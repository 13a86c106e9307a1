"""The marketing view in a real browser: a marketing user changes the period, compares,
filters by clicking a row, removes the chip and goes back; what visitors' browsers sent is shown
as text and never runs, whatever it holds. axe-core's check of every view, light and dark, is
in test_every_view_in_browser.py. Screenshots at 1280 and 390 px go to tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from tests.servers import ThreadServer
from tests.web.conftest import Opener, add_user

pytestmark = [pytest.mark.browser, pytest.mark.server]

PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '"><img src=x onerror="window.__pwned=1">',
    "javascript:window.__pwned=1",
    "'><svg onload=window.__pwned=1>",
]


@pytest.fixture(scope="module", autouse=True)
def traffic(hush: ThreadServer) -> Iterator[None]:
    """Hostile text in every field a visitor's browser controls, beside ordinary traffic."""
    add_user(hush, "mo@example.com", "marketing", "example.com")
    for n, payload in enumerate(PAYLOADS):
        text = quote(payload, safe="")
        hush.event(
            {
                "n": payload,
                "u": f"https://example.com/{text}?utm_source={text}&utm_campaign={text}",
                "d": "example.com",
                "r": f"https://{n}.evil.example/{text}",
                "p": {payload: payload},
            },
            ip=f"192.0.2.{n + 1}",
        )
        hush.pageview(
            f"https://example.com/p/{text}",
            ip=f"192.0.2.{n + 1}",
            referrer=f"https://x.example/{text}",
        )
    hush.wait_for_events(4 + 2 * len(PAYLOADS))
    yield


def no_script_ran(page: Page) -> None:
    assert page.evaluate("window.__pwned === undefined")


def test_a_marketing_user_walks_the_view(hush: ThreadServer, tab: Opener) -> None:
    me = tab()
    page = me.log_in("mo@example.com")
    page.get_by_role("link", name="example.com").click()
    page.wait_for_url(f"{hush.base_url}/sites/example.com")
    assert page.get_by_text("Unique visitors").first.is_visible()
    page.get_by_label("Period", exact=True).select_option("7d")
    page.wait_for_url("**period=7d**")
    page.get_by_label("Compare with").select_option("previous_period")
    page.wait_for_url("**compare=previous_period**")
    assert page.get_by_text("compared with").is_visible()
    page.get_by_role("link", name="/pricing", exact=True).first.click()
    page.wait_for_url("**f=is%2Cevent%3Apage%2C%2Fpricing**")
    chip = page.get_by_role("link", name="Remove the filter Page is /pricing")
    assert chip.is_visible()
    me.shoot("site-filtered")
    chip.click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="Remove the filter Page is /pricing").count() == 0
    page.go_back()
    assert page.get_by_role("link", name="Remove the filter Page is /pricing").is_visible()
    assert me.foreign_requests() == []
    assert me.console_errors == []


def test_what_visitors_sent_is_shown_as_text_and_never_runs(
    hush: ThreadServer, tab: Opener
) -> None:
    me = tab()
    me.log_in("mo@example.com")
    views = [
        "/sites/example.com?period=7d",
        "/sites/example.com?period=7d&sources_tab=sources",
        "/sites/example.com?period=7d&sources_tab=campaigns",
        "/sites/example.com?period=7d&sources_tab=utm_source",
        "/sites/example.com?period=7d&pages_tab=entry",
    ]
    for payload in PAYLOADS:
        views.append(
            "/sites/example.com?period=7d&f=" + quote(f"contains,event:page,{payload[:6]}", safe="")
        )
    for view in views:
        page = me.open(view)
        no_script_ran(page)
    page = me.open("/sites/example.com?period=7d")
    # The custom property picker's keys (the filter form's "Property" lists dimensions).
    keys = page.locator("select[name=prop] option").evaluate_all("all => all.map(o => o.value)")
    assert set(PAYLOADS) <= set(keys), keys
    for key in keys:
        page = me.open("/sites/example.com?period=7d&prop=" + quote(key, safe=""))
        no_script_ran(page)
    me.shoot("site-hostile")
    assert me.foreign_requests() == []
    assert me.console_errors == []


def test_details_sort_search_and_exports_in_the_browser(
    hush: ThreadServer, tab: Opener, tmp_path: Path
) -> None:
    me = tab()
    page = me.log_in("mo@example.com")
    page = me.open("/sites/example.com?period=7d")
    page.get_by_role("link", name="Details of pages").click()
    page.wait_for_url("**/sites/example.com/pages**")
    page.get_by_role("columnheader", name="Page views").get_by_role("link").click()
    page.wait_for_url("**sort=pageviews**")
    me.shoot("details-pages")
    page.get_by_label("Search pages").fill("pricing")
    page.get_by_label("Search pages").press("Enter")
    page.wait_for_url("**q=pricing**")
    assert page.get_by_role("link", name="/pricing", exact=True).count() == 1
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download CSV").click()
    saved = tmp_path / "pages.csv"
    csv_download.value.save_as(saved)
    assert saved.read_text(encoding="utf-8").splitlines()[1].startswith("/pricing")
    page = me.open("/sites/example.com?period=7d")
    with page.expect_download() as zip_download:
        page.get_by_role("link", name="Export (ZIP)").click()
    archive = tmp_path / "view.zip"
    zip_download.value.save_as(archive)
    import zipfile

    with zipfile.ZipFile(archive) as opened:
        assert {"sources-channels.csv", "pages-top.csv"} <= set(opened.namelist())
    page = me.open("/sites/example.com/realtime")
    assert page.get_by_role("link", name="Pause").is_visible()
    me.shoot("realtime")
    assert me.foreign_requests() == []
    assert me.console_errors == []
