"""The security view in a real browser: a security user opens it (the site's and all sites'),
changes the period; a marketing user gets 403 (axe-core, light and dark: in
test_every_view_in_browser.py). Screenshots at 1280 and 390 px go to tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import ThreadServer
from tests.web.conftest import Opener, add_user

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture(scope="module", autouse=True)
def signals(hush: ThreadServer) -> Iterator[None]:
    add_user(hush, "sec@example.com", "security", "example.com")
    add_user(hush, "mkt@example.com", "marketing", "example.com")
    agents = ["Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)", "curl/8.0", ""]
    for n, agent in enumerate(agents):
        hush.event(
            {"n": "pageview", "u": "https://example.com/", "d": "example.com"},
            ip=f"192.0.2.{n + 1}",
            user_agent=agent,
        )
    hush.event({"n": "pageview", "u": "https://forged.example/", "d": "example.com"})
    hush.event("{bad json")
    yield


def test_a_security_user_reads_the_view(hush: ThreadServer, tab: Opener) -> None:
    me = tab()
    me.log_in("sec@example.com")
    page = me.open("/sites/example.com/security?period=day")
    assert page.get_by_role("heading", name="Accepted and rejected").is_visible()
    assert page.get_by_text("Limits in force:").is_visible()
    page.get_by_label("Period", exact=True).select_option("7d")
    page.wait_for_url("**period=7d**")
    assert page.get_by_role("heading", name="Rejection surges").is_visible()
    me.shoot("security-site")
    page = me.open("/security?period=day")
    assert page.get_by_role("heading", name="Bots").is_visible()
    me.shoot("security-all")
    assert not me.console_errors and not me.foreign_requests()


def test_a_marketing_user_is_refused(hush: ThreadServer, tab: Opener) -> None:
    me = tab()
    me.log_in("mkt@example.com")
    response = me.page.goto(hush.base_url + "/sites/example.com/security")
    assert response is not None and response.status == 403
    me.shoot("security-refused")
    response = me.page.goto(hush.base_url + "/security")
    assert response is not None and response.status == 403
