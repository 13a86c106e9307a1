"""The day's salt shared by the nodes of a lake (P3 across machines), against a real Redis.

Two ``RedisSaltStore`` objects stand for two nodes. Tests that stop, restart or reconfigure a
server use one of their own (``own_redis``); the rest use the session's ``lake_services``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis

from collector.clock import SystemClock
from collector.shared_salt import KEY_PREFIX, RECHECK_SECONDS, RedisSaltStore, UnsafeSaltStore
from collector.visitor import SALT_BYTES, SaltsUnavailable, local_day_window
from privacy_audit.files import check_files
from privacy_audit.salts import read_salt_store, salt_store_keeps_nothing
from tests.harness import in_process
from tests.lake import services
from tests.lake.fixtures import LakeServices
from tests.servers import ManualClock

ZONES = ("UTC", "Asia/Tokyo", "America/New_York", "Pacific/Auckland")


class OwnRedis:
    """A redis-server of the test's own, persistence off, that it may stop and restart."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.port, self.pid = services.start_redis(self.dir)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        services.kill({"redis-server": self.pid})

    def restart(self) -> None:
        self.stop()
        self.port, self.pid = services.start_redis(self.dir, self.port)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()
    assert sorted(p.name for p in server.dir.iterdir()) == ["log"], "Redis wrote a file"


def zone_far_from_midnight() -> str:
    """A zone whose local day has hours left on both sides, so no test crosses a midnight."""
    now = time.time()
    return next(z for z in ZONES if 1 <= datetime.fromtimestamp(now, ZoneInfo(z)).hour <= 22)


def now_clock() -> ManualClock:
    return ManualClock(datetime.now(ZoneInfo("UTC")))


def test_two_nodes_get_the_same_salt_for_a_days_zone(lake_services: LakeServices) -> None:
    one = RedisSaltStore(lake_services.redis_url, SystemClock())
    two = RedisSaltStore(lake_services.redis_url, SystemClock())
    zone = zone_far_from_midnight()
    day, salt = one.current(zone)
    assert two.current(zone) == (day, salt)
    assert len(salt) == SALT_BYTES
    other = next(z for z in ZONES if z != zone)
    assert one.current(other)[1] != salt  # each zone's day has a salt of its own


@pytest.mark.parametrize("zone", ZONES)
def test_a_salt_expires_exactly_when_its_local_day_ends(
    lake_services: LakeServices, zone: str
) -> None:
    store = RedisSaltStore(lake_services.redis_url, SystemClock())
    day, _ = store.current(zone)
    client = redis.Redis.from_url(lake_services.redis_url)
    key = f"{KEY_PREFIX}{zone.replace('/', '%2F')}@{day.isoformat()}"
    _, start, end = local_day_window(ZoneInfo(zone), time.time())
    assert client.pexpiretime(key) == int(end * 1000)  # PXAT: the end of that local day
    assert 0 < client.pttl(key) <= (end - start) * 1000


def test_a_server_that_snapshots_to_disk_is_refused(own_redis: OwnRedis) -> None:
    own_redis.client().config_set("save", "3600 1")
    with pytest.raises(UnsafeSaltStore, match=r"save is '3600 1'.*set save \"\""):
        RedisSaltStore(own_redis.url, SystemClock())
    own_redis.client().config_set("save", "")
    RedisSaltStore(own_redis.url, SystemClock())


def test_a_user_who_may_not_read_the_config_is_refused_with_what_to_allow(
    own_redis: OwnRedis,
) -> None:
    own_redis.client().acl_setuser(
        "node", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-config"]
    )
    url = f"redis://node:pw@127.0.0.1:{own_redis.port}/0"
    with pytest.raises(UnsafeSaltStore, match=r"CONFIG GET is refused.*\+config\|get") as refused:
        RedisSaltStore(url, SystemClock())
    assert "pw" not in str(refused.value)


def test_after_a_redis_restart_a_new_salt_starts_and_both_nodes_agree(
    own_redis: OwnRedis,
) -> None:
    clock = now_clock()
    one, two = RedisSaltStore(own_redis.url, clock), RedisSaltStore(own_redis.url, clock)
    zone = zone_far_from_midnight()
    day, before = one.current(zone)
    assert two.current(zone) == (day, before)
    own_redis.restart()
    clock.advance(RECHECK_SECONDS)
    day, after = two.current(zone)
    assert after != before
    assert one.current(zone) == (day, after)
    assert own_redis.client().get(f"{KEY_PREFIX}{zone.replace('/', '%2F')}@{day}") == after


def test_a_cached_salt_serves_its_day_while_redis_is_down_and_none_is_made_without_it(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    clock = now_clock()
    node = RedisSaltStore(own_redis.url, clock)
    zone = zone_far_from_midnight()
    other = next(z for z in ZONES if z != zone)
    known = node.current(zone)
    own_redis.stop()
    with caplog.at_level(logging.WARNING, "hush.salts"):
        for _ in range(3):
            clock.advance(RECHECK_SECONDS)
            assert node.current(zone) == known
    assert len(caplog.records) == 1
    assert "cannot be reached" in caplog.records[0].getMessage()
    with pytest.raises(SaltsUnavailable, match="no salt for this day"):
        node.current(other)
    with pytest.raises(SaltsUnavailable, match="cannot be reached"):
        RedisSaltStore(own_redis.url, clock)


def test_a_node_answers_503_while_it_has_no_salt_and_redis_is_down(
    tmp_path: Path, own_redis: OwnRedis
) -> None:
    with in_process(tmp_path, HUSH_SALT_STORE=own_redis.url) as node:
        own_redis.stop()
        response = node.event({"n": "pageview", "u": "https://example.com/", "d": "example.com"})
        assert response.status_code == 503
        assert response.json() == {"error": "the salt store does not answer"}


def test_the_sweep_deletes_a_past_days_salt_at_this_nodes_midnight(own_redis: OwnRedis) -> None:
    zone = zone_far_from_midnight()
    clock = now_clock()
    node = RedisSaltStore(own_redis.url, clock)
    day, _ = node.current(zone)
    assert node.sweep() == []
    clock.set(datetime.fromtimestamp(local_day_window(ZoneInfo(zone), clock.now())[2]))
    key = f"{KEY_PREFIX}{zone.replace('/', '%2F')}@{day}"
    assert node.sweep() == [key]
    assert own_redis.client().exists(key) == 0


def test_two_nodes_compute_the_same_visitor_and_write_no_salt_anywhere(
    tmp_path: Path, lake_services: LakeServices
) -> None:
    url = lake_services.redis_url
    body = {"n": "pageview", "u": "https://example.com/pricing", "d": "example.com"}
    visitors = []
    for name in ("node-a", "node-b"):  # own data dirs, own salt dirs, one salt store
        with in_process(tmp_path / name, HUSH_SALT_STORE=url) as node:
            node.store_events(body, ip="198.51.100.7")
            with node.app.store.read() as cursor:
                visitors += cursor.execute("SELECT visitor FROM events").fetchall()
            assert not node.app.settings.salt_dir.exists()  # the salt dir is not used
    assert len(visitors) == 2
    assert visitors[0] == visitors[1]
    store = read_salt_store(url)
    assert store.salts
    for salt, _ in store.salts.values():
        for path in tmp_path.rglob("*"):
            assert not path.is_file() or salt not in path.read_bytes(), path
        for path in lake_services.redis_dir.iterdir():
            assert salt not in path.read_bytes(), path
    assert salt_store_keeps_nothing(store).passed
    assert {p.name for p in lake_services.redis_dir.iterdir()} == {"log", "redis.pid"}


def test_the_audit_checks_the_store_instead_of_the_salt_dir(
    tmp_path: Path, own_redis: OwnRedis
) -> None:
    zone = zone_far_from_midnight()
    RedisSaltStore(own_redis.url, SystemClock()).current(zone)
    checks = check_files(
        data_dir=tmp_path / "data",
        salt_dir=tmp_path / "no-salt-dir",
        salt_store=own_redis.url,
        timezones={zone},
        now=time.time(),
    )
    p3 = [check for check in checks if check.promise.startswith("P3")]
    assert [check.passed for check in p3] == [True, True, True], p3
    assert "in memory only: save is empty, appendonly is no" in p3[1].detail
    assert f"{zone} " in p3[2].detail and "expiring at its local midnight" in p3[2].detail
    assert not any("salt dir" in check.detail for check in p3)


def test_the_audit_fails_once_a_snapshot_was_taken_though_save_is_empty(
    own_redis: OwnRedis,
) -> None:
    client = own_redis.client()
    RedisSaltStore(own_redis.url, SystemClock()).current("UTC")
    client.save()  # what save "" does not stop: deny it through the ACL (README)
    try:
        assert (own_redis.dir / "dump.rdb").exists()
        verdict = salt_store_keeps_nothing(read_salt_store(own_redis.url))
        assert not verdict.passed
        assert "1 snapshot since it started" in verdict.detail, verdict.detail
    finally:
        (own_redis.dir / "dump.rdb").unlink()
