"""What the intake decides about a request that does not become an event.

Bad input is a value, not an exception: parsers return ``Event | Rejected | Dropped`` and the
handler maps the value to a response and a counter.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rejected:
    """Malformed input: answered with ``status`` and ``{"error": error}``, counted as ``reason``."""

    status: int
    error: str
    reason: str


@dataclass(frozen=True, slots=True)
class Dropped:
    """Well-formed but not counted: answered 202 with ``X-Hush-Dropped: reason``."""

    reason: str
    detail: str = ""  # e.g. the bot family; from hush's own lists, never from the request
    category: str = ""  # the bot family's category (``collector.devices.CATEGORIES``)


UNKNOWN_SITE = Dropped("unknown_site")
HOST_MISMATCH = Dropped("host_mismatch")
GPC = Dropped("gpc")
DNT = Dropped("dnt")
RATE_LIMITED = Dropped("rate_limited", "client")
SITE_RATE_LIMITED = Dropped("rate_limited", "site")
BAD_FORWARDED_FOR = Dropped("bad_forwarded_for")
SPAM_REFERRER = Dropped("spam_referrer")
