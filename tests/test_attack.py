"""A scripted attack through the real server (uvicorn on 127.0.0.1), mixed with normal
traffic: a flood from one address, forged events for another host and for an unregistered
site, a referrer-spam burst, bots of several families, malformed payloads, failed logins.
Each signal's count is asserted, the webhook (a local receiver) fires once per rule, the
normal site's marketing figures are exactly those of the same traffic without the attack, and
the planted address and user agent are nowhere at rest (P1)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import pytest

from aggregator.queries import signals
from tests.harness import in_process
from tests.servers import ManualClock, ThreadServer, running, utc, wait_until

pytestmark = pytest.mark.server

NOW = utc(2026, 3, 10, 12, 0, 10)
FLOODER = "192.0.2.66"  # the planted address: it must be nowhere at rest
MARKER_AGENT = "curl/8.4.0 attack-kit-marker-q7"  # the planted user agent
RATE_LIMIT = 30
BOTS = {
    "GPTBot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2;"
    " +https://openai.com/gptbot)",
    "Googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "AhrefsBot": "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "facebookexternalhit": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit)",
    "HeadlessChrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " HeadlessChrome/120.0.0.0 Safari/537.36",
    "curl": MARKER_AGENT,
    "empty user agent": "",
}


class Receiver(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.bodies.append(orjson.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def normal_traffic(send: Any) -> None:
    """Ten people on example.com, two pages each, half of them from a news site."""
    for n in range(10):
        ip = f"198.51.100.{n + 1}"
        referrer = "https://news.example/story" if n % 2 else None
        for path in ("/", "/pricing"):
            body = {"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"}
            response = send({**body, "r": referrer if path == "/" else None}, ip=ip)
            assert response.status_code == 202 and "x-hush-dropped" not in response.headers


def attack(hush: ThreadServer) -> int:
    """The attack; returns how many requests reached the intake."""
    sent = 0

    def post(body: Any, **kwargs: Any) -> httpx.Response:
        nonlocal sent
        sent += 1
        return hush.event(body, **kwargs)

    shop = {"n": "pageview", "d": "shop.example"}
    for _ in range(100):  # a flood from one address
        post({**shop, "u": "https://shop.example/flood"}, ip=FLOODER)
    for _ in range(5):  # the same address on the normal site: already over its limit
        response = post(
            {"n": "pageview", "u": "https://example.com/", "d": "example.com"}, ip=FLOODER
        )
        assert response.headers["x-hush-dropped"] == "rate_limited"
    for n in range(25):  # a referrer-spam burst: one-page visits from many addresses
        post(
            {**shop, "u": "https://shop.example/landing", "r": "https://spam-seo.example/"},
            ip=f"192.0.2.{100 + n}",
        )
    for n in range(5):  # forged events for another host, named after the planted address
        post(
            {**shop, "n": f"steal {FLOODER}", "u": "https://evil-mirror.example/x"},
            ip=f"203.0.113.{n + 1}",
        )
    for n in range(3):
        post(
            {"n": "pageview", "d": "example.com", "u": "https://phish.example/"},
            ip=f"203.0.113.{n + 1}",
        )
    for n in range(5):  # an unregistered site
        post(
            {"n": "pageview", "d": "nosuch.example", "u": "https://nosuch.example/"},
            ip=f"203.0.113.{n + 1}",
        )
    for n, agent in enumerate(BOTS.values()):  # bots of several families
        for _ in range(3):
            post({**shop, "u": "https://shop.example/"}, ip=f"203.0.113.{50 + n}", user_agent=agent)
    for _ in range(2):
        post(
            {"n": "pageview", "d": "example.com", "u": "https://example.com/"},
            ip="203.0.113.90",
            user_agent=BOTS["GPTBot"],
        )
    for _ in range(2):  # Global Privacy Control: a privacy drop, not abuse
        post(
            {"n": "pageview", "d": "example.com", "u": "https://example.com/"},
            ip="203.0.113.91",
            headers={"Sec-GPC": "1"},
        )
    for _ in range(6):  # malformed
        assert post("{not json", ip="203.0.113.92").status_code == 400
    for _ in range(2):
        assert post("{}", ip="203.0.113.92", content_type="image/png").status_code == 415
    return sent


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory, receiver: str) -> Iterator[ThreadServer]:
    clock = ManualClock(NOW)
    hush = ThreadServer(
        tmp_path_factory.mktemp("attack"),
        clock,
        HUSH_RATE_LIMIT=str(RATE_LIMIT),
        HUSH_ALERT_WEBHOOK=receiver,
        HUSH_ALERT_INTERVAL="0",  # the test evaluates the rules itself
    )
    with running(hush, site="example.com"):
        hush.cli("sites", "add", "shop.example")
        normal_traffic(hush.event)
        sent = 20 + attack(hush)
        for _ in range(8):  # failed logins, for an account that does not exist
            httpx.post(
                f"{hush.base_url}/login",
                data={"email": "boss@example.com", "password": "guess guess guess"},
                headers={"Origin": hush.base_url},
            )
        store = hush.app.store

        def loaded() -> bool:
            with store.read() as cur:
                row = cur.execute("SELECT sum(n) FROM intake_minutes").fetchone()
            return bool(row and row[0] == sent)

        wait_until(loaded, timeout=20, what="every request's outcome to be loaded")
        yield hush


def site_id(hush: ThreadServer, domain: str) -> int:
    with hush.app.store.read() as cur:
        row = cur.execute("SELECT id FROM sites WHERE domain = $d", {"d": domain}).fetchone()
    assert row
    return int(row[0])


def test_each_signal_counts_what_the_attack_did(attacked: ThreadServer) -> None:
    store = attacked.app.store
    shop, normal = site_id(attacked, "shop.example"), site_id(attacked, "example.com")
    start, end = NOW.replace(tzinfo=None, hour=0, minute=0, second=0), datetime(2026, 3, 11)

    def outcomes(site: int) -> dict[str, int]:
        found: dict[str, int] = {}
        for each in signals.outcomes(store, [site], start, end, bucket=60).values():
            for reason, n in each.items():
                found[reason] = found.get(reason, 0) + n
        return found

    assert outcomes(shop) == {
        "accepted": RATE_LIMIT + 25,
        "rate_limited": 100 - RATE_LIMIT,
        "host_mismatch": 5,
        "bot": 3 * len(BOTS),
    }
    assert outcomes(normal) == {
        "accepted": 20,
        "rate_limited": 5,
        "host_mismatch": 3,
        "bot": 2,
        "gpc": 2,
    }
    assert outcomes(0) == {"unknown_site": 5, "bad_json": 6, "unsupported_media_type": 2}
    # the hours hold the same counts as the minutes
    hourly = signals.outcomes(store, [shop], start, end, bucket=3600)
    assert sum(sum(c.values()) for c in hourly.values()) == sum(outcomes(shop).values())

    families = {
        family: (category, n)
        for category, family, n in signals.bot_families(store, [shop], start, end)
    }
    assert families == {
        "GPTBot": ("AI crawler", 3),
        "Googlebot": ("search crawler", 3),
        "AhrefsBot": ("SEO crawler", 3),
        "facebookexternalhit": ("social crawler", 3),
        "HeadlessChrome": ("headless browser", 3),
        "curl": ("HTTP client", 3),
        "empty user agent": ("no user agent", 3),
    }
    assert signals.limited_clients(store, [shop], start, end) == [(start.replace(hour=12), 1)]
    assert signals.limited_clients(store, [normal], start, end) == [(start.replace(hour=12), 1)]
    day = start.date()
    assert [(s.rank, s.requests) for s in signals.limited_slots(store, [shop], day, day)] == [
        (1, 100 - RATE_LIMIT)
    ]
    assert signals.slot_counts(store, [shop, normal], day, day) == [(day, 2)]
    unknown = signals.unknown_values(store, [0, shop, normal], start, end)
    assert ("host", "evil-mirror.example", 5) in unknown
    assert ("host", "phish.example", 3) in unknown
    assert ("host", "nosuch.example", 5) in unknown
    names = [value for kind, value, _ in unknown if kind == "name"]
    assert not any(FLOODER in name for name in names) and any("steal" in n for n in names)

    surges = signals.surges(store, shop, start, end)
    assert [s.value for s in surges] == [70 + 5 + 3 * len(BOTS)]
    assert not signals.surges(store, 0, start, end) and not signals.surges(
        store, normal, start, end
    )
    spikes = {(s.kind, s.key): s.value for s in signals.spikes(store, shop, start, end)}
    assert spikes == {
        ("page", "/flood"): RATE_LIMIT,
        ("page", "/landing"): 25,
        ("source", "Direct / None"): RATE_LIMIT,
        ("source", "spam-seo.example"): 25,
    }
    assert not signals.spikes(store, normal, start, end)
    spam = signals.spam_candidates(store, shop, day, day, "UTC")
    assert [(c.host, c.visits, c.bounce_rate, c.duration) for c in spam] == [
        ("spam-seo.example", 25, 100.0, 0.0)
    ]
    assert not signals.spam_candidates(store, normal, day, day, "UTC")
    logins = signals.logins(store, start, end)
    assert sum(failed + slowed for _, failed, slowed in logins["days"]) == 8
    assert logins["targets"] == [("unknown account", 8)]


def test_the_webhook_fires_once_per_rule(attacked: ThreadServer) -> None:
    Receiver.bodies.clear()
    alerter = attacked.app.alerter
    assert len(alerter.run_once()) == 3
    attacked.clock.advance(120)
    assert alerter.run_once() == []  # within the hour: nothing again
    rules = sorted(body["rule"] for body in Receiver.bodies)
    assert rules == ["referrer_spam", "rejection_surge", "traffic_spike"]
    for body in Receiver.bodies:
        assert body["site"] == "shop.example"
        assert body["link"].endswith("/sites/shop.example/security")
        assert {"window", "value", "baseline", "threshold"} <= body.keys()
    surge = next(b for b in Receiver.bodies if b["rule"] == "rejection_surge")
    assert surge["value"] == 70 + 5 + 3 * len(BOTS) and surge["threshold"] == 50
    with attacked.app.store.read() as cur:
        audited = cur.execute(
            "SELECT actor_type, target FROM audit_log WHERE action = 'alert.sent'"
        ).fetchall()
    assert audited == [("system", "shop.example")] * 3
    metrics = httpx.get(f"{attacked.base_url}/metrics").text
    assert "hush_alerts_sent_total 3" in metrics and "hush_alerts_failed_total 0" in metrics
    attacked.clock.advance(3600 - 120)


def test_normal_traffic_figures_are_those_without_the_attack(
    attacked: ThreadServer, tmp_path: Path
) -> None:
    asked = [
        ("aggregate", {"metrics": "visitors,visits,pageviews,bounce_rate,visit_duration"}),
        ("breakdown", {"property": "event:page", "metrics": "visitors,pageviews"}),
        ("breakdown", {"property": "visit:source", "metrics": "visitors,visits,bounce_rate"}),
    ]
    params = {"site_id": "example.com", "period": "day", "date": "2026-03-10"}
    attacked_figures = [attacked.results(endpoint, **params, **more) for endpoint, more in asked]
    with in_process(tmp_path, clock=ManualClock(NOW), HUSH_MIN_VISITORS="1") as alone:
        normal_traffic(alone.event)
        alone.load()
        alone_figures = [alone.results(endpoint, **params, **more) for endpoint, more in asked]
    assert attacked_figures == alone_figures
    assert attacked_figures[0]["pageviews"]["value"] == 20


def test_the_planted_address_and_agent_are_nowhere_at_rest(attacked: ThreadServer) -> None:
    with attacked.app.store.write() as cur:
        cur.execute("CHECKPOINT")
    data = attacked.data_dir
    files = [path for path in data.rglob("*") if path.is_file()]
    assert any(path.suffix == ".duckdb" for path in files)
    for path in files:
        content = path.read_bytes()
        for planted in (FLOODER, MARKER_AGENT, "attack-kit-marker"):
            assert planted.encode() not in content, (planted, path.name)
    with attacked.app.store.read() as cur:
        tables = [row[0] for row in cur.execute("SHOW TABLES").fetchall()]
        for table in (
            "intake_minutes",
            "limited_clients",
            "limited_slots",
            "unknown_values",
            "alerts",
        ):
            assert table in tables
            text = str(cur.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608
            assert FLOODER not in text and "attack-kit" not in text
    metrics = httpx.get(f"{attacked.base_url}/metrics").text
    assert FLOODER not in metrics and "/flood" not in metrics
