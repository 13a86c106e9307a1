"""The data of the review's controlled replay (reviews/stats-api.md §2.8), sent through the
real collector: Plausible's test scenarios, one visitor per address, all on one day."""

from __future__ import annotations

from typing import Any

from tests.harness import Harness
from tests.servers import ManualClock, utc

SITE = "ctl.example"
TODAY = "2026-12-01"
START = utc(2026, 12, 1, 10, 0)
SAFARI_MAC_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/18.1 Safari/605.1.15"
)


def _page(path: str, *, host: str = SITE, referrer: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"n": "pageview", "u": f"https://{host}{path}", "d": SITE}
    if referrer:
        body["r"] = referrer
    return body


def _event(name: str, path: str, **props: str) -> dict[str, Any]:
    body: dict[str, Any] = {"n": name, "u": f"https://{SITE}{path}", "d": SITE}
    if props:
        body["p"] = props
    return body


def _engagement(path: str, seconds: int) -> dict[str, Any]:
    return {
        "n": "engagement",
        "u": f"https://{SITE}{path}",
        "d": SITE,
        "sd": 50,
        "e": seconds * 1000,
    }


# visitor number -> the events they send, in order (a minute apart)
VISITS: dict[int, list[dict[str, Any]]] = {
    1: [_page("/"), _page("/blogpost")],
    2: [_page("/")],
    3: [_page("/blogpost")],
    4: [_event("Signup", "/pageA")],
    5: [_event("Signup", "/pageA")],
    6: [_event("Signup", "/pageB")],
    7: [_page("/pageB")],
    8: [_event("Purchase", "/checkout", cost="16")],
    9: [_event("Purchase", "/checkout", cost="16")],
    10: [_event("Purchase", "/checkout")],
    11: [_page("/r?utm_medium=Search&utm_source=Google", referrer="https://ref.com/")],
    12: [_page("/r?utm_medium=Search", referrer="https://ref.com/")],
    13: [_page("/r", referrer="https://ab.com/")],
    14: [_page("/A"), _engagement("/A", 60), _page("/another")],
    15: [_page("/A"), _engagement("/A", 80), _page("/another")],
    16: [_page("/A")],
    17: [_page("/blog/post|1")],
    18: [_page("/otherpost|1")],
    19: [_page("/blog/post|2")],
    20: [_page("/something-else")],
    21: [_page("/m")],
    22: [_page("/m", host=f"one.{SITE}")],
    # beyond the review: a referrer with www., so that visit:referrer shows it without
    23: [_page("/", referrer="https://www.google.com/search")],
}
VISITORS = len(VISITS)
DIRECT = VISITORS - 4  # 11, 12, 13 and 23 came from somewhere


def store_scenario(h: Harness, clock: ManualClock) -> None:
    for n, events in VISITS.items():
        agent = SAFARI_MAC_UA if n in (21, 22) else None
        for body in events:
            kwargs: dict[str, Any] = {"ip": f"198.51.100.{n}"}
            if agent:
                kwargs["user_agent"] = agent
            response = h.event(body, **kwargs)
            assert response.status_code == 202 and "x-hush-dropped" not in response.headers, (
                n,
                response.headers,
            )
            clock.advance(60)
    h.load()
