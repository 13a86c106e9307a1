"""The visitor id (P2) and the daily salts it is keyed with (P3).

``visitor = blake2b(site_domain \\0 ip \\0 user_agent, key=salt, digest_size=8)`` read as an
unsigned 64-bit integer. One salt exists per time zone and local date: 32 random bytes in a file
under the salt directory (tmpfs, mode 0700), created atomically by whichever process needs it
first, and deleted as soon as its local day is over. Without the salt the ids cannot be
recomputed from IP addresses; once it is gone no two days can be linked.

The salt directory is trusted only if hush made it or it is plainly hush's own: a directory
(not a symlink) owned by hush's user, mode 0700, holding no file of another user. Otherwise
``UnsafeSaltDir`` stops hush at start: a directory planted in world-writable /dev/shm would
hand hush another user's salt (so they could recompute every visitor id) or let them read ours.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from hashlib import blake2b
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from collector.clock import Clock

log = logging.getLogger("hush.salts")

SALT_BYTES = 32
STALE_SECONDS = 60  # creating a salt takes microseconds; a private file this old is orphaned
_SEPARATOR = "@"


def visitor_id(salt: bytes, site_domain: str, address: str, user_agent: str) -> int:
    """The keyed hash of one visitor on one site for the salt's day."""
    data = f"{site_domain}\0{address}\0{user_agent}".encode("utf-8", "surrogatepass")
    return int.from_bytes(blake2b(data, key=salt, digest_size=8).digest(), "big")


@dataclass(slots=True)
class _Window:
    """The salt of one time zone's current local day, valid for ``start <= now < end``."""

    day: date
    start: float
    end: float
    salt: bytes


def local_day_window(timezone: ZoneInfo, now: float) -> tuple[date, float, float]:
    """The local date at ``now`` and the epoch seconds where that day starts and ends."""
    day = datetime.fromtimestamp(now, timezone).date()
    start = datetime.combine(day, time(0), timezone).timestamp()
    end = datetime.combine(day + timedelta(days=1), time(0), timezone).timestamp()
    return day, start, end


class Salts(Protocol):
    """Where the intake gets the day's salt: ``SaltStore`` (a tmpfs dir, one machine) or
    ``collector.shared_salt.RedisSaltStore`` (the nodes of a lake)."""

    def current(self, timezone: str) -> tuple[date, bytes]:
        """The local date and salt for ``timezone`` now; raises ``SaltsUnavailable``."""
        ...

    def sweep(self) -> Sequence[str | os.PathLike[str]]:
        """Delete the salts whose local day is over; return what went (files or keys)."""
        ...


class SaltsUnavailable(Exception):
    """No salt can be had now (the shared salt store does not answer): events wait (503)."""


class UnsafeSaltDir(Exception):
    """The salt directory is not hush's own; the message says what is wrong and what to do."""


def open_salt_dir(salt_dir: Path) -> None:
    """Create ``salt_dir`` exclusively (0700), or check that the existing one is hush's own."""
    salt_dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.mkdir(salt_dir, 0o700)  # fails if anything, even a dangling symlink, has the name
        os.chmod(salt_dir, 0o700)  # ours alone and new: the umask may have taken bits
        return
    except FileExistsError:
        pass
    me = os.geteuid()
    info = os.lstat(salt_dir)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeSaltDir(
            f"salt dir {salt_dir} exists and is not a directory (a symlink or a file):"
            " remove it or set HUSH_SALT_DIR to a directory hush may create"
        )
    if info.st_uid != me:
        raise UnsafeSaltDir(
            f"salt dir {salt_dir} belongs to uid {info.st_uid}, not to hush's user ({me}):"
            " another user could choose or read the salts; remove it or set HUSH_SALT_DIR"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode != 0o700:
        raise UnsafeSaltDir(
            f"salt dir {salt_dir} has mode {mode:04o}, not 0700: other users could have"
            " planted or read salts; remove it (hush recreates it) or chmod 700 it"
        )
    with os.scandir(salt_dir) as entries:
        foreign = [(e.name, e.stat(follow_symlinks=False).st_uid) for e in entries]
    for name, owner in foreign:
        if owner != me:
            raise UnsafeSaltDir(
                f"salt dir {salt_dir} holds {name}, owned by uid {owner}, not by hush's"
                f" user ({me}): it may be a planted salt; remove it"
            )


class SaltStore:
    """Daily salts in a tmpfs directory, shared by every process that uses the directory."""

    def __init__(self, salt_dir: Path, clock: Clock) -> None:
        self._dir = salt_dir
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._zones: dict[str, ZoneInfo] = {}
        open_salt_dir(salt_dir)
        if not is_tmpfs(salt_dir):
            log.warning(
                "salt dir %s is not on tmpfs: salts may survive a reboot or reach a backup",
                salt_dir,
            )

    @property
    def directory(self) -> Path:
        return self._dir

    def current(self, timezone: str) -> tuple[date, bytes]:
        """The local date and salt for ``timezone`` now; creates the salt on first use."""
        now = self._clock.now()
        window = self._windows.get(timezone)
        if window is None or not window.start <= now < window.end:
            window = self._open_window(timezone, now)
        return window.day, window.salt

    def sweep(self) -> list[Path]:
        """Delete every salt whose local day is over (or not yet begun); return what went."""
        now = self._clock.now()
        for name, window in list(self._windows.items()):
            if not window.start <= now < window.end:
                del self._windows[name]
        removed = []
        for path in self._dir.iterdir():
            parsed = _parse_salt_name(path.name)
            if parsed is None:
                # A private file left by a process that died while creating a salt holds
                # that salt: it goes too once no creator can still be using it.
                if path.name.startswith(".") and _older_than(path, now, STALE_SECONDS):
                    path.unlink(missing_ok=True)
                    removed.append(path)
                continue
            timezone, day = parsed
            zone = self._zone(timezone)
            if zone is None or day != datetime.fromtimestamp(now, zone).date():
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def _zone(self, timezone: str) -> ZoneInfo | None:
        zone = self._zones.get(timezone)
        if zone is None:
            try:
                zone = ZoneInfo(timezone)
            except (ValueError, KeyError):
                return None
            self._zones[timezone] = zone
        return zone

    def _open_window(self, timezone: str, now: float) -> _Window:
        zone = self._zone(timezone)
        if zone is None:
            raise ValueError(f"unknown time zone {timezone!r}")
        day, start, end = local_day_window(zone, now)
        window = _Window(day, start, end, self._read_or_create(timezone, day))
        self._windows[timezone] = window
        self.sweep()
        return window

    def _read_or_create(self, timezone: str, day: date) -> bytes:
        path = self._dir / f"{quote(timezone, safe='')}{_SEPARATOR}{day.isoformat()}"
        salt = _read_salt(path)
        if salt is not None:
            return salt
        # Write the bytes under a private name, then link(2) them into place: link fails if
        # another process got there first, so all processes end up reading one salt.
        tmp = self._dir / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_bytes(SALT_BYTES))
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        salt = _read_salt(path)
        if salt is None:
            raise RuntimeError(f"salt file {path} vanished or is damaged")
        return salt


def _older_than(path: Path, now: float, seconds: float) -> bool:
    try:
        return now - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return False


def _read_salt(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return data if len(data) == SALT_BYTES else None


def _parse_salt_name(name: str) -> tuple[str, date] | None:
    if name.startswith(".") or _SEPARATOR not in name:
        return None
    zone, _, day = name.rpartition(_SEPARATOR)
    try:
        return unquote(zone), date.fromisoformat(day)
    except ValueError:
        return None


def is_tmpfs(path: Path) -> bool:
    """Whether ``path`` lies on a tmpfs mount (Linux); False where that cannot be told."""
    try:
        with open("/proc/mounts", encoding="utf-8") as fh:
            mounts = [line.split() for line in fh]
    except OSError:
        return False
    real = str(path.resolve())
    best, best_type = "", ""
    for parts in mounts:
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, best_type = point, parts[2]
    return best_type == "tmpfs"
