"""The security signals stay bounded whatever a sender does, and minutes leave after 30 days
while their hours stay."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from aggregator.jobs import fold_signal_minutes
from aggregator.queries import signals
from tests.harness import in_process
from tests.servers import ManualClock, utc

NOW = utc(2026, 3, 10, 12, 0, 10)


def test_forged_hosts_and_names_cannot_grow_the_table_and_minutes_fold(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    with in_process(tmp_path, clock=clock, HUSH_RATE_LIMIT="0") as hush:
        for n in range(200):
            hush.event(
                {"n": f"name-{n}", "u": f"https://h{n}.forged.example/", "d": "nosuch.example"},
                ip=f"198.51.100.{n % 250 + 1}",
            )
        hush.load()
        start, end = datetime(2026, 3, 10), datetime(2026, 3, 11)
        rows = signals.unknown_values(hush.app.store, [0], start, end)
        with hush.app.store.read() as cur:
            count = cur.execute(
                "SELECT kind, count(DISTINCT value) FROM unknown_values GROUP BY kind"
            ).fetchall()
        assert sorted(count) == [("host", 51), ("name", 51)]  # 50 values and (other)
        # (rows of several loads are summed by the queries)
        assert ("host", "(other)", 150) in rows and ("name", "(other)", 150) in rows
        clock.advance(31 * 86400)
        assert fold_signal_minutes(hush.app.store, clock) > 0
        with hush.app.store.read() as cur:
            assert cur.execute("SELECT count(*) FROM intake_minutes").fetchone() == (0,)
            hours = cur.execute(
                "SELECT sum(n) FROM intake_counts WHERE reason = 'unknown_site'"
            ).fetchone()
        assert hours == (200,)
        assert fold_signal_minutes(hush.app.store, clock) == 0  # safe to run twice
