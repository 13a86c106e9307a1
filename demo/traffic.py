"""The demo's traffic model: the cycles, growth, arrivals, software, countries and pages.

Each table holds its rows with their weights; the module docstring of ``demo``
describes the shape they make.
"""

from __future__ import annotations

GROWTH = 0.25  # the last day is 25% busier than the first, other things equal

WEEKDAYS = (1.0, 1.05, 1.05, 1.0, 0.9, 0.62, 0.68)  # Monday first
HOURS = (1.2, 0.8, 0.5, 0.4, 0.4, 0.6, 1.2, 2.4, 3.6, 4.4, 4.8, 5.0,
         5.0, 5.0, 5.2, 5.4, 5.4, 5.6, 5.8, 6.0, 5.6, 4.6, 3.2, 2.0)  # fmt: skip

# Landing URL query, referrer, weight: 37% Direct, 33% Google organic, 6% other search engines.
ARRIVALS: tuple[tuple[str, str | None, float], ...] = (
    ("", None, 360),
    ("", "https://www.google.com/", 275),
    ("", "https://www.google.de/", 25),
    ("", "https://www.google.co.uk/", 8),
    ("", "https://www.bing.com/", 35),
    ("", "https://duckduckgo.com/", 20),
    ("", "https://www.ecosia.org/", 8),
    ("", "https://l.facebook.com/", 14),
    ("", "https://www.linkedin.com/", 16),
    ("", "https://www.reddit.com/r/selfhosted/comments/1h2x9k/privacy_analytics/", 18),
    ("", "https://t.co/", 10),
    ("", "https://news.ycombinator.com/item?id=42424242", 14),
    ("", "https://bsky.app/", 4),
    ("", "https://github.com/hush-analytics/hush", 18),
    ("", "https://www.youtube.com/", 8),
    ("?utm_source=chatgpt.com", "https://chatgpt.com/", 14),
    ("", "https://www.perplexity.ai/", 5),
    ("?ref=producthunt", "https://www.producthunt.com/", 4),
    ("", "https://alternativeto.net/software/google-analytics/", 12),
    ("", "https://www.privacyguides.org/en/tools/", 10),
    ("", "https://blog.indieweb.dev/2025/self-hosted-analytics", 8),
    ("", "https://selfh.st/weekly/", 8),
    ("?utm_source=newsletter&utm_medium=email&utm_campaign=black_friday", None, 10),
    ("?utm_source=newsletter&utm_medium=email&utm_campaign=weekly&utm_content=header", None, 8),
    ("?utm_source=newsletter&utm_medium=email&utm_campaign=weekly&utm_content=footer", None, 4),
    (
        "?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=hush+analytics&gclid=x",
        "https://www.google.com/",
        24,
    ),
    (
        "?utm_source=google&utm_medium=cpc&utm_campaign=generic"
        "&utm_term=privacy+friendly+analytics&gclid=x",
        "https://www.google.com/",
        10,
    ),
    ("?utm_source=bing&utm_medium=cpc&utm_campaign=brand&msclkid=x", "https://www.bing.com/", 5),
    ("?utm_source=facebook&utm_medium=paid_social&utm_campaign=launch&fbclid=x", None, 8),
    ("?utm_source=linkedin&utm_medium=cpc&utm_campaign=launch", "https://www.linkedin.com/", 5),
)

# Device, browser, version, OS, OS version (as collector.devices spells them), % of visitors.
SOFTWARE: tuple[tuple[str, str, str, str, str, float], ...] = (
    ("Desktop", "Chrome", "131", "Windows", "10", 16),
    ("Desktop", "Chrome", "130", "Windows", "10", 4),
    ("Desktop", "Microsoft Edge", "131", "Windows", "10", 7),
    ("Desktop", "Firefox", "133", "Windows", "10", 3.5),
    ("Desktop", "Chrome", "131", "Mac", "10.15", 7),
    ("Desktop", "Safari", "18", "Mac", "10.15", 7),
    ("Desktop", "Safari", "17", "Mac", "10.15", 1.5),
    ("Desktop", "Firefox", "133", "Mac", "10.15", 1.5),
    ("Desktop", "Chrome", "131", "GNU/Linux", "", 3.5),
    ("Desktop", "Firefox", "133", "GNU/Linux", "", 2.5),
    ("Desktop", "Opera", "115", "Windows", "10", 1.5),
    ("Mobile", "Safari", "18", "iOS", "18.1", 9),
    ("Mobile", "Safari", "18", "iOS", "18.3", 5),
    ("Mobile", "Safari", "17", "iOS", "17.6", 3),
    ("Mobile", "Chrome", "131", "iOS", "18.1", 2),
    ("Mobile", "Chrome", "131", "Android", "10", 13.5),
    ("Mobile", "Chrome", "130", "Android", "10", 2),
    ("Mobile", "Samsung Browser", "27", "Android", "14", 4),
    ("Mobile", "Firefox", "133", "Android", "14", 1.5),
    ("Tablet", "Safari", "18", "iOS", "18.1", 3),
    ("Tablet", "Safari", "17", "iOS", "17.6", 0.8),
    ("Tablet", "Chrome", "131", "Android", "10", 1.2),
)

COUNTRIES = {
    "DE": 20, "US": 17, "GB": 7, "FR": 6, "NL": 5, "IN": 5, "AT": 3.5, "CH": 3.5, "BR": 3,
    "CA": 3, "ES": 3, "IT": 3, "PL": 2.5, "SE": 2, "JP": 2, "AU": 2, "BE": 1.8, "DK": 1.2,
    "CZ": 1, "IE": 1, "NO": 1, "FI": 0.8, "PT": 0.8, "TR": 0.8, "MX": 0.8, "UA": 0.8,
    "KR": 0.7, "RO": 0.7, "SG": 0.6, "ZA": 0.5, "": 2,
}  # fmt: skip

PLANS = ("free",) * 6 + ("pro",) * 3 + ("team",)
FILES = ("hush-1.4.tar.gz", "hush-linux-amd64.zip", "whitepaper.pdf", "pricing.pdf")

# Reason, detail, whether the request named no known site, share of accepted events.
DROPS: tuple[tuple[str, str, bool, float], ...] = (
    ("bot", "Googlebot", False, 0.012),
    ("bot", "bingbot", False, 0.006),
    ("bot", "GPTBot", False, 0.005),
    ("bot", "ClaudeBot", False, 0.002),
    ("bot", "AhrefsBot", False, 0.006),
    ("bot", "HeadlessChrome", False, 0.010),
    ("bot", "curl", False, 0.003),
    ("bot", "python-requests", False, 0.004),
    ("dnt", "", False, 0.020),
    ("gpc", "", False, 0.012),
    ("rate_limited", "", False, 0.0015),
    ("spam_referrer", "", False, 0.001),
    ("bad_json", "", True, 0.0005),
)


def _pages() -> tuple[str, ...]:
    """200 paths, most popular first: product pages, then docs and blog posts interleaved."""
    head = ["/", "/pricing", "/blog", "/docs", "/features", "/signup", "/docs/getting-started"]
    head += ["/about", "/login", "/changelog", "/docs/installation", "/contact", "/customers"]
    head += ["/integrations", "/security", "/compare/google-analytics", "/privacy", "/terms"]
    head += ["/careers", "/status"]
    topics = ["sessions", "snippet", "custom-events", "goals", "api", "self-hosting"]
    topics += ["docker", "reverse-proxy", "retention", "filters", "time-zones", "bots"]
    topics += ["countries", "utm-tags", "exports", "backups", "upgrading", "settings"]
    topics += ["troubleshooting", "faq"]
    docs = [f"/docs/{t}{s}" for s in ("", "/examples", "/reference") for t in topics]
    words = ["cookieless", "privacy", "gdpr", "duckdb", "self-hosted", "open-source"]
    words += ["first-party", "lightweight", "server-side", "bot-free", "consent-free", "fast"]
    things = ["analytics", "tracking", "dashboards", "metrics", "sessions", "referrers"]
    things += ["benchmarks", "migration", "retention", "campaigns"]
    blog = [f"/blog/{w}-{t}" for t in things for w in words]
    tail: list[str] = []
    for i in range(max(len(docs), len(blog))):
        tail += [blog[i]] if i < len(blog) else []
        tail += [docs[i]] if i < len(docs) and i % 2 == 0 else []
    tail += [d for i, d in enumerate(docs) if i % 2]
    return tuple((head + tail)[:200])


PATHS = _pages()
