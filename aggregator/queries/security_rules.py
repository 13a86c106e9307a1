"""The security rules (DESIGN §4): the thresholds the detectors apply and the words the
security view prints under each chart, both made from the same constants."""

from __future__ import annotations

from dataclasses import dataclass

from collector.counters import MAX_SLOTS, MAX_VALUES

PRIVACY_REASONS = ("gpc", "dnt")  # honoured browser signals: counted apart, never abuse
NOT_REJECTED = ("accepted", "torn_line", *PRIVACY_REASONS)

SURGE_WINDOW_MINUTES = 5
SURGE_FLOOR = 50
SURGE_FACTOR = 3
SURGE_BASELINE_HOURS = 24

SPIKE_Z = 3.0
SPIKE_MIN = 20
SPIKE_FACTOR = 2.0
SPIKE_WEEKS = 4
SPIKE_SIGMA_FLOOR = 1.0

SPAM_MIN_VISITS = 20
SPAM_MIN_BOUNCE_RATE = 95
SPAM_MAX_DURATION = 0

MINUTES_KEPT_DAYS = 30
ALERT_EVERY_SECONDS = 3600  # at most one alert per rule and site in this long


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    title: str
    text: str


SURGE = Rule(
    "rejection_surge",
    "Rejection surge",
    f"A surge is more rejections in {SURGE_WINDOW_MINUTES} minutes than max({SURGE_FLOOR},"
    f" {SURGE_FACTOR} × the median {SURGE_WINDOW_MINUTES}-minute count of the trailing"
    f" {SURGE_BASELINE_HOURS} h). Rejections are every outcome but accepted and the privacy"
    " drops (GPC, DNT).",
)
SPIKE = Rule(
    "traffic_spike",
    "Traffic spike",
    f"A page or source whose hour has z = (x − μ)/max(σ, {SPIKE_SIGMA_FLOOR:g}) ≥ {SPIKE_Z:g}"
    f" over the same hour of the week in the previous {SPIKE_WEEKS} weeks, with x ≥ {SPIKE_MIN}"
    f" and x ≥ {SPIKE_FACTOR:g}μ (x: page views in the hour, UTC).",
)
SPAM = Rule(
    "referrer_spam",
    "Referrer-spam candidate",
    f"A referrer host with ≥ {SPAM_MIN_VISITS} visits, ≥ {SPAM_MIN_BOUNCE_RATE} % bounces and"
    f" {SPAM_MAX_DURATION} s total visit duration in the period.",
)
REQUESTS = Rule(
    "requests",
    "Accepted and rejected",
    "Requests to /api/event by outcome; rejected share = rejected / all requests, per bucket."
    f" Minutes are kept {MINUTES_KEPT_DAYS} days, hours for good.",
)
PRIVACY = Rule(
    "privacy",
    "Privacy drops",
    "Events dropped because the browser sent Global Privacy Control (always) or Do Not Track"
    " (where the site honours it): people's choices, not abuse.",
)
BOTS = Rule(
    "bots",
    "Bots",
    "A bot is an agent on the crawler-user-agents list, an HTTP library, automation or a"
    " headless browser, a spider to ua-parser, an empty, oversized or non-Mozilla agent. Bot"
    " share = bot / (accepted + bot).",
)
UNKNOWN = Rule(
    "unknown",
    "Unknown hosts and event names",
    "Scrubbed page hosts and event names of events for an unregistered domain, or whose host is"
    f" neither the site's domain nor a subdomain; at most {MAX_VALUES} distinct of each per"
    " site and hour, the rest counted as (other).",
)
ALERTS = Rule(
    "alerts",
    "Alerts",
    f"Surges, spikes and referrer-spam candidates raise an alert, at most one per rule and site"
    f" in {ALERT_EVERY_SECONDS // 60} minutes, posted to HUSH_ALERT_WEBHOOK with retries.",
)
RULES = {rule.key: rule for rule in (SURGE, SPIKE, SPAM)}


def rate_limit_rule(per_minute: int, site_per_minute: int, ipv6_prefix: int) -> Rule:
    client = f"{per_minute} events per minute per client" if per_minute else "no client limit"
    site = f"{site_per_minute} per site" if site_per_minute else "no site limit"
    return Rule(
        "rate_limited",
        "Rate-limited clients",
        f"Limits in force: {client} (an IPv4 address, or an IPv6 /{ipv6_prefix}), {site}."
        " A limited client is only a count per hour and a slot (#1, #2 … in the order first"
        f" limited that UTC day, at most {MAX_SLOTS} per site), never an address or a hash;"
        " slots are not linked across days.",
    )


def login_rule(free_account: int, free_client: int) -> Rule:
    return Rule(
        "logins",
        "Failed and slowed logins",
        f"From the audit log. After {free_account} failures an account, and after {free_client}"
        " a client network, waits 1 s, 2 s, 4 s … between attempts (a slowed login).",
    )
