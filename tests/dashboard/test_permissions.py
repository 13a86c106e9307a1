"""Authorisation in one place (DESIGN §7): every route of the read side, walked for every role
and for nobody. Pages send nobody to /login and APIs answer 401; a role without the right gets
a 403 page that says what is missing; a route missing from ``ROUTES`` fails the walk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import Mount, Route

from tests.harness import Harness, add_user, csrf_of, in_process, log_in

# (method, path) -> the action it needs; None: anyone (public), "login": any logged-in person
ROUTES: dict[tuple[str, str], str | None] = {
    ("GET", "/"): "account",
    ("GET", "/login"): None,
    ("POST", "/login"): None,
    ("POST", "/logout"): "login",
    ("GET", "/setup/{token}"): None,
    ("POST", "/setup/{token}"): None,
    ("GET", "/reset/{token}"): None,
    ("POST", "/reset/{token}"): None,
    ("GET", "/account"): "account",
    ("POST", "/account/password"): "account",
    ("POST", "/account/preferences"): "account",
    ("GET", "/settings/sites"): "sites.manage",
    ("POST", "/settings/sites/add"): "sites.manage",
    ("POST", "/settings/sites/change"): "sites.manage",
    ("POST", "/settings/sites/remove"): "sites.manage",
    ("POST", "/settings/sites/goals/add"): "sites.manage",
    ("POST", "/settings/sites/goals/remove"): "sites.manage",
    ("GET", "/settings/users"): "users.manage",
    ("POST", "/settings/users/add"): "users.manage",
    ("POST", "/settings/users/change"): "users.manage",
    ("POST", "/settings/users/remove"): "users.manage",
    ("POST", "/settings/users/reset"): "users.manage",
    ("GET", "/settings/keys"): "keys.own",
    ("POST", "/settings/keys/add"): "keys.own",
    ("POST", "/settings/keys/revoke"): "keys.own",
    ("GET", "/audit-log"): "audit_log.read",
    ("GET", "/sites/{domain}"): "traffic.read",
    ("GET", "/sites/{domain}/realtime"): "traffic.read",
    ("GET", "/sites/{domain}/export"): "traffic.export",
    ("GET", "/sites/{domain}/{panel}.csv"): "traffic.export",
    ("GET", "/sites/{domain}/{panel}"): "traffic.read",
    ("GET", "/security"): "security.read",
    ("GET", "/sites/{domain}/security"): "security.read",
}
# Routes with their own door: the Stats and Sites APIs (a Bearer key; the Sites API only an
# admin's, tests/dashboard/conformance), probes and public assets.
OWN_DOOR = {
    "/api/health",
    "/api/v2/query",
    "/api/v1/sites",
    "/api/v1/sites/goals",
    "/api/v1/sites/goals/{goal_id}",
    "/api/v1/sites/{site_id}",
    "/api/v1/stats/aggregate",
    "/api/v1/stats/timeseries",
    "/api/v1/stats/breakdown",
    "/api/v1/stats/realtime/visitors",
    "/healthz",
    "/metrics",
    "/static",
}
ROLES = ("admin", "marketing", "security")


@pytest.fixture(scope="module")
def hush(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with in_process(tmp_path_factory.mktemp("permissions")) as harness:
        harness.add_site("other.example")
        for role in ROLES:
            add_user(harness, f"{role}@example.com", role, "example.com")
        yield harness


def served_routes(hush: Harness) -> set[tuple[str, str]]:
    found = set()
    for route in hush.app.routes:
        if isinstance(route, Mount) or route.path in OWN_DOOR or route.path.startswith("/js/"):
            continue
        assert isinstance(route, Route)
        found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return found


def test_every_route_of_the_read_side_is_in_the_walk(hush: Harness) -> None:
    assert served_routes(hush) == set(ROUTES)


def request(hush: Harness, method: str, path: str, csrf: str = "") -> int:
    url = (
        path.replace("{token}", "not-a-token")
        .replace("{domain}", "example.com")
        .replace("{panel}", "pages")
    )
    if method == "GET":
        return hush.client.get(url, follow_redirects=False).status_code
    return hush.client.post(
        url,
        data={"csrf": csrf},
        headers={"Origin": "http://127.0.0.1:8000"},
        follow_redirects=False,
    ).status_code


@pytest.mark.parametrize("who", [None, *ROLES])
def test_each_route_answers_each_role_as_its_action_says(hush: Harness, who: str | None) -> None:
    from dashboard.accounts.roles import allows

    hush.client.cookies.clear()
    csrf = ""
    if who:
        assert log_in(hush, f"{who}@example.com").status_code == 303
        csrf = csrf_of(hush)
    for (method, path), action in sorted(ROUTES.items()):
        if path == "/logout":
            continue  # it would end the walk's session: its own test follows
        status = request(hush, method, path, csrf)
        if action is None:
            assert status != 403, (who, method, path, status)
        elif who is None:
            assert status == 303, (method, path, status)  # to /login
        elif action != "login" and not allows(who, action):
            assert status == 403, (who, method, path, status)
        else:
            assert status not in (303, 401, 403), (who, method, path, status)


def test_a_refusal_page_says_what_is_missing(hush: Harness) -> None:
    hush.client.cookies.clear()
    log_in(hush, "marketing@example.com")
    response = hush.client.get("/audit-log")
    assert response.status_code == 403
    assert "may not read the audit log" in response.text
    assert "admin or security role" in response.text


def test_a_marketing_user_sees_only_their_sites(hush: Harness) -> None:
    hush.client.cookies.clear()
    log_in(hush, "marketing@example.com")
    page = hush.client.get("/").text
    assert "example.com" in page and "other.example" not in page
    hush.client.cookies.clear()
    log_in(hush, "admin@example.com")
    assert "other.example" in hush.client.get("/").text


def test_logout_ends_only_a_logged_in_session(hush: Harness, tmp_path: Path) -> None:
    hush.client.cookies.clear()
    assert request(hush, "POST", "/logout") == 303
