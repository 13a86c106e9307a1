"""Who sent the request: the socket peer, or what a trusted proxy says in X-Forwarded-For (P1).

uvicorn runs with ``proxy_headers`` off, so the peer in the ASGI scope is the real socket peer.
Only when that peer is one of ``HUSH_TRUSTED_PROXIES`` is X-Forwarded-For read: from the right,
skipping trusted proxies, the first entry is the client. The address is returned in canonical
text form (IPv4-mapped IPv6 reduced to IPv4) and lives only as long as the request; errors
never carry it.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ClientAddressResolver:
    """Resolves the client address of a request; ``None`` means a bad X-Forwarded-For."""

    def __init__(self, trusted_proxies: tuple[Network, ...]) -> None:
        self._trusted = trusted_proxies
        # Peers are few (the proxies themselves), so remembering the verdict per peer is cheap.
        self._peer_is_trusted: dict[str, bool] = {}

    def resolve(self, peer: str | None, forwarded_for: str | None) -> str | None:
        if not self._trusted:
            return _canonical(peer) if peer else None
        if peer is None:
            return None
        trusted = self._peer_is_trusted.get(peer)
        if trusted is None:
            address = _parse(peer)
            trusted = address is not None and self._is_trusted(address)
            if len(self._peer_is_trusted) < 10_000:
                self._peer_is_trusted[peer] = trusted
        if not trusted:
            return _canonical(peer)
        if not forwarded_for:
            return None
        entries = [entry.strip() for entry in forwarded_for.split(",")]
        for entry in reversed(entries):
            address = _parse(_strip_port(entry))
            if address is None:
                return None
            if not self._is_trusted(address):
                return str(address)
        # Every hop is a trusted proxy: the leftmost one is where the request began.
        address = _parse(_strip_port(entries[0]))
        return None if address is None else str(address)

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self._trusted)


def _parse(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _canonical(text: str) -> str | None:
    address = _parse(text)
    return None if address is None else str(address)


def _strip_port(entry: str) -> str:
    """``[2001:db8::1]:443`` -> ``2001:db8::1``; ``203.0.113.7:5000`` -> ``203.0.113.7``."""
    if entry.startswith("["):
        return entry[1 : entry.find("]")] if "]" in entry else entry
    if entry.count(":") == 1:
        return entry.partition(":")[0]
    return entry
