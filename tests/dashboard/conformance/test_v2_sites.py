"""Stats API v2 (``POST /api/v2/query``) and the Sites API, as Plausible documents them, on
the review's replay; v1 and v2 agree because they share one query path."""

from __future__ import annotations

from typing import Any

from dashboard.api import errors
from tests.dashboard.conformance.scenario import DIRECT, SITE, VISITORS
from tests.harness import Harness, add_user


def query(h: Harness, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key or h.api_key}"}
    return h.client.post("/api/v2/query", json={"site_id": SITE, **body}, headers=headers)


def test_v2_docs_example_aggregate(ctl: Harness) -> None:
    response = query(ctl, {"metrics": ["visitors", "pageviews"], "date_range": "day"})
    assert response.status_code == 200, response.text
    json = response.json()
    assert json["results"] == [{"metrics": [VISITORS, 20], "dimensions": []}]
    assert json["query"]["metrics"] == ["visitors", "pageviews"] and "meta" in json


def test_v2_or_not_filters_and_order(ctl: Harness) -> None:
    body = {
        "metrics": ["visitors"],
        "date_range": "day",
        "dimensions": ["visit:source"],
        "filters": [
            ["or", [["is", "visit:source", ["Google"]], ["contains", "visit:source", ["ref"]]]],
            ["not", ["is", "visit:os", ["Mac"]]],
        ],
        "order_by": [["visit:source", "desc"]],
    }
    results = query(ctl, body).json()["results"]
    assert results == [
        {"metrics": [1], "dimensions": ["ref.com"]},
        {"metrics": [2], "dimensions": ["Google"]},
    ]


def test_v2_matches_is_a_regular_expression(ctl: Harness) -> None:
    body = {
        "metrics": ["visitors"],
        "date_range": "day",
        "filters": [["matches", "event:page", ["^/blog/post\\|[0-9]$"]]],
    }
    assert query(ctl, body).json()["results"][0]["metrics"] == [2]
    body["filters"] = [["matches_not", "event:page", ["^/blog"]]]
    assert query(ctl, body).json()["results"][0]["metrics"] == [VISITORS - 6 - 3]


def test_v2_time_dimension_labels_and_total_rows(ctl: Harness) -> None:
    body = {
        "metrics": ["visitors"],
        "date_range": "day",
        "dimensions": ["time:hour"],
        "include": {"time_labels": True, "total_rows": True},
    }
    json = query(ctl, body).json()
    assert len(json["meta"]["time_labels"]) == 24 and json["meta"]["total_rows"] == 1
    assert json["results"][0]["dimensions"] == ["2026-12-01 10:00:00"]


def test_v2_goal_dimension_conversion_rate_and_pagination(ctl: Harness) -> None:
    body = {
        "metrics": ["visitors", "conversion_rate"],
        "date_range": "day",
        "dimensions": ["event:goal"],
        "pagination": {"limit": 1, "offset": 1},
    }
    results = query(ctl, body).json()["results"]
    assert results == [{"metrics": [3, round(300 / VISITORS, 2)], "dimensions": ["Signup"]}]


def test_v2_and_v1_agree(ctl: Harness) -> None:
    v1 = ctl.results("breakdown", site_id=SITE, period="day", property="visit:source")
    v2 = query(
        ctl, {"metrics": ["visitors"], "date_range": "day", "dimensions": ["visit:source"]}
    ).json()["results"]
    assert [[r["source"], r["visitors"]] for r in v1] == [
        [r["dimensions"][0], r["metrics"][0]] for r in v2
    ]
    assert v1[0] == {"source": "Direct / None", "visitors": DIRECT}


def test_v2_scroll_depth_and_refusals(ctl: Harness) -> None:
    ok = query(
        ctl,
        {
            "metrics": ["scroll_depth"],
            "date_range": "day",
            "filters": [["is", "event:page", ["/A"]]],
        },
    )
    assert ok.json()["results"][0]["metrics"] == [50]
    bad = query(
        ctl,
        {
            "metrics": ["bounce_rate"],
            "date_range": "day",
            "filters": [["is", "event:name", ["Signup"]]],
        },
    )
    assert bad.status_code == 400
    assert (
        bad.json()["error"]
        == errors.session_metric_with_filter("bounce_rate", "event:name").message
    )
    region = query(
        ctl, {"metrics": ["visitors"], "date_range": "day", "dimensions": ["visit:city"]}
    )
    assert region.json() == {"error": errors.no_locations("visit:city").message}
    assert query(ctl, {"metrics": ["visitors"], "date_range": "day"}, key="nope").status_code == 401


def sites_call(h: Harness, method: str, path: str, key: str, **kwargs: Any) -> Any:
    return h.client.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs)


def test_sites_api_for_admin_keys_only_and_audited(ctl: Harness) -> None:
    add_user(ctl, "admin@ctl.example", "admin")
    add_user(ctl, "mk@ctl.example", "marketing", SITE)
    admin_key = ctl.admin("keys.add", name="infra", user="admin@ctl.example")["secret"]
    marketing_key = ctl.admin("keys.add", name="mk", user="mk@ctl.example")["secret"]
    ctl.app.keys.refresh()
    refused = sites_call(ctl, "GET", "/api/v1/sites", marketing_key)
    assert refused.status_code == 401
    assert refused.json() == {"error": errors.INVALID_KEY_FOR_RESOURCE}

    made = sites_call(
        ctl,
        "POST",
        "/api/v1/sites",
        admin_key,
        files={"domain": (None, '"new.example"'), "timezone": (None, '"Europe/London"')},
    )
    assert made.json() == {
        "domain": "new.example",
        "timezone": "Europe/London",
        "honour_dnt": True,
        "hash_routing": False,
    }, made.text
    listed = sites_call(ctl, "GET", "/api/v1/sites", admin_key).json()
    assert {"domain", "timezone"} <= set(listed["sites"][0]) and listed["meta"]["limit"] == 100
    got = sites_call(ctl, "GET", "/api/v1/sites/new.example", admin_key).json()
    assert got["custom_properties"] == []
    changed = sites_call(
        ctl,
        "PUT",
        "/api/v1/sites/new.example",
        admin_key,
        json={"timezone": "UTC", "honour_dnt": False, "hash_routing": True},
    )
    assert changed.json()["hash_routing"] is True and changed.json()["honour_dnt"] is False

    goal = sites_call(
        ctl,
        "PUT",
        "/api/v1/sites/goals",
        admin_key,
        json={"site_id": "new.example", "goal_type": "page", "page_path": "/register"},
    )
    assert goal.json()["display_name"] == "Visit /register", goal.text
    again = sites_call(
        ctl,
        "PUT",
        "/api/v1/sites/goals",
        admin_key,
        json={"site_id": "new.example", "goal_type": "page", "page_path": "/register"},
    )
    assert again.json()["id"] == goal.json()["id"]  # find or create
    goals = sites_call(ctl, "GET", "/api/v1/sites/goals?site_id=new.example", admin_key).json()
    assert [g["display_name"] for g in goals["goals"]] == ["Visit /register"]
    removed = sites_call(
        ctl,
        "DELETE",
        f"/api/v1/sites/goals/{goal.json()['id']}",
        admin_key,
        json={"site_id": "new.example"},
    )
    assert removed.json() == {"deleted": True}
    assert sites_call(ctl, "DELETE", "/api/v1/sites/new.example", admin_key).json() == {
        "deleted": True
    }
    with ctl.app.store.read() as cur:
        rows = cur.execute(
            "SELECT action, actor_type, actor_email, actor_role FROM audit_log"
            " WHERE actor_type = 'api_key' ORDER BY id"
        ).fetchall()
    changes = [r[0] for r in rows if not r[0].endswith(".list")]
    assert changes == ["site.create", "site.update", "goal.create", "goal.remove", "site.remove"]
    # reads are on record too: every Sites API call is an audit-log entry
    assert {"site.list", "goal.list"} <= {r[0] for r in rows}
    assert {r[1:] for r in rows} == {("api_key", "admin@ctl.example", "admin")}
