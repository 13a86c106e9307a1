"""The daily salts (P3) shared by the nodes of a lake, in Redis with persistence off.

One key per time zone and local day, ``hush:salt:<zone>@<day>``, holding 32 random bytes. The
first process that needs it creates it with ``SET NX PXAT <end of that local day>``: every
process of every node then reads the same bytes, and Redis drops the key when its window ends.
Nothing is written to disk: hush refuses a server that snapshots or keeps an AOF
(``UnsafeSaltStore``). A restarted Redis has lost the salts; the next process to look makes a
new one and the others adopt it, as a reboot starts a new salt on one machine. The old salt is
never written back.

``redis`` is imported only here, and only when ``HUSH_SALT_STORE`` names a server.
"""

from __future__ import annotations

import logging
import secrets
from datetime import date
from typing import TYPE_CHECKING
from urllib.parse import quote
from zoneinfo import ZoneInfo

from collector.clock import Clock
from collector.visitor import SALT_BYTES, SaltsUnavailable, UnsafeSaltDir, local_day_window

if TYPE_CHECKING:
    import redis

log = logging.getLogger("hush.salts")

RECHECK_SECONDS = 5.0  # a Redis restart is noticed this fast; costs one GET per zone per 5 s
TIMEOUT_SECONDS = 0.25  # the intake waits at most this long (twice, with the retry) on Redis
KEY_PREFIX = "hush:salt:"


class UnsafeSaltStore(UnsafeSaltDir):
    """The salt store could keep salts on disk, or hush cannot tell; the message says what to
    change. (An ``UnsafeSaltDir``: both stop hush at start the same way.)"""


class RedisSaltStore:
    """Daily salts in Redis, shared by every process of every node that uses the server."""

    def __init__(self, url: str, clock: Clock) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._url = url
        self._clock = clock
        # One retry, at once: the first command after a Redis restart meets a dead pooled
        # connection, the retry opens a new one.
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 1),
        )
        self._windows: dict[str, _SharedWindow] = {}
        self._zones: dict[str, ZoneInfo] = {}
        self._warned = False
        try:
            problem = persistence_problem(self._redis)
        except redis.RedisError as exc:
            raise SaltsUnavailable(f"salt store {self.location} cannot be reached: {exc}") from None
        if problem:
            raise UnsafeSaltStore(f"salt store {self.location}: {problem}")

    @property
    def location(self) -> str:
        """The server, without any password the URL holds."""
        host = self._redis.connection_pool.connection_kwargs
        return f"redis://{host.get('host', '?')}:{host.get('port', '?')}/{host.get('db', 0)}"

    def current(self, timezone: str) -> tuple[date, bytes]:
        """The local date and salt for ``timezone`` now; creates the salt on first use.

        Raises ``SaltsUnavailable`` when Redis cannot be reached and no salt of this local day
        is known to this process."""
        import redis

        now = self._clock.now()
        window = self._windows.get(timezone)
        if window is not None and not window.start <= now < window.end:
            window = None
        if window is not None and now < window.checked + RECHECK_SECONDS:
            return window.day, window.salt
        try:
            fresh = self._fetch(timezone, now, window)
        except redis.RedisError as exc:
            if window is None:
                raise SaltsUnavailable(
                    f"salt store {self.location} cannot be reached ({type(exc).__name__}) and"
                    " no salt for this day is known here"
                ) from None
            if not self._warned:
                log.warning(
                    "salt store %s cannot be reached (%s): keeping today's salt for %s until"
                    " its day ends",
                    self.location,
                    type(exc).__name__,
                    timezone,
                )
                self._warned = True
            window.checked = now
            return window.day, window.salt
        if self._warned:
            log.info("salt store %s answers again", self.location)
            self._warned = False
        self._windows[timezone] = fresh
        return fresh.day, fresh.salt

    def sweep(self) -> list[str]:
        """Forget (and delete in Redis) every salt whose local day is over here; return the
        keys deleted. Redis expires them by itself too; this makes midnight this node's."""
        import redis

        now = self._clock.now()
        ended = [name for name, w in self._windows.items() if not w.start <= now < w.end]
        keys = [self._windows.pop(name).key for name in ended]
        if not keys:
            return []
        try:
            self._redis.delete(*keys)
        except redis.RedisError:
            return []  # each key expires at its PXAT all the same
        return keys

    def close(self) -> None:
        self._redis.close()

    def _fetch(self, timezone: str, now: float, known: _SharedWindow | None) -> _SharedWindow:
        zone = self._zone(timezone)
        day, start, end = local_day_window(zone, now)
        key = f"{KEY_PREFIX}{quote(timezone, safe='')}@{day.isoformat()}"
        while True:
            salt = self._redis.get(key)
            if salt is None:
                # Gone: never made, or Redis restarted. A new salt, never the one we knew.
                new = secrets.token_bytes(SALT_BYTES)
                if self._redis.set(key, new, nx=True, pxat=int(end * 1000)):
                    salt = new
                else:
                    continue  # another process was first: read its salt
            if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
                raise SaltsUnavailable(f"salt store {self.location}: {key} is not a salt")
            if known is not None and salt != known.salt:
                log.info("salt store %s holds a new salt for %s (restarted?)", self.location, day)
            return _SharedWindow(day, start, end, salt, key, now)

    def _zone(self, timezone: str) -> ZoneInfo:
        zone = self._zones.get(timezone)
        if zone is None:
            try:
                zone = ZoneInfo(timezone)
            except (ValueError, KeyError):
                raise ValueError(f"unknown time zone {timezone!r}") from None
            self._zones[timezone] = zone
        return zone


class _SharedWindow:
    """A salt of one time zone's local day, valid for ``start <= now < end``; ``checked`` is
    when Redis last confirmed it."""

    __slots__ = ("checked", "day", "end", "key", "salt", "start")

    def __init__(
        self, day: date, start: float, end: float, salt: bytes, key: str, checked: float
    ) -> None:
        self.day, self.start, self.end = day, start, end
        self.salt, self.key, self.checked = salt, key, checked


def persistence_problem(client: redis.Redis) -> str | None:
    """What would let ``client``'s server write salts to disk, or None when persistence is off.

    Raises ``redis.RedisError`` when the server cannot be reached."""
    import redis

    try:
        save = client.config_get("save").get("save", "?")
        appendonly = client.config_get("appendonly").get("appendonly", "?")
    except redis.ResponseError as exc:
        return (
            f"hush cannot tell whether persistence is off, CONFIG GET is refused ({exc}):"
            " allow it for hush's user (ACL +config|get), or use a Redis where it is allowed"
        )
    problems = []
    if save not in ("", b""):
        problems.append(f'save is {save!r} (snapshots to dump.rdb): set save ""')
    if appendonly not in ("no", b"no"):
        problems.append(f"appendonly is {appendonly!r}: set appendonly no")
    if problems:
        return (
            "it would write the salts to disk (P3): "
            + "; ".join(problems)
            + " (redis-server --save '' --appendonly no)"
        )
    return None
