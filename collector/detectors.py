"""What P5 removes from text a browser sent: one table of detectors for the scrubber and the audit.

``DETECTORS`` lists each kind of identifier with the placeholder that replaces it and its
pattern; ``scrub`` applies them in order, and ``findings`` says what the same pass would
replace, which is what ``hush audit`` looks for in the store. Before matching, text is
NFKC-normalised (full-width ``２０３.０.１１３.５`` and ``＠`` become ASCII) and loses control
and invisible format characters (U+200B, U+00AD, U+FEFF, bidi controls), so neither can hide an
address. Every pattern is linear: a match can start only where a run of its characters starts,
and judging a match never looks back.
"""

from __future__ import annotations

import ipaddress
import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = [
    "DETECTORS",
    "EMAIL",
    "IP",
    "IP_KINDS",
    "LOOSE",
    "TOKEN",
    "Detector",
    "Finding",
    "findings",
    "normalize",
    "percent_decode",
    "scrub",
]

EMAIL, IP, TOKEN = "[email]", "[ip]", "[token]"
"""The placeholders that replace an email address, an IP address literal and a secret token."""

_DECODE_ROUNDS = 3  # "%252540" is "@" encoded three times


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a detector replaced: its kind and the value (an IP address in canonical form)."""

    kind: str
    value: str


Judge = Callable[[re.Match[str]], tuple[str, str] | None]
"""Given a candidate, ``(replacement, value)`` when it is a finding, else ``None``."""


@dataclass(frozen=True, slots=True)
class Detector:
    """One kind of identifier: what replaces it, where it is looked for, and how it is found."""

    kind: str
    placeholder: str
    pattern: re.Pattern[str]
    """Candidates; ``judge`` decides. A match must not be able to start inside another."""
    judge: Judge
    hint: Callable[[str], bool]
    """A cheap test that the text may hold a candidate at all."""
    loose: str
    """A superset of the candidates in RE2 syntax, for the audit to filter in DuckDB."""
    hosts_only: bool = False
    """Looked for in host names only (``203-0-113-5.example``, ``3405803781``)."""


# --- normalisation -----------------------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# Unicode's format characters (category Cf, Unicode 15.1), invisible and able to split an
# address. Joiners (U+200C/D) and tags (U+E0020-E007F) also build emoji and Persian or Indic
# words, so they go only beside an ASCII character, where they have no such job.
_CF = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
)
_JOINERS = "\u200c\u200d\U000e0020-\U000e007f"
_FORMAT = re.compile(rf"[{_CF}]|(?<=[\x00-\x7f])[{_JOINERS}]+|[{_JOINERS}]+(?=[\x00-\x7f])")


def normalize(text: str) -> str:
    """``text`` as it is matched and stored: NFKC, without control and format characters."""
    if text.isascii():
        return text if text.isprintable() else _CONTROL.sub("", text)
    text = _CONTROL.sub("", unicodedata.normalize("NFKC", text))
    return _FORMAT.sub("", text)


def percent_decode(text: str) -> str:
    """``text`` percent-decoded up to three times (invalid UTF-8 becomes U+FFFD)."""
    for _ in range(_DECODE_ROUNDS):
        if "%" not in text:
            break
        decoded = unquote(text, errors="replace")
        if decoded == text:
            break
        text = decoded
    return text


# --- emails ------------------------------------------------------------------------------------

# The local part stops at "/", "?", "&", "=" and "#" so that only the address in
# "/u/jane@example.com/settings" or "email=jane@example.com" is replaced; the lookbehind
# makes a match start where a run of local-part characters starts, which keeps the scan
# linear on long inputs. File names such as "logo@2x.png" are not addresses.
_LOCAL = r"[\w.!$%'*+^`{|}~-]"
# The lookaheads test one character before trying the alternatives: a 32 KiB run of local-part
# characters is backtracked over once, at ~50 ns a step instead of ~200.
_AT = r"(?=[@&( \[{])(?:@|&#0*64;|&commat;| ?[(\[{] ?(?i:at) ?[)\]}] ?)"
_DOT = r"(?=[.\u3002\uff61( \[{])(?:[.\u3002\uff61]| ?[(\[{] ?(?i:dot) ?[)\]}] ?)"  # 。 and ｡ too
_EMAIL = re.compile(
    rf'(?:(?<!{_LOCAL}){_LOCAL}+|"[^"\\\n]{{1,64}}"){_AT}(?:[\w-]+{_DOT})+'
    r"(?!(?:png|jpe?g|gif|svg|webp|avif|ico|bmp|pdf|html?|css|m?js|json|xml|txt)(?![\w-]))"
    r"(?:xn--[\w-]+|[^\W\d_]{2,})"
)
_AT_HINT = re.compile(r"@|&#0*64;|&commat;|[(\[{]\s*(?i:at)\s*[)\]}]")


def _judge_email(match: re.Match[str]) -> tuple[str, str]:
    return EMAIL, match.group()


# --- IP address literals -----------------------------------------------------------------------

# A dotted IPv4 part as a browser reads it: decimal, octal with a leading 0, or hex with 0x.
_PART = r"(?:0[xX][0-9A-Fa-f]{1,2}(?![0-9A-Fa-f])|[0-9]{1,4})"
# Anywhere, also glued to letters ("v1.2.3.4", "ip203.0.113.5x"), but never inside a longer
# dotted number ("1.2.3.4.5" is a version).
_IPV4 = re.compile(rf"(?<![0-9])(?<![0-9]\.){_PART}(?:\.{_PART}){{3}}(?!\.?[0-9])")
# A whole run of hex digits, colons and dots holding a colon; _judge_ipv6 finds the address in
# it. A lookbehind such as (?<![\w:]) would miss "ip:2001:db8::99" and "client_2001:db8::7".
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:.\[])\[?[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\]?")
_IPV6_LONGEST = 45  # "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
# In a host name only: "203-0-113-5.example", "ec2-198-51-100-9.compute-1.amazonaws.com"
# (the last four numbers of a longer dashed run), and hosts a browser reads as IPv4 as a whole:
# "3405803781", "0xCB007105", "203.0.29445" (WHATWG URL, "IPv4 parser").
_DASHED = re.compile(r"(?<![0-9])[0-9]{1,3}([-_])[0-9]{1,3}\1[0-9]{1,3}\1[0-9]{1,3}(?![-_]?[0-9])")
# A label of a host name that is one 32-bit number ("3405803781.example", "0xcb007105.nip.io")
# carries an address as the dashed form does; a browser reads it so when it is the whole host.
_NUMBER_LABEL = re.compile(r"(?<![^.])(?:0[xX][0-9A-Fa-f]{1,8}|[0-9]{8,10})(?![^.])")
_NUMERIC_HOST = re.compile(
    r"^(?:0[xX][0-9A-Fa-f]*|[0-9]+)(?:\.(?:0[xX][0-9A-Fa-f]*|[0-9]+)){0,3}\.?$"
)


def _part_value(part: str) -> int:
    if len(part) > 12:  # 0x and 8 hex digits, 10 decimal ones or 12 octal ones at most
        return 1 << 32
    if part[:2] in ("0x", "0X"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0") and part.isdigit() and max(part) < "8":
        return int(part, 8)
    return int(part)


def _ipv4_of(parts: list[str]) -> str | None:
    """The address a browser reads in 1-4 numeric parts, or ``None`` (WHATWG IPv4 parser)."""
    values = [_part_value(part) for part in parts]
    if any(value > 255 for value in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    number = values[-1]
    for index, value in enumerate(values[:-1]):
        number += value << (8 * (3 - index))
    return str(ipaddress.IPv4Address(number))


def _judge_ipv4(match: re.Match[str]) -> tuple[str, str] | None:
    address = _ipv4_of(match.group().split("."))
    return (IP, address) if address else None


def _judge_dashed(match: re.Match[str]) -> tuple[str, str] | None:
    address = _ipv4_of(match.group().split(match.group(1)))
    return (IP, address) if address else None


def _judge_number_label(match: re.Match[str]) -> tuple[str, str] | None:
    address = _ipv4_of([match.group()])
    return (IP, address) if address else None


def _judge_numeric_host(match: re.Match[str]) -> tuple[str, str] | None:
    address = _ipv4_of(match.group().rstrip(".").split("."))
    return (IP, address) if address else None


def _judge_ipv6(match: re.Match[str]) -> tuple[str, str] | None:
    run = match.group()
    core = run.strip("[]")
    if core.count(":") < 2:
        return None
    lead = core[: len(core) - len(core.lstrip(".:"))]
    core = core[len(lead) :]
    if lead.endswith("::"):  # "::1": the colons belong to the address
        core, lead = "::" + core, lead[:-2]
    tail = core[len(core.rstrip(".:")) :]
    core = core[: len(core) - len(tail)]
    if tail.startswith("::"):  # "2001:db8::"
        core, tail = core + "::", tail[2:]
    first, _, rest = core.partition(":")
    if len(first) > 4:  # "abc2001:db8::1": a group holds at most 4 digits
        lead, core = lead + first[:-4], first[-4:] + ":" + rest
    if len(core) > _IPV6_LONGEST:
        return None
    try:
        address = ipaddress.IPv6Address(core)
    except ValueError:
        return None
    # Glued to a word, "std::vector" or "Foo::Bar" look like "d::" and "::Ba": a real address
    # has three groups at least there (an IPv4 tail counts as two).
    groups = sum(1 for group in core.split(":") if group) + ("." in core)
    text, start, end = match.string, match.start(), match.end()
    glued = (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum())
    if groups < 3 and glued:
        return None
    opened = run.startswith("[") and not run.endswith("]")
    closed = run.endswith("]") and not run.startswith("[")
    return ("[" * opened) + lead + IP + tail + ("]" * closed), str(address)


# --- secret tokens -----------------------------------------------------------------------------

_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_UUID = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
)
# Hex in groups of 3-8 split by "-", " " or "+" (a space in a query): card numbers
# "4111 1111 1111 1111", licence keys "1a2b3c4d-5e6f7a8b-...". _judge_hex_groups wants 16
# digits or more and 2 decimal ones, so "dead beef cafe babe" and "10 20 30" stay.
_HEX_GROUPS = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{3,8}(?:[ +-][0-9A-Fa-f]{3,8})+")
_HEX_DIGITS = 16
# A run of the characters tokens and their names are made of ("key=...", a JWT's three parts);
# when a piece of it is a token, the whole run goes.
_RUN = re.compile(r"[A-Za-z0-9_\-.~+=]+")
_PIECE = re.compile(r"[A-Za-z0-9_-]{16,}")  # URL-safe base64
_ALNUM = re.compile(r"[A-Za-z0-9]{16,}")
# Each character's class ("a", "A", "0", "-"), so that switches are counted by bytes.count in C
# (a regex with a lookahead at every position costs ~160 µs a KiB, this ~2).
_CLASSES = bytes.maketrans(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
    b"a" * 26 + b"A" * 26 + b"0" * 10 + b"-",
)
# Lower to upper, letter to digit and back, an acronym ending in a word ("APIKey"); Title case
# ("Ab") is no switch. No two of a kind overlap, so bytes.count counts each one.
_SWITCHES = (b"aA", b"a0", b"A0", b"0a", b"0A", b"AAa")
_GROUP = re.compile(r"[-_]")


def _count(text: str, characters: bytes) -> int:
    """How many of ``characters`` ASCII ``text`` holds (in C: ~1 ns a character)."""
    ascii_text = text.encode("ascii")
    return len(ascii_text) - len(ascii_text.translate(None, characters))


_DIGITS = b"0123456789"
_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _judge_hex_groups(match: re.Match[str]) -> tuple[str, str] | None:
    text, end = match.string, match.end()
    if end < len(text) and text[end].isalnum():
        return None
    found = match.group()
    if len(found) - _count(found, b" +-") < _HEX_DIGITS or _count(found, _DIGITS) < 2:
        return None
    return TOKEN, found


def _judge_run(match: re.Match[str]) -> tuple[str, str] | None:
    run = match.group()
    if any(map(is_token, _PIECE.findall(run))):
        return TOKEN, run
    return None


def is_token(piece: str) -> bool:
    """Whether a run of 16+ URL-safe base64 characters is a secret token rather than a word.

    A token mixes character classes as random text does: it has an alphanumeric stretch of
    16+ with two digits (so 16+ hex digits) or a quarter of its letters uppercase, or its
    classes switch (lower to upper, letter to digit and back) at least once every 5
    characters, or it is a key of equal groups ("ABCD-1234-EFGH-5678") holding digits and
    uppercase letters. Slugs keep their classes within words ("2024-annual-report-q3",
    "how-to-build-a-privacy-first-analytics-tool"), as CamelCase does; punycode
    ("xn--80akhbyknj4f") is a host label.
    """
    if len(piece) < 16 or piece.startswith("xn--"):
        return False
    for stretch in _ALNUM.findall(piece):
        digits = _count(stretch, _DIGITS)
        letters = len(stretch) - digits
        if digits >= 2 or _count(stretch, _UPPER) * 4 >= letters > 0:
            return True
    # token_urlsafe(16) has 22 characters and ~9 switches, and 0.25 % of them fewer than 5
    # (0.01 % of token_urlsafe(24)); slugs switch within few words, CamelCase once a word.
    classes = piece.encode("ascii").translate(_CLASSES)
    switches = sum(map(classes.count, _SWITCHES))
    if switches >= 4 and switches * 5 >= len(piece):
        return True
    groups = _GROUP.split(piece)
    return (
        len(groups) >= 3
        and len({len(group) for group in groups}) == 1
        and 4 <= len(groups[0]) <= 8
        and _count(piece, _DIGITS) > 0
        and _count(piece, _UPPER) > 0
    )


# --- the table ---------------------------------------------------------------------------------


def _has(*needles: str) -> Callable[[str], bool]:
    return lambda text: any(needle in text for needle in needles)


def _always(text: str) -> bool:
    return True


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "email",
        EMAIL,
        _EMAIL,
        _judge_email,
        lambda text: _AT_HINT.search(text) is not None,
        r"@|&#0*64;|&commat;|(?i:[\[{(]\s*at\s*[\]})])",
    ),
    Detector("jwt", TOKEN, _JWT, lambda m: (TOKEN, m.group()), _has("eyJ"), r"eyJ[A-Za-z0-9_-]{4}"),
    Detector(
        "uuid",
        TOKEN,
        _UUID,
        lambda m: (TOKEN, m.group()),
        lambda text: len(text) >= 36 and "-" in text,
        r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-",
    ),
    Detector("ipv6", IP, _IPV6, _judge_ipv6, _has(":"), r":[0-9A-Fa-f.]*:"),
    Detector(
        "ipv4",
        IP,
        _IPV4,
        _judge_ipv4,
        _has("."),
        r"[0-9A-Fa-f]\.(?:0[xX])?[0-9A-Fa-f]{1,4}\.(?:0[xX])?[0-9A-Fa-f]{1,4}\.[0-9]",
    ),
    Detector(
        "ipv4-dashed",
        IP,
        _DASHED,
        _judge_dashed,
        _has("-", "_"),
        r"[0-9][-_][0-9]{1,3}[-_][0-9]{1,3}[-_][0-9]",
        hosts_only=True,
    ),
    Detector(
        "ipv4-number",
        IP,
        _NUMBER_LABEL,
        _judge_number_label,
        _has(*string.digits),
        r"(?:^|\.)(?:0[xX][0-9A-Fa-f]{1,8}|[0-9]{8,10})(?:\.|$)",
        hosts_only=True,
    ),
    Detector(
        "ipv4-numeric",
        IP,
        _NUMERIC_HOST,
        _judge_numeric_host,
        lambda text: text[:1].isdigit(),
        r"^[0-9][0-9A-Fa-fxX.]*$",
        hosts_only=True,
    ),
    Detector(
        "hex-groups",
        TOKEN,
        _HEX_GROUPS,
        _judge_hex_groups,
        _has(" ", "+", "-"),
        r"[0-9A-Fa-f]{3,8}[ +-][0-9A-Fa-f]{3,8}",
    ),
    Detector(
        "token",
        TOKEN,
        _RUN,
        _judge_run,
        lambda text: _PIECE.search(text) is not None,
        r"[A-Za-z0-9_-]{16,}",
    ),
)
"""Every detector, in the order they run: emails before tokens (a local part can look like
one), IPv6 before IPv4 (``::ffff:203.0.113.9``), runs last."""

IP_KINDS = frozenset(d.kind for d in DETECTORS if d.placeholder == IP)
"""The kinds that are IP address literals (P1); the others are P5's emails and tokens."""

LOOSE = "|".join(
    [*(d.loose for d in DETECTORS), r"%[0-9A-Fa-f]{2}", r"[^\x01-\x7e]"]
)  # percent-escapes, and what NFKC or stripping may turn into one of the above
"""A superset of what ``findings`` reports, in RE2 syntax: DuckDB's cheap first filter."""


def _replace(text: str, *, host: bool, found: list[Finding] | None) -> str:
    for detector in DETECTORS:
        if (detector.hosts_only and not host) or not detector.hint(text):
            continue

        def replace(match: re.Match[str], detector: Detector = detector) -> str:
            judged = detector.judge(match)
            if judged is None:
                return match.group()
            if found is not None:
                found.append(Finding(detector.kind, judged[1]))
            return judged[0]

        text = detector.pattern.sub(replace, text)
    return text


def _scrub(text: str, *, host: bool, found: list[Finding] | None) -> str:
    scrubbed = _replace(normalize(text), host=host, found=found)
    if "%" in scrubbed:
        # Decoded only when that reveals something ("jane%40example.com"): "100%25" stays.
        more: list[Finding] = []
        decoded = normalize(percent_decode(scrubbed))
        rescrubbed = _replace(decoded, host=host, found=more)
        if rescrubbed != decoded:
            if found is not None:
                found.extend(more)
            return rescrubbed
    return scrubbed


def scrub(text: str, *, host: bool = False) -> str:
    """``text`` normalised, with every finding replaced by its placeholder.

    When the text holds percent-escapes and decoding them reveals a finding, the decoded text
    is returned scrubbed; otherwise the escapes stay as sent. ``host`` adds the detectors for
    host names (dashed and whole-number IPv4).
    """
    return _scrub(text, host=host, found=None)


def findings(text: str, *, host: bool = False) -> list[Finding]:
    """What ``scrub`` would replace in ``text``, in order: empty for text it has scrubbed."""
    found: list[Finding] = []
    _scrub(text, host=host, found=found)
    return found
