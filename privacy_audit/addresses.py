"""What the scrubber would have removed, found in stored text: IP address literals (P1), and
emails and secret tokens (P5), with the detectors of ``collector.detectors``.

Loopback and unspecified addresses (127.0.0.1, ::1, 0.0.0.0) do not count: they identify nobody.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from collector.detectors import DETECTORS, IP_KINDS, LOOSE, Finding, findings

__all__ = ["LOOSE", "count_addresses", "holds_address", "holds_secret", "scan"]

_TEXT_IP = tuple(d for d in DETECTORS if d.kind in IP_KINDS and not d.hosts_only)
# Every dotted or colon address holds a hint (".1.2", ".0x1.", ":db8:"), which begins with a
# literal and so is found ~30 times faster: the full patterns run only around hints.
_HINT = re.compile(r"\.(?:0[xX])?[0-9]{1,4}\.[0-9]|:[0-9A-Fa-f.]{0,4}:")
_REACH = 60  # characters around a hint: an address literal is at most 45 long


def count_addresses(
    text: str, *, start: int = 0, end: int | None = None, ignore: frozenset[str] = frozenset()
) -> int:
    """How many IP address literals in ``text`` start within ``[start, end)``.

    For files of any kind (a WAL, a spool segment): IPv6 needs three groups at least here (an
    IPv4 tail counts as two), since "a::" and "1::2" turn up by chance in binary data.
    """
    end = len(text) if end is None else end
    found = 0
    for low, high in _hinted_regions(text, start, end):
        taken: list[tuple[int, int]] = []
        for detector in _TEXT_IP:
            for match in detector.pattern.finditer(text, low, high):
                if not start <= match.start() < end:
                    continue
                if any(a <= match.start() < b for a, b in taken):
                    continue  # the tail of ::ffff:192.0.2.1, already counted
                judged = detector.judge(match)
                if judged is None or not _identifies(judged[1], ignore):
                    continue
                if detector.kind == "ipv6" and _groups(judged[1]) < 3:
                    continue
                found += 1
                taken.append(match.span())
    return found


def _groups(address: str) -> int:
    exploded = ipaddress.IPv6Address(address)
    if exploded.ipv4_mapped is not None:
        return 3
    return sum(1 for group in address.split(":") if group) + ("." in address)


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


def _identifies(value: str, ignore: frozenset[str] = frozenset()) -> bool:
    address = ipaddress.ip_address(value)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (address.is_loopback or address.is_unspecified or str(address) in ignore)


def scan(value: str, *, host: bool = False) -> tuple[bool, bool]:
    """Whether ``value`` holds ``(an IP address, an email or secret token)`` that the scrubber
    would replace, as written or percent-encoded; ``host`` for host names."""
    found: list[Finding] = findings(value, host=host)
    address = any(f.kind in IP_KINDS and _identifies(f.value) for f in found)
    return address, any(f.kind not in IP_KINDS for f in found)


def holds_address(value: str, *, host: bool = False) -> bool:
    """Whether ``value`` holds an address literal, as it is or once percent-decoded."""
    return scan(value, host=host)[0]


def holds_secret(value: str, *, host: bool = False) -> bool:
    """Whether ``value`` holds an email address or a secret token, as it is or decoded."""
    return scan(value, host=host)[1]
