"""``hush audit``: the privacy promises (DESIGN.md §2), checked on a live installation.

Each function gathers its evidence where that evidence lives and returns checks a DPO can read:
``check_database`` wherever the store is open (inside the server while it runs), ``check_files``
on the machine that holds the data and salt dirs, ``check_server`` over HTTP; ``render`` prints
them. A finding names a table, column or file and how many, never the value: it may be the very
address the audit looks for. Loopback and unspecified addresses (127.0.0.1, ::1, 0.0.0.0) are
not findings: they identify nobody, and hush's own admin endpoint listens on one.
"""

from __future__ import annotations

import base64
import fcntl
import gzip
import ipaddress
import os
import re
import stat
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import duckdb
import orjson

from aggregator.store import Store
from collector.spool import CLOSED, OPEN
from collector.visitor import SALT_BYTES, is_tmpfs

SERVER = "The server answers"
P1 = "P1 No IP address at rest"
P2 = "P2 Only a daily hash identifies a visitor"
P3 = "P3 Salts live one day, apart from the data"
P4 = "P4 No cookies, no storage"
P6 = "P6 Privacy signals honoured"
P8 = "P8 Retention enforced"

STUCK_SECONDS = 3600  # a segment closes after ~1 s and loads within ~2 s: an hour means stuck
# Retention keeps each site's own local days, which differ from ``today`` by up to a day either
# way, and it runs every minute once a day is rolled up: a day's grace spares false alarms.
RETENTION_GRACE_DAYS = 1
SALT_SWEEP_GRACE = 5.0  # hush deletes a past day's salt within ~1 s of local midnight
STRAY_SECONDS = 60.0  # a salt's temporary file lives for microseconds unless its writer died
STORAGE_APIS = ("document.cookie", "localStorage", "sessionStorage", "indexedDB", "sendBeacon")
SNIPPETS = ("/js/hush.js", "/js/hush.engagement.js", "/js/hush.full.js")
UNKNOWN_SITE = "hush-audit.invalid"  # .invalid can never be registered (RFC 2606)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@dataclass(frozen=True, slots=True)
class Check:
    """One verdict: the promise, whether it held, and a sentence on what was checked and found."""

    promise: str
    passed: bool
    detail: str


# --- finding addresses -------------------------------------------------------------------------

# Candidates as hush's scrubber finds them; ipaddress decides. The lookarounds keep "1.2.3.4.5"
# and "std::vector" out; "12:30:45" is a candidate that ipaddress turns down.
_IPV4 = re.compile(r"(?<![0-9])(?<![0-9]\.)[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?!\.?[0-9])")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,8}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{1,4})?"
    r"(?![\w:])"
)
# Every match of either holds a hint (".1.2" or ":db8:"), which begins with a literal and so is
# found ~30 times faster: the full patterns run only around hints.
_HINT = re.compile(r"\.[0-9]{1,3}\.[0-9]|:[0-9A-Fa-f]{0,4}:")
_REACH = 60  # characters around a hint: an address literal is at most 45 long
# A loose form of both in DuckDB's RE2 (no lookarounds), a cheap filter before Python looks.
_LOOSE = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:"


def count_addresses(
    text: str, *, start: int = 0, end: int | None = None, ignore: frozenset[str] = frozenset()
) -> int:
    """How many IP address literals in ``text`` start within ``[start, end)``."""
    end = len(text) if end is None else end
    found = 0
    for low, high in _hinted_regions(text, start, end):
        inside_v6 = []
        for match in _IPV6.finditer(text, low, high):
            candidate = match.group()
            # Three groups at least (an IPv4 tail counts as two): a client's address has a
            # 4-group prefix, while "a::" or "1::2" turn up by chance in binary files (a WAL).
            groups = sum(1 for group in candidate.split(":") if group) + ("." in candidate)
            if groups < 3 or not start <= match.start() < end:
                continue
            if _identifies(candidate, ignore):
                found += 1
                inside_v6.append(match.span())
        for match in _IPV4.finditer(text, low, high):
            if not start <= match.start() < end:
                continue
            if any(a <= match.start() < b for a, b in inside_v6):
                continue  # the tail of ::ffff:192.0.2.1, already counted
            # Leading zeros ("010.000.000.001") still name an address; ipaddress refuses them.
            octets = [int(octet) for octet in match.group().split(".")]
            if max(octets) <= 255 and _identifies(".".join(map(str, octets)), ignore):
                found += 1
    return found


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


def _identifies(candidate: str, ignore: frozenset[str]) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (address.is_loopback or address.is_unspecified or str(address) in ignore)


def holds_address(value: str) -> bool:
    """Whether ``value`` holds an address literal, as it is or once percent-decoded."""
    return count_addresses(value) > 0 or ("%" in value and count_addresses(unquote(value)) > 0)


# --- the database ------------------------------------------------------------------------------

_COLUMNS = """
SELECT c.table_name, c.column_name, c.data_type
FROM information_schema.columns AS c
JOIN information_schema.tables AS t USING (table_catalog, table_schema, table_name)
WHERE t.table_type = 'BASE TABLE' AND c.table_schema = 'main'
  AND c.table_catalog = current_database()
ORDER BY c.table_name, c.ordinal_position
"""
# Names that say a column holds an address, a user agent, a full URL, a query or a cookie.
_IDENTIFYING = re.compile(
    r"(?:^|_)(?:ip|ips|ipv4|ipv6|ua|agent|url|urls|uri|href|query|referer)(?:_|$)"
    r"|addr|cookie|useragent|fingerprint"
)
_VISITOR_COLUMNS = ("visitor", "visitor_id")

Schema = dict[str, dict[str, str]]  # table -> column -> type


def check_database(store: Store, *, retention_days: int, today: date) -> list[Check]:
    """P1, P2 and P8 in the store: every text column, the schema, visitor ids, retention.

    ``today`` draws the retention line: rows of visitor-level tables (those with a visitor id,
    such as ``events``) whose ``day`` is before ``today - retention_days`` should be gone, give
    or take ``RETENTION_GRACE_DAYS``.
    """
    cutoff = today - timedelta(days=retention_days + RETENTION_GRACE_DAYS)
    with store.read() as cur:
        schema: Schema = {}
        for table, column, data_type in cur.execute(_COLUMNS).fetchall():
            schema.setdefault(table, {})[column] = data_type
        return [
            _no_addresses_in_columns(cur, schema),
            _no_identifying_columns(schema),
            _visitor_ids_last_one_day(cur, schema),
            _raw_rows_within_retention(cur, schema, cutoff, retention_days),
        ]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _no_addresses_in_columns(cur: duckdb.DuckDBPyConnection, schema: Schema) -> Check:
    text = [(t, c) for t, cols in schema.items() for c, kind in cols.items() if "VARCHAR" in kind]
    findings = []
    for table, column in text:
        # Distinct values first: DuckDB groups dictionary-compressed text far faster than it
        # runs a regex over every row (5M events: 0.03 s instead of 0.9 s for a column).
        sql = (
            f"SELECT v, n FROM (SELECT CAST({_quote(column)} AS VARCHAR) AS v, count(*) AS n"  # noqa: S608
            f" FROM {_quote(table)} GROUP BY v) WHERE regexp_matches(v, $loose)"
            " OR (contains(v, '%') AND regexp_matches(url_decode(v), $loose))"
        )
        cur.execute(sql, {"loose": _LOOSE})
        rows = 0
        while batch := cur.fetchmany(10_000):
            rows += sum(n for value, n in batch if holds_address(value))
        if rows:
            findings.append(f"{table}.{column} ({_rows(rows)})")
    if findings:
        return Check(P1, False, f"IP addresses are stored in {_listing(findings)}.")
    return Check(
        P1,
        True,
        f"none of the {_counted(len(text), 'text column')} in {_counted(len(schema), 'table')}"
        " holds an IP address, as written or percent-encoded.",
    )


def _no_identifying_columns(schema: Schema) -> Check:
    found = [
        f"{table}.{column}" if column else table
        for table, columns in schema.items()
        for column in ("", *columns)
        if _IDENTIFYING.search((column or table).lower())
    ]
    count = sum(map(len, schema.values()))
    if found:
        return Check(
            P2,
            False,
            f"the schema has columns named for an address, user agent, URL or cookie: "
            f"{_listing(found)}.",
        )
    return Check(
        P2,
        True,
        f"none of the {_counted(count, 'column')} in {_counted(len(schema), 'table')} is meant"
        " for an address, a user agent, a full URL, a query string or a cookie.",
    )


def _visitor_tables(schema: Schema) -> list[tuple[str, str]]:
    return [(t, c) for t, cols in schema.items() for c in cols if c in _VISITOR_COLUMNS]


def _visitor_ids_last_one_day(cur: duckdb.DuckDBPyConnection, schema: Schema) -> Check:
    problems, checked = [], []
    for table, column in _visitor_tables(schema):
        kind = schema[table][column]
        if kind != "UBIGINT":
            problems.append(f"{table}.{column} is {kind}, not a 64-bit hash")
        if "day" not in schema[table]:
            continue
        group = "site_id, " if "site_id" in schema[table] else ""
        sql = (
            f"SELECT count(*) FROM (SELECT 1 FROM {_quote(table)}"  # noqa: S608
            f" GROUP BY {group}{_quote(column)} HAVING min(day) <> max(day))"
        )
        row = cur.execute(sql).fetchone()
        spanning = row[0] if row else 0
        checked.append(f"{table}.{column}")
        if spanning:
            problems.append(
                f"in {table}, {_counted(spanning, 'visitor id')} turned up on more than one day:"
                " a salt outlived its day, or ids were made without one"
            )
    if problems:
        return Check(P2, False, "; ".join(problems) + ".")
    if not checked:
        return Check(P2, True, "no table holds visitor ids.")
    return Check(
        P2,
        True,
        f"visitor ids ({', '.join(checked)}) are 64-bit hashes, and none appears on two days.",
    )


def _raw_rows_within_retention(
    cur: duckdb.DuckDBPyConnection, schema: Schema, cutoff: date, days: int
) -> Check:
    late, kept = [], []
    for table, _column in _visitor_tables(schema):
        if "day" not in schema[table]:
            late.append(f"{table} holds visitor ids without a day, so its age cannot be told")
            continue
        row = cur.execute(
            f"SELECT count(*) FILTER (WHERE day < $cutoff), min(day) FROM {_quote(table)}",  # noqa: S608
            {"cutoff": cutoff},
        ).fetchone()
        old, oldest = row if row else (0, None)
        if old:
            late.append(
                f"{table} holds {_rows(old)} from before {cutoff}, the oldest from {oldest}"
            )
        else:
            kept.append(
                f"the oldest in {table} is from {oldest}" if oldest else f"{table} is empty"
            )
    rule = (
        f"raw data is kept {days} days, so nothing from before {cutoff} (a day's grace for"
        " time zones) should remain"
    )
    if late:
        return Check(P8, False, f"{rule}, but {'; '.join(late)}.")
    return Check(P8, True, f"{rule}, and nothing does ({'; '.join(kept) or 'no raw tables'}).")


# --- the files ---------------------------------------------------------------------------------

_CHUNK = 1 << 22
_MARGIN = 128  # longer than an address with its context, and than a salt in hex or base64


@dataclass(slots=True)
class _DataScan:
    files: int = 0
    database_files: int = 0
    addresses: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0
    salt_sized: int = 0
    salt_copies: int = 0


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


def check_files(*, data_dir: Path, salt_dir: Path, timezones: set[str], now: float) -> list[Check]:
    """P1, P3 and P8 on disk: the data dir's files, the salt dir and its salts, the spool.

    ``timezones`` are the sites' time zones; ``now`` is the epoch time whose local days count
    as current.
    """
    salts = _read_salts(salt_dir, now)
    scan = _scan_data_dir(data_dir, _salt_forms(salts))
    return [
        _no_addresses_in_files(data_dir, scan),
        _salts_apart_from_data(data_dir, salt_dir, scan, len(salts)),
        _salt_dir_private(salt_dir),
        _salt_dir_on_tmpfs(salt_dir),
        _salt_files_private(salts),
        _salts_only_for_today(salts, timezones, now),
        _spool_not_stuck(data_dir / "spool", now),
    ]


def _read_salts(salt_dir: Path, now: float) -> list[_Salt]:
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
        salts.append(_Salt(path.name, zone, day, temporary, mode, info.st_size, age, data))
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


def _salt_forms(salts: list[_Salt]) -> list[bytes]:
    forms = []
    for salt in salts:
        if len(salt.data) == SALT_BYTES:
            hexed = salt.data.hex().encode()
            forms += [salt.data, hexed, hexed.upper(), base64.b64encode(salt.data)]
            forms.append(base64.urlsafe_b64encode(salt.data).rstrip(b"="))
    return forms


def _scan_data_dir(data_dir: Path, salt_forms: list[bytes]) -> _DataScan:
    scan = _DataScan()
    own = _own_addresses(data_dir)
    for path in _files_under(data_dir):
        name = str(path.relative_to(data_dir))
        in_name = count_addresses(name)  # a name is at rest too
        if in_name:
            name = "a file whose name holds an address"
        scan.files += 1
        try:
            with path.open("rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                # The DuckDB file is compressed: check_database reads it column by column.
                is_database = fh.read(12)[8:12] == b"DUCK"
                fh.seek(0)
                ignore = own if path == data_dir / "server.json" else frozenset()
                found, copied = _scan_file(fh, salt_forms, addresses=not is_database, ignore=ignore)
        except FileNotFoundError:
            scan.files -= 1  # a segment loaded and deleted meanwhile
            continue
        except OSError:
            scan.unreadable += 1
            continue
        scan.database_files += is_database
        scan.salt_sized += size == SALT_BYTES
        scan.salt_copies += copied
        if found + in_name:
            scan.addresses[name] = scan.addresses.get(name, 0) + found + in_name
    return scan


def _files_under(root: Path) -> Iterator[Path]:
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                yield path


def _own_addresses(data_dir: Path) -> frozenset[str]:
    """The address the admin endpoint listens on (in ``server.json``): the server's, nobody's."""
    try:
        host = urlsplit(orjson.loads((data_dir / "server.json").read_bytes())["url"]).hostname
        return frozenset({str(ipaddress.ip_address(host or ""))})
    except (OSError, ValueError, KeyError, TypeError):
        return frozenset()


def _scan_file(
    fh: BinaryIO, salt_forms: list[bytes], *, addresses: bool, ignore: frozenset[str]
) -> tuple[int, bool]:
    found, copied = 0, False
    for data, start, end in _windows(fh):
        copied = copied or any(form in data for form in salt_forms)
        if addresses:
            found += count_addresses(data.decode("latin-1"), start=start, end=end, ignore=ignore)
    return found, copied


def _windows(fh: BinaryIO) -> Iterator[tuple[bytes, int, int]]:
    """The file in overlapping windows ``(data, start, end)``: each offset once in a range."""
    data, start = fh.read(_CHUNK), 0
    while more := fh.read(_CHUNK):
        data += more
        end = len(data) - _MARGIN
        yield data, start, end
        data, start = data[end - _MARGIN :], _MARGIN
    yield data, start, len(data)


def _no_addresses_in_files(data_dir: Path, scan: _DataScan) -> Check:
    if not data_dir.is_dir():
        return Check(P1, False, f"the data dir {data_dir} does not exist, so nothing was checked.")
    if scan.addresses or scan.unreadable:
        parts = [
            f"{name} ({_counted(n, 'address', 'addresses')})" for name, n in scan.addresses.items()
        ]
        found = f"IP addresses are written in {_listing(parts)}" if parts else ""
        unread = f"{_counted(scan.unreadable, 'file')} could not be read" if scan.unreadable else ""
        said = "; ".join(filter(None, [found, unread]))
        return Check(P1, False, f"under {data_dir}, {said}.")
    skipped = " (the database file is checked column by column instead)"
    return Check(
        P1,
        True,
        f"none of the {_counted(scan.files, 'file')} under {data_dir} holds an IP address"
        + (skipped if scan.database_files else "")
        + ".",
    )


def _salts_apart_from_data(data_dir: Path, salt_dir: Path, scan: _DataScan, salts: int) -> Check:
    data, salt = data_dir.resolve(), salt_dir.resolve()
    problems = []
    if salt.is_relative_to(data) or data.is_relative_to(salt):
        problems.append(f"the salt dir {salt_dir} and the data dir {data_dir} overlap")
    if scan.salt_sized:
        problems.append(
            f"the data dir holds {_counted(scan.salt_sized, 'file')} of 32 bytes, a salt's size"
        )
    if scan.salt_copies:
        problems.append(
            f"the data dir holds a current salt in {_counted(scan.salt_copies, 'file')}"
        )
    if problems:
        return Check(P3, False, "; ".join(problems) + ".")
    return Check(
        P3,
        True,
        "the salt dir lies outside the data dir, and no file there has a salt's size (32 bytes)"
        " or holds a current salt as bytes, hex or base64"
        f" ({_counted(scan.files, 'file')} against {_counted(salts, 'salt')}).",
    )


def _salt_dir_private(salt_dir: Path) -> Check:
    if not salt_dir.exists():
        return Check(P3, True, f"the salt dir {salt_dir} does not exist yet (hush makes it 0700).")
    mode = stat.S_IMODE(salt_dir.stat().st_mode)
    if mode & 0o077:
        return Check(
            P3, False, f"the salt dir {salt_dir} is {mode:04o}: other users can reach the salts."
        )
    return Check(P3, True, f"the salt dir {salt_dir} is {mode:04o}: only its owner can enter it.")


def _salt_dir_on_tmpfs(salt_dir: Path) -> Check:
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


def _salt_files_private(salts: list[_Salt]) -> Check:
    named = [s for s in salts if s.zone is not None]
    problems = [f"{s.name} is {s.mode:04o}" for s in named if s.mode & 0o077]
    problems += [
        f"{s.name} is {s.size} bytes, not {SALT_BYTES}"
        for s in named
        if s.size != SALT_BYTES and not (s.temporary and s.age < STRAY_SECONDS)
    ]
    if problems:
        return Check(
            P3, False, f"salt files must be 0600 and {SALT_BYTES} bytes, but {_listing(problems)}."
        )
    if not named:
        return Check(P3, True, "there is no salt file whose mode and size could be wrong.")
    return Check(
        P3,
        True,
        f"every salt file ({len(named)}) is {SALT_BYTES} bytes long and readable by its owner"
        " only.",
    )


def _salts_only_for_today(salts: list[_Salt], timezones: set[str], now: float) -> Check:
    current, problems, unused = [], [], 0
    others = sum(salt.zone is None or salt.day is None for salt in salts)
    if others:
        problems.append(f"the salt dir holds {_counted(others, 'file')} that hush does not name")
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
            P3, False, f"a salt must live only for its local day, but {_listing(problems)}."
        )
    note = (
        f" ({unused} for a time zone no site uses now; it goes at its midnight)" if unused else ""
    )
    if not current:
        return Check(P3, True, "no salt exists, so none outlived its day.")
    return Check(P3, True, f"salts exist only for current local days: {', '.join(current)}{note}.")


def _spool_not_stuck(spool_dir: Path, now: float) -> Check:
    waiting, stuck = 0, []
    paths = sorted(spool_dir.iterdir()) if spool_dir.is_dir() else []
    for path in paths:
        if path.suffix not in (CLOSED, OPEN):
            continue
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue  # loaded meanwhile
        waiting += 1
        if age >= STUCK_SECONDS and (path.suffix == CLOSED or _writer_died(path)):
            stuck.append(age)
    if stuck:
        return Check(
            P8,
            False,
            f"{_counted(len(stuck), 'spool segment')} waited over an hour to be loaded (the"
            f" oldest {max(stuck) / 3600:.0f} hours): the loader is stuck, and their raw events"
            " escape retention.",
        )
    if not waiting:
        return Check(P8, True, "no spool segment waits to be loaded: the loader keeps up.")
    return Check(
        P8,
        True,
        f"{_counted(waiting, 'spool segment')} waiting to be loaded, none for over an hour.",
    )


def _writer_died(path: Path) -> bool:
    """Whether an open segment's flock(2) is free, i.e. the process writing it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases the lock


# --- the server --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int | None  # None: no answer at all
    headers: Message
    body: bytes
    error: str = ""

    @property
    def sets_cookie(self) -> bool:
        return bool(self.headers.get_all("set-cookie"))

    def describe(self) -> str:
        return f"answered {self.status}" if self.status else f"got no answer ({self.error})"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect's own answer is what is checked (a cookie can ride on it)


_OPENER = urllib.request.build_opener(_NoRedirects)


def _fetch(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> _Answer:
    # check_server lets only http(s) base URLs through.
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with _OPENER.open(request, timeout=10) as response:
            return _Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return _Answer(exc.code, exc.headers, exc.read())
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return _Answer(None, Message(), b"", str(reason))


def check_server(base_url: str, *, site: str | None) -> list[Check]:
    """P4 and P6 over real HTTP; with ``site`` (a registered domain) also the GPC drop.

    Sends one event for a site that cannot exist, a malformed one, a pixel, a preflight and,
    with ``site``, an event with Sec-GPC: 1: none is counted, but they show in the intake
    counters like any dropped request.
    """
    base = base_url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    event = {"n": "pageview", "u": f"https://{UNKNOWN_SITE}/", "d": UNKNOWN_SITE}
    text = {"Content-Type": "text/plain", "User-Agent": BROWSER}
    answers = {
        "an event for an unknown site": _fetch(
            f"{base}/api/event",
            method="POST",
            body=orjson.dumps(event),
            headers={**text, "Cookie": "hush-audit=1"},
        ),
        "a malformed event": _fetch(f"{base}/api/event", method="POST", body=b"{", headers=text),
        "the no-script pixel": _fetch(f"{base}/api/event.gif?{urlencode(event)}", headers=text),
        "a CORS preflight": _fetch(
            f"{base}/api/event",
            method="OPTIONS",
            headers={"Origin": f"https://{UNKNOWN_SITE}", "Access-Control-Request-Method": "POST"},
        ),
    }
    snippets = {
        path: _fetch(base + path, headers={"Accept-Encoding": "identity"}) for path in SNIPPETS
    }
    served = {path: answer for path, answer in snippets.items() if answer.status != 404}
    checks = [
        _server_answers(base, _fetch(f"{base}/healthz")),
        _no_cookies({**answers, **served}),
        _snippet_keeps_away_from_storage(snippets),
    ]
    if site is not None:
        checks.append(_gpc_is_honoured(base, site))
    return checks


def _server_answers(base: str, health: _Answer) -> Check:
    return Check(SERVER, health.status == 200, f"GET {base}/healthz {health.describe()}.")


def _no_cookies(answers: dict[str, _Answer]) -> Check:
    silent = [what for what, answer in answers.items() if answer.status is None]
    cookies = [what for what, answer in answers.items() if answer.sets_cookie]
    if cookies:
        return Check(
            P4, False, f"{_counted(len(cookies), 'answer')} set a cookie: {_listing(cookies)}."
        )
    if silent:
        return Check(P4, False, f"cookies could not be checked: no answer to {_listing(silent)}.")
    asked = ", ".join(f"{what} ({answer.status})" for what, answer in answers.items())
    return Check(P4, True, f"no answer sets a cookie: {asked}.")


def _snippet_keeps_away_from_storage(snippets: dict[str, _Answer]) -> Check:
    main = snippets[SNIPPETS[0]]
    if main.status != 200:
        return Check(P4, False, f"the snippet is not served: GET {SNIPPETS[0]} {main.describe()}.")
    served, problems = [], []
    for path, answer in snippets.items():
        if answer.status != 200:
            continue
        served.append(path)
        body = answer.body
        if answer.headers.get("content-encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        named = [api for api in STORAGE_APIS if api.encode() in body]
        if named:
            problems.append(f"{path} names {', '.join(named)}")
    if problems:
        return Check(P4, False, f"the snippet must not touch storage, but {_listing(problems)}.")
    return Check(
        P4,
        True,
        f"the snippet ({', '.join(served)}) never names {', '.join(STORAGE_APIS[:-1])}"
        f" or {STORAGE_APIS[-1]}.",
    )


def _gpc_is_honoured(base: str, site: str) -> Check:
    event = {"n": "pageview", "u": f"https://{site}/hush-audit/gpc", "d": site}
    answer = _fetch(
        f"{base}/api/event",
        method="POST",
        body=orjson.dumps(event),
        headers={"Content-Type": "text/plain", "User-Agent": BROWSER, "Sec-GPC": "1"},
    )
    dropped = answer.headers.get("x-hush-dropped")
    sent = f"an event for {site} sent with Sec-GPC: 1"
    if answer.status == 202 and dropped == "gpc":
        return Check(P6, True, f"{sent} was dropped for GPC (X-Hush-Dropped: gpc).")
    if answer.status == 202 and dropped == "unknown_site":
        return Check(P6, False, f"{sent} was dropped because {site} is not a registered site.")
    if answer.status == 202 and dropped:
        return Check(P6, False, f"{sent} was dropped as {dropped}, not for GPC.")
    if answer.status == 202:
        return Check(P6, False, f"{sent} was accepted (X-Hush-Dropped: none), so it was counted.")
    return Check(P6, False, f"{sent} {answer.describe()}, not 202 with X-Hush-Dropped: gpc.")


# --- the report --------------------------------------------------------------------------------


def _number(promise: str) -> int:
    match = re.match(r"P(\d+)\b", promise)
    return int(match.group(1)) if match else 0


def render(checks: list[Check]) -> str:
    """The plain-language report: one line per check, by promise, and a closing verdict."""
    lines = ["hush privacy audit", "=================="]
    previous = None
    for check in sorted(checks, key=lambda c: _number(c.promise)):
        if check.promise != previous:
            lines.append("")
            previous = check.promise
        lines.append(f"{'PASS' if check.passed else 'FAIL'}  {check.promise}: {check.detail}")
    covered = {_number(check.promise) for check in checks}
    missing = [f"P{n}" for n in range(1, 9) if n not in covered]
    lines.append("")
    if missing:
        lines.append(
            f"Not checked by this audit: {', '.join(missing)} (the test suite holds them)."
        )
    failed = sum(not check.passed for check in checks)
    if not checks:
        lines.append("No checks were run.")
    elif failed:
        lines.append(f"{failed} of {len(checks)} checks FAILED.")
    else:
        lines.append(f"All {len(checks)} checks passed.")
    return "\n".join(lines) + "\n"


def _counted(n: int, noun: str, plural: str = "") -> str:
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def _rows(n: int) -> str:
    return _counted(n, "row")


def _listing(items: Iterable[str], *, most: int = 5) -> str:
    items = list(items)
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")
