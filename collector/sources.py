"""Where a visit came from: the source name and kind, and referrer spam (DESIGN §4 "Source").

``utm_source`` wins, then ``ref``/``source``, then the referrer's host; none of them means
Direct / None (an empty source). Known hosts and ``utm_source`` aliases map to names from
``data/sources.csv`` ("google.de" and "utm_source=google" both read "Google"); unknown hosts
are kept without a leading ``www.``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collector.scrub import PageUrl

_TLD = re.compile(r"^(?:com?\.)?[a-z]{2,3}$")  # "de", "com", "co.uk", "com.br"
# The longest names in sources.csv and referrer_spam.txt have 3 labels ("google.co.uk"): only
# a host's last 8 labels are looked up, so a referrer of 15,000 labels costs 8 lookups, not
# 15,000 joins of up to 15,000 labels each (~2 s, on the event loop).
SUFFIX_LABELS = 8
_CACHED = 1024  # characters of utm_source + ref + host worth caching


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # "" is Direct / None
    kind: str = ""  # search, social, video, email, ai, shopping, news, other; "" if unknown


DIRECT = Source("")


class SourceTable:
    """The referrer table and the referrer-spam list, loaded once."""

    def __init__(self) -> None:
        self._attribute = lru_cache(maxsize=8192)(self._source_of)
        self._hosts: dict[str, Source] = {}
        self._brands: dict[str, Source] = {}  # "google" for rows written "google.*"
        self._aliases: dict[str, Source] = {}
        data = resources.files("collector.data")
        text = data.joinpath("sources.csv").read_text(encoding="utf-8")
        rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
        for row in rows:
            source = Source(row["name"], row["kind"])
            domain = row["domain"].strip().lower()
            if domain.endswith(".*"):
                self._brands[domain[:-2]] = source
            elif domain:
                self._hosts[domain] = source
            for alias in (row["aliases"] or "").split():
                self._aliases[alias.lower()] = source
        spam = data.joinpath("referrer_spam.txt").read_text(encoding="utf-8")
        self._spam = frozenset(
            line.strip().lower()
            for line in spam.splitlines()
            if line.strip() and not line.startswith("#")
        )

    def for_host(self, host: str) -> Source | None:
        """The known source of a referrer host or one of its parent domains."""
        labels = _last_labels(host.lower().removeprefix("www."))
        for i in range(len(labels) - 1):
            known = self._hosts.get(".".join(labels[i:]))
            if known:
                return known
        for i, label in enumerate(labels[:-1]):
            brand = self._brands.get(label)
            if brand and _TLD.match(".".join(labels[i + 1 :])):
                return brand
        return None

    def is_spam(self, host: str) -> bool:
        labels = _last_labels(host.lower())
        return any(".".join(labels[i:]) in self._spam for i in range(len(labels) - 1))

    def attribute(self, page: PageUrl, referrer_host: str) -> Source:
        """The source of an event whose page and (already scrubbed) referrer are given."""
        if len(page.utm_source) + len(page.ref) + len(referrer_host) > _CACHED:
            return self._source_of(page.utm_source, page.ref, referrer_host)
        return self._attribute(page.utm_source, page.ref, referrer_host)

    def _source_of(self, utm_source: str, ref: str, referrer_host: str) -> Source:
        for tagged in (utm_source, ref):
            if tagged:  # aliases and hosts match in any case; an unknown name reads as sent
                key = tagged.lower()
                return self._aliases.get(key) or self.for_host(key) or Source(tagged)
        if referrer_host:
            return self.for_host(referrer_host) or Source(referrer_host.removeprefix("www."))
        return DIRECT


def _last_labels(host: str) -> list[str]:
    """The host's last ``SUFFIX_LABELS`` labels (all of them for an ordinary host)."""
    labels = host.rsplit(".", SUFFIX_LABELS)
    return labels[1:] if len(labels) > SUFFIX_LABELS else labels
