"""The sites a collector accepts events for, read from the snapshot file the aggregator publishes.

Collector processes never open DuckDB (DESIGN §3): the aggregator writes ``sites.json``
atomically whenever a site changes, and each collector re-reads it when it changes: each
publish is a new file (a rename), so its inode tells a change that its mtime alone could miss
(two publishes within one tick of the file system's clock).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

log = logging.getLogger("hush.sites")


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    domain: str
    timezone: str = "UTC"
    honour_dnt: bool = True
    hash_routing: bool = False

    def owns_host(self, hostname: str) -> bool:
        """The page's host is the site's domain or a subdomain (``www.`` counts for the apex)."""
        base = self.domain.removeprefix("www.")
        return hostname == base or hostname.endswith("." + base)


def write_snapshot(path: Path, sites: list[Site]) -> None:
    """Publish ``sites`` atomically (write a temporary file, then rename it into place)."""
    data = orjson.dumps(
        [
            {
                "id": s.id,
                "domain": s.domain,
                "timezone": s.timezone,
                "honour_dnt": s.honour_dnt,
                "hash_routing": s.hash_routing,
            }
            for s in sites
        ]
    )
    try:
        if path.read_bytes() == data:
            return  # unchanged: collectors need not reload it
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class SiteDirectory:
    """Looks sites up by the domain an event names; reloads the snapshot when it changes."""

    def __init__(self, snapshot: Path) -> None:
        self._path = snapshot
        self._stamp: tuple[int, int, int] = (-1, -1, -1)
        self._by_domain: dict[str, Site] = {}
        self.version = 0  # grows with every change, so caches keyed by it retire old entries
        self.reload()

    def get(self, domain: str) -> Site | None:
        site = self._by_domain.get(domain)
        if site is None and domain.startswith("www."):
            site = self._by_domain.get(domain[4:])
        return site

    def timezones(self) -> set[str]:
        return {site.timezone for site in self._by_domain.values()}

    def reload(self) -> bool:
        """Re-read the snapshot if it changed on disk; return whether it did."""
        try:
            info = self._path.stat()
        except FileNotFoundError:
            if self._by_domain:
                self._by_domain = {}
                self.version += 1
            return False
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        if stamp == self._stamp:
            return False
        try:
            rows = orjson.loads(self._path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            log.error("cannot read sites snapshot %s: %s", self._path, exc)
            return False
        self._by_domain = {row["domain"]: Site(**row) for row in rows}
        self._stamp = stamp
        self.version += 1
        return True
