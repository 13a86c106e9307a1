"""What a visitor's browser sends, made safe to store (DESIGN.md P5).

A page URL keeps its host, its path and the query parameters ``utm_source``, ``utm_medium``,
``utm_campaign``, ``utm_content``, ``utm_term``, ``ref`` and ``source``; every other parameter,
any ``user:pass@`` and the fragment (unless the site opts into hash routing) are dropped. A
referrer keeps its host and path only. Everything kept goes through :func:`scrub_text`, which
replaces

- email addresses by ``[email]``,
- IPv4 and IPv6 address literals by ``[ip]``,
- long secret tokens (UUIDs, reset links, API keys, JWTs) by ``[token]``,

and drops control characters. URL parts are percent-decoded first (up to three times, so
``%2540`` reveals an ``@`` as ``%40`` does) and are stored decoded.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

from collector.channels import CLICK_IDS
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

EMAIL, IP, TOKEN = "[email]", "[ip]", "[token]"
"""The placeholders that replace an email address, an IP address literal and a secret token."""

MAX_PATH = 2000
"""Characters kept of a path (with its fragment); a longer one is cut and ends with "…"."""
MAX_VALUE = 300
"""Characters kept of a UTM value or ``ref``; a longer one is cut without a marker."""

_ELLIPSIS = "\u2026"
_DECODE_ROUNDS = 3
_READ_PARAMS = frozenset(
    ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "ref", "source")
)
_CLICK_ID = " click id"  # a key no query parameter can have
_BAD_URL = Rejected(400, "url must be an absolute http(s) URL", "bad_url")

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

# The local part stops at "/", "?", "&", "=" and "#" so that only the address in
# "/u/jane@example.com/settings" or "email=jane@example.com" is replaced; the lookbehind
# makes a match start where a run of local-part characters starts, which keeps the scan
# linear on long inputs. File names such as "logo@2x.png" are not addresses.
_LOCAL = r"[\w.!$%'*+^`{|}~-]"
_EMAIL = re.compile(
    rf"(?<!{_LOCAL}){_LOCAL}+@(?:[\w-]+\.)+"
    r"(?!(?:png|jpe?g|gif|svg|webp|avif|ico|bmp|pdf|html?|css|m?js|json|xml|txt)(?![\w-]))"
    r"(?:xn--[\w-]+|[^\W\d_]{2,})"
)
_IPV4 = re.compile(r"(?<![0-9])(?<![0-9]\.)[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?!\.?[0-9])")
# Candidates only: the lookarounds keep "std::vec" out and ipaddress turns down "12:30:45".
_IPV6 = re.compile(
    r"(?<![\w:.])(\[)?"
    r"(?P<address>(?:[0-9A-Fa-f]{0,4}:){2,8}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{1,4})?)"
    r"(?(1)\]|(?![\w:]))"
)
_UUID = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
)
_RUN = re.compile(r"[A-Za-z0-9_\-.~+=]+")
_LONG_PIECE = re.compile(r"[A-Za-z0-9]{16,}")


@dataclass(frozen=True, slots=True)
class PageUrl:
    """The parts of a page URL that are stored, each scrubbed."""

    hostname: str
    """Lowercased, without port, ``user:pass@`` or trailing dot; an IP literal is "[ip]"."""
    path: str
    """Decoded and scrubbed, without query; "/" when empty; "#fragment" only for hash routing."""
    utm_source: str
    """Empty when absent; values are decoded, stripped, lowercased and scrubbed."""
    utm_medium: str
    utm_campaign: str
    utm_content: str
    utm_term: str
    ref: str
    """The ``ref`` parameter, or ``source`` when ``ref`` is absent or empty."""
    click_id: str = ""
    """The name (never the value) of the first ad click id present: "gclid", "fbclid", ..."""


def scrub_text(value: str) -> str:
    """Replace email addresses, IP address literals and long secret tokens with placeholders,
    and drop control characters (U+0000-U+001F, U+007F-U+009F).

    A token is a UUID, or a run of ``[A-Za-z0-9_-.~+=]`` holding an alphanumeric piece of at
    least 16 characters that has two digits or more, or whose letters are at least a quarter
    uppercase (random base64 that happens to hold no digits); the whole run is replaced, so a
    JWT becomes one ``[token]``. Lowercase slugs such as "internationalization" are kept.

    Text that still holds percent-escapes is decoded only when that reveals something to
    replace ("jane%40example.com"), so "100%25" stays as sent.
    """
    scrubbed = _replace_secrets(value)
    if "%" in scrubbed:
        decoded = _percent_decode(scrubbed)
        rescrubbed = _replace_secrets(decoded)
        if rescrubbed != decoded:
            return rescrubbed
    return scrubbed


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
    host = _percent_decode(hostname).lower().rstrip(".")
    return scrub_text(host) if host else ""


def _scrub_path(raw: str) -> str:
    # A decoded "?" starts a query as far as hush is concerned: "/reset%3Ftoken%3D..." and a
    # hash router's "#/reset?token=..." lose it like a real query string does.
    decoded = _percent_decode(raw).partition("?")[0]
    return scrub_text(decoded) if decoded else ""


def _scrub_value(raw: str) -> str:
    if not raw:
        return ""
    # "+" is a space in a query, but it is turned into one only after scrubbing, so that
    # "jane+news@example.com" is still seen as one address.
    text = scrub_text(_percent_decode(raw)).replace("+", " ")
    return text.strip().lower()[:MAX_VALUE].rstrip()


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


def _percent_decode(text: str) -> str:
    for _ in range(_DECODE_ROUNDS):
        if "%" not in text:
            break
        decoded = unquote(text, errors="replace")
        if decoded == text:
            break
        text = decoded
    return text


def _cut(path: str) -> str:
    return path if len(path) <= MAX_PATH else path[: MAX_PATH - 1] + _ELLIPSIS


def _replace_secrets(text: str) -> str:
    # Control characters go first, so that "jane\x00@example.com" cannot hide an address
    # that would appear once they are removed.
    if not text.isprintable():
        text = _CONTROL.sub("", text)
    if "@" in text:
        text = _EMAIL.sub(EMAIL, text)
    if ":" in text:
        text = _IPV6.sub(_replace_ipv6, text)
    if "." in text:
        text = _IPV4.sub(_replace_ipv4, text)
    if len(text) >= 36 and "-" in text:
        text = _UUID.sub(TOKEN, text)
    if _LONG_PIECE.search(text) and any(map(_is_secret, _LONG_PIECE.findall(text))):
        text = _RUN.sub(_replace_run, text)
    return text


def _replace_ipv4(match: re.Match[str]) -> str:
    candidate = match.group()
    # Leading zeros ("010.000.000.001") still name an address; ipaddress refuses them as text.
    normalized = ".".join(str(int(octet)) for octet in candidate.split("."))
    try:
        ipaddress.IPv4Address(normalized)
    except ValueError:
        return candidate
    return IP


def _replace_ipv6(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group("address"))
    except ValueError:
        return match.group()
    return IP


def _replace_run(match: re.Match[str]) -> str:
    run = match.group()
    for piece in _LONG_PIECE.findall(run):
        if _is_secret(piece):
            return TOKEN
    return run


def _is_secret(piece: str) -> bool:
    digits = sum(map(str.isdigit, piece))
    if digits >= 2:
        return True
    uppercase = sum(map(str.isupper, piece))
    return uppercase * 4 >= len(piece) - digits
