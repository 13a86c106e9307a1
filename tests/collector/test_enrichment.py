"""What marketing learns from an event: device, source, channel, campaign, country; and what
security learns: how much of the traffic is not human. All through the real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import ua_parser_rs
from crawleruseragents import CRAWLER_USER_AGENTS_DATA
from user_agents import parse as slow_parse

from collector import devices
from collector.channels import channel_of
from collector.devices import DESKTOP, MOBILE, TABLET, DeviceDetector
from collector.sources import Source
from tests.harness import shared_devices
from tests.servers import ProcessServer

pytestmark = pytest.mark.server

# (user agent, browser, browser version, OS, OS version, device class)
BROWSERS = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Chrome",
        "131",
        "Windows",
        "10",
        DESKTOP,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        "Microsoft Edge",
        "131",
        "Windows",
        "10",
        DESKTOP,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        "Safari",
        "18",
        "Mac",
        "10.15",
        DESKTOP,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Firefox",
        "133",
        "Mac",
        "14.7",
        DESKTOP,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Firefox",
        "133",
        "GNU/Linux",
        "",
        DESKTOP,
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Chrome",
        "131",
        "Chrome OS",
        "14541.0",
        DESKTOP,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Safari",
        "18",
        "iOS",
        "18.1",
        MOBILE,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
        "Chrome",
        "131",
        "iOS",
        "18.1",
        MOBILE,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        "Chrome",
        "131",
        "Android",
        "14",
        MOBILE,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        "Samsung Browser",
        "23",
        "Android",
        "13",
        MOBILE,
    ),
    (
        "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
        "Firefox",
        "133",
        "Android",
        "14",
        MOBILE,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.38.109;FBBV/629384]",
        "Facebook",
        "470",
        "iOS",
        "17.5",
        MOBILE,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Mobile/15E148 Instagram 339.0.3.12.91",
        "Instagram",
        "339",
        "iOS",
        "17.5",
        MOBILE,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        "Safari",
        "17",
        "iOS",
        "17.5",
        TABLET,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Chrome",
        "131",
        "Android",
        "14",
        TABLET,
    ),
]

BOTS = [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot"),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        "GPTBot",
    ),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "AhrefsBot"),
    ("curl/8.5.0", "curl"),
    ("python-requests/2.32.3", "python-requests"),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/131.0.0.0 Safari/537.36",
        "HeadlessChrome",
    ),
    ("", "empty user agent"),
]

# (query string, referrer, source, channel)
ARRIVALS = [
    ("", None, "Direct / None", "Direct"),
    ("", "https://www.google.de/", "Google", "Organic Search"),
    ("", "https://www.bing.com/search?q=secret", "Bing", "Organic Search"),
    ("", "https://duckduckgo.com/", "DuckDuckGo", "Organic Search"),
    ("", "https://l.facebook.com/l.php?u=x", "Facebook", "Organic Social"),
    ("", "https://t.co/abc", "Twitter", "Organic Social"),
    ("", "https://news.ycombinator.com/item?id=1", "Hacker News", "Organic Social"),
    ("", "https://chatgpt.com/", "ChatGPT", "AI Assistants"),
    ("", "https://www.perplexity.ai/search/x", "Perplexity", "AI Assistants"),
    ("", "https://www.youtube.com/watch?v=x", "YouTube", "Organic Video"),
    ("", "https://blog.example.org/post", "blog.example.org", "Referral"),
    ("", "https://example.com/self", "Direct / None", "Direct"),
    ("", "https://shop.example.com/", "Direct / None", "Direct"),
    ("gclid=EAIaIQ", None, "Google", "Paid Search"),
    ("msclkid=abc", "https://www.bing.com/", "Bing", "Paid Search"),
    ("fbclid=IwAR", "https://m.facebook.com/", "Facebook", "Paid Social"),
    ("utm_source=google&utm_medium=cpc", "https://www.google.com/", "Google", "Paid Search"),
    ("utm_source=Newsletter&utm_medium=email", None, "Newsletter", "Email"),
    ("utm_source=partner&utm_medium=affiliate", None, "partner", "Affiliates"),
    ("utm_source=adnet&utm_medium=display", None, "adnet", "Display"),
    ("utm_source=foo&utm_medium=bar", None, "foo", "Unassigned"),
    ("ref=producthunt", None, "Product Hunt", "Organic Social"),
]


@pytest.fixture(scope="module")
def enriched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    hush = ProcessServer(tmp_path_factory.mktemp("enriched"))
    try:
        hush.start()
        hush.cli("sites", "add", "example.com")
        hush.add_key()
        for n, (agent, *_) in enumerate(BROWSERS):
            hush.pageview(f"https://example.com/ua/{n}", user_agent=agent, ip=f"203.0.113.{n}")
        for n, (query, referrer, *_) in enumerate(ARRIVALS):
            hush.pageview(
                f"https://example.com/arrival/{n}?{query}",
                referrer=referrer,
                ip=f"198.51.100.{n}",
            )
        for n, address in enumerate(("8.8.8.8", "81.2.69.160", "2a00:1450:4001:82a::200e")):
            hush.pageview(f"https://example.com/from/{n}", ip=address)
        hush.event(
            {
                "n": "Signup",
                "u": "https://example.com/pricing?utm_campaign=Black_Friday",
                "d": "example.com",
                "p": {"plan": "pro", "seats": 5},
            },
            ip="192.0.2.1",
        )
        hush.event(
            {
                "n": "Signup",
                "u": "https://example.com/pricing",
                "d": "example.com",
                "p": {"plan": "free"},
            },
            ip="192.0.2.2",
        )
        hush.wait_for_events(len(BROWSERS) + len(ARRIVALS) + 3 + 2)
        yield hush
    finally:
        hush.stop()
        hush.cleanup()


def one_value(hush: ProcessServer, prop: str, page: str) -> str:
    rows = hush.results(
        "breakdown",
        site_id="example.com",
        period="day",
        property=prop,
        filters=f"event:page=={page}",
    )
    assert len(rows) == 1, rows
    return rows[0][prop.rsplit(":", 1)[-1]]


@pytest.mark.parametrize(
    ("n", "browser", "version", "system", "system_version", "device"),
    [
        pytest.param(n, *case[1:], id=f"{case[1]} on {case[3]} ({case[5]})")
        for n, case in enumerate(BROWSERS)
    ],
)
def test_browser_os_and_device_class_come_from_the_user_agent(
    enriched: ProcessServer,
    n: int,
    browser: str,
    version: str,
    system: str,
    system_version: str,
    device: str,
) -> None:
    page = f"/ua/{n}"
    assert one_value(enriched, "visit:browser", page) == browser
    assert one_value(enriched, "visit:browser_version", page) == version
    assert one_value(enriched, "visit:os", page) == system
    assert one_value(enriched, "visit:os_version", page) == system_version
    assert one_value(enriched, "visit:device", page) == device


def test_the_device_class_matches_what_user_agents_says() -> None:
    detector = DeviceDetector()
    for agent, *_ in BROWSERS:
        slow = slow_parse(agent)
        expected = TABLET if slow.is_tablet else MOBILE if slow.is_mobile else DESKTOP
        assert detector.describe(agent).device == expected, agent


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        ("ALCATEL-OT-305/10 OBIGOINTERNETBROWSER/Q03C", MOBILE),  # user-agents: Desktop
        ("Alcatel-BF5/1.0 UP.Browser/5.0.3", MOBILE),
        (
            "Mozilla/5.0 (Linux; U; Android 1.6; de-de; Dell Streak Build/Donut)"
            " AppleWebKit/528.5+ (KHTML, like Gecko) Version/3.1.2 Mobile Safari/525.20.1",
            TABLET,
        ),
        ("Mozilla/5.0 (PlayStation Vita 1.00) AppleWebKit/531.22.8 (KHTML, like Gecko)", MOBILE),
    ],
)
def test_the_device_class_of_phones_and_tablets_a_brand_rule_names(agent: str, device: str) -> None:
    assert shared_devices().describe(agent).device == device


def test_a_client_naming_two_tools_is_named_for_the_first_listed() -> None:
    software = shared_devices().describe("Apache-HttpClient/4.4.1 (Java/1.8.0_65)")
    assert (software.bot, software.bot_category) == ("Apache-HttpClient", "HTTP client")


def test_each_crawler_sample_is_named_for_the_first_pattern_that_matches_it() -> None:
    # The reference: every pattern a regex of its own, in the list's order, as ua-parser-rs
    # matches them one by one. The detector joins them in groups and names the match apart.
    rules = devices.bot_rules()
    one_by_one = ua_parser_rs.UserAgentExtractor(
        (pattern, str(index), None, None, None, None) for index, (pattern, _, _) in enumerate(rules)
    )
    samples = {s for e in CRAWLER_USER_AGENTS_DATA for s in e.get("instances") or ()}
    assert len(samples) > 2_000
    detector = shared_devices()
    for sample in sorted(samples):
        first = one_by_one.extract(sample.strip()[: devices.MAX_AGENT])
        if first is None:
            continue  # a sample only a later rule (Spider, not Mozilla/) calls a bot
        _, name, kind = rules[int(first.family)]
        software = detector.describe(sample)
        assert (software.bot, software.bot_category) == (name, kind), sample


@pytest.mark.parametrize(
    ("n", "source", "channel"),
    [
        pytest.param(n, case[2], case[3], id=f"{case[0] or case[1] or 'direct'} -> {case[3]}")
        for n, case in enumerate(ARRIVALS)
    ],
)
def test_source_and_channel_of_each_arrival(
    enriched: ProcessServer, n: int, source: str, channel: str
) -> None:
    page = f"/arrival/{n}"
    assert one_value(enriched, "visit:source", page) == source
    assert one_value(enriched, "visit:channel", page) == channel


def test_countries_come_from_the_offline_database_before_the_address_is_dropped(
    enriched: ProcessServer,
) -> None:
    assert one_value(enriched, "visit:country", "/from/0") == "US"  # 8.8.8.8
    assert one_value(enriched, "visit:country", "/from/1") == "GB"  # 81.2.69.160
    assert one_value(enriched, "visit:country", "/from/2") == "DE"  # 2a00:1450:4001:82a::200e
    assert one_value(enriched, "visit:country", "/ua/0") == ""  # documentation range


def test_custom_events_with_props_and_campaigns(enriched: ProcessServer) -> None:
    day = {"site_id": "example.com", "period": "day"}
    plans = enriched.results(
        "breakdown", **day, property="event:props:plan", filters="event:name==Signup"
    )
    assert plans == [{"plan": "free", "visitors": 1}, {"plan": "pro", "visitors": 1}]
    seats = enriched.results(
        "breakdown", **day, property="event:props:seats", filters="event:name==Signup"
    )
    assert seats == [{"seats": "(none)", "visitors": 1}, {"seats": "5", "visitors": 1}]
    campaigns = enriched.results(
        "breakdown", **day, property="visit:utm_campaign", filters="event:name==Signup"
    )
    # as sent (Plausible's rule), and visits without the tag are no row
    assert campaigns == [{"utm_campaign": "Black_Friday", "visitors": 1}]
    pro = enriched.results("aggregate", **day, metrics="events", filters="event:props:plan==pro")
    assert pro == {"events": {"value": 1}}


@pytest.mark.parametrize(("agent", "family"), BOTS, ids=[family for _, family in BOTS])
def test_bots_are_dropped(enriched: ProcessServer, agent: str, family: str) -> None:
    response = enriched.event(
        {"n": "pageview", "u": "https://example.com/bot", "d": "example.com"}, user_agent=agent
    )
    assert response.status_code == 202
    assert response.headers["x-hush-dropped"] == "bot"


def test_referrer_spam_is_dropped(enriched: ProcessServer) -> None:
    response = enriched.event(
        {
            "n": "pageview",
            "u": "https://example.com/",
            "d": "example.com",
            "r": "http://best-seo-offer.com/try",
        }
    )
    assert response.headers["x-hush-dropped"] == "spam_referrer"


def test_bots_are_counted_per_family_and_never_in_marketing_figures(tmp_path: Path) -> None:
    hush = ProcessServer(tmp_path).start()
    try:
        hush.cli("sites", "add", "example.com")
        hush.add_key()
        for agent, _ in BOTS:
            for _ in range(2):
                hush.event(
                    {"n": "pageview", "u": "https://example.com/", "d": "example.com"},
                    user_agent=agent,
                )
        hush.pageview("https://example.com/human")
        hush.wait_for_events(1)
        pages = hush.results(
            "breakdown", site_id="example.com", period="day", property="event:page"
        )
        assert pages == [{"page": "/human", "visitors": 1}]
    finally:
        hush.stop()
    con = duckdb.connect(str(hush.data_dir / "hush.duckdb"), read_only=True)
    counts = dict(
        con.execute(
            "SELECT detail, sum(n) FROM intake_counts WHERE reason = 'bot' GROUP BY detail"
        ).fetchall()
    )
    con.close()
    assert counts == {family: 2 for _, family in BOTS}
    hush.cleanup()


@pytest.mark.parametrize(
    ("source", "medium", "campaign", "click_id", "tagged", "channel"),
    [
        (Source(""), "", "", "", False, "Direct"),
        (Source("Google", "search"), "", "", "", False, "Organic Search"),
        (Source("Google", "search"), "cpc", "", "", True, "Paid Search"),
        (Source("Google", "search"), "", "", "gclid", False, "Paid Search"),
        (Source("Facebook", "social"), "paid_social", "", "", True, "Paid Social"),
        (Source("YouTube", "video"), "cpv", "", "", True, "Paid Video"),
        (Source("Amazon", "shopping"), "", "", "", False, "Organic Shopping"),
        (Source("x"), "cpc", "summer-shop", "", True, "Paid Shopping"),
        (Source("x"), "cpc", "", "", True, "Paid Other"),
        (Source("x"), "", "cross-network-2026", "", True, "Cross-network"),
        (Source("x"), "social", "", "", True, "Organic Social"),
        (Source("x"), "organic", "", "", True, "Organic Search"),
        (Source("x"), "referral", "", "", True, "Referral"),
        (Source("sms"), "", "", "", True, "SMS"),
        (Source("x"), "audio", "", "", True, "Audio"),
        (Source("x"), "web-push", "", "", True, "Mobile Push Notifications"),
        (Source("ChatGPT", "ai"), "", "", "", False, "AI Assistants"),
        (Source("x"), "", "", "", True, "Unassigned"),
    ],
)
def test_channels_follow_ga4_default_grouping(
    source: Source, medium: str, campaign: str, click_id: str, tagged: bool, channel: str
) -> None:
    assert (
        channel_of(source, medium=medium, campaign=campaign, click_id=click_id, tagged=tagged)
        == channel
    )
