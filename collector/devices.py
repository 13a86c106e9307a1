"""What a user agent says about the visitor's software: browser, OS, device class, or bot.

Parsing uses ua-parser 1.x with its Rust backend (ua-parser-rs: ~15 µs a string, against ~800
µs for the pure-Python path that ``user-agents`` takes on its own). ``user-agents`` is kept for
what it adds on top, its mobile/tablet/desktop rules, fed with the fast parser's result.

Of ua-parser's ~630 device rules only those that can name a family those rules read (iPhone,
iPad, Kindle, Spider, "Generic Smartphone" …: ~50) are compiled: the others name brands and
models hush never keeps, and cost 14 MiB of compiled regexes. The first of the kept rules
that matches decides, so an agent a brand rule used to claim first may now reach a generic
one: of ua-parser's 30,871 test agents and the crawler list's samples (32,994 in all), 947
changed class, every one an old feature phone now Mobile (it was Desktop), a crawler now
found, or an iPad now a Tablet.

Results are cached per user agent, cut to ``MAX_AGENT`` characters *before* the cache sees it:
the cache holds at most ``CACHE_SIZE`` agents (~0.6 KiB each with their result: ~2.5 MiB),
whatever agents are sent; the intake asks it once per event that GPC and DNT let through.
Names are spelled as Plausible spells them (``Chrome``, ``Safari``, ``Desktop``, ``Mobile``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter
from typing import Any

import orjson
import ua_parser_rs
from crawleruseragents import CRAWLER_USER_AGENTS_DATA
from ua_parser import load_lazy_builtins
from ua_parser.core import Matchers
from ua_parser.lazy import DeviceMatcher
from user_agents.parsers import (
    MOBILE_DEVICE_FAMILIES,
    TABLET_DEVICE_FAMILIES,
    Browser,
    Device,
    OperatingSystem,
    UserAgent,
)

from collector.outcome import Dropped

MAX_AGENT = 512
CACHE_SIZE = 4096
BOT_GROUP = 400  # crawler patterns per regex (measured: groups of 80-250 cost 9-15 MiB)

DESKTOP, MOBILE, TABLET = "Desktop", "Mobile", "Tablet"

_BROWSERS = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome Webview",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge": "Microsoft Edge",
    "Edge Mobile": "Microsoft Edge",
    "Samsung Internet": "Samsung Browser",
    "Opera Mobile": "Opera",
    "Opera Mini": "Opera Mini",
    "Facebook": "Facebook",
    "Instagram": "Instagram",
    "IE": "Internet Explorer",
}
_SYSTEMS = {"Mac OS X": "Mac", "Linux": "GNU/Linux", "Ubuntu": "GNU/Linux", "Fedora": "GNU/Linux"}

# Agents that are automation or plain HTTP clients, whatever a crawler list says.
_AUTOMATION_NAMES = [
    "HeadlessChrome",
    "PhantomJS",
    "Lighthouse",
    "Puppeteer",
    "Playwright",
    "Selenium",
    "webdriver",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "Go-http-client",
    "okhttp",
    "axios",
    "node-fetch",
    "undici",
    "libwww-perl",
    "curl",
    "Wget",
    "Apache-HttpClient",
    "PostmanRuntime",
    "Scrapy",
    "Java/",  # last: the first name in this list that an agent holds names it
]
# PostHog's bot categories (DESIGN §4, security signals), in the words the security view uses.
AI_CRAWLER, AI_ASSISTANT = "AI crawler", "AI assistant"
SEARCH_CRAWLER, SEO_CRAWLER, SOCIAL_CRAWLER = "search crawler", "SEO crawler", "social crawler"
MONITORING, HTTP_CLIENT, HEADLESS = "monitoring", "HTTP client", "headless browser"
NO_USER_AGENT, OTHER_BOT = "no user agent", "other bot"
CATEGORIES = (
    AI_CRAWLER,
    AI_ASSISTANT,
    SEARCH_CRAWLER,
    SEO_CRAWLER,
    SOCIAL_CRAWLER,
    MONITORING,
    HTTP_CLIENT,
    HEADLESS,
    NO_USER_AGENT,
    OTHER_BOT,
)
_HEADLESS_NAMES = frozenset(
    {"HeadlessChrome", "PhantomJS", "Lighthouse", "Puppeteer", "Playwright", "Selenium"}
    | {"webdriver"}
)
# The crawler list's tags, in the order they decide an entry with several.
_TAG_CATEGORIES = (
    ("ai-crawler", AI_CRAWLER),
    ("search-engine", SEARCH_CRAWLER),
    ("social-preview", SOCIAL_CRAWLER),
    ("monitoring", MONITORING),
    ("browser-automation", HEADLESS),
    ("http-library", HTTP_CLIENT),
    ("seo", SEO_CRAWLER),
)
# Agents that fetch a page because a person asked an assistant to, not to train or index.
_ASSISTANTS = frozenset(
    {
        "ChatGPT-User",
        "Claude-User",
        "Claude-Web",
        "Perplexity-User",
        "PerplexityUser",
        "MistralAI-User",
        "DuckAssistBot",
        "Manus-User",
        "Google-Agent",
        "GoogleAgent-Mariner",
        "Amzn-User",
        "IsonAI-User",
        "Gemini-Deep-Research",
        "Google-NotebookLM",
    }
)
# Well-known SEO crawlers the list leaves untagged.
_SEO_NAMES = frozenset({"AhrefsBot", "SemrushBot", "MJ12bot", "dotbot", "rogerbot", "BLEXBot"})


def bot_category(family: str, tags: tuple[str, ...] = ()) -> str:
    """The category of a bot family (and its crawler-list tags, when it came from the list)."""
    if family == "empty user agent":
        return NO_USER_AGENT
    if family in _HEADLESS_NAMES:
        return HEADLESS
    if family in _AUTOMATION:
        return HTTP_CLIENT
    if family in _ASSISTANTS:
        return AI_ASSISTANT
    for tag, category in _TAG_CATEGORIES:
        if tag in tags:
            return category
    if family in _SEO_NAMES:
        return SEO_CRAWLER
    return OTHER_BOT


_AUTOMATION = frozenset(_AUTOMATION_NAMES)
# The device families user-agents' rules read (and "Spider", which marks a crawler here).
_CLASS_FAMILIES = frozenset({*MOBILE_DEVICE_FAMILIES, *TABLET_DEVICE_FAMILIES, "Spider"})


@dataclass(frozen=True, slots=True)
class Software:
    """The coarse facts hush keeps about an agent; ``bot`` names the bot family, if any."""

    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device: str = ""
    bot: str | None = None
    bot_category: str = ""
    # Made once per agent, used per event: its fields in a spool line, or its drop as a bot.
    fields: bytes = field(init=False, repr=False, compare=False)
    dropped: Dropped | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = {"b": self.browser, "bv": self.browser_version, "o": self.os}
        fields |= {"ov": self.os_version, "dv": self.device}
        object.__setattr__(self, "fields", orjson.dumps(fields)[1:-1])
        dropped = None if self.bot is None else Dropped("bot", self.bot, self.bot_category)
        object.__setattr__(self, "dropped", dropped)


class DeviceDetector:
    """Describes user agents; construct once at start-up (loading the rules takes ~300 ms)."""

    def __init__(self) -> None:
        # ua-parser-rs reads only the patterns' text: lazy matchers spare compiling ~1,000
        # Python regexes nothing uses (0.2-0.4 s of every start, and their memory). Its three
        # extractors are asked directly, as ua-parser's own Rust resolver asks them, without
        # the five result objects per agent that ua-parser's Parser wraps their matches in.
        agents, systems, devices = class_rules(load_lazy_builtins())
        versions = attrgetter("regex", "family", "major", "minor", "patch", "patch_minor")
        self._agents = ua_parser_rs.UserAgentExtractor(map(versions, agents))
        self._systems = ua_parser_rs.OSExtractor(map(versions, systems))
        self._devices = ua_parser_rs.DeviceExtractor(
            map(attrgetter("regex", "regex_flag", "family", "brand", "model"), devices)
        )
        # The automation names, then ~1,500 crawler patterns: Python's re needs ~30 µs for the
        # names and ~300 µs for the list on a browser's agent, the Rust regex set behind
        # ua-parser-rs ~2 µs for both. It is given the patterns joined in groups of
        # ``BOT_GROUP`` (one regex each cost ~9 MiB, four groups ~4) and answers with the
        # first matching group; the first of its patterns that matches, found with Python's
        # re (0.6 MiB for all of them), names the bot. The family names are fixed at start-up,
        # never taken from the agent (a pattern such as "Current[\s\S]*RSS Reader" would
        # otherwise copy whatever the sender put in between, an address included, into the
        # counters).
        rules = bot_rules()
        self._bot_rules = [(re.compile(pattern), name, kind) for pattern, name, kind in rules]
        self._bots = ua_parser_rs.UserAgentExtractor(
            (
                "|".join(f"(?:{pattern})" for pattern, _, _ in rules[at : at + BOT_GROUP]),
                str(at),
                None,
                None,
                None,
                None,
            )
            for at in range(0, len(rules), BOT_GROUP)
        )
        self._cached = lru_cache(maxsize=CACHE_SIZE)(self._describe)
        self.describe("Mozilla/5.0")  # pay for the lazy initialisation now, not per request

    def cached(self) -> tuple[int, int]:
        """Agents in the cache, and how many it holds at most."""
        info = self._cached.cache_info()
        return info.currsize, info.maxsize or 0

    def describe(self, agent: str) -> Software:
        """The software behind ``agent``; only its first ``MAX_AGENT`` characters are read."""
        return self._cached(agent[:MAX_AGENT])

    def _describe(self, agent: str) -> Software:
        agent = agent.strip()
        if not agent:
            return Software(bot="empty user agent", bot_category=NO_USER_AGENT)
        # Matches (family, major, minor, ... or brand, model), or None: no rule matched.
        browser = self._agents.extract(agent)
        system = self._systems.extract(agent)
        hardware = self._devices.extract(agent)
        found = self._bot_family(agent, browser, hardware)
        if found:
            return Software(bot=found[0], bot_category=found[1])
        ua = _View(agent, browser, system, hardware)
        if ua.is_tablet:
            device = TABLET
        elif ua.is_mobile:
            device = MOBILE
        else:
            device = DESKTOP
        family = browser.family if browser else "Other"
        system_family = system.family if system else "Other"
        return Software(
            browser=_BROWSERS.get(family, family),
            browser_version=(browser.major or "") if browser else "",
            os=_SYSTEMS.get(system_family, system_family),
            os_version=_os_version(system),
            device=device,
        )

    def _bot_family(self, agent: str, browser: Any, hardware: Any) -> tuple[str, str] | None:
        """The bot family and its category, or None for a browser."""
        group = self._bots.extract(agent)
        if group is not None:
            at = int(group.family)
            for pattern, name, kind in self._bot_rules[at : at + BOT_GROUP]:
                if pattern.search(agent):
                    return name, kind
            return "other crawler", OTHER_BOT  # the two regex engines read a pattern apart
        if hardware is not None and hardware.family == "Spider":
            return "other crawler", OTHER_BOT  # ua-parser's family may quote the agent
        if browser is None and not agent.startswith("Mozilla/"):
            return "unknown client", OTHER_BOT  # every browser since 1995 starts with Mozilla/
        return None


def bot_rules() -> list[tuple[str, str, str]]:
    """The bot patterns in the order they decide (the automation names, then the crawler
    list), each with the fixed family name and the category it counts under."""
    rules = [(f"(?i){re.escape(name)}", name, bot_category(name)) for name in _AUTOMATION_NAMES]
    for entry in CRAWLER_USER_AGENTS_DATA:
        name = crawler_name(entry)
        rules.append((entry["pattern"], name, bot_category(name, tuple(entry.get("tags") or ()))))
    return rules


_PLAIN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9 ._-]{1,29}$")


def crawler_name(entry: dict[str, object]) -> str:
    """A fixed, readable name for a crawler-list entry: what its pattern matches in the list's
    own sample agents ("SemrushBot" for S[eE][mM]rushBot), else its longest literal part."""
    pattern = str(entry["pattern"])
    for sample in entry.get("instances") or ():  # type: ignore[attr-defined]
        match = re.search(pattern, str(sample))
        if match and _PLAIN_NAME.match(match.group(0)):
            return match.group(0)
    literals = re.findall(r"[A-Za-z][A-Za-z0-9]{2,}", re.sub(r"\\.|\[[^\]]*\]", " ", pattern))
    return max(literals, key=len) if literals else "crawler"


def class_rules(matchers: Matchers) -> Matchers:
    """ua-parser's rules, with only the device rules that can name a family in
    ``_CLASS_FAMILIES``: its name itself, a name made of the match alone ("$1") whose
    pattern holds every word of such a family, or a name whose fixed words fit one ("Dell $1")."""
    agents, systems, devices = matchers
    return (
        agents,
        systems,
        [r for r in devices if not isinstance(r, DeviceMatcher) or _names_a_class(r)],
    )


def _names_a_class(rule: DeviceMatcher) -> bool:
    family = rule.family
    if family in _CLASS_FAMILIES:
        return True
    if re.fullmatch(r"[$\d ]+", family):
        pattern = rule.regex.lower()
        return any(all(w.lower() in pattern for w in f.split()) for f in _CLASS_FAMILIES)
    if "$" in family:
        shape = re.compile(re.sub(r"\\\$\d", ".+", re.escape(family)))
        return any(shape.fullmatch(f) for f in _CLASS_FAMILIES)
    return False


class _View(UserAgent):  # type: ignore[misc]  # user-agents has no type hints
    """A ``user_agents.UserAgent`` built from the fast parser's result (not its slow one),
    without the version tuples its class rules never read."""

    def __init__(self, agent: str, ua: Any, system: Any, device: Any) -> None:
        self.ua_string = agent
        self.browser = Browser(ua.family if ua else "Other", (), "")
        version = (
            ".".join(v for v in (system.major, system.minor, system.patch) if v) if system else ""
        )
        self.os = OperatingSystem(system.family if system else "Other", (), version)
        self.device = Device(device.family if device else "Other", None, None)


def _os_version(system: Any) -> str:
    if system is None or not system.major:
        return ""
    return f"{system.major}.{system.minor}" if system.minor else system.major
