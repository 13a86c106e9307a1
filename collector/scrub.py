"""What a visitor's browser sends, made safe to store (DESIGN.md P5).

A page URL keeps its host, its path and the query parameters ``utm_source``, ``utm_medium``,
``utm_campaign``, ``utm_content``, ``utm_term``, ``ref`` and ``source``; every other parameter,
any ``user:pass@`` and the fragment (unless the site opts into hash routing) are dropped. A
referrer keeps its host and path only. Everything kept goes through ``collector.detectors``
(the table ``hush audit`` uses too), which replaces

- email addresses, also written with ``%40``, ``(at)``, ``+tags``, full-width or invisible
  characters, by ``[email]``,
- IPv4 and IPv6 address literals anywhere in the text (in host names also the dashed
  ``203-0-113-5`` and whole-number ``3405803781`` forms) by ``[ip]``,
- long secret tokens (URL-safe base64, hex also in groups, UUIDs, JWTs) by ``[token]``,

after NFKC normalisation and dropping control and format characters. URL parts are
percent-decoded first (up to three times, so ``%2540`` reveals an ``@`` as ``%40`` does) and
are stored decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

from collector.channels import CLICK_IDS
from collector.detectors import EMAIL, IP, TOKEN, percent_decode, scrub
from collector.outcome import Rejected

__all__ = [
    "EMAIL",
    "IP",
    "MAX_PATH",
    "MAX_VALUE",
    "TOKEN",
    "PageUrl",
    "scrub_page_url",
    "scrub_referrer",
    "scrub_text",
]

MAX_PATH = 2000
"""Characters kept of a path (with its fragment); a longer one is cut and ends with "…"."""
MAX_VALUE = 300
"""Characters kept of a UTM value or ``ref``; a longer one is cut without a marker."""

_ELLIPSIS = "\u2026"
_READ_PARAMS = frozenset(
    ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "ref", "source")
)
_CLICK_ID = " click id"  # a key no query parameter can have
_BAD_URL = Rejected(400, "url must be an absolute http(s) URL", "bad_url")


@dataclass(frozen=True, slots=True)
class PageUrl:
    """The parts of a page URL that are stored, each scrubbed."""

    hostname: str
    """Lowercased, without port, ``user:pass@`` or trailing dot; an IP literal is "[ip]"."""
    path: str
    """Decoded and scrubbed, without query; "/" when empty; "#fragment" only for hash routing."""
    utm_source: str
    """Empty when absent; values are decoded, stripped and scrubbed, their case kept."""
    utm_medium: str
    utm_campaign: str
    utm_content: str
    utm_term: str
    ref: str
    """The ``ref`` parameter, or ``source`` when ``ref`` is absent or empty."""
    click_id: str = ""
    """The name (never the value) of the first ad click id present: "gclid", "fbclid", ..."""


def scrub_text(value: str) -> str:
    """Replace what ``collector.detectors`` finds (email addresses, IP address literals, long
    secret tokens) with placeholders, after NFKC normalisation and dropping control and
    invisible format characters.

    Text that still holds percent-escapes is decoded only when that reveals something to
    replace ("jane%40example.com"), so "100%25" stays as sent.
    """
    return scrub(value)


def scrub_page_url(url: str, *, keep_fragment: bool = False) -> PageUrl | Rejected:
    """Scrub a page URL sent by a browser.

    Anything but an absolute http(s) URL with a host (``javascript:``, ``data:``, ``ftp:``, a
    relative or empty URL, "http://") is ``Rejected(400, ..., "bad_url")``. A path longer than
    ``MAX_PATH`` characters after scrubbing is cut and ends with "…". With ``keep_fragment``
    the fragment, scrubbed and without its own "?query" (hash routers carry
    "#/reset?token=..."), is appended to the path as "#fragment" when it is not empty. When a
    parameter repeats, the first value wins; values are cut to ``MAX_VALUE`` characters.
    """
    parts = _split(url)
    if parts is None:
        return _BAD_URL
    hostname = _scrub_host(parts.hostname or "")
    if not hostname:
        return _BAD_URL
    path = _scrub_path(parts.path) or "/"
    if keep_fragment:
        fragment = _scrub_path(parts.fragment)
        if fragment:
            path = f"{path}#{fragment}"
    params = _read_params(parts.query)
    return PageUrl(
        hostname=hostname,
        path=_cut(path),
        utm_source=_scrub_value(params.get("utm_source", "")),
        utm_medium=_scrub_value(params.get("utm_medium", "")),
        utm_campaign=_scrub_value(params.get("utm_campaign", "")),
        utm_content=_scrub_value(params.get("utm_content", "")),
        utm_term=_scrub_value(params.get("utm_term", "")),
        ref=_scrub_value(params.get("ref", "")) or _scrub_value(params.get("source", "")),
        click_id=params.get(_CLICK_ID, ""),
    )


def scrub_referrer(url: str | None) -> tuple[str, str]:
    """The scrubbed ``(host, path)`` of a referrer, never its query or fragment.

    The host is lowercased, without port, ``user:pass@`` or trailing dot (a leading "www." is
    kept). The path is "" when it is "/" or empty, and is cut as a page path is. ``None``, "",
    and referrers that are not absolute http(s) URLs (``android-app://...``) give ``("", "")``.
    """
    parts = _split(url or "")
    if parts is None:
        return "", ""
    host = _scrub_host(parts.hostname or "")
    if not host:
        return "", ""
    path = _scrub_path(parts.path)
    return host, "" if path == "/" else _cut(path)


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # "http://[::1/", or a host that changes under NFKC normalization
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts


def _scrub_host(hostname: str) -> str:
    host = percent_decode(hostname).lower().rstrip(".")
    return scrub(host, host=True) if host else ""


def _scrub_path(raw: str) -> str:
    # A decoded "?" starts a query as far as hush is concerned: "/reset%3Ftoken%3D..." and a
    # hash router's "#/reset?token=..." lose it like a real query string does.
    decoded = percent_decode(raw).partition("?")[0]
    return scrub_text(decoded) if decoded else ""


def _scrub_value(raw: str) -> str:
    if not raw:
        return ""
    # "+" is a space in a query, but it is turned into one only after scrubbing, so that
    # "jane+news@example.com" is still seen as one address.
    text = scrub_text(percent_decode(raw)).replace("+", " ")
    return text.strip()[:MAX_VALUE].rstrip()  # as sent, as Plausible keeps them


def _read_params(query: str) -> dict[str, str]:
    """The raw values of the parameters hush reads; the first of a repeated one wins."""
    found: dict[str, str] = {}
    if not query:
        return found
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        name = unquote(name).lower()
        if name in _READ_PARAMS and name not in found:
            found[name] = value
        elif name in CLICK_IDS and _CLICK_ID not in found:
            found[_CLICK_ID] = name  # which click id, never its value
    return found


def _cut(path: str) -> str:
    return path if len(path) <= MAX_PATH else path[: MAX_PATH - 1] + _ELLIPSIS
