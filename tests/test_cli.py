"""``hush sites`` and ``hush keys``: the same answers with or without a running server."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.servers import ProcessServer

pytestmark = pytest.mark.server


def run_admin_story(hush: ProcessServer) -> None:
    assert hush.cli("sites", "list").stdout.strip() == "no sites yet"
    added = hush.cli("sites", "add", "Example.COM", "--timezone", "Europe/Berlin")
    assert added.stdout.strip() == (
        "added example.com (timezone Europe/Berlin, dnt honour, hash routing off)"
    )
    changed = hush.cli(
        "sites",
        "set",
        "example.com",
        "--dnt",
        "ignore",
        "--hash-routing",
        "on",
        "--timezone",
        "America/New_York",
    )
    assert "timezone America/New_York, dnt ignore, hash routing on" in changed.stdout
    hush.cli("sites", "add", "second.example")
    listing = hush.cli("sites", "list").stdout.splitlines()
    assert listing[0].split() == ["domain", "timezone", "dnt", "hash", "routing"]
    assert listing[1].split() == ["example.com", "America/New_York", "ignore", "on"]
    assert listing[2].split() == ["second.example", "UTC", "honour", "off"]

    for args, message in [
        (("sites", "add", "example.com"), "example.com is already a site"),
        (("sites", "add", "not a domain"), "is not a domain name"),
        (("sites", "add", "https://x.example/path"), "is not a domain name"),
        (("sites", "add", "x.example", "--timezone", "Mars/Olympus"), "is not a time zone"),
        (("sites", "set", "missing.example", "--dnt", "ignore"), "missing.example is not a site"),
        (("keys", "revoke", "nobody"), "no active key"),
    ]:
        failed = hush.cli(*args, check=False)
        assert failed.returncode == 1, args
        assert message in failed.stderr, (args, failed.stderr)

    created = hush.cli("keys", "add", "--name", "grafana").stdout.splitlines()
    key = created[-1]
    assert key.startswith("hush_") and len(key) > 40 and " " not in key
    keys = hush.cli("keys", "list").stdout
    assert "grafana" in keys and "active" in keys and key not in keys
    assert "revoked key 1 (grafana)" in hush.cli("keys", "revoke", "grafana").stdout
    assert "revoked" in hush.cli("keys", "list").stdout

    assert "removed second.example" in hush.cli("sites", "remove", "second.example").stdout
    assert "second.example" not in hush.cli("sites", "list").stdout


def test_admin_commands_work_on_the_file_when_no_server_runs(tmp_path: Path) -> None:
    hush = ProcessServer(tmp_path)
    run_admin_story(hush)
    snapshot = (hush.data_dir / "sites.json").read_text()
    assert "example.com" in snapshot and "second.example" not in snapshot


def test_admin_commands_go_through_the_running_server(tmp_path: Path) -> None:
    hush = ProcessServer(tmp_path).start()
    try:
        run_admin_story(hush)
        # The running collector picked the changes up at once.
        assert (
            hush.event(
                {"n": "pageview", "u": "https://example.com/", "d": "example.com"}
            ).status_code
            == 202
        )
        assert (
            hush.event(
                {"n": "pageview", "u": "https://second.example/", "d": "second.example"}
            ).headers["x-hush-dropped"]
            == "unknown_site"
        )
    finally:
        hush.stop()
        hush.cleanup()


def test_api_keys_are_stored_only_as_hashes(tmp_path: Path) -> None:
    hush = ProcessServer(tmp_path)
    key = hush.cli("keys", "add", "--name", "ci").stdout.splitlines()[-1]
    for path in hush.data_dir.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes()
            assert key[5:].encode() not in path.read_bytes()


def test_the_admin_channel_is_a_socket_only_hushs_user_can_open_never_an_http_route(
    server: ProcessServer,
) -> None:
    import httpx

    for path in ("/_admin", "/admin"):
        response = httpx.post(
            f"{server.base_url}{path}", json={"op": "keys.add", "args": {"name": "intruder"}}
        )
        assert response.status_code in (404, 405)
    assert "intruder" not in server.cli("keys", "list").stdout
    socket_file = server.data_dir / "admin.sock"
    assert stat.S_ISSOCK(socket_file.stat().st_mode)
    assert socket_file.stat().st_mode & 0o777 == 0o600
    assert (server.data_dir / "server.json").stat().st_mode & 0o077 == 0
    assert "token" not in (server.data_dir / "server.json").read_text()


def test_a_file_written_by_a_newer_duckdb_is_refused_with_the_command_that_converts_it(
    tmp_path: Path,
) -> None:
    hush = ProcessServer(tmp_path)
    hush.data_dir.mkdir(parents=True, exist_ok=True)
    # The main header of a file DuckDB 2.0.1 wrote (storage version 999), which 1.5 cannot read.
    header = bytes.fromhex(
        "1531bf3ff700c5094455434be7030000000000000000000000000000000000000000000000000000"
        "00000000000000000000000076322e302e3100000000000000000000000000000000000000000000"
        "00000000386437383131346539300000000000000000000000000000000000000000000000000000"
        "000000005ebed3d4f1f52d30fdabd7e19ad64de1"
    )
    (hush.data_dir / "hush.duckdb").write_bytes(header.ljust(4096 * 3, b"\0"))
    done = hush.cli("sites", "list", check=False)
    assert done.returncode == 1
    assert "newer DuckDB" in done.stderr and "scripts/convert-store" in done.stderr
