"""The security view in process: security and admin read it, marketing gets 403; each panel
prints its rule from the constants the detectors apply; counts follow the URL's period."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.queries import security_rules as rules
from tests.harness import Harness, add_user, in_process, log_in
from tests.servers import ManualClock, utc

NOW = utc(2026, 3, 10, 12, 0, 10)


@pytest.fixture(scope="module")
def hush(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    root: Path = tmp_path_factory.mktemp("security")
    with in_process(root, clock=ManualClock(NOW), HUSH_RATE_LIMIT="5") as harness:
        harness.add_site("other.example")
        add_user(harness, "sec@example.com", "security", "example.com")
        add_user(harness, "mo@example.com", "marketing", "example.com")
        for _ in range(8):  # 5 accepted, 3 limited
            harness.event({"n": "pageview", "u": "https://example.com/", "d": "example.com"})
        harness.event(
            {"n": "pageview", "u": "https://example.com/", "d": "example.com"},
            ip="198.51.100.7",
            user_agent="Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        )
        harness.event(
            {"n": "pageview", "u": "https://forged.example/", "d": "example.com"}, ip="198.51.100.8"
        )
        harness.event(
            {"n": "pageview", "u": "https://example.com/", "d": "example.com"},
            ip="198.51.100.9",
            headers={"Sec-GPC": "1"},
        )
        harness.event(
            {"n": "pageview", "u": "https://other.example/", "d": "other.example"},
            ip="198.51.100.10",
            user_agent="",
        )
        harness.load()
        yield harness


def page(hush: Harness, email: str, path: str) -> tuple[int, str]:
    hush.client.cookies.clear()
    log_in(hush, email)
    response = hush.client.get(path)
    return response.status_code, response.text


def test_security_reads_its_site_and_every_rule_is_printed(hush: Harness) -> None:
    status, text = page(hush, "sec@example.com", "/sites/example.com/security?period=day")
    assert status == 200
    for rule in (
        rules.REQUESTS,
        rules.PRIVACY,
        rules.SURGE,
        rules.BOTS,
        rules.SPAM,
        rules.SPIKE,
        rules.UNKNOWN,
        rules.ALERTS,
    ):
        assert rule.text.replace("'", "&#39;") in text, rule.key
    assert "Limits in force: 5 events per minute per client" in text
    assert f"max({rules.SURGE_FLOOR}, {rules.SURGE_FACTOR} ×" in text
    assert "accepted: 5" in text and "rate_limited: 3" in text and "bot: 1" in text
    assert "host_mismatch: 1" in text
    assert "gpc" not in text.split('id="h-privacy"')[0].split('id="h-requests"')[1]
    assert "(1)" in text.split('id="h-privacy"')[1][:80]  # one privacy drop, on its own line
    assert "GPTBot" in text and "AI crawler" in text
    assert "forged.example" in text
    assert "#1" in text  # the day's slot, never an address
    assert "203.0.113.10" not in text


def test_security_sees_only_granted_sites(hush: Harness) -> None:
    assert page(hush, "sec@example.com", "/sites/other.example/security")[0] == 403
    status, text = page(hush, "sec@example.com", "/security?period=day")
    assert status == 200 and "other.example" not in text.split("<main")[1].split("h-requests")[0]
    assert "no user agent" not in text  # other.example's empty-agent bot is not theirs


def test_admin_reads_every_site_and_marketing_is_refused(hush: Harness) -> None:
    hush.client.cookies.clear()
    add_user(hush, "root@example.com", "admin")
    status, text = page(hush, "root@example.com", "/security?period=day")
    assert status == 200 and "no user agent" in text
    assert page(hush, "mo@example.com", "/sites/example.com/security")[0] == 403
    assert page(hush, "mo@example.com", "/security")[0] == 403


def test_a_bad_period_is_a_message_and_no_site_is_404(hush: Harness) -> None:
    status, text = page(hush, "sec@example.com", "/sites/example.com/security?period=nope")
    assert status == 200 and "there is no period" in text
    hush.client.cookies.clear()
    add_user(hush, "root2@example.com", "admin")
    assert page(hush, "root2@example.com", "/sites/nosuch.example/security")[0] == 404


def test_healthz_reports_the_loader_and_says_503_when_loads_keep_failing(hush: Harness) -> None:
    body = hush.client.get("/healthz").json()
    assert body["status"] == "ok" and "spool_lag_seconds" in body and body["last_load"]
    hush.app.loader.failures = 3
    try:
        response = hush.client.get("/healthz")
        assert response.status_code == 503
        assert "the last 3 loads of the spool failed" in response.json()["reasons"]
    finally:
        hush.app.loader.failures = 0


def test_metrics_have_the_operations_figures_and_no_personal_label(hush: Harness) -> None:
    text = hush.client.get("/metrics").text
    for name in (
        'hush_request_seconds_bucket{route="intake"',
        "hush_spool_lag_seconds",
        "hush_load_batch_events_count",
        "hush_load_seconds_count",
        "hush_maintenance_failures_total",
        "hush_rollup_lag_seconds",
        "hush_database_bytes",
        "hush_alerts_sent_total",
        "hush_alerts_failed_total",
    ):
        assert name in text, name
    labels = {
        part.split("=")[0]
        for line in text.splitlines()
        if "{" in line
        for part in line.split("{")[1].split("}")[0].split(",")
    }
    assert labels <= {"outcome", "route", "le", "reason"}
    assert "203.0.113" not in text
