"""The country lookup: the compact, memory-mapped file answers what geoip2fast answers from the
same data, holds little of the heap, and a file that could smuggle text into a spool line is
refused."""

from __future__ import annotations

import random
import socket
import struct
from pathlib import Path

import pytest

from collector.geo import CHUNK, FORMAT, CountryLookup, CountryTable, compact_file


@pytest.fixture(scope="module")
def countries(tmp_path_factory: pytest.TempPathFactory) -> CountryLookup:
    return CountryLookup(cache_dir=tmp_path_factory.mktemp("geo-cache"))


def _sample() -> list[str]:
    rnd = random.Random(14)
    v4 = [socket.inet_ntoa(struct.pack(">L", rnd.getrandbits(32))) for _ in range(3000)]
    v6 = [
        socket.inet_ntop(socket.AF_INET6, bytes([0x20 | rnd.getrandbits(1)]) + rnd.randbytes(15))
        for _ in range(3000)
    ]
    edges = ["0.0.0.0", "255.255.255.255", "::", "::1", "::1.2.3.4", "ffff:ffff::"]
    return [*v4, *v6, *edges]


def test_the_compact_file_answers_geoip2fasts_codes(countries: CountryLookup) -> None:
    from geoip2fast import GeoIP2Fast

    reference = GeoIP2Fast(verbose=False, geoip2fast_data_file="geoip2fast-ipv6.dat.gz")

    def expected(address: str) -> str:
        code = reference.lookup(address).country_code
        return code if isinstance(code, str) and len(code) == 2 and code.isalpha() else ""

    sample = _sample()
    answers = {address: countries.country(address) for address in sample}
    assert {a: c for a, c in answers.items() if c != expected(a)} == {}
    assert sum(1 for code in answers.values() if code) > 1000  # a real database, not all ""


@pytest.mark.parametrize(
    ("address", "code"),
    [
        pytest.param("8.8.8.8", "US", id="IPv4"),
        pytest.param("81.2.69.160", "GB", id="IPv4 in Europe"),
        pytest.param("2a00:1450:4001:82a::200e", "DE", id="IPv6"),
        pytest.param("192.0.2.1", "", id="documentation range"),
        pytest.param("10.1.2.3", "", id="private"),
        pytest.param("::1", "", id="loopback"),
        pytest.param("not an address", "", id="garbage"),
    ],
)
def test_known_addresses(countries: CountryLookup, address: str, code: str) -> None:
    assert countries.country(address) == code


def test_the_file_is_built_once_and_mapped_not_loaded(tmp_path: Path) -> None:
    path = compact_file(tmp_path)
    assert compact_file(tmp_path) == path  # the second process finds it
    table = CountryTable(path)
    assert table.size == path.stat().st_size > 1_000_000
    # On the heap: one start in CHUNK per family, not the ~790,000 networks.
    assert len(table._v4_top) + len(table._v6_top) < table.size // (4 * CHUNK)


def test_a_file_whose_codes_are_not_two_letters_is_refused(tmp_path: Path) -> None:
    path = compact_file(tmp_path)
    data = bytearray(path.read_bytes())
    assert data.startswith(FORMAT)
    header = len(FORMAT) + 16
    data[header + 2 : header + 4] = b'"}'  # the first real code, now JSON punctuation
    forged = tmp_path / "forged.bin"
    forged.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not two letters"):
        CountryTable(forged)
