"""What ``hush serve`` holds: DuckDB runs with the memory limit and threads it was given, and
/metrics says how much memory the process, DuckDB and each cache hold."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.harness import in_process


def _gauge(metrics: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def test_duckdb_gets_the_memory_limit_and_threads_of_the_settings(tmp_path: Path) -> None:
    with in_process(tmp_path, HUSH_DUCKDB_MEMORY_LIMIT="48MiB", HUSH_DUCKDB_THREADS="2") as hush:
        with hush.app.store.read() as cur:
            row = cur.execute(
                "SELECT current_setting('memory_limit'), current_setting('threads')"
            ).fetchone()
        assert row == ("48.0 MiB", 2)


def test_the_defaults_suit_a_small_machine(tmp_path: Path) -> None:
    with in_process(tmp_path) as hush:
        with hush.app.store.read() as cur:
            row = cur.execute(
                "SELECT current_setting('memory_limit'), current_setting('threads')"
            ).fetchone()
        assert row == ("32.0 MiB", 1)


def test_metrics_say_what_the_process_holds(tmp_path: Path) -> None:
    with in_process(tmp_path) as hush:
        hush.store_events(
            {"n": "pageview", "u": "https://example.com/a", "d": "example.com"},
            {"n": "pageview", "u": "https://example.com/b", "d": "example.com"},
        )
        metrics = hush.client.get("/metrics").text
    resident = _gauge(metrics, "hush_process_resident_memory_bytes")
    assert 20 * 2**20 < resident <= _gauge(metrics, "hush_process_peak_memory_bytes")
    assert _gauge(metrics, "hush_process_anonymous_memory_bytes") < resident
    assert _gauge(metrics, "hush_duckdb_memory_bytes") > 0  # the events just loaded
    assert _gauge(metrics, "hush_duckdb_temporary_bytes") >= 0
    assert _gauge(metrics, "hush_geo_mapped_bytes") > 1_000_000
    assert _gauge(metrics, "hush_prepared_cache_entries") == 2
    assert _gauge(metrics, "hush_pages_cache_entries") == 2
    assert _gauge(metrics, "hush_referrers_cache_entries") >= 1
    assert _gauge(metrics, "hush_agents_cache_entries") >= 1
    assert "(at most 8192)" in metrics
    assert _gauge(metrics, "hush_rate_limit_tracked_clients") == 1


def test_a_server_loads_no_tool_it_does_not_run() -> None:
    # The privacy audit (run on demand through the admin channel) and the demo's pyarrow
    # (~25 MiB) are imported when asked for, not by every server.
    probe = (
        "import sys; from hush.app import create_app; import hush.cli;"
        " print(sorted({m.split('.')[0] for m in sys.modules} & {'privacy_audit', 'pyarrow',"
        " 'demo'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["[]"]


def test_a_server_gives_back_the_large_buffers_it_frees() -> None:
    # glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB),
    # and its trim threshold to twice that: buffers of a few MiB then came from the heap, and
    # stayed resident once freed (under the ingest benchmark, 3.3 MiB more held at the end).
    probe = (
        "import os; from collector.process import harden_process; harden_process()\n"
        "def resident(): return int(open('/proc/self/statm').read().split()[1]) * os.sysconf("
        "'SC_PAGE_SIZE')\n"
        "block = bytearray(16 << 20); del block\n"  # mapped, then freed: the threshold rises
        "before = resident()\n"
        "buffers = [b'x' * (3 << 20) for _ in range(4)]; del buffers\n"
        "print(resident() - before)"
    )
    env = {k: v for k, v in os.environ.items() if "MALLOC" not in k.upper()}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    assert int(done.stdout) < 2**20, f"{int(done.stdout) / 2**20:.1f} MiB still resident"
