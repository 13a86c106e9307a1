"""Who sent the request: the socket peer, or what a trusted proxy says in X-Forwarded-For (P1).

uvicorn runs with ``proxy_headers`` off, so the peer in the ASGI scope is the real socket peer.
Only when that peer is one of ``HUSH_TRUSTED_PROXIES`` is X-Forwarded-For read: from the right,
skipping trusted proxies, the first entry is the client. The address is returned in canonical
text form (IPv4-mapped IPv6 reduced to IPv4) and lives only as long as the request; errors
never carry it.
"""

from __future__ import annotations

import ipaddress
import socket

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddressResolver:
    """Resolves the client address of a request; ``None`` means a bad X-Forwarded-For."""

    def __init__(self, trusted_proxies: tuple[Network, ...]) -> None:
        # (family, network as integer, mask as integer): containment is two integer operations.
        self._trusted = [
            (
                socket.AF_INET if network.version == 4 else socket.AF_INET6,
                int(network.network_address),
                int(network.netmask),
            )
            for network in trusted_proxies
        ]
        self._trusted_peers: set[str] = set()

    def resolve(self, peer: str | None, forwarded_for: str | None) -> str | None:
        if peer is None:
            return None
        # Remember trusted peers only: they are the proxies, never visitors.
        if peer not in self._trusted_peers:
            peer_address = _parse(peer)
            if peer_address is None:
                return None
            if not self._trusted or not self._is_trusted(peer_address):
                return _text(peer_address)
            if len(self._trusted_peers) < 1024:
                self._trusted_peers.add(peer)
        if not forwarded_for:
            # The proxy passed no header: the request is the proxy's own (or a browser on the
            # proxy's host), so the peer is the client.
            address = _parse(peer)
            return None if address is None else _text(address)
        entries = forwarded_for.split(",")
        for entry in reversed(entries):
            address = _parse(_strip_port(entry.strip()))
            if address is None:
                return None
            if not self._is_trusted(address):
                return _text(address)
        # Every hop is a trusted proxy: the leftmost one is where the request began.
        address = _parse(_strip_port(entries[0].strip()))
        return None if address is None else _text(address)

    def _is_trusted(self, address: tuple[int, bytes]) -> bool:
        family, packed = address
        value = int.from_bytes(packed, "big")
        for net_family, network, mask in self._trusted:  # a loop: no generator per address
            if family == net_family and value & mask == network:
                return True
        return False


def _parse(text: str) -> tuple[int, bytes] | None:
    """(family, packed bytes) of an address in text, IPv4-mapped IPv6 reduced to IPv4.

    inet_pton is strict (no leading zeros, no trailing garbage) and ~10x faster than the
    ipaddress module, which matters on the hot path.
    """
    try:
        return socket.AF_INET, socket.inet_pton(socket.AF_INET, text)
    except OSError:
        pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        return None
    if packed[:12] == _MAPPED_PREFIX:
        return socket.AF_INET, packed[12:]
    return socket.AF_INET6, packed


def _text(address: tuple[int, bytes]) -> str:
    return socket.inet_ntop(*address)


_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


def _strip_port(entry: str) -> str:
    """``[2001:db8::1]:443`` -> ``2001:db8::1``; ``203.0.113.7:5000`` -> ``203.0.113.7``."""
    if entry.startswith("["):
        return entry[1 : entry.find("]")] if "]" in entry else entry
    if entry.count(":") == 1:
        return entry.partition(":")[0]
    return entry
