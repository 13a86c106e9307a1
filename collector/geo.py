"""Country of an address, looked up offline before the address is dropped (coarse on purpose).

By default the lookup reads the country data shipped in the geoip2fast package (MaxMind's
GeoLite2 data, see the README's attribution), not through geoip2fast itself: that loads its
788,735 networks into Python lists (~46 MiB per process). Once per installed data file it is
rewritten, in a child process, into a compact file of flat arrays (~8 MiB: network starts,
prefix lengths, country indexes) that every process memory-maps read-only: a lookup touches
a few pages, the kernel shares them between ``hush serve`` and ``hush collect`` processes, and
the answers are geoip2fast's own. ``HUSH_GEOIP_DB`` names a MaxMind-format ``.mmdb`` file to
use instead, also memory-mapped. Only the ISO country code is kept: never a region, a city or a
network.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import mmap
import os
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger("hush.geo")

UNKNOWN = ""
SOURCE = "geoip2fast-ipv6.dat.gz"  # IPv4 and IPv6 networks together
FORMAT = b"HUSHGEO2"
CHUNK = 256  # networks per chunk of the in-memory top index: a lookup reads one chunk's pages
_HEADER = struct.Struct("=8sQQ")  # magic, IPv4 networks, IPv6 networks
_MAX_V4 = (1 << 32) - 1
_LOW = (1 << 64) - 1


class CountryLookup:
    """Country codes of addresses; construct once per process (opening the file is ~1 ms)."""

    def __init__(
        self,
        database: Path | None = None,
        *,
        cache_dir: Path | None = None,
        fallback_dir: Path | None = None,
    ) -> None:
        """``cache_dir`` (default ``default_cache_dir()``) keeps the compact file; when it
        cannot be written, ``fallback_dir`` (the data dir) does."""
        self._mmdb: Any = None
        if database is not None:
            import maxminddb

            self._mmdb = maxminddb.open_database(str(database), maxminddb.MODE_MMAP_EXT)
            self.mapped_bytes = database.stat().st_size
            return
        try:
            path = compact_file(cache_dir or default_cache_dir())
        except OSError:
            if fallback_dir is None:
                raise
            path = compact_file(fallback_dir)
        table = CountryTable(path)
        self.mapped_bytes = table.size  # file-backed pages, shared between processes
        self.country = table.country  # type: ignore[method-assign]  # no extra frame per event

    def country(self, address: str) -> str:
        """The ISO 3166-1 alpha-2 code of ``address``, or "" when unknown or private."""
        try:
            record = self._mmdb.get(address)
        except ValueError:
            return UNKNOWN
        if not isinstance(record, dict):
            return UNKNOWN
        country = record.get("country") or record.get("registered_country") or {}
        code = country.get("iso_code", UNKNOWN) if isinstance(country, dict) else UNKNOWN
        ok = isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha()
        return code if ok else UNKNOWN


class CountryTable:
    """The compact file, memory-mapped: sorted network starts, one chunk index in memory."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as fh:
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self.size = len(self._map)
        magic, n4, n6 = _HEADER.unpack_from(self._map, 0)
        if magic != FORMAT:
            raise ValueError(f"{path} is not a hush country file")
        view = memoryview(self._map)
        offset = _HEADER.size
        self._codes = [
            bytes(view[offset + 2 * i : offset + 2 * i + 2]).decode("latin-1").strip("\0")
            for i in range(256)
        ]
        # The intake writes a code into the spool line unescaped: two letters or nothing.
        if not all(_is_code(code) for code in self._codes):
            raise ValueError(f"{path} holds a country code that is not two letters")
        offset += 512

        def take(fmt: Literal["I", "B", "Q"], count: int) -> memoryview[int]:
            nonlocal offset
            size = struct.calcsize(fmt) * count
            part = view[offset : offset + size].cast(fmt)
            offset += -(-size // 8) * 8
            return part

        self._v4_start, self._v4_len, self._v4_code = take("I", n4), take("B", n4), take("B", n4)
        self._v6_high, self._v6_low = take("Q", n6), take("Q", n6)
        self._v6_len, self._v6_code = take("B", n6), take("B", n6)
        self._n4, self._n6 = n4, n6
        # Every CHUNK-th start, as Python ints (~3,100 of them, the only part on the heap), from
        # sections of their own: reading them from the arrays would touch every page.
        t4, t6 = -(-n4 // CHUNK), -(-n6 // CHUNK)
        self._v4_top = list(take("I", t4))
        self._v6_top = [
            (h << 64) | low for h, low in zip(take("Q", t6), take("Q", t6), strict=True)
        ]

    def country(self, address: str) -> str:
        """The ISO 3166-1 alpha-2 code of ``address``, or "" when unknown or private."""
        try:
            if ":" in address:
                number = int.from_bytes(socket.inet_pton(socket.AF_INET6, address), "big")
            else:
                number = struct.unpack(">L", socket.inet_aton(address))[0]
        except (OSError, ValueError):
            return UNKNOWN
        if number <= _MAX_V4:
            chunk = bisect.bisect_right(self._v4_top, number) - 1
            if chunk < 0:
                return UNKNOWN
            lo = chunk * CHUNK
            found = bisect.bisect_right(self._v4_start, number, lo, min(lo + CHUNK, self._n4)) - 1
            span = 32 - self._v4_len[found]
            if number > self._v4_start[found] + (1 << span) - 1:
                return UNKNOWN
            return self._codes[self._v4_code[found]]
        chunk = bisect.bisect_right(self._v6_top, number) - 1
        if chunk < 0:
            return UNKNOWN
        lo = chunk * CHUNK
        hi = min(lo + CHUNK, self._n6)
        high, low = number >> 64, number & _LOW
        above = bisect.bisect_right(self._v6_high, high, lo, hi)
        same = bisect.bisect_left(self._v6_high, high, lo, above)
        found = (bisect.bisect_right(self._v6_low, low, same, above) if same < above else above) - 1
        start = (self._v6_high[found] << 64) | self._v6_low[found]
        if number > start + (1 << (128 - self._v6_len[found])) - 1:
            return UNKNOWN
        return self._codes[self._v6_code[found]]


def _is_code(code: str) -> bool:
    return code == "" or (len(code) == 2 and code.isascii() and code.isalpha())


def default_cache_dir() -> Path:
    """Where the compact file is kept: ``$XDG_CACHE_HOME/hush`` (else ``~/.cache/hush``)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if base else Path.home() / ".cache") / "hush"


def source_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("geoip2fast")
    if spec is None or spec.origin is None:
        raise RuntimeError("hush needs geoip2fast for its bundled country data")
    return Path(spec.origin).parent / SOURCE


def compact_file(cache_dir: Path) -> Path:
    """The compact file for the installed geoip2fast data, built first if missing."""
    source = source_path()
    stat = source.stat()
    key = hashlib.blake2b(
        f"{FORMAT!r} {source} {stat.st_size} {stat.st_mtime_ns} {sys.byteorder}".encode(),
        digest_size=8,
    ).hexdigest()
    path = cache_dir / f"countries-{key}.bin"
    if path.is_file():
        return path
    cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    log.info("building the compact country file %s from %s", path, source)
    # In a child process: the 788,735 networks as Python objects would stay in this heap.
    subprocess.run(
        [sys.executable, "-m", "collector.geo", str(source), str(path)], check=True, timeout=120
    )
    return path


def build(source: Path, path: Path) -> None:
    """Rewrite geoip2fast's data file into the compact file at ``path`` (atomically)."""
    import array
    import gzip
    import pickle

    with gzip.open(source, "rb") as fh:
        _version, _info, _total, database = pickle.load(fh)  # noqa: S301 (the package's own file)
    _index, names, first_ips, code_ids, net_lengths = database[:5]
    codes = [""]
    slot = {}
    for number, name in enumerate(names):
        code = name.split(":")[0]
        # geoip2fast: the first 16 names are reserved and private ranges, "99" is not found.
        if number < 16 or len(code) != 2 or not code.isalpha():
            slot[number] = 0
            continue
        if code not in codes:
            codes.append(code)
        slot[number] = codes.index(code)
    if len(codes) > 256:
        raise ValueError(f"{len(codes)} country codes do not fit in one byte")
    v4 = (array.array("I"), array.array("B"), array.array("B"))
    v6 = (array.array("Q"), array.array("Q"), array.array("B"), array.array("B"))
    for starts, lengths, ids in zip(first_ips, net_lengths, code_ids, strict=True):
        for start, length, code_id in zip(starts, lengths, ids, strict=True):
            if start <= _MAX_V4:
                v4[0].append(start)
                v4[1].append(length)
                v4[2].append(slot[code_id])
            else:
                v6[0].append(start >> 64)
                v6[1].append(start & _LOW)
                v6[2].append(length)
                v6[3].append(slot[code_id])
    out = bytearray(_HEADER.pack(FORMAT, len(v4[0]), len(v6[0])))
    out += b"".join(code.encode().ljust(2, b"\0") for code in codes).ljust(512, b"\0")
    v4_top = array.array("I", v4[0][::CHUNK])
    v6_top = (array.array("Q", v6[0][::CHUNK]), array.array("Q", v6[1][::CHUNK]))
    for part in (*v4, *v6, v4_top, *v6_top):
        data = part.tobytes()
        out += data + b"\0" * (-len(data) % 8)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".countries-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(out)
    os.chmod(temp, 0o644)
    os.replace(temp, path)


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
