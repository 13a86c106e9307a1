"""P3 in the salt dir: hush's own, private, on tmpfs, and each salt hush's, private, 32 bytes
and for its day only. With a shared salt store (HUSH_SALT_STORE, a lake's nodes): its
persistence is off, and each salt there is 32 bytes and expires at its local midnight."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from collector.visitor import SALT_BYTES, is_tmpfs
from privacy_audit.report import P3, Check, counted, listing

SALT_SWEEP_GRACE = 5.0  # hush deletes a past day's salt within ~1 s of local midnight
STRAY_SECONDS = 60.0  # a salt's temporary file lives for microseconds unless its writer died


@dataclass(frozen=True, slots=True)
class _Salt:
    name: str
    zone: str | None  # None: not named like a salt
    day: date | None
    temporary: bool
    mode: int
    size: int
    age: float
    data: bytes
    uid: int


def read_salts(salt_dir: Path, now: float) -> list[_Salt]:
    if not salt_dir.is_dir():
        return []
    salts = []
    for path in sorted(salt_dir.iterdir()):
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue  # swept meanwhile
        parsed = _parse_salt_name(path.name) if stat.S_ISREG(info.st_mode) else None
        data = _read_salt(path) if parsed and info.st_size == SALT_BYTES else b""
        zone, day, temporary = parsed or (None, None, False)
        mode = stat.S_IMODE(info.st_mode)
        age = now - info.st_mtime
        salts.append(
            _Salt(path.name, zone, day, temporary, mode, info.st_size, age, data, info.st_uid)
        )
    return salts


def _read_salt(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""  # gone meanwhile (a sweep), or not ours to read: its mode says more


def _parse_salt_name(name: str) -> tuple[str, date, bool] | None:
    temporary = name.startswith(".")
    if temporary:  # ".<name>.<pid>.<hex>": a salt being written before it is linked into place
        parts = name[1:].rsplit(".", 2)
        if len(parts) != 3:
            return None
        name = parts[0]
    zone, separator, day = name.rpartition("@")
    try:
        return (unquote(zone), date.fromisoformat(day), temporary) if separator else None
    except ValueError:
        return None


def salt_forms(salts: Iterable[bytes]) -> list[bytes]:
    """Each salt as bytes, hex and base64: the forms a copy of it on disk would take."""
    forms = []
    for salt in salts:
        if len(salt) == SALT_BYTES:
            hexed = salt.hex().encode()
            forms += [salt, hexed, hexed.upper(), base64.b64encode(salt)]
            forms.append(base64.urlsafe_b64encode(salt).rstrip(b"="))
    return forms


@dataclass(slots=True)
class SharedSalts:
    """What the shared salt store holds and says about its persistence."""

    location: str
    unreachable: str = ""  # why it could not be asked, if it could not
    persistence: str | None = None  # what would write salts to disk; None: nothing
    snapshots: int = 0  # snapshots taken since the server started (SAVE, BGSAVE)
    salts: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # key: (salt, expiry ms)


def read_salt_store(url: str) -> SharedSalts:
    """Ask the Redis at ``url`` about its persistence and for hush's salts (in memory only)."""
    import redis

    from collector.shared_salt import KEY_PREFIX, persistence_problem

    client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    kwargs = client.connection_pool.connection_kwargs
    found = SharedSalts(f"redis://{kwargs.get('host')}:{kwargs.get('port')}/{kwargs.get('db', 0)}")
    try:
        found.persistence = persistence_problem(client)
        info = client.info("persistence")
        found.snapshots = int(info.get("rdb_saves", 0))
        for key in client.scan_iter(match=f"{KEY_PREFIX}*", count=100):
            salt, expiry = client.get(key), client.pexpiretime(key)
            if isinstance(salt, bytes):
                found.salts[key.decode(errors="replace")] = (salt, int(expiry))
    except redis.RedisError as exc:
        found.unreachable = f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return found


def salt_store_keeps_nothing(store: SharedSalts) -> Check:
    if store.unreachable:
        return Check(
            P3,
            False,
            f"the shared salt store {store.location} could not be asked"
            f" ({store.unreachable}), so its persistence is unknown.",
        )
    if store.persistence:
        return Check(P3, False, f"the shared salt store {store.location}: {store.persistence}.")
    if store.snapshots:
        return Check(
            P3,
            False,
            f"the shared salt store {store.location} took {counted(store.snapshots, 'snapshot')}"
            " since it started (SAVE or BGSAVE): today's salts may be on its disk; deny those"
            " commands (ACL -save -bgsave -bgrewriteaof) and restart it.",
        )
    return Check(
        P3,
        True,
        f"the salts are in the shared salt store {store.location}, in memory only: save is"
        " empty, appendonly is no, and no snapshot was taken since it started.",
    )


def shared_salts_only_for_today(store: SharedSalts, timezones: set[str], now: float) -> Check:
    from collector.shared_salt import KEY_PREFIX
    from collector.visitor import local_day_window

    current, problems = [], []
    for key, (salt, expiry) in sorted(store.salts.items()):
        parsed = _parse_salt_name(key.removeprefix(KEY_PREFIX))
        if parsed is None or parsed[2]:
            problems.append(f"{key} is not named like a salt")
            continue
        zone_name, day, _ = parsed
        try:
            zone = ZoneInfo(zone_name)
        except (ValueError, KeyError):
            problems.append(f"{key} names no known time zone")
            continue
        days = {datetime.fromtimestamp(t, zone).date() for t in (now, now - SALT_SWEEP_GRACE)}
        end = local_day_window(zone, now)[2] if day in days else 0.0
        if len(salt) != SALT_BYTES:
            problems.append(f"{key} is {len(salt)} bytes, not {SALT_BYTES}")
        elif day not in days:
            problems.append(f"{key} is for a day that is not today in {zone_name}")
        elif expiry < 0:
            problems.append(f"{key} never expires")
        elif day == datetime.fromtimestamp(now, zone).date() and expiry != int(end * 1000):
            problems.append(f"{key} expires at {expiry} ms, not at its local midnight")
        else:
            current.append(f"{zone_name} {day}")
    if problems:
        return Check(
            P3, False, f"a salt must live only for its local day, but {listing(problems)}."
        )
    if not current:
        return Check(P3, True, "the shared salt store holds no salt, so none outlived its day.")
    unused = sum(name.split()[0] not in timezones for name in current)
    note = f" ({unused} for a time zone no site uses now)" if unused else ""
    return Check(
        P3,
        True,
        "the shared salt store holds salts only for current local days, each expiring at its"
        f" local midnight: {', '.join(current)}{note}.",
    )


def salt_dir_private(salt_dir: Path) -> Check:
    try:
        info = salt_dir.lstat()
    except FileNotFoundError:
        return Check(P3, True, f"the salt dir {salt_dir} does not exist yet (hush makes it 0700).")
    me = os.geteuid()
    if not stat.S_ISDIR(info.st_mode):
        return Check(
            P3,
            False,
            f"the salt dir {salt_dir} is not a directory (a symlink or a file): whoever made it"
            " decides where the salts go.",
        )
    if info.st_uid != me:
        return Check(
            P3,
            False,
            f"the salt dir {salt_dir} belongs to uid {info.st_uid}, not to this user ({me}):"
            " its owner can choose or read the salts.",
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return Check(
            P3, False, f"the salt dir {salt_dir} is {mode:04o}: other users can reach the salts."
        )
    return Check(
        P3,
        True,
        f"the salt dir {salt_dir} is {mode:04o} and this user's (uid {me}): only it can enter.",
    )


def salt_dir_on_tmpfs(salt_dir: Path) -> Check:
    if is_tmpfs(salt_dir):
        return Check(
            P3, True, f"the salt dir {salt_dir} is on tmpfs: salts never reach a disk or backup."
        )
    return Check(
        P3,
        False,
        f"the salt dir {salt_dir} is not on tmpfs: salts are written to a disk, where they can"
        " outlive their day and reach a backup.",
    )


def salt_files_private(salts: list[_Salt]) -> Check:
    named = [s for s in salts if s.zone is not None]
    me = os.geteuid()
    problems = [f"{s.name} belongs to uid {s.uid}" for s in salts if s.uid != me]
    problems += [f"{s.name} is {s.mode:04o}" for s in named if s.mode & 0o077]
    problems += [
        f"{s.name} is {s.size} bytes, not {SALT_BYTES}"
        for s in named
        if s.size != SALT_BYTES and not (s.temporary and s.age < STRAY_SECONDS)
    ]
    if problems:
        return Check(
            P3,
            False,
            f"salt files must be this user's, 0600 and {SALT_BYTES} bytes, but"
            f" {listing(problems)}.",
        )
    if not named:
        return Check(P3, True, "there is no salt file whose mode and size could be wrong.")
    return Check(
        P3,
        True,
        f"every salt file ({len(named)}) is {SALT_BYTES} bytes long and readable by its owner"
        " only.",
    )


def salts_only_for_today(salts: list[_Salt], timezones: set[str], now: float) -> Check:
    current, problems, unused = [], [], 0
    others = sum(salt.zone is None or salt.day is None for salt in salts)
    if others:
        problems.append(f"the salt dir holds {counted(others, 'file')} that hush does not name")
    for salt in salts:
        if salt.zone is None or salt.day is None:
            continue
        try:
            zone = ZoneInfo(salt.zone)
        except (ValueError, KeyError):
            problems.append(f"{salt.name} names no known time zone")
            continue
        days = {datetime.fromtimestamp(t, zone).date() for t in (now, now - SALT_SWEEP_GRACE)}
        if salt.temporary and salt.age >= STRAY_SECONDS:
            problems.append(f"{salt.name} was left by a process that died while writing it")
        elif salt.day not in days:
            problems.append(f"{salt.name} is for a day that is not today in {salt.zone}")
        elif not salt.temporary:
            current.append(f"{salt.zone} {salt.day}")
            unused += salt.zone not in timezones
    if problems:
        return Check(
            P3, False, f"a salt must live only for its local day, but {listing(problems)}."
        )
    note = (
        f" ({unused} for a time zone no site uses now; it goes at its midnight)" if unused else ""
    )
    if not current:
        return Check(P3, True, "no salt exists, so none outlived its day.")
    return Check(P3, True, f"salts exist only for current local days: {', '.join(current)}{note}.")
