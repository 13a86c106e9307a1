"""Visitor ids and daily salts (DESIGN.md P2, P3), on real files in a tmpfs directory."""

from __future__ import annotations

import multiprocessing
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from hashlib import blake2b
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.visitor import SaltStore, local_day_window, visitor_id
from tests.servers import ManualClock

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def salt_dir() -> Iterator[Path]:
    path = Path("/dev/shm") / f"hush-test-{uuid.uuid4().hex[:12]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_visitor_id_is_the_documented_keyed_hash() -> None:
    salt = bytes(range(32))
    expected = blake2b(b"example.com\x00203.0.113.5\x00Mozilla/5.0", key=salt, digest_size=8)
    assert visitor_id(salt, "example.com", "203.0.113.5", "Mozilla/5.0") == int.from_bytes(
        expected.digest(), "big"
    )
    assert visitor_id(salt, "example.org", "203.0.113.5", "Mozilla/5.0") != visitor_id(
        salt, "example.com", "203.0.113.5", "Mozilla/5.0"
    )


def test_one_salt_per_time_zone_and_local_day(salt_dir: Path) -> None:
    clock = ManualClock(datetime(2026, 6, 1, 23, 30, tzinfo=ZoneInfo("UTC")))
    salts = SaltStore(salt_dir, clock)
    day_utc, salt_utc = salts.current("UTC")
    day_berlin, salt_berlin = salts.current("Europe/Berlin")
    assert str(day_utc) == "2026-06-01" and str(day_berlin) == "2026-06-02"
    assert salt_utc != salt_berlin
    assert sorted(p.name for p in salt_dir.iterdir()) == [
        "Europe%2FBerlin@2026-06-02",
        "UTC@2026-06-01",
    ]
    assert salts.current("UTC") == (day_utc, salt_utc)


def test_a_salt_ends_exactly_at_local_midnight_also_on_daylight_saving_days(
    salt_dir: Path,
) -> None:
    # 2026-03-29 is 23 hours long in Berlin.
    day, start, end = local_day_window(BERLIN, datetime(2026, 3, 29, 12, tzinfo=BERLIN).timestamp())
    assert (end - start) / 3600 == 23
    clock = ManualClock(datetime(2026, 3, 29, 23, 59, 59, tzinfo=BERLIN))
    salts = SaltStore(salt_dir, clock)
    _, before = salts.current("Europe/Berlin")
    clock.advance(1)
    day, after = salts.current("Europe/Berlin")
    assert str(day) == "2026-03-30" and after != before
    assert [p.name for p in salt_dir.iterdir()] == ["Europe%2FBerlin@2026-03-30"]


def test_sweeping_deletes_every_salt_whose_day_is_over(salt_dir: Path) -> None:
    clock = ManualClock(datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("UTC")))
    salts = SaltStore(salt_dir, clock)
    salts.current("UTC")
    salts.current("Asia/Tokyo")
    clock.set(datetime(2026, 6, 2, 0, 0, 1, tzinfo=ZoneInfo("UTC")))  # Tokyo's day ended first
    removed = salts.sweep()
    assert sorted(p.name for p in removed) == ["Asia%2FTokyo@2026-06-01", "UTC@2026-06-01"]
    assert list(salt_dir.iterdir()) == []


def _salt_in_a_new_process(args: tuple[str, float]) -> bytes:
    directory, now = args

    class Fixed:
        def now(self) -> float:
            return now

    return SaltStore(Path(directory), Fixed()).current("UTC")[1]


def test_processes_that_need_a_salt_at_once_all_get_the_same_one(salt_dir: Path) -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("UTC")).timestamp()
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        salts = pool.map(_salt_in_a_new_process, [(str(salt_dir), now)] * 32)
    assert len(set(salts)) == 1
    assert [p.name for p in salt_dir.iterdir()] == ["UTC@2026-06-01"]


def test_a_salt_left_behind_by_a_dying_process_is_swept(salt_dir: Path) -> None:
    clock = ManualClock(datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("UTC")))
    salts = SaltStore(salt_dir, clock)
    orphan = salt_dir / ".UTC@2026-06-01.4242.deadbeef"
    orphan.write_bytes(bytes(32))
    assert salts.sweep() == []  # it may still be in use, just created
    clock.advance(120)
    import os

    os.utime(orphan, (clock.now() - 120, clock.now() - 120))
    assert salts.sweep() == [orphan]
