"""People log in, stay logged in only as long as they should, and every attempt is on record
(issue 9, DESIGN §7). In process: the real app, its store and its routes, no server start."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator import audit_log, one_time_links
from aggregator.audit_log import Filters
from tests.harness import PASSWORD, Harness, add_user, csrf_of, in_process, log_in
from tests.servers import ManualClock, utc

ORIGIN = {"Origin": "http://127.0.0.1:8000"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(utc(2026, 3, 10, 12, 0))


@pytest.fixture
def hush(tmp_path: Path, clock: ManualClock) -> Iterator[Harness]:
    with in_process(tmp_path, clock=clock) as harness:
        add_user(harness, "ana@example.com", "admin")
        add_user(harness, "mo@example.com", "marketing", "example.com")
        yield harness


def actions(hush: Harness) -> list[tuple[str, str, str]]:
    """(action, target, result) of every audit entry, oldest first."""
    found = audit_log.entries(hush.app.store, Filters(), limit=1000)
    return [(e.action, e.target, e.result) for e in reversed(found)]


def test_a_page_asks_for_a_login_and_returns_to_it_afterwards(hush: Harness) -> None:
    response = hush.client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount"
    response = hush.client.post(
        "/login",
        data={"email": "Ana@Example.com", "password": PASSWORD, "next": "/account"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert response.headers["location"] == "/account"
    assert "ana@example.com" in hush.client.get("/account").text


def test_the_session_cookie_is_the_only_cookie_and_is_strict_and_httponly(hush: Harness) -> None:
    response = log_in(hush, "ana@example.com")
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 1
    name, _, attributes = cookies[0].partition("=")
    assert name == "hush_session"
    assert "HttpOnly" in attributes and "SameSite=strict" in attributes and "Path=/" in attributes


@pytest.mark.parametrize(
    ("next_target", "landing"),
    [
        pytest.param("/settings/keys", "/settings/keys", id="own page"),
        pytest.param("//evil.example/", "/", id="protocol-relative"),
        pytest.param("https://evil.example/", "/", id="absolute"),
        pytest.param("/\\evil.example", "/", id="backslash"),
    ],
)
def test_after_login_hush_sends_people_only_to_its_own_pages(
    hush: Harness, next_target: str, landing: str
) -> None:
    response = hush.client.post(
        "/login",
        data={"email": "ana@example.com", "password": PASSWORD, "next": next_target},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert response.headers["location"] == landing


def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(hush: Harness) -> None:
    wrong = log_in(hush, "ana@example.com", "not the password at all")
    unknown = log_in(hush, "nobody@example.com", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    strip = re.compile(r'value="[^"]*@example\.com"')  # the email typed is echoed back

    assert strip.sub("", wrong.text) == strip.sub("", unknown.text)
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers
    assert actions(hush)[-2:] == [
        ("auth.login_failed", "ana@example.com", "failed"),
        ("auth.login_failed", audit_log.UNKNOWN_ACCOUNT, "failed"),
    ]


def test_the_typed_name_of_an_unknown_account_is_never_recorded(hush: Harness) -> None:
    log_in(hush, "my-password-typed-in-the-wrong-box", "x" * 12)
    with hush.app.store.read() as cur:
        rows = cur.execute("SELECT * FROM audit_log").fetchall()
    assert "my-password-typed-in-the-wrong-box" not in repr(rows)


def test_repeated_failures_slow_the_account_and_a_wait_lets_it_in_again(
    hush: Harness, clock: ManualClock
) -> None:
    for _ in range(5):
        assert log_in(hush, "ana@example.com", "wrong password!").status_code == 401
    slowed = log_in(hush, "ana@example.com")  # even the right password waits its turn
    assert slowed.status_code == 429
    assert slowed.headers["retry-after"] == "1"
    assert "try again in 1 second" in slowed.text
    clock.advance(1.5)
    assert log_in(hush, "ana@example.com", "wrong password!").status_code == 401
    assert log_in(hush, "ana@example.com").status_code == 429  # now 2 s
    clock.advance(2.5)
    assert log_in(hush, "ana@example.com").status_code == 303  # never locked for good
    assert ("auth.login_slowed", "ana@example.com", "denied") in actions(hush)


def test_an_unknown_account_is_slowed_exactly_as_a_known_one(hush: Harness) -> None:
    for email in ("ana@example.com", "nobody@example.com"):
        for _ in range(5):
            log_in(hush, email, "wrong password!")
    assert log_in(hush, "ana@example.com").status_code == 429
    assert log_in(hush, "nobody@example.com").status_code == 429


def test_one_client_failing_on_many_accounts_is_slowed_too(hush: Harness) -> None:
    for n in range(20):
        assert log_in(hush, f"guess{n}@example.com", "wrong password!").status_code == 401
    assert log_in(hush, "ana@example.com").status_code == 429


def test_an_over_long_email_or_password_is_refused_cheaply(hush: Harness) -> None:
    response = log_in(hush, "a" * 5000 + "@example.com", "p" * 1_000_000)
    assert response.status_code == 413  # the form itself is capped at 64 KiB
    assert log_in(hush, "a" * 300 + "@example.com", "p" * 5000).status_code == 401


def test_logout_ends_the_session_for_good(hush: Harness) -> None:
    log_in(hush, "ana@example.com")
    cookie = hush.client.cookies["hush_session"]
    token = csrf_of(hush)
    response = hush.client.post(
        "/logout", data={"csrf": token}, headers=ORIGIN, follow_redirects=False
    )
    assert response.status_code == 303
    hush.client.cookies.set("hush_session", cookie)  # replay the old cookie
    assert hush.client.get("/account", follow_redirects=False).status_code == 303
    assert actions(hush)[-1] == ("auth.logout", "ana@example.com", "ok")


def test_a_session_expires_when_idle(hush: Harness, clock: ManualClock) -> None:
    log_in(hush, "ana@example.com")
    clock.advance(7 * 3600)
    assert hush.client.get("/account").status_code == 200  # seen: idle time starts again
    clock.advance(7 * 3600)
    assert hush.client.get("/account").status_code == 200
    clock.advance(8 * 3600 + 1)
    assert hush.client.get("/account", follow_redirects=False).status_code == 303


def test_a_form_without_its_csrf_token_or_from_another_site_changes_nothing(
    hush: Harness,
) -> None:
    log_in(hush, "ana@example.com")
    token = csrf_of(hush)
    change = {"current": PASSWORD, "password": "a brand new password"}
    for data, headers in [
        (change, ORIGIN),
        ({**change, "csrf": "forged"}, ORIGIN),
        ({**change, "csrf": token}, {"Origin": "https://evil.example"}),
        ({**change, "csrf": token}, {"Sec-Fetch-Site": "cross-site"}),
    ]:
        response = hush.client.post("/account/password", data=data, headers=headers)
        assert response.status_code == 403, data
        assert "Nothing was changed" in response.text
    hush.client.cookies.clear()
    assert log_in(hush, "ana@example.com").status_code == 303  # the old password still works


def test_changing_the_password_ends_the_other_sessions(tmp_path: Path, hush: Harness) -> None:
    log_in(hush, "ana@example.com")
    other = hush.client.cookies["hush_session"]
    hush.client.cookies.clear()
    log_in(hush, "ana@example.com")
    response = hush.client.post(
        "/account/password",
        data={"csrf": csrf_of(hush), "current": PASSWORD, "password": "a brand new password"},
        headers=ORIGIN,
    )
    assert response.status_code == 200
    assert "your other sessions have ended" in response.text
    assert hush.client.get("/account").status_code == 200  # this browser stays logged in
    hush.client.cookies.clear()
    hush.client.cookies.set("hush_session", other)
    assert hush.client.get("/account", follow_redirects=False).status_code == 303
    hush.client.cookies.clear()
    assert log_in(hush, "ana@example.com", "a brand new password").status_code == 303
    assert ("auth.password_change", "ana@example.com", "ok") in actions(hush)


def test_a_new_password_needs_twelve_characters_and_nothing_else(hush: Harness) -> None:
    log_in(hush, "ana@example.com")
    short = {"csrf": csrf_of(hush), "current": PASSWORD, "password": "elevenchars"}
    response = hush.client.post("/account/password", data=short, headers=ORIGIN)
    assert response.status_code == 400
    assert "at least 12 characters" in response.text
    plain = {**short, "password": "twelve chars"}  # no digits, no symbols, no capitals: fine
    assert hush.client.post("/account/password", data=plain, headers=ORIGIN).status_code == 200


def shortcuts_switch(page: str) -> str:
    """What a page tells the script about the keyboard shortcuts: ``on`` or ``off``."""
    found = re.search(r'<body data-shortcuts="(on|off)">', page)
    assert found, page[:300]
    return found.group(1)


def test_keyboard_shortcuts_are_on_until_the_user_turns_them_off(hush: Harness) -> None:
    log_in(hush, "mo@example.com")
    site = hush.client.get("/sites/example.com").text
    assert shortcuts_switch(site) == "on"
    assert 'data-key="w"' in site  # the links the keys follow
    assert 'id="keyboard_shortcuts" name="keyboard_shortcuts" type="checkbox" value="on"' in (
        hush.client.get("/account").text
    )
    response = hush.client.post(
        "/account/preferences", data={"csrf": csrf_of(hush)}, headers=ORIGIN
    )  # the box unticked: the browser sends no keyboard_shortcuts at all
    assert response.status_code == 200 and "Preferences saved." in response.text
    assert shortcuts_switch(hush.client.get("/sites/example.com").text) == "off"
    assert " checked" not in re.sub(r"(?s).*Keyboard shortcuts(.*?)</form>.*", r"\1", response.text)
    hush.client.post(
        "/account/preferences",
        data={"csrf": csrf_of(hush), "keyboard_shortcuts": "on"},
        headers=ORIGIN,
    )
    assert shortcuts_switch(hush.client.get("/sites/example.com").text) == "on"


def test_the_preference_belongs_to_the_user_not_the_browser(hush: Harness) -> None:
    log_in(hush, "mo@example.com")
    response = hush.client.post(
        "/account/preferences", data={"csrf": csrf_of(hush)}, headers=ORIGIN, follow_redirects=False
    )
    assert "set-cookie" not in response.headers  # stored with the user: no cookie, no storage
    hush.client.cookies.clear()
    log_in(hush, "mo@example.com")  # a new session, as from another browser
    assert shortcuts_switch(hush.client.get("/sites/example.com").text) == "off"
    hush.client.cookies.clear()
    log_in(hush, "ana@example.com")
    assert shortcuts_switch(hush.client.get("/sites/example.com").text) == "on"


def test_a_change_of_preference_is_audited_and_a_forged_one_changes_nothing(
    hush: Harness,
) -> None:
    log_in(hush, "mo@example.com")
    forged = hush.client.post("/account/preferences", data={"csrf": "guessed"}, headers=ORIGIN)
    assert forged.status_code == 403
    assert shortcuts_switch(hush.client.get("/account").text) == "on"
    token = csrf_of(hush)
    for _ in range(2):  # the second is no change and no entry
        hush.client.post("/account/preferences", data={"csrf": token}, headers=ORIGIN)
    found = audit_log.entries(hush.app.store, Filters(), limit=1000)
    changed = [e for e in found if e.action == "account.preferences"]
    assert [(e.target, e.actor.email, e.result) for e in changed] == [
        ("mo@example.com", "mo@example.com", "ok")
    ]
    assert changed[0].changes == {"keyboard_shortcuts": [True, False]}


def test_the_setup_link_creates_the_first_admin_once(tmp_path: Path, clock: ManualClock) -> None:
    with in_process(tmp_path, clock=clock) as hush:
        token = one_time_links.issue(hush.app.store, one_time_links.SETUP, now=clock.now())
        assert "Create the first admin" in hush.client.get(f"/setup/{token}").text
        form = {"email": "root@example.com", "password": "the first admin's password"}
        response = hush.client.post(
            f"/setup/{token}", data=form, headers=ORIGIN, follow_redirects=False
        )
        assert response.status_code == 303
        assert "root@example.com" in hush.client.get("/account").text
        hush.client.cookies.clear()
        again = hush.client.post(
            f"/setup/{token}", data={**form, "email": "x@example.com"}, headers=ORIGIN
        )
        assert again.status_code == 410
        assert [u["email"] for u in hush.admin("users.list")["users"]] == ["root@example.com"]


def test_a_setup_link_expires_after_an_hour(tmp_path: Path, clock: ManualClock) -> None:
    with in_process(tmp_path, clock=clock) as hush:
        token = one_time_links.issue(hush.app.store, one_time_links.SETUP, now=clock.now())
        clock.advance(3601)
        assert hush.client.get(f"/setup/{token}").status_code == 410


def test_the_dashboard_answers_only_for_its_public_hosts(hush: Harness) -> None:
    for path in ("/login", "/api/v1/stats/aggregate?site_id=example.com", "/metrics"):
        response = hush.client.get(path, headers={"Host": "rebound.evil.example"})
        assert response.status_code == 421, path
    assert hush.client.get("/js/hush.js", headers={"Host": "any.example"}).status_code == 200
    assert hush.client.get("/healthz", headers={"Host": "any.example"}).status_code == 200
    assert hush.client.get("/login", headers={"Host": "localhost:8000"}).status_code == 200


def test_every_page_sends_a_strict_policy_and_no_store_when_logged_in(hush: Harness) -> None:
    log_in(hush, "ana@example.com")
    headers = hush.client.get("/account").headers
    assert headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
    assert "unsafe" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"


def test_behind_tls_the_cookie_is_secure_and_host_prefixed_with_hsts(
    tmp_path: Path, clock: ManualClock
) -> None:
    with in_process(tmp_path, clock=clock, HUSH_PUBLIC_URL="https://stats.example.com") as hush:
        add_user(hush, "ana@example.com", "admin")
        response = hush.client.post(
            "/login",
            data={"email": "ana@example.com", "password": PASSWORD},
            headers={"Origin": "https://stats.example.com", "Host": "stats.example.com"},
            follow_redirects=False,
        )
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-hush_session=") and "Secure" in cookie
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_logins_record_no_address_and_no_user_agent(tmp_path: Path, hush: Harness) -> None:
    marker_ip, marker_agent = "198.51.100.77", "MarkerAgent/9.9 (planted)"
    headers = {**ORIGIN, "X-Forwarded-For": marker_ip, "User-Agent": marker_agent}
    for password in ("wrong password!", PASSWORD):
        hush.client.post(
            "/login", data={"email": "ana@example.com", "password": password}, headers=headers
        )
    with hush.app.store.read() as cur:
        rows = repr(cur.execute("SELECT * FROM audit_log").fetchall())
        sessions = repr(cur.execute("SELECT * FROM login_sessions").fetchall())
    for marker in (marker_ip, marker_agent, "MarkerAgent"):
        assert marker not in rows and marker not in sessions
    hush.app.store.close()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert marker_ip.encode() not in data and b"MarkerAgent" not in data, path


def test_the_audit_log_is_a_chain_that_shows_an_edited_entry(hush: Harness) -> None:
    log_in(hush, "ana@example.com")
    assert audit_log.verify(hush.app.store)[1] is None
    with hush.app.store.write() as cur:
        cur.execute("UPDATE audit_log SET target = 'someone else' WHERE id = 2")
    checked, broken = audit_log.verify(hush.app.store)
    assert broken == 2 and checked >= 3


def test_old_audit_entries_leave_the_file_and_the_chain_still_holds(
    hush: Harness, clock: ManualClock
) -> None:
    log_in(hush, "ana@example.com", "a-unique-marker-password-typed")  # failed: an entry
    with hush.app.store.write() as cur:
        cur.execute("UPDATE audit_log SET reason = 'marker-reason-7e1f' WHERE id = 1")
    clock.advance(366 * 86400)
    audit_log.purge(hush.app.store, retention_days=365, now=clock.now())
    log_in(hush, "ana@example.com")
    assert audit_log.verify(hush.app.store)[1] is None
    hush.app.store.compact()
    assert b"marker-reason-7e1f" not in hush.app.store.path.read_bytes()


def test_refused_requests_are_counted_by_reason(hush: Harness) -> None:
    hush.client.get("/login", headers={"Host": "rebound.evil.example"})
    log_in(hush, "ana@example.com")
    hush.client.post("/account/password", data={"csrf": "forged"}, headers=ORIGIN)
    stale = hush.client.cookies["hush_session"]
    hush.client.post("/logout", data={"csrf": csrf_of(hush)}, headers=ORIGIN)
    hush.client.cookies.set("hush_session", stale)
    hush.client.get("/account", follow_redirects=False)
    metrics = hush.client.get("/metrics").text
    for reason in ("wrong_host", "bad_form", "stale_session"):
        assert f'hush_dashboard_refusals_total{{reason="{reason}"}} 1' in metrics, reason


def test_keys_made_before_any_user_pass_to_the_first_admin(tmp_path: Path) -> None:
    with in_process(tmp_path) as hush:  # its key is made while no user exists
        assert hush.admin("keys.list")["keys"][0]["user"] == ""
        add_user(hush, "first@example.com", "admin")
        add_user(hush, "second@example.com", "admin")
        assert [k["user"] for k in hush.admin("keys.list")["keys"]] == ["first@example.com"]
        assert hush.stats("aggregate", site_id="example.com").status_code == 200


def test_a_key_dies_with_its_user(hush: Harness) -> None:
    secret = hush.admin("keys.add", name="mo's", user="mo@example.com")["secret"]
    assert hush.stats("aggregate", key=secret, site_id="example.com").status_code == 200
    hush.admin("users.remove", email="mo@example.com")
    assert hush.stats("aggregate", key=secret, site_id="example.com").status_code == 401
