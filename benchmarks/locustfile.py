"""Realistic visitors for any hush deployment, with locust: realism, not peak rates.

Run it headless against a running hush (peak rates are benchmarks/ingest's job):

    .venv/bin/locust -f benchmarks/locustfile.py --headless -u 50 -r 10 -t 1m \\
        --host http://127.0.0.1:8000

(``scripts/install bench`` puts locust into .venv.) Each locust user is a stream of visits. A
visitor arrives from a search engine, a social site, a newsletter (UTM tags), another site or
directly, views a few pages (popular ones far more often) with think time between them, sends an
``engagement`` event when leaving a page, and now and then a custom event ("Signup" with props,
an outbound link, a download). A quarter of the visits are by a returning visitor, with the same
address and user agent as before. About one visit in ten is a bot (Googlebot, bingbot, GPTBot,
curl, python-requests, HeadlessChrome) crawling pages quickly, without referrer: hush should
answer them ``202`` with ``X-Hush-Dropped: bot``. At the end, a tally of hush's answers by kind
of visitor is printed.

Settings, by environment variable:

- ``HUSH_BENCH_SITE``: the registered site the events are for (default ``example.com``);
  register it first with ``hush sites add example.com``.
- ``HUSH_BENCH_THINK``: mean seconds a visitor stays on a page (default 10).

Each visitor has an address of its own, sent in ``X-Forwarded-For`` and taken from the
documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32). hush
believes that header only from the proxies listed in ``HUSH_TRUSTED_PROXIES``, so the target must
list the load generator's address there (``HUSH_TRUSTED_PROXIES=127.0.0.1`` when locust runs on
the same machine). Otherwise every visitor has the load generator's address: visitors with the
same browser merge into one, and the rate limit (600 events a minute per address by default)
soon drops events, which show here as failures ``dropped: rate_limited``.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import gevent
from locust import HttpUser, between, events, task

SITE = os.environ.get("HUSH_BENCH_SITE", "example.com")
THINK_SECONDS = float(os.environ.get("HUSH_BENCH_THINK", "10"))
BOT_SHARE = 0.10
RETURNING_SHARE = 0.25

BROWSERS = [
    # (weight, user agent): desktop and mobile browsers as they announce themselves in 2026
    (
        14,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    ),
    (
        7,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    ),
    (
        5,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    ),
    (4, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"),
    (1, "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"),
    (
        5,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
    ),
    (
        16,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    ),
    (
        2,
        "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.7 Mobile/15E148 Safari/604.1",
    ),
    (
        18,
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
    ),
    (
        4,
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 "
        "(KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    ),
    (
        3,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    ),
    (1, "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"),
]

BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html) Chrome/131.0.6778.69 Safari/537.36",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36",
]

LANGUAGES = [
    (40, "en-US,en;q=0.9"),
    (10, "en-GB,en;q=0.9"),
    (12, "de-DE,de;q=0.9,en;q=0.8"),
    (8, "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7"),
    (8, "es-ES,es;q=0.9"),
    (6, "pt-BR,pt;q=0.9"),
    (5, "ja,en-US;q=0.9,en;q=0.8"),
]

# (weight, referrer, query string of the landing page)
ENTRIES: list[tuple[int, str | None, str]] = [
    (28, "https://www.google.com/", ""),
    (4, "https://www.bing.com/", ""),
    (3, "https://duckduckgo.com/", ""),
    (1, "https://www.ecosia.org/", ""),
    (4, "https://t.co/", ""),
    (3, "https://l.facebook.com/", ""),
    (3, "https://www.reddit.com/r/selfhosted/comments/1gq2x7k/privacy_friendly_analytics/", ""),
    (2, "https://news.ycombinator.com/", ""),
    (2, "https://www.linkedin.com/", ""),
    (2, "https://blog.example.org/2026/10/tools-we-use", ""),
    (30, None, ""),
    (6, None, "utm_source=newsletter&utm_medium=email&utm_campaign=2026-11-digest"),
    (2, None, "utm_source=mastodon&utm_medium=social&utm_campaign=launch"),
    (2, "https://www.google.com/", "gclid=Cj0KCQiA7NO7BhDsARIsADg_hIYlocust"),
    (1, "https://www.producthunt.com/", "ref=producthunt"),
]

CORE_PAGES = ["/", "/pricing", "/features", "/blog", "/docs", "/about", "/signup", "/login"]


def _paths() -> list[str]:
    topics = ["privacy", "cookieless", "analytics", "self-hosting", "gdpr", "performance"]
    sections = ["getting-started", "api", "snippet", "proxies", "configuration"]
    paths = [*CORE_PAGES, "/contact", "/changelog", "/integrations", "/customers", "/security"]
    i = 1
    while len(paths) < 300:
        if i % 3 == 0:
            paths.append(f"/blog/{topics[i % len(topics)]}-{i}")
        elif i % 3 == 1:
            paths.append(f"/docs/{sections[i % len(sections)]}/page-{i}")
        else:
            paths.append(f"/products/widget-{i}")
        i += 1
    return paths


PATHS = _paths()
PATH_WEIGHTS = [1 / rank for rank in range(1, len(PATHS) + 1)]  # Zipf-like popularity


@dataclass(frozen=True, slots=True)
class Identity:
    """What hush sees of a visitor: its address (via the proxy) and its browser."""

    address: str
    user_agent: str
    language: str
    origin: str


RETURNING: deque[Identity] = deque(maxlen=5000)  # past visitors who may come back
TALLY: Counter[str] = Counter()  # hush's answers, by kind of visitor


def _weighted(choices: list[tuple[int, Any]]) -> Any:
    return random.choices([c[1] for c in choices], weights=[c[0] for c in choices])[0]


def _address() -> str:
    if random.random() < 0.35:
        subnet, host = random.getrandbits(32), random.randint(1, 0xFFFF)
        return f"2001:db8:{subnet >> 16:x}:{subnet & 0xFFFF:x}::{host:x}"
    network = random.choice(["192.0.2", "198.51.100", "203.0.113"])
    return f"{network}.{random.randint(1, 254)}"


def _new_identity(user_agent: str) -> Identity:
    host = f"www.{SITE}" if random.random() < 0.1 else SITE
    return Identity(_address(), user_agent, _weighted(LANGUAGES), f"https://{host}")


def _think() -> None:
    gevent.sleep(min(random.expovariate(1 / THINK_SECONDS), THINK_SECONDS * 6))


class Visitor(HttpUser):
    """A stream of visits, one after another, each by a new or a returning visitor."""

    wait_time = between(1, 5)

    @task
    def visit(self) -> None:
        if random.random() < BOT_SHARE:
            self._crawl()
        else:
            self._browse()

    def _browse(self) -> None:
        if RETURNING and random.random() < RETURNING_SHARE:
            who = random.choice(RETURNING)
        else:
            who = _new_identity(_weighted(BROWSERS))
            RETURNING.append(who)
        _, referrer, query = random.choices(ENTRIES, weights=[e[0] for e in ENTRIES])[0]
        pages = 1
        while pages < 15 and random.random() < 0.6:
            pages += 1
        for n in range(pages):
            path = random.choices(PATHS, weights=PATH_WEIGHTS)[0]
            url = f"{who.origin}{path}" + (f"?{query}" if query and n == 0 else "")
            self._send(who, "human", {"n": "pageview", "u": url, "d": SITE, "r": referrer})
            if random.random() < 0.07:
                name, props = self._custom_event(path)
                self._send(
                    who, "human", {"n": name, "u": url, "d": SITE, "r": referrer, "p": props}
                )
            _think()
            if random.random() < 0.5:
                engagement = {
                    "n": "engagement",
                    "u": url,
                    "d": SITE,
                    "r": referrer,
                    "sd": random.randint(10, 100),
                    "e": random.randint(2_000, 120_000),
                }
                self._send(who, "human", engagement)
            referrer = f"{who.origin}{path}"

    def _crawl(self) -> None:
        who = _new_identity(random.choice(BOTS))
        for _ in range(random.randint(3, 15)):
            url = f"{who.origin}{random.choice(PATHS)}"
            self._send(who, "bot", {"n": "pageview", "u": url, "d": SITE, "r": None})
            gevent.sleep(random.uniform(0.2, 1.0))

    @staticmethod
    def _custom_event(path: str) -> tuple[str, dict[str, str]]:
        roll = random.random()
        if path in ("/signup", "/pricing") or roll < 0.4:
            plan = random.choice(["free", "pro", "team"])
            return "Signup", {"plan": plan, "method": random.choice(["email", "google"])}
        if roll < 0.8:
            return "Outbound Link: Click", {"url": "https://github.com/example/widgets"}
        return "File Download", {"url": f"https://{SITE}/files/whitepaper-2026.pdf"}

    def _send(self, who: Identity, kind: str, event: dict[str, Any]) -> None:
        headers = {
            "User-Agent": who.user_agent,
            "Content-Type": "text/plain;charset=UTF-8",
            "Accept": "*/*",
            "Accept-Language": who.language,
            "Origin": who.origin,
            "Referer": event["u"].split("?", 1)[0],
            "X-Forwarded-For": who.address,
        }
        label = "bot" if kind == "bot" else event["n"]
        with self.client.post(
            "/api/event",
            data=json.dumps(event, separators=(",", ":")),
            headers=headers,
            name=f"/api/event [{label}]",
            catch_response=True,
        ) as response:
            dropped = response.headers.get("X-Hush-Dropped")
            TALLY[
                f"{kind} {response.status_code}" + (f" dropped: {dropped}" if dropped else "")
            ] += 1
            if response.status_code != 202:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
            elif dropped and kind == "human":
                response.failure(f"dropped: {dropped}")
            else:
                response.success()  # a bot's event may be dropped (as "bot") or not


@events.test_stop.add_listener
def _print_tally(**_kwargs: Any) -> None:
    print("\nhush's answers by kind of visitor:")
    for outcome, count in sorted(TALLY.items()):
        print(f"  {outcome:<40} {count}")
