"""Which address is the visitor's (DESIGN.md P1): the peer, or a trusted proxy's word."""

from __future__ import annotations

import pytest

from collector.client_address import ClientAddressResolver
from hush.settings import parse_networks

PROXIES = parse_networks("127.0.0.1, 10.0.0.0/8, 2001:db8:ffff::/48")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        pytest.param("198.51.100.7", None, "198.51.100.7", id="untrusted peer, no header"),
        pytest.param("198.51.100.7", "203.0.113.9", "198.51.100.7", id="untrusted peer lies"),
        pytest.param("127.0.0.1", "203.0.113.9", "203.0.113.9", id="trusted proxy"),
        pytest.param(
            "127.0.0.1", "192.0.2.1, 203.0.113.9", "203.0.113.9", id="rightmost untrusted wins"
        ),
        pytest.param(
            "127.0.0.1", "203.0.113.9, 10.1.2.3", "203.0.113.9", id="a chain of trusted proxies"
        ),
        pytest.param("127.0.0.1", "10.1.2.3, 10.9.9.9", "10.1.2.3", id="all trusted: leftmost"),
        pytest.param("127.0.0.1", "::ffff:203.0.113.9", "203.0.113.9", id="IPv4-mapped"),
        pytest.param("127.0.0.1", "2001:DB8::0001", "2001:db8::1", id="IPv6 canonical"),
        pytest.param("127.0.0.1", "[2001:db8::1]:443", "2001:db8::1", id="IPv6 with port"),
        pytest.param("127.0.0.1", "203.0.113.9:5555", "203.0.113.9", id="IPv4 with port"),
        pytest.param("127.0.0.1", "unknown", None, id="not an address"),
        pytest.param("127.0.0.1", "203.0.113.9, garbage", None, id="garbage on the right"),
        pytest.param("127.0.0.1", "", "127.0.0.1", id="trusted proxy sent none: the peer"),
        pytest.param("127.0.0.1", None, "127.0.0.1", id="header missing: the peer"),
        pytest.param("::ffff:127.0.0.1", "203.0.113.9", "203.0.113.9", id="mapped proxy"),
    ],
)
def test_client_address(peer: str, forwarded_for: str | None, expected: str | None) -> None:
    assert ClientAddressResolver(PROXIES).resolve(peer, forwarded_for) == expected


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    resolver = ClientAddressResolver(())
    assert resolver.resolve("127.0.0.1", "203.0.113.9") == "127.0.0.1"
    assert resolver.resolve("::ffff:198.51.100.1", None) == "198.51.100.1"
