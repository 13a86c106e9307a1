"""``POST /api/event``: what a tracker may send, and what it is told back (DESIGN.md §5)."""

from __future__ import annotations

import random

import httpx
import pytest

from tests.harness import Harness
from tests.servers import ProcessServer, wait_until

pytestmark = pytest.mark.server

GOOD = {"n": "pageview", "u": "https://example.com/", "d": "example.com"}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        pytest.param(b"{", "text/plain", 400, "body is not valid UTF-8 JSON", id="broken JSON"),
        pytest.param(
            b"\xff\xfe{}", "text/plain", 400, "body is not valid UTF-8 JSON", id="not UTF-8"
        ),
        pytest.param(b"[1, 2]", "text/plain", 400, "body must be a JSON object", id="array"),
        pytest.param(b"", "text/plain", 400, "body is not valid UTF-8 JSON", id="empty"),
        pytest.param(
            {"u": "https://example.com/", "d": "example.com"},
            "text/plain",
            400,
            "name is required",
            id="no name",
        ),
        pytest.param(
            {"n": "pageview", "d": "example.com"}, "text/plain", 400, "url is required", id="no url"
        ),
        pytest.param(
            {"n": "pageview", "u": "https://example.com/"},
            "text/plain",
            400,
            "domain is required",
            id="no domain",
        ),
        pytest.param(
            {**GOOD, "n": 7},
            "text/plain",
            400,
            "name must be a non-empty string",
            id="name not a string",
        ),
        pytest.param(
            {**GOOD, "u": ""}, "text/plain", 400, "url must be a non-empty string", id="empty url"
        ),
        pytest.param(
            {**GOOD, "r": 5},
            "text/plain",
            400,
            "referrer must be a string or null",
            id="referrer a number",
        ),
        pytest.param(
            {**GOOD, "i": "yes"},
            "text/plain",
            400,
            "interactive must be true or false",
            id="interactive not bool",
        ),
        pytest.param(
            {**GOOD, "p": [1]}, "text/plain", 400, "props must be a JSON object", id="props a list"
        ),
        pytest.param(
            {**GOOD, "p": {"a": {"b": 1}}},
            "text/plain",
            400,
            "props values must be strings, numbers or booleans",
            id="nested props",
        ),
        pytest.param(
            {**GOOD, "p": {f"k{i}": "v" for i in range(31)}},
            "text/plain",
            400,
            "props has more than 30 keys",
            id="31 props",
        ),
        pytest.param(
            {**GOOD, "p": {"k": "v" * 2001}},
            "text/plain",
            400,
            "a props value is longer than 2000 characters",
            id="long prop value",
        ),
        pytest.param(
            {**GOOD, "n": "x" * 121},
            "text/plain",
            400,
            "name is longer than 120 characters",
            id="long name",
        ),
        pytest.param(
            {**GOOD, "u": "javascript:alert(1)"},
            "text/plain",
            400,
            "url must be an absolute http(s) URL",
            id="javascript URL",
        ),
        pytest.param(
            {**GOOD, "u": "data:text/html,<script>"},
            "text/plain",
            400,
            "url must be an absolute http(s) URL",
            id="data URL",
        ),
        pytest.param(
            {**GOOD, "u": "/relative"},
            "text/plain",
            400,
            "url must be an absolute http(s) URL",
            id="relative URL",
        ),
        pytest.param(
            GOOD,
            "application/x-www-form-urlencoded",
            415,
            "send text/plain or application/json",
            id="form content type",
        ),
        pytest.param(GOOD, "", 415, "send text/plain or application/json", id="no content type"),
        pytest.param(
            b"{" + b" " * 33_000 + b"}",
            "text/plain",
            413,
            "body larger than 32 KiB",
            id="too large",
        ),
    ],
)
def test_malformed_requests_get_a_4xx_with_a_short_reason(
    shared_server: ProcessServer, body: object, content_type: str, status: int, error: str
) -> None:
    response = shared_server.event(body, content_type=content_type)  # type: ignore[arg-type]
    assert response.status_code == status
    assert response.json() == {"error": error}
    assert response.headers["content-type"] == "application/json"


def test_a_chunked_body_over_the_limit_is_refused_without_reading_it_all(
    shared_server: ProcessServer,
) -> None:
    server = shared_server

    def chunks():  # no Content-Length: the server must count as it reads
        for _ in range(64):
            yield b"x" * 1024

    response = httpx.post(
        f"{server.base_url}/api/event",
        content=chunks(),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        pytest.param({**GOOD, "d": "unknown.example"}, {}, "unknown_site", id="unknown site"),
        pytest.param({**GOOD, "u": "https://evil.example/"}, {}, "host_mismatch", id="other host"),
        pytest.param({**GOOD, "u": "https://notexample.com/"}, {}, "host_mismatch", id="suffix"),
        pytest.param(GOOD, {"Sec-GPC": "1"}, "gpc", id="GPC"),
        pytest.param(GOOD, {"DNT": "1"}, "dnt", id="DNT"),
        pytest.param(GOOD, {"X-Forwarded-For": "garbage"}, "bad_forwarded_for", id="bad XFF"),
    ],
)
def test_well_formed_events_that_are_not_counted_get_202_and_the_reason(
    shared_server: ProcessServer, body: dict[str, object], headers: dict[str, str], reason: str
) -> None:
    response = shared_server.event(body, headers=headers)
    assert response.status_code == 202
    assert response.headers["x-hush-dropped"] == reason
    assert "x-hush-dropped" in response.headers["access-control-expose-headers"]


def test_subdomains_and_www_count_for_the_site(app: Harness) -> None:
    app.store_events(
        {**GOOD, "u": "https://www.example.com/a"},
        {**GOOD, "u": "https://blog.example.com/b"},
        {**GOOD, "u": "https://example.com/c", "d": "www.example.com"},
    )
    hosts = app.query(
        site_id="example.com", metrics=["visitors"], date_range="day", dimensions=["event:hostname"]
    )
    assert sorted(row["dimensions"][0] for row in hosts) == [
        "blog.example.com",
        "example.com",
        "www.example.com",
    ]


def test_long_and_short_keys_are_both_plausibles_wire_format_and_unknown_keys_are_ignored(
    app: Harness,
) -> None:
    long_keys = {
        "name": "Signup",
        "url": "https://example.com/long",
        "domain": "example.com",
        "referrer": "https://news.ycombinator.com/item",
        "props": {"plan": "pro"},
        "interactive": False,
    }
    short = {**GOOD, "u": "https://example.com/long", "v": 22, "$": "x", "whatever": [1]}
    app.store_events(short)
    assert app.event(long_keys, content_type="application/json").status_code == 202
    other = {"content_type": "text/plain; charset=ISO-8859-1", "ip": "203.0.113.11"}
    assert app.event(short, **other).status_code == 202
    app.load()
    day = {"site_id": "example.com", "period": "day"}
    assert app.metric("events", **day) == 3
    plans = app.results("breakdown", property="event:props:plan", metrics="events", **day)
    assert {row["plan"]: row["events"] for row in plans} == {"pro": 1, "(none)": 2}
    names = app.results("breakdown", property="event:name", metrics="events", **day)
    assert {row["name"]: row["events"] for row in names} == {"pageview": 2, "Signup": 1}
    # "interactive": false keeps both one-page visits bounces (the long key is read, not lost)
    assert app.metric("bounce_rate", **day) == 100


def test_one_bad_event_never_drops_a_good_one(app: Harness) -> None:
    for n in range(20):
        assert app.event(b"{not json").status_code == 400
        assert app.event({**GOOD, "u": "javascript:void(0)"}).status_code == 400
        assert app.event({**GOOD, "u": f"https://example.com/good/{n}"}).status_code == 202
    app.load()
    assert app.metric("events", site_id="example.com", period="day") == 20


def test_cors_lets_a_site_post_text_plain_directly_and_json_after_a_preflight(
    server: ProcessServer,
) -> None:
    response = server.pageview("https://example.com/", headers={"Origin": "https://example.com"})
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = httpx.options(
        f"{server.base_url}/api/event",
        headers={
            "Origin": "https://example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "content-type" in preflight.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in preflight.headers


def test_every_rejection_and_drop_is_counted_per_reason(server: ProcessServer) -> None:
    server.event(b"{")
    server.event(b"{")
    server.event(GOOD, headers={"Sec-GPC": "1"})
    server.event(GOOD, content_type="text/html")
    server.pageview("https://example.com/")
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert 'hush_intake_requests_total{outcome="bad_json"} 2' in metrics
    assert 'hush_intake_requests_total{outcome="gpc"} 1' in metrics
    assert 'hush_intake_requests_total{outcome="unsupported_media_type"} 1' in metrics
    assert 'hush_intake_requests_total{outcome="accepted"} 1' in metrics
    server.wait_for_events(1)
    server.stop()
    import duckdb

    con = duckdb.connect(str(server.data_dir / "hush.duckdb"), read_only=True)
    counts = dict(
        con.execute("SELECT reason, sum(n) FROM intake_counts GROUP BY reason").fetchall()
    )
    con.close()
    assert counts == {"bad_json": 2, "gpc": 1, "unsupported_media_type": 1, "accepted": 1}


def test_no_input_makes_the_collector_fail(shared_server: ProcessServer) -> None:
    server = shared_server
    rng = random.Random(7)
    pieces = [
        b"{",
        b"}",
        b'"n"',
        b'"u"',
        b'"d"',
        b":",
        b",",
        b'"pageview"',
        b"null",
        b"[",
        b"]",
        b'"https://example.com/"',
        b'"example.com"',
        b"\xff",
        b"\x00",
        b"1e999",
        b'"\\ud800"',
        b'"p"',
        b"{}",
        b'"h"',
        b"true",
        b'"javascript:x"',
    ]
    with httpx.Client(base_url=server.base_url) as client:
        for _ in range(300):
            body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
            response = client.post(
                "/api/event",
                content=body,
                headers={
                    "Content-Type": rng.choice(["text/plain", "application/json"]),
                    "X-Forwarded-For": rng.choice(["203.0.113.9", "x", "", "::1", "1.2.3"]),
                },
            )
            assert response.status_code < 500, (body, response.text)
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            assert client.request(method, "/api/event").status_code == 405


def test_the_no_script_pixel_counts_a_page_view(server: ProcessServer) -> None:
    gif = httpx.get(
        f"{server.base_url}/api/event.gif",
        params={"d": "example.com", "u": "https://example.com/noscript?utm_source=pixel"},
        headers={"User-Agent": "Mozilla/5.0", "X-Forwarded-For": "203.0.113.60"},
    )
    assert gif.status_code == 200
    assert gif.headers["content-type"] == "image/gif"
    assert len(gif.content) == 43 and gif.content.startswith(b"GIF89a")
    assert "set-cookie" not in gif.headers
    gpc = httpx.get(
        f"{server.base_url}/api/event.gif",
        params={"d": "example.com", "u": "https://example.com/"},
        headers={"Sec-GPC": "1", "X-Forwarded-For": "203.0.113.60"},
    )
    assert gpc.headers["x-hush-dropped"] == "gpc"
    missing = httpx.get(f"{server.base_url}/api/event.gif", params={"d": "example.com"})
    assert missing.status_code == 400
    server.wait_for_events(1)
    pages = server.results("breakdown", site_id="example.com", period="day", property="event:page")
    assert pages == [{"page": "/noscript", "visitors": 1}]


def test_engagement_events_carry_scroll_depth_and_engaged_time(server: ProcessServer) -> None:
    engagement = {**GOOD, "n": "engagement", "sd": 75, "e": 12_000}
    assert server.event(engagement).status_code == 202
    assert server.event({**engagement, "sd": -1}).status_code == 400
    assert server.event({**engagement, "e": -1}).status_code == 400
    assert server.event({**engagement, "e": "12s"}).status_code == 400
    wait_until(
        lambda: (
            server.query(
                site_id="example.com",
                metrics=["scroll_depth"],
                date_range="day",
                filters=[["is", "event:page", ["/"]]],
            )
            == [{"metrics": [75], "dimensions": []}]
        ),
        what="the engagement event",
    )
    server.stop()
    import duckdb

    con = duckdb.connect(str(server.data_dir / "hush.duckdb"), read_only=True)
    rows = con.execute("SELECT name, scroll_depth, engaged_ms FROM events").fetchall()
    con.close()
    assert rows == [("engagement", 75, 12_000)]


def test_a_change_of_site_settings_applies_to_the_very_next_event(server: ProcessServer) -> None:
    body = {**GOOD, "u": "https://example.com/app#/settings", "h": 1}
    assert server.event(body).status_code == 202  # hash routing is off: the fragment goes
    server.cli("sites", "set", "example.com", "--hash-routing", "on")
    assert server.event(body).status_code == 202  # the same body, now with its route
    server.wait_for_events(2)
    pages = server.results("breakdown", site_id="example.com", period="day", property="event:page")
    assert sorted(row["page"] for row in pages) == ["/app", "/app#/settings"]
