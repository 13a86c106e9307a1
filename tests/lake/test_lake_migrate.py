"""``hush lake migrate`` moves an installation from its DuckDB file onto an empty lake: every
row, the same ids, the same Stats API answers, the audit chain intact; it refuses a lake that
holds anything and a file a running server holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aggregator import audit_log, sites
from aggregator.rollups import roll_up_pending
from hush.cli import main
from tests.harness import Harness, add_user, in_process
from tests.lake.test_lake_store import QUERIES
from tests.lakes import lake_env

ASKED = [
    *QUERIES,
    ("breakdown", {"property": "visit:device", "metrics": "visitors,bounce_rate"}),
    ("breakdown", {"property": "event:goal", "metrics": "visitors,events,conversion_rate"}),
    ("timeseries", {"metrics": "visitors,visit_duration", "interval": "month"}),
]


def answers(hush: Harness, span: dict[str, str]) -> list[object]:
    return [hush.results(endpoint, **span, **params) for endpoint, params in ASKED]


def migrate(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> int:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(["lake", "migrate", *args])


@pytest.fixture
def installation(tmp_path: Path) -> tuple[Path, dict[str, str], str, int, int]:
    """A file with demo traffic, users, a key, a goal, rolled-up days and audit entries:
    (its root, the Stats API span, the key, its largest site id, its audit entries)."""
    with in_process(tmp_path) as hush:
        made = hush.admin("demo", events=4000, days=6, site="demo.example")["demo"]
        add_user(hush, "ada@example.org", "admin")
        add_user(hush, "grace@example.org", "marketing", "demo.example")
        hush.admin("goals.add", site="demo.example", kind="event", target="Signup")
        key = hush.add_key()
        store = hush.app.store
        assert roll_up_pending(store, hush.app.admin_context.clock).days >= 4
        span = {
            "site_id": "demo.example",
            "period": "custom",
            "date": f"{made['first_day']},{made['last_day']}",
        }
        with store.read() as cur:
            row = cur.execute("SELECT max(id) FROM sites").fetchone()
        assert row is not None
        entries, broken = audit_log.verify(store)
        assert broken is None and entries >= 5
        before = answers(hush, span)
    (tmp_path / "answers").write_text(repr(before))
    return tmp_path, span, key, int(row[0]), entries


def test_a_file_moves_onto_a_lake_and_answers_the_same(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    installation: tuple[Path, dict[str, str], str, int, int],
) -> None:
    root, span, key, last_site, entries = installation
    lake = lake_env(request, root)
    data_dir = str(root / "data")
    assert migrate(monkeypatch, lake, "--data-dir", data_dir) == 0
    printed = capsys.readouterr().out
    assert "row counts: equal in all 18 tables" in printed
    assert "the lake answers as the file did" in printed, printed
    with in_process(root, site=None, **lake) as hush:
        hush.api_key = key  # the file's key: keys moved with their hashes
        after = answers(hush, span)
        assert repr(after) == (root / "answers").read_text()
        assert after[0]["visitors"]["value"] > 100
        store = hush.app.store
        checked, broken = audit_log.verify(store)
        assert broken is None and checked == entries + 1  # and the migration's own entry
        [last] = audit_log.entries(store, audit_log.Filters(), limit=1)
        assert (last.action, last.result) == ("lake.migrate", "ok")
        assert last.changes["rows"]["events"] == 4000
        hush.add_site("after.example")
        added = sites.find_site(store, "after.example")
        assert added is not None and added.id == last_site + 1
        hush.admin("users.add", email="new@example.org", role="security", password_hash="")
        with store.read() as cur:
            ids = cur.execute("SELECT email, id FROM users ORDER BY id").fetchall()
        assert ids[-1] == ("new@example.org", 3)
    # Migrating twice: the lake is not empty any more.
    assert migrate(monkeypatch, lake, "--data-dir", data_dir) == 1
    assert "is not empty" in capsys.readouterr().err


def test_a_file_a_server_holds_is_not_migrated(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    source = tmp_path / "data" / "hush.duckdb"
    source.parent.mkdir()
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(source)!r}); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            lake = lake_env(request, tmp_path)
            assert migrate(monkeypatch, lake, "--from", str(source)) == 1
            assert "stop hush serve first" in capsys.readouterr().err
        finally:
            holder.kill()
