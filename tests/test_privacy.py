"""The privacy notice, as tests: each promise hush makes to visitors fails a test when broken.

"Site analytics are anonymised, without per-user identifiers and without identifying individual
visitors; no third-party or advertising cookies." DESIGN.md §2 names the invariants P1-P6.
"""

from __future__ import annotations

import ipaddress
import stat
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import httpx
import pytest

from collector.visitor import is_tmpfs
from tests.servers import (
    CHROME_UA,
    SAFARI_IPHONE_UA,
    ManualClock,
    ProcessServer,
    ThreadServer,
    wait_until,
)

pytestmark = pytest.mark.server

VISITORS = [
    *(f"203.0.113.{n}" for n in range(10, 20)),
    *(f"198.51.100.{n}" for n in range(200, 205)),
    "2001:db8::17",
    "2001:db8:85a3::8a2e:370:7334",
    "::ffff:192.0.2.77",  # an IPv4-mapped IPv6 address: stored (never) as 192.0.2.77
]


def address_forms(address: str) -> list[bytes]:
    """Every way an address could reach a file: as text, packed bytes and integers."""
    ip = ipaddress.ip_address(address)
    forms = {address, str(ip), ip.exploded}
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
        forms |= {str(ip)}
    encoded = {form.encode() for form in forms} | {form.encode("utf-16-le") for form in forms}
    encoded |= {ip.packed, ip.packed[::-1], str(int(ip)).encode(), f"{int(ip):x}".encode()}
    return sorted(encoded)


def find_addresses_in_files(paths: Iterable[Path], addresses: list[str]) -> list[str]:
    found = []
    for path in paths:
        data = path.read_bytes()
        for address in addresses:
            for form in address_forms(address):
                if form in data:
                    found.append(f"{address} as {form!r} in {path}")
    return found


def find_addresses_in_tables(database: Path, addresses: list[str]) -> list[str]:
    """Look inside every column of every table: DuckDB compresses, so bytes alone would miss."""
    con = duckdb.connect(str(database), read_only=True)
    found = []
    try:
        columns = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
        ).fetchall()
        for table, column, data_type in columns:
            for address in addresses:
                ip = ipaddress.ip_address(address)
                if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                    ip = ip.ipv4_mapped
                if any(t in data_type for t in ("INT", "HUGEINT")) and "[]" not in data_type:
                    sql = f'SELECT count(*) FROM "{table}" WHERE "{column}" = $n'  # noqa: S608
                    hits = con.execute(sql, {"n": int(ip)}).fetchone()
                else:
                    sql = (
                        f'SELECT count(*) FROM "{table}"'  # noqa: S608
                        f' WHERE contains(CAST("{column}" AS VARCHAR), $a)'
                        f' OR contains(CAST("{column}" AS VARCHAR), $b)'
                    )
                    hits = con.execute(sql, {"a": address, "b": str(ip)}).fetchone()
                if hits and hits[0]:
                    found.append(f"{address} in {table}.{column}")
    finally:
        con.close()
    return found


def test_no_client_address_reaches_any_file_table_or_log_line(tmp_path: Path) -> None:
    hush = ProcessServer(tmp_path, HUSH_LOG_LEVEL="debug", HUSH_RATE_LIMIT="3").start()
    try:
        hush.cli("sites", "add", "example.com")
        hush.add_key()
        for n, address in enumerate(VISITORS):
            hush.pageview(
                f"https://example.com/articles/{n}?utm_source=news&note={address}",
                ip=address,
                referrer=f"https://{address}/admin?from={address}",
                headers={"Cookie": f"session={address}; hush_uid={address}"},
            )
        # The address in places an attacker controls: path, referrer, UTM, props, name.
        crafted = VISITORS[0]
        hush.event(
            {
                "n": f"signup {crafted}",
                "u": f"https://example.com/debug/{crafted}?utm_campaign={crafted}#{crafted}",
                "d": "example.com",
                "r": f"https://example.org/{crafted}",
                "p": {"from": crafted, crafted: "x"},
            },
            ip=crafted,
        )
        # Requests that are refused or dropped, each naming an address somewhere.
        assert (
            hush.event(b'{"u": "https://example.com/' + crafted.encode(), ip=crafted).status_code
            == 400
        )
        assert hush.event({"n": "pageview"}, ip=crafted).status_code == 400
        assert (
            hush.event(
                {"n": "pageview", "u": f"javascript:alert('{crafted}')", "d": "example.com"},
                ip=crafted,
            ).status_code
            == 400
        )
        assert (
            hush.event(
                "x", ip=crafted, content_type="application/x-www-form-urlencoded"
            ).status_code
            == 415
        )
        assert hush.event(b"x" * 40_000, ip=crafted).status_code == 413
        dropped = hush.event(
            {"n": "pageview", "u": "https://example.com/", "d": "example.com"},
            ip=f"{crafted}, not-an-address",
        )
        assert dropped.headers["x-hush-dropped"] == "bad_forwarded_for"
        accepted = 0
        for _ in range(10):  # VISITORS[1] is over HUSH_RATE_LIMIT=3 within a minute
            last = hush.event(
                {"n": "pageview", "u": "https://example.com/", "d": "example.com"},
                ip=VISITORS[1],
            )
            if "x-hush-dropped" in last.headers:
                break
            accepted += 1
        assert last.headers["x-hush-dropped"] == "rate_limited"
        hush.wait_for_events(len(VISITORS) + 1 + accepted)
        assert hush.metric("visitors", site_id="example.com", period="day") == len(VISITORS)
    finally:
        hush.stop()

    data_files = [p for p in hush.data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "hush.duckdb" for p in data_files)
    found = find_addresses_in_files([*data_files, hush.output], VISITORS)
    found += find_addresses_in_tables(hush.data_dir / "hush.duckdb", VISITORS)
    assert found == []
    hush.cleanup()


def test_the_collector_sets_no_cookie_and_ignores_the_ones_it_is_sent(
    server: ProcessServer,
) -> None:
    responses = [
        server.pageview("https://example.com/", headers={"Cookie": "a=1"}),
        server.pageview("https://example.com/", headers={"Cookie": "a=2; hush=someone-else"}),
        server.event({"n": "pageview"}),
        server.event("{}", content_type="image/png"),
        server.event({"n": "pageview", "u": "https://example.com/", "d": "nobody.example"}),
        httpx.options(f"{server.base_url}/api/event", headers={"Origin": "https://example.com"}),
    ]
    assert [r.status_code for r in responses] == [202, 202, 400, 415, 202, 204]
    for response in responses:
        assert "set-cookie" not in response.headers
    server.wait_for_events(2)
    # Different cookies, same visitor: the cookie never reaches the visitor id.
    assert server.metric("visitors", site_id="example.com", period="day") == 1


def test_a_visitor_is_a_keyed_hash_of_site_address_and_agent_for_one_day(
    server: ProcessServer,
) -> None:
    server.cli("sites", "add", "other.example")
    server.pageview("https://example.com/", ip="203.0.113.20")
    server.pageview("https://example.com/pricing", ip="203.0.113.20")  # the same visitor
    server.pageview("https://example.com/", ip="203.0.113.20", user_agent=SAFARI_IPHONE_UA)
    server.pageview("https://example.com/", ip="::ffff:203.0.113.21")
    server.pageview("https://example.com/", ip="203.0.113.21")  # the same, IPv4-mapped or not
    server.pageview("https://other.example/", domain="other.example", ip="203.0.113.20")
    server.wait_for_events(5)
    assert server.metric("visitors", site_id="example.com", period="day") == 3
    server.stop()
    con = duckdb.connect(str(server.data_dir / "hush.duckdb"), read_only=True)
    ids = con.execute(
        "SELECT site_id, path, visitor FROM events WHERE path = '/' ORDER BY ts"
    ).fetchall()
    con.close()
    first_site, other_site = ids[0], ids[-1]
    assert first_site[0] != other_site[0]
    # Same address and agent on another site: another id, so sites cannot be linked.
    assert first_site[2] != other_site[2]
    assert all(0 <= visitor < 2**64 for _, _, visitor in ids)


def test_salts_live_on_tmpfs_apart_from_the_data_and_never_reach_it(server: ProcessServer) -> None:
    server.pageview("https://example.com/")
    server.wait_for_events(1)
    salts = [p for p in server.salt_dir.iterdir() if not p.name.startswith(".")]
    assert [p.name for p in salts] == [f"UTC@{datetime.now(ZoneInfo('UTC')).date()}"]
    assert stat.S_IMODE(server.salt_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(salts[0].stat().st_mode) == 0o600
    assert is_tmpfs(server.salt_dir)
    salt = salts[0].read_bytes()
    assert len(salt) == 32
    server.stop()
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            assert salt not in path.read_bytes(), f"the salt reached {path}"
            assert salt.hex().encode() not in path.read_bytes()


def test_a_salt_is_deleted_at_the_sites_local_midnight(
    clocked_server: ThreadServer, clock: ManualClock
) -> None:
    hush = clocked_server
    hush.cli("sites", "set", "example.com", "--timezone", "Pacific/Auckland")
    zone = ZoneInfo("Pacific/Auckland")
    clock.set(datetime(2026, 3, 10, 23, 59, 0, tzinfo=zone))
    hush.pageview("https://example.com/", ip="203.0.113.30")
    salt = hush.salt_dir / "Pacific%2FAuckland@2026-03-10"
    assert salt.exists()

    clock.set(datetime(2026, 3, 10, 23, 59, 59, tzinfo=zone))
    hush.pageview("https://example.com/", ip="203.0.113.30")
    assert salt.exists()

    clock.set(datetime(2026, 3, 11, 0, 0, 0, tzinfo=zone))
    wait_until(lambda: not salt.exists(), timeout=3, what="the expired salt to be deleted")
    assert [p.name for p in hush.salt_dir.iterdir()] == []

    # The same person after midnight gets a new id: the two days cannot be linked.
    hush.pageview("https://example.com/", ip="203.0.113.30")
    assert (hush.salt_dir / "Pacific%2FAuckland@2026-03-11").exists()
    hush.wait_for_events(1)
    with hush.app.store.read() as cur:
        rows = cur.execute(
            "SELECT day, count(DISTINCT visitor) FROM events GROUP BY day"
        ).fetchall()
        ids = cur.execute("SELECT DISTINCT visitor FROM events").fetchall()
    assert sorted(rows) == [(datetime(2026, 3, 10).date(), 1), (datetime(2026, 3, 11).date(), 1)]
    assert len(ids) == 2


def test_global_privacy_control_is_always_honoured(server: ProcessServer) -> None:
    server.cli("sites", "set", "example.com", "--dnt", "ignore")
    response = server.event(
        {"n": "pageview", "u": "https://example.com/", "d": "example.com"},
        headers={"Sec-GPC": "1"},
    )
    assert response.status_code == 202
    assert response.headers["x-hush-dropped"] == "gpc"
    server.pageview("https://example.com/counted")
    server.wait_for_events(1)


def test_do_not_track_is_honoured_unless_the_site_turns_it_off(server: ProcessServer) -> None:
    server.cli("sites", "add", "ignores-dnt.example")
    server.cli("sites", "set", "ignores-dnt.example", "--dnt", "ignore")
    dnt = {"DNT": "1"}
    honoured = server.event(
        {"n": "pageview", "u": "https://example.com/", "d": "example.com"}, headers=dnt
    )
    assert honoured.headers["x-hush-dropped"] == "dnt"
    kept = server.pageview(
        "https://ignores-dnt.example/", domain="ignores-dnt.example", headers=dnt
    )
    assert "x-hush-dropped" not in kept.headers
    server.wait_for_events(1, site="ignores-dnt.example")
    assert server.metric("events", site_id="example.com", period="day") == 0


def test_what_a_browser_sends_is_scrubbed_before_it_is_stored(server: ProcessServer) -> None:
    server.pageview(
        "https://jane:hunter2@example.com/account/jane.doe%40mail.example/reset/"
        "9f86d081884c7d659a2feaa0c55ad015?token=abc&email=jane@mail.example"
        "&utm_source=Newsletter&utm_campaign=jane@mail.example#access_token=xyz",
        referrer="https://mail.example/inbox/jane@mail.example?session=123#msg",
    )
    server.wait_for_events(1)
    pages = server.results("breakdown", site_id="example.com", period="day", property="event:page")
    assert pages == [{"page": "/account/[email]/reset/[token]", "visitors": 1}]
    campaigns = server.results(
        "breakdown", site_id="example.com", period="day", property="visit:utm_campaign"
    )
    assert campaigns == [{"utm_campaign": "[email]", "visitors": 1}]
    referrers = server.results(
        "breakdown", site_id="example.com", period="day", property="visit:referrer"
    )
    assert referrers == [{"referrer": "mail.example/inbox/[email]", "visitors": 1}]
    server.stop()
    con = duckdb.connect(str(server.data_dir / "hush.duckdb"), read_only=True)
    row = con.execute("SELECT * FROM events").fetchone()
    con.close()
    stored = " ".join(map(str, row))
    for secret in ("jane", "hunter2", "access_token", "abc", "xyz", "session", "9f86d08188"):
        assert secret not in stored


def test_the_schema_is_the_complete_list_of_what_is_stored(server: ProcessServer) -> None:
    server.stop()
    con = duckdb.connect(str(server.data_dir / "hush.duckdb"), read_only=True)
    columns = {
        f"{table}.{column}"
        for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
        ).fetchall()
    }
    con.close()
    assert {c for c in columns if c.startswith("events.")} == {
        "events." + name
        for name in [
            "ts",
            "day",
            "site_id",
            "name",
            "hostname",
            "path",
            "referrer_host",
            "referrer_path",
            "source",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_content",
            "utm_term",
            "visitor",
            "props",
            "interactive",
            "scroll_depth",
            "engaged_ms",
            "browser",
            "browser_version",
            "os",
            "os_version",
            "device",
            "country",
            "channel",
        ]
    }
    for forbidden in ("ip", "address", "user_agent", "ua", "url", "query", "cookie"):
        assert not any(c.endswith("." + forbidden) for c in columns)


def test_the_address_is_taken_from_x_forwarded_for_only_behind_a_trusted_proxy(
    tmp_path: Path,
) -> None:
    # No trusted proxies: every request's visitor is the socket peer, whatever the header says.
    hush = ProcessServer(tmp_path, HUSH_TRUSTED_PROXIES="").start()
    try:
        hush.cli("sites", "add", "example.com")
        hush.add_key()
        for n in range(5):
            hush.pageview("https://example.com/", ip=f"203.0.113.{n}")
        hush.wait_for_events(5)
        assert hush.metric("visitors", site_id="example.com", period="day") == 1
    finally:
        hush.stop()
        hush.cleanup()


def test_a_new_day_starts_a_new_salt_even_without_traffic(
    clocked_server: ThreadServer, clock: ManualClock
) -> None:
    clocked_server.pageview("https://example.com/")
    assert len(list(clocked_server.salt_dir.iterdir())) == 1
    clock.advance(timedelta(days=1).total_seconds())
    wait_until(
        lambda: not list(clocked_server.salt_dir.iterdir()),
        timeout=3,
        what="yesterday's salt to go",
    )


def test_user_agent_alone_does_not_identify(server: ProcessServer) -> None:
    for n in range(3):
        server.pageview("https://example.com/", ip=f"198.51.100.{n}", user_agent=CHROME_UA)
    server.wait_for_events(3)
    assert server.metric("visitors", site_id="example.com", period="day") == 3


def test_hush_audit_proves_the_promises_on_a_live_installation(server: ProcessServer) -> None:
    server.pageview("https://example.com/")
    server.wait_for_events(1)
    audit = server.cli("audit", check=False)
    assert audit.returncode == 0, audit.stdout
    assert "All " in audit.stdout and "checks passed" in audit.stdout
    for promise in ("P1", "P2", "P3", "P4", "P6", "P8"):
        assert f"PASS  {promise}" in audit.stdout
    stray = server.data_dir / "notes.txt"
    stray.write_text("debug: request from 203.0.113.77\n")
    failed = server.cli("audit", check=False)
    assert failed.returncode == 1
    assert "FAIL  P1" in failed.stdout
    assert "203.0.113.77" not in failed.stdout
