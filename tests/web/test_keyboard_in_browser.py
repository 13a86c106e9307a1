"""The dashboard with the keyboard alone, in a real browser: a marketing user changes the period
with the picker and Enter, compares, reads the graph's buckets, filters by a panel row and by
the filter form, removes the chip, opens a details view and sorts it, and pauses realtime; the
single-key shortcuts follow the links their ``?`` dialog lists, never while typing or with a
modifier, and not at all once turned off in /account (WCAG 2.1.4)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, Request

from tests.servers import ThreadServer
from tests.web.conftest import Opener, Tab, add_user

pytestmark = [pytest.mark.browser, pytest.mark.server]

SITE = "/sites/example.com"


@pytest.fixture(scope="module", autouse=True)
def people(hush: ThreadServer) -> Iterator[None]:
    add_user(hush, "mo@example.com", "marketing", "example.com")
    add_user(hush, "off@example.com", "marketing", "example.com")
    add_user(hush, "sec@example.com", "security", "example.com")
    yield


def tab_to(page: Page, target: Locator) -> None:
    """Press Tab until ``target`` has the focus (from wherever the focus is)."""
    handle = target.element_handle()
    for _ in range(300):
        page.keyboard.press("Tab")
        if page.evaluate("target => document.activeElement === target", handle):
            return
    raise AssertionError(f"Tab never reached {target}")


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def press_and_load(page: Page, key: str) -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


# Every navigation the page starts (location.assign, a form's submit, a link) fires the
# Navigation API's "navigate" event at once, before any request: the page records them.
WATCH_NAVIGATIONS = """() => { if (!window.__navigations) navigation.addEventListener(
  'navigate', e => window.__navigations.push(e.destination.url)); window.__navigations = []; }"""
# Two turns of the page's event loop (so a key's handler that deferred its work has run), then
# what the page started; null once the document was replaced.
NAVIGATIONS = """async () => { await new Promise(r => setTimeout(r, 0));
  await new Promise(r => setTimeout(r, 0)); return window.__navigations ?? null; }"""


def stays(page: Page, key: str) -> None:
    """``key`` changes nothing: the page starts no navigation and asks for no other page."""
    asked: list[str] = []

    def note(request: Request) -> None:
        if request.is_navigation_request():
            asked.append(request.url)

    page.on("request", note)
    page.evaluate(WATCH_NAVIGATIONS)
    page.keyboard.press(key)
    try:
        started = page.evaluate(NAVIGATIONS)
    except PlaywrightError as gone:  # the document was replaced while the page was asked
        started = [str(gone)]
    page.remove_listener("request", note)
    assert started == [] and asked == [], (key, started, asked)


def marketing(tab: Opener, email: str) -> Tab:
    me = tab()
    me.log_in(email)
    return me


@pytest.fixture(scope="module")
def logged_in_mo(people: None, module_tab: Opener) -> Tab:
    return marketing(module_tab, "mo@example.com")


@pytest.fixture
def me(logged_in_mo: Tab) -> Tab:
    """mo@example.com, logged in once for the module; what earlier tests saw is forgotten."""
    logged_in_mo.forget()
    return logged_in_mo


def test_the_main_actions_need_only_the_keyboard(me: Tab) -> None:
    page = me.open(SITE)
    period = page.get_by_label("Period", exact=True)
    tab_to(page, period)
    stays(page, "ArrowUp")  # 28 days -> 7 days: the page waits for Enter
    assert "period" not in query(page)
    press_and_load(page, "Enter")
    assert query(page)["period"] == ["7d"]
    tab_to(page, page.get_by_label("Compare with"))
    page.keyboard.press("ArrowDown")
    press_and_load(page, "Enter")
    assert query(page)["compare"] == ["previous_period"]
    tab_to(page, page.locator("figure[data-graph] svg"))
    tooltip = page.locator("figure[data-graph] .tooltip")
    assert tooltip.is_visible()  # the last bucket
    last = tooltip.inner_text()
    page.keyboard.press("ArrowLeft")
    assert tooltip.inner_text() != last and "compared" in tooltip.inner_text()
    page.keyboard.press("Escape")
    assert tooltip.is_hidden()
    tab_to(page, page.get_by_role("link", name="/pricing", exact=True).first)
    press_and_load(page, "Enter")
    assert query(page)["f"] == ["is,event:page,/pricing"]
    tab_to(page, page.get_by_role("link", name="Remove the filter Page is /pricing"))
    press_and_load(page, "Enter")
    assert "f" not in query(page)
    tab_to(page, page.get_by_text("Add a filter"))
    page.keyboard.press("Enter")  # opens the filter form
    tab_to(page, page.get_by_label("Value"))
    page.keyboard.type("/blog/launch")
    press_and_load(page, "Enter")
    assert query(page)["f"] == ["is,event:page,/blog/launch"]
    assert page.get_by_role("link", name="Remove the filter Page is /blog/launch").is_visible()
    page = me.open(SITE + "?period=7d")
    tab_to(page, page.get_by_role("link", name="Details of pages"))
    press_and_load(page, "Enter")
    assert urlsplit(page.url).path == SITE + "/pages"
    tab_to(page, page.get_by_role("columnheader", name="Page views").get_by_role("link"))
    press_and_load(page, "Enter")
    assert query(page)["sort"] == ["pageviews"]
    page = me.open(SITE + "/realtime")
    tab_to(page, page.get_by_role("link", name="Pause updates"))
    press_and_load(page, "Enter")
    assert query(page)["paused"] == ["1"]
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    assert me.console_errors == [] and me.foreign_requests() == []


def test_shortcuts_follow_the_links_their_help_lists(me: Tab, tab: Opener) -> None:
    page = me.open(SITE)
    press_and_load(page, "w")
    assert query(page)["period"] == ["7d"]
    press_and_load(page, "x")
    assert query(page)["compare"] == ["previous_period"]
    press_and_load(page, "d")
    assert query(page)["period"] == ["day"] and query(page)["compare"] == ["previous_period"]
    press_and_load(page, "ArrowLeft")
    assert query(page)["date"] and query(page)["period"] == ["day"]
    press_and_load(page, "ArrowRight")
    assert "date" in query(page)
    stays(page, "ArrowRight")  # never past today
    press_and_load(page, "x")
    assert "compare" not in query(page)
    press_and_load(page, "a")
    assert query(page)["period"] == ["all"]
    press_and_load(page, "r")
    assert urlsplit(page.url).path == SITE + "/realtime"
    press_and_load(page, "m")  # from realtime, back to the site view
    assert urlsplit(page.url).path == SITE and query(page)["period"] == ["month"]
    page = me.open(SITE + "/pages?period=7d&sort=pageviews")
    press_and_load(page, "y")  # a details view keeps its sort
    assert urlsplit(page.url).path == SITE + "/pages"
    assert query(page)["period"] == ["year"] and query(page)["sort"] == ["pageviews"]
    assert me.console_errors == []
    me = marketing(tab, "sec@example.com")
    page = me.open(SITE + "/security?period=day")
    assert page.get_by_role("link", name="Previous period").is_visible()  # as on the site view
    press_and_load(page, "ArrowLeft")
    assert urlsplit(page.url).path == SITE + "/security" and query(page)["date"]
    press_and_load(page, "w")
    assert urlsplit(page.url).path == SITE + "/security" and query(page)["period"] == ["7d"]
    stays(page, "x")  # the security view has no comparison
    assert me.console_errors == []


def test_the_question_mark_opens_an_accessible_list_of_the_shortcuts(me: Tab) -> None:
    page = me.open(SITE + "?period=7d")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    assert dialog.is_hidden()
    page.keyboard.press("?")
    assert dialog.is_visible()
    assert dialog.get_by_role("link", name="Last 7 days").get_attribute("aria-current") == "true"
    page.keyboard.press("Tab")  # the focus stays in the dialog while it is open
    assert page.evaluate("document.activeElement.closest('dialog') !== null")
    me.shoot("shortcuts-help")
    page.keyboard.press("Escape")
    assert dialog.is_hidden()
    opener = page.get_by_role("button", name="Keyboard shortcuts")
    tab_to(page, opener)
    page.keyboard.press("Enter")
    assert dialog.is_visible()
    page.get_by_role("button", name="Close").press("Enter")
    assert dialog.is_hidden()
    assert me.console_errors == []


def test_shortcuts_never_fire_while_typing_or_with_a_modifier(me: Tab) -> None:
    page = me.open(SITE + "?period=7d")
    for key in ("Shift+W", "Alt+d", "Control+m", "Meta+a", "Shift+ArrowLeft"):
        stays(page, key)
    page.get_by_text("Add a filter").click()
    value = page.get_by_label("Value")
    value.focus()
    for key in ("d", "w", "a", "x", "?"):
        stays(page, key)
    assert value.input_value() == "dwax?"
    page.get_by_label("Property").focus()
    stays(page, "m")
    assert page.get_by_role("dialog").is_hidden()


def test_turned_off_in_the_account_no_key_does_anything(tab: Opener) -> None:
    me = marketing(tab, "off@example.com")
    page = me.open("/account")
    box = page.get_by_label("Use keyboard shortcuts")
    assert box.is_checked()
    tab_to(page, box)
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Save preferences"))
    press_and_load(page, "Enter")
    assert page.get_by_text("Preferences saved.").is_visible()
    assert not page.get_by_label("Use keyboard shortcuts").is_checked()
    page = me.open(SITE + "?period=7d")
    assert page.get_by_role("link", name="Last 28 days", include_hidden=True).count() == 1
    for key in ("d", "w", "x", "ArrowLeft", "?"):
        stays(page, key)
    assert page.get_by_role("dialog").is_hidden()
    assert page.get_by_role("button", name="Keyboard shortcuts").is_hidden()
    page.get_by_label("Period", exact=True).select_option("day")  # the picker still works
    page.wait_for_url("**period=day**")
    assert me.console_errors == []


def test_stays_sees_a_key_that_starts_a_navigation(me: Tab) -> None:
    page = me.open(SITE + "?period=7d")
    with pytest.raises(AssertionError, match="'d'"):
        stays(page, "d")
    page.wait_for_url("**period=day**")
