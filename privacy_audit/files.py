"""P1, P3 and P8 on disk: ``check_files`` and its scan of every file under the data dir.

The scan looks for addresses and for copies of a current salt; the salt dir and the spool have
modules of their own.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import orjson

from collector.visitor import SALT_BYTES
from privacy_audit.addresses import count_addresses
from privacy_audit.report import P1, P3, Check, counted, listing
from privacy_audit.salts import (
    read_salt_store,
    read_salts,
    salt_dir_on_tmpfs,
    salt_dir_private,
    salt_files_private,
    salt_forms,
    salt_store_keeps_nothing,
    salts_only_for_today,
    shared_salts_only_for_today,
)
from privacy_audit.spool import spool_not_stuck

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


def check_files(
    *,
    data_dir: Path,
    salt_dir: Path,
    timezones: set[str],
    now: float,
    salt_store: str = "",
    lake_data: Path | None = None,
) -> list[Check]:
    """P1, P3 and P8 on disk: the data dir's files, the salt dir and its salts, the spool.

    ``timezones`` are the sites' time zones; ``now`` is the epoch time whose local days count
    as current. With ``salt_store`` (HUSH_SALT_STORE) the salts are there, not in the salt dir.
    ``lake_data``: a lake's data directory (HUSH_LAKE_DATA), scanned as the data dir is.
    """
    if salt_store:
        store = read_salt_store(salt_store)
        forms, count, apart = salt_forms(s for s, _ in store.salts.values()), len(store.salts), None
    else:
        salts = read_salts(salt_dir, now)
        forms, count, apart = salt_forms(salt.data for salt in salts), len(salts), salt_dir
    dirs = [data_dir]
    if lake_data is not None and not lake_data.resolve().is_relative_to(data_dir.resolve()):
        dirs.append(lake_data)
    checks = []
    for scanned in dirs:
        scan = _scan_data_dir(scanned, forms)
        checks += [
            _no_addresses_in_files(scanned, scan),
            _salts_apart_from_data(scanned, apart, scan, count),
        ]
    if salt_store:
        return [
            *checks,
            salt_store_keeps_nothing(store),
            shared_salts_only_for_today(store, timezones, now),
            spool_not_stuck(data_dir / "spool", now),
        ]
    return [
        *checks,
        salt_dir_private(salt_dir),
        salt_dir_on_tmpfs(salt_dir),
        salt_files_private(salts),
        salts_only_for_today(salts, timezones, now),
        spool_not_stuck(data_dir / "spool", now),
    ]


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
                # The DuckDB file and a lake's Parquet files are compressed: check_database
                # reads them column by column.
                head = fh.read(SALT_BYTES + 1)
                is_database = head[8:12] == b"DUCK" or head[:4] == b"PAR1"
                # A salt is 32 random bytes; 32 bytes of printable text (a small JSON file of
                # hush's own) is none: random bytes are all printable once in ~10^8 salts.
                salt_sized = size == SALT_BYTES and not all(32 <= byte < 127 for byte in head)
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
        scan.salt_sized += salt_sized
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
            f"{name} ({counted(n, 'address', 'addresses')})" for name, n in scan.addresses.items()
        ]
        found = f"IP addresses are written in {listing(parts)}" if parts else ""
        unread = f"{counted(scan.unreadable, 'file')} could not be read" if scan.unreadable else ""
        said = "; ".join(filter(None, [found, unread]))
        return Check(P1, False, f"under {data_dir}, {said}.")
    skipped = " (database files are checked column by column instead)"
    return Check(
        P1,
        True,
        f"none of the {counted(scan.files, 'file')} under {data_dir} holds an IP address"
        + (skipped if scan.database_files else "")
        + ".",
    )


def _salts_apart_from_data(
    data_dir: Path, salt_dir: Path | None, scan: _DataScan, salts: int
) -> Check:
    data = data_dir.resolve()
    problems = []
    salt = salt_dir.resolve() if salt_dir else None
    if salt and (salt.is_relative_to(data) or data.is_relative_to(salt)):
        problems.append(f"the salt dir {salt_dir} and the data dir {data_dir} overlap")
    if scan.salt_sized:
        problems.append(
            f"the data dir holds {counted(scan.salt_sized, 'file')} of 32 bytes, a salt's size"
        )
    if scan.salt_copies:
        problems.append(f"the data dir holds a current salt in {counted(scan.salt_copies, 'file')}")
    if problems:
        return Check(P3, False, "; ".join(problems) + ".")
    return Check(
        P3,
        True,
        (
            "the salt dir lies outside the data dir, and no file there"
            if salt_dir
            else "the salts are in the shared salt store, and no file in the data dir"
        )
        + " has a salt's size (32 bytes)"
        " or holds a current salt as bytes, hex or base64"
        f" ({counted(scan.files, 'file')} against {counted(salts, 'salt')}).",
    )
