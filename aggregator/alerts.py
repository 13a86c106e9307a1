"""Alerts: the security rules evaluated every ``interval`` seconds, each firing recorded in the
``alerts`` table and posted as JSON to ``HUSH_ALERT_WEBHOOK``.

At most one alert per rule and site per ``ALERT_EVERY_SECONDS`` (a referrer host flagged once
is not flagged again for a day); a failed post is retried ``retries`` times, waiting
``backoff`` × 2^n seconds; every alert sent is an audit-log entry with actor ``system``. A
failure records only the kind of error (an HTTP status, a timeout): the webhook URL may hold a
token and is never written anywhere.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson

from aggregator import audit_log
from aggregator.clock import Clock
from aggregator.jobs import yield_to_intake
from aggregator.queries import signals
from aggregator.queries.security_rules import (
    ALERT_EVERY_SECONDS,
    RULES,
    SPAM,
    SPAM_MIN_VISITS,
    SPIKE,
    SPIKE_FACTOR,
    SPIKE_MIN,
    SPIKE_SIGMA_FLOOR,
    SPIKE_Z,
    SURGE,
)
from aggregator.sites import list_sites
from aggregator.store import Store

log = logging.getLogger("hush.alerts")

Post = Callable[[str, bytes, float], None]


@dataclass(frozen=True, slots=True)
class Alert:
    rule: str
    site_id: int
    domain: str
    window_start: datetime
    window_end: datetime
    subject: str
    value: float
    baseline: float
    threshold: float


def post_json(url: str, body: bytes, timeout: float) -> None:
    """POST ``body``; raises unless the receiver answers 2xx."""
    request = urllib.request.Request(  # noqa: S310 (settings accept only http and https)
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) URL)
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(url, response.status, "not 2xx", response.headers, None)


class Alerter:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        webhook: str,
        dashboard_url: str,
        retries: int = 4,
        backoff: float = 2.0,
        timeout: float = 5.0,
        post: Post = post_json,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._clock = clock
        self._webhook = webhook
        self._dashboard_url = dashboard_url.rstrip("/")
        self._retries = retries
        self._backoff = backoff
        self._timeout = timeout
        self._post = post
        self._sleep = sleep
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0
        self.evaluation_failures = 0

    def evaluate(self) -> list[Alert]:
        """Which rules fire now (surges in the last two windows, spikes this hour and the
        last, referrer spam today), less those alerted recently."""
        now = signals.utc(self._clock.now())
        soon = now + timedelta(minutes=1)  # events stamped this very second count
        found: list[Alert] = []
        names = {site.id: site for site in list_sites(self._store)}
        for site_id in [0, *names]:
            domain = names[site_id].domain if site_id in names else ""
            for surge in signals.surges(self._store, site_id, now - timedelta(minutes=10), soon):
                found.append(
                    Alert(
                        SURGE.key,
                        site_id,
                        domain,
                        surge.start,
                        surge.start + timedelta(seconds=signals.WINDOW),
                        "",
                        surge.value,
                        surge.median,
                        surge.threshold,
                    )
                )
            if site_id not in names:
                continue
            site = names[site_id]
            for spike in signals.spikes(self._store, site_id, now - timedelta(hours=1), soon):
                found.append(
                    Alert(
                        SPIKE.key,
                        site_id,
                        domain,
                        spike.hour,
                        spike.hour + timedelta(hours=1),
                        f"{spike.kind} {spike.key}",
                        spike.value,
                        spike.mean,
                        # the x this hour had to reach
                        max(
                            SPIKE_MIN,
                            SPIKE_FACTOR * spike.mean,
                            spike.mean + SPIKE_Z * max(spike.sigma, SPIKE_SIGMA_FLOOR),
                        ),
                    )
                )
            today = datetime.fromtimestamp(self._clock.now(), ZoneInfo(site.timezone)).date()
            for spam in signals.spam_candidates(self._store, site_id, today, today, site.timezone):
                found.append(
                    Alert(
                        SPAM.key,
                        site_id,
                        domain,
                        now - timedelta(days=1),
                        now,
                        spam.host,
                        spam.visits,
                        spam.bounce_rate,
                        SPAM_MIN_VISITS,
                    )
                )
        return self._fresh(found, now)

    def _fresh(self, found: list[Alert], now: datetime) -> list[Alert]:
        """One per rule and site (the largest value), none where one went out recently."""
        best: dict[tuple[str, int], Alert] = {}
        for alert in found:
            key = (alert.rule, alert.site_id)
            if key not in best or alert.value > best[key].value:
                best[key] = alert
        with self._store.read() as cur:
            recent = {
                (rule, site_id)
                for rule, site_id in cur.execute(
                    "SELECT rule, site_id FROM alerts WHERE raised_at > $since",
                    {"since": now - timedelta(seconds=ALERT_EVERY_SECONDS)},
                ).fetchall()
            }
            flagged = {
                (site_id, subject)
                for site_id, subject in cur.execute(
                    "SELECT site_id, subject FROM alerts WHERE rule = $rule AND raised_at > $since",
                    {"rule": SPAM.key, "since": now - timedelta(days=1)},
                ).fetchall()
            }
        return [
            alert
            for key, alert in best.items()
            if key not in recent
            and not (alert.rule == SPAM.key and (alert.site_id, alert.subject) in flagged)
        ]

    def leads(self) -> bool:
        return self._store.leads()

    def run_once(self) -> list[Alert]:
        """Evaluate the rules, then record and send what fired (in this thread), never while
        a maintenance pass runs."""
        with self._lock, self._store.background():
            fired = self.evaluate()
            for alert in fired:
                self._deliver(alert)
            return fired

    def payload(self, alert: Alert) -> bytes:
        rule = RULES[alert.rule]
        where = f"/sites/{alert.domain}/security" if alert.domain else "/security"
        return orjson.dumps(
            {
                "rule": alert.rule,
                "title": rule.title,
                "text": rule.text,
                "site": alert.domain or None,
                "window": {
                    "start": alert.window_start.replace(tzinfo=UTC).isoformat(),
                    "end": alert.window_end.replace(tzinfo=UTC).isoformat(),
                },
                "subject": alert.subject or None,
                "value": alert.value,
                "baseline": alert.baseline,
                "threshold": alert.threshold,
                "link": f"{self._dashboard_url}{where}",
            }
        )

    def _deliver(self, alert: Alert) -> None:
        attempts, error, status = 0, "", "recorded"
        if self._webhook:
            body = self.payload(alert)
            status = "failed"
            for attempt in range(self._retries + 1):
                attempts += 1
                try:
                    self._post(self._webhook, body, self._timeout)
                except urllib.error.HTTPError as exc:
                    error = f"HTTP {exc.code}"
                except (OSError, ValueError) as exc:
                    error = type(exc).__name__
                else:
                    status, error = "sent", ""
                    break
                if attempt < self._retries:
                    self._sleep(self._backoff * 2**attempt)
        now = signals.utc(self._clock.now())
        with self._store.write() as cur:
            cur.execute(
                "INSERT INTO alerts SELECT coalesce(max(id), 0) + 1, $now, $rule, $site, $ws,"
                " $we, $subject, $value, $baseline, $threshold, $status, $attempts, $error"
                " FROM alerts",
                {
                    "now": now,
                    "rule": alert.rule,
                    "site": alert.site_id,
                    "ws": alert.window_start,
                    "we": alert.window_end,
                    "subject": alert.subject,
                    "value": alert.value,
                    "baseline": alert.baseline,
                    "threshold": alert.threshold,
                    "status": status,
                    "attempts": attempts,
                    "error": error,
                },
            )
        if status == "sent":
            self.sent += 1
            audit_log.record(
                self._store,
                audit_log.SYSTEM,
                "alert.sent",
                target=alert.domain or "(no site)",
                changes={"rule": alert.rule, "value": alert.value, "threshold": alert.threshold},
                now=self._clock.now(),
            )
        elif status == "failed":
            self.failed += 1
            log.warning(
                "alert %s could not be posted after %d tries (%s)", alert.rule, attempts, error
            )


class AlertThread:
    """Runs ``Alerter.run_once`` every ``interval`` seconds (0: never) in a thread of its own."""

    def __init__(self, alerter: Alerter, *, interval: float) -> None:
        self.alerter = alerter
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hush-alerts", daemon=True)

    def start(self) -> None:
        if self._interval:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        yield_to_intake()
        while not self._stop.wait(self._interval):
            try:
                if self.alerter.leads():  # on a lake, one node sends them
                    self.alerter.run_once()
            except Exception as exc:  # broken infrastructure: try again next time
                self.alerter.evaluation_failures += 1
                log.error("evaluating alerts failed (%s): %s", type(exc).__name__, exc)
