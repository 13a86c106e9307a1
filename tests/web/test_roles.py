"""Each role in a browser sees exactly what it may; sessions end when they should; forged forms
change nothing; failed logins slow down. Every page loads nothing from elsewhere and breaks no
rule of its Content Security Policy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.servers import CHROME_UA, ThreadServer
from tests.snippet.pages import PageServer
from tests.web.conftest import PASSWORD, Opener, add_user

pytestmark = [pytest.mark.browser, pytest.mark.server]

NAV = {
    "admin": ["Sites", "Security", "Audit log", "Sites settings", "Users", "API keys", "Account"],
    "marketing": ["Sites", "API keys", "Account"],
    "security": ["Sites", "Security", "Audit log", "Account"],
}


@pytest.fixture(scope="module", autouse=True)
def people(hush: ThreadServer) -> Iterator[None]:
    add_user(hush, "admin@example.com", "admin")
    add_user(hush, "mo@example.com", "marketing", "example.com")
    add_user(hush, "sec@example.com", "security", "example.com")
    yield


@pytest.mark.parametrize("role", sorted(NAV))
def test_each_role_logs_in_and_sees_exactly_what_it_may(
    hush: ThreadServer, tab: Opener, role: str
) -> None:
    email = {
        "admin": "admin@example.com",
        "marketing": "mo@example.com",
        "security": "sec@example.com",
    }[role]
    me = tab()
    page = me.log_in(email)
    nav = page.get_by_role("navigation", name="Main")
    assert [link.inner_text() for link in nav.get_by_role("link").all()] == NAV[role]
    rows = page.get_by_role("table").get_by_role("row")
    sites = rows.all_inner_texts()
    assert any("example.com" in row for row in sites)
    assert any("other.example" in row for row in sites) == (role == "admin")
    me.shoot(f"overview-{role}")
    me.open("/account")
    assert page.get_by_text(email).first.is_visible()
    me.shoot(f"account-{role}")
    assert me.foreign_requests() == []
    assert me.console_errors == []


def test_a_marketing_user_is_refused_the_audit_log(hush: ThreadServer, tab: Opener) -> None:
    mo = tab()
    mo.log_in("mo@example.com")
    page = mo.open("/audit-log")
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    assert "may not read the audit log" in page.content()
    mo.shoot("forbidden")


def test_the_login_page_and_a_failed_login(hush: ThreadServer, tab: Opener) -> None:
    visitor = tab()
    visitor.open("/login")
    visitor.shoot("login")
    page = visitor.log_in("mo@example.com", "not the right password")
    assert page.get_by_role("alert").inner_text() == (
        "That email and password do not match an account."
    )
    visitor.shoot("login-failed")
    assert visitor.console_errors == [] and visitor.foreign_requests() == []


def test_repeated_failures_slow_the_login(hush: ThreadServer, tab: Opener) -> None:
    add_user(hush, "slow@example.com", "marketing")
    visitor = tab()
    for _ in range(5):
        visitor.log_in("slow@example.com", "wrong password again")
    page = visitor.log_in("slow@example.com")
    assert "Too many failed logins" in page.get_by_role("alert").inner_text()
    visitor.shoot("login-slowed")


def test_logout_kills_the_session_and_its_cookie_cannot_be_replayed(
    hush: ThreadServer, tab: Opener
) -> None:
    me = tab()
    page = me.log_in("sec@example.com")
    cookies = me.context.cookies()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(hush.base_url + "/login")
    me.context.add_cookies(cookies)  # the old cookie, replayed
    me.open("/account")
    assert page.url.startswith(hush.base_url + "/login")


def test_a_password_change_ends_the_other_sessions(hush: ThreadServer, tab: Opener) -> None:
    add_user(hush, "two@example.com", "marketing", "example.com")
    laptop, phone = tab(), tab()
    laptop.log_in("two@example.com")
    phone.log_in("two@example.com")
    page = laptop.open("/account")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill("an entirely new password")
    page.get_by_role("button", name="Change password").click()
    assert "your other sessions have ended" in page.get_by_role("status").inner_text()
    laptop.shoot("account-password-changed")
    phone.open("/account")
    assert phone.page.url.startswith(hush.base_url + "/login")
    assert laptop.open("/account").url == hush.base_url + "/account"


def test_a_forged_form_from_another_site_changes_nothing(
    hush: ThreadServer, tab: Opener, browser: Browser
) -> None:
    add_user(hush, "victim@example.com", "marketing", "example.com")
    victim = tab()
    victim.log_in("victim@example.com")
    evil = PageServer().start()
    try:
        evil.add(
            "/attack.html",
            f'<form id="f" method="post" action="{hush.base_url}/account/password">'
            '<input name="current" value=""><input name="password" value="attacker-chosen-pw">'
            "</form><script>document.getElementById('f').submit()</script>",
        )
        victim.page.goto(f"http://attacker.test:{evil.port}/attack.html")
        victim.page.wait_for_load_state()
    finally:
        evil.stop()
    assert "/account/password" in " ".join(victim.requests)
    fresh = browser.new_context(user_agent=CHROME_UA)
    try:
        page = fresh.new_page()
        page.goto(hush.base_url + "/login")
        page.get_by_label("Email").fill("victim@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(hush.base_url + "/")  # the password did not change
    finally:
        fresh.close()


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/settings/sites", "Sites settings"),
        ("/settings/users", "Users"),
        ("/settings/keys", "API keys"),
        ("/audit-log", "Audit log"),
    ],
)
def test_the_admin_pages_load_only_hushs_own_resources(
    hush: ThreadServer, tab: Opener, path: str, heading: str
) -> None:
    admin = tab()
    admin.log_in("admin@example.com")
    page = admin.open(path)
    assert page.get_by_role("heading", name=heading, exact=True).first.is_visible()
    admin.shoot(path.strip("/").replace("/", "-"))
    assert admin.foreign_requests() == []
    assert admin.console_errors == []


def test_the_snippet_tag_is_copied_with_the_first_party_script(
    hush: ThreadServer, tab: Opener
) -> None:
    admin = tab()
    admin.context.grant_permissions(["clipboard-read", "clipboard-write"])
    admin.log_in("admin@example.com")
    page = admin.open("/settings/sites")
    page.get_by_role("button", name="Copy").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert 'data-domain="example.com"' in copied and "/js/hush" in copied
    assert admin.console_errors == []
