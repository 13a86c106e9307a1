"""Alert delivery: retried with backoff, a failure recorded (in the view's history and in
/metrics) with only the kind of error, never the webhook URL; nothing is audited unless sent."""

from __future__ import annotations

import threading
import urllib.error
from pathlib import Path

from tests.harness import add_user, in_process, log_in
from tests.servers import ManualClock, utc

NOW = utc(2026, 3, 10, 12, 0, 10)
SECRET_HOOK = "http://127.0.0.1:9/hook?token=s3cret-token"


def test_a_failing_webhook_is_retried_with_backoff_then_shown(tmp_path: Path) -> None:
    with in_process(
        tmp_path, clock=ManualClock(NOW), HUSH_ALERT_WEBHOOK=SECRET_HOOK, HUSH_ALERT_INTERVAL="0"
    ) as hush:
        for n in range(60):  # 60 bots in one window: a surge over the floor of 50
            hush.event(
                {"n": "pageview", "u": "https://example.com/", "d": "example.com"},
                ip=f"198.51.100.{n + 1}",
                user_agent="curl/8.0",
            )
        hush.load()
        alerter = hush.app.alerter
        tries: list[str] = []
        waits: list[float] = []

        def refuse(url: str, body: bytes, timeout: float) -> None:
            tries.append(url)
            raise urllib.error.HTTPError(url, 502, "bad gateway", None, None)  # type: ignore[arg-type]

        alerter._post, alerter._sleep = refuse, waits.append
        fired = alerter.run_once()
        assert [a.rule for a in fired] == ["rejection_surge"]
        assert len(tries) == 5 and waits == [2.0, 4.0, 8.0, 16.0]
        assert alerter.failed == 1 and alerter.sent == 0
        assert alerter.run_once() == []  # once per rule and site per hour, failed or not
        metrics = hush.client.get("/metrics").text
        assert "hush_alerts_failed_total 1" in metrics
        add_user(hush, "root@example.com", "admin")
        log_in(hush, "root@example.com")
        page = hush.client.get("/sites/example.com/security?period=day").text
        assert "failed</strong> after 5 tries (HTTP 502)" in page
        with hush.app.store.read() as cur:
            audited = cur.execute(
                "SELECT count(*) FROM audit_log WHERE action = 'alert.sent'"
            ).fetchone()
        assert audited == (0,)
        assert "s3cret" not in page and "s3cret" not in metrics
        for path in hush.app.settings.data_dir.rglob("*"):
            if path.is_file():
                assert b"s3cret" not in path.read_bytes()


def test_alerts_wait_while_a_maintenance_pass_runs(tmp_path: Path) -> None:
    # At 32 MiB, a busy day's live rollup and the alerts' read of the day's raw events ran out
    # of DuckDB's memory side by side: the two take turns.
    with in_process(tmp_path, clock=ManualClock(NOW), HUSH_ALERT_INTERVAL="0") as hush:
        hush.event({"n": "pageview", "u": "https://example.com/", "d": "example.com"})
        hush.load()
        evaluated = threading.Event()

        def evaluate() -> None:
            hush.app.alerter.run_once()
            evaluated.set()

        with hush.app.store.background():  # what every maintenance pass runs inside
            alerts = threading.Thread(target=evaluate)
            alerts.start()
            assert not evaluated.wait(0.5)
        assert evaluated.wait(10)
        alerts.join()
