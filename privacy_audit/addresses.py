"""IP address literals in text: how many, and whether a value holds one (P1).

Loopback and unspecified addresses (127.0.0.1, ::1, 0.0.0.0) do not count: they identify nobody.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from urllib.parse import unquote

# Candidates as hush's scrubber finds them; ipaddress decides. The lookarounds keep "1.2.3.4.5"
# and "std::vector" out; "12:30:45" is a candidate that ipaddress turns down.
_IPV4 = re.compile(r"(?<![0-9])(?<![0-9]\.)[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?!\.?[0-9])")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,8}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{1,4})?"
    r"(?![\w:])"
)
# Every match of either holds a hint (".1.2" or ":db8:"), which begins with a literal and so is
# found ~30 times faster: the full patterns run only around hints.
_HINT = re.compile(r"\.[0-9]{1,3}\.[0-9]|:[0-9A-Fa-f]{0,4}:")
_REACH = 60  # characters around a hint: an address literal is at most 45 long
# A loose form of both in DuckDB's RE2 (no lookarounds), a cheap filter before Python looks.
LOOSE = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:"


def count_addresses(
    text: str, *, start: int = 0, end: int | None = None, ignore: frozenset[str] = frozenset()
) -> int:
    """How many IP address literals in ``text`` start within ``[start, end)``."""
    end = len(text) if end is None else end
    found = 0
    for low, high in _hinted_regions(text, start, end):
        inside_v6 = []
        for match in _IPV6.finditer(text, low, high):
            candidate = match.group()
            # Three groups at least (an IPv4 tail counts as two): a client's address has a
            # 4-group prefix, while "a::" or "1::2" turn up by chance in binary files (a WAL).
            groups = sum(1 for group in candidate.split(":") if group) + ("." in candidate)
            if groups < 3 or not start <= match.start() < end:
                continue
            if _identifies(candidate, ignore):
                found += 1
                inside_v6.append(match.span())
        for match in _IPV4.finditer(text, low, high):
            if not start <= match.start() < end:
                continue
            if any(a <= match.start() < b for a, b in inside_v6):
                continue  # the tail of ::ffff:192.0.2.1, already counted
            # Leading zeros ("010.000.000.001") still name an address; ipaddress refuses them.
            octets = [int(octet) for octet in match.group().split(".")]
            if max(octets) <= 255 and _identifies(".".join(map(str, octets)), ignore):
                found += 1
    return found


def _hinted_regions(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Disjoint spans of ``text`` that hold every address starting within ``[start, end)``."""
    region: tuple[int, int] | None = None
    for hint in _HINT.finditer(text, start, min(len(text), end + _REACH)):
        low, high = max(0, hint.start() - _REACH), min(len(text), hint.end() + 2 * _REACH)
        if region and low <= region[1]:
            region = (region[0], high)
            continue
        if region:
            yield region
        region = (low, high)
    if region:
        yield region


def _identifies(candidate: str, ignore: frozenset[str]) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (address.is_loopback or address.is_unspecified or str(address) in ignore)


def holds_address(value: str) -> bool:
    """Whether ``value`` holds an address literal, as it is or once percent-decoded."""
    return count_addresses(value) > 0 or ("%" in value and count_addresses(unquote(value)) > 0)
