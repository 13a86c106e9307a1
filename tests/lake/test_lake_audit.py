"""``hush audit`` on a lake: a healthy one passes; a file the catalog does not know, or rows
inlined into the catalog, fail P8 (the engine review's §1.5)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from aggregator.rollups import roll_up_pending
from privacy_audit import Check, check_database, check_files
from tests.harness import Harness, in_process
from tests.lake.test_lake_store import TRAFFIC
from tests.lakes import lake_env


@pytest.fixture
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with in_process(tmp_path, **lake_env(request, tmp_path)) as hush:
        hush.store_events(*TRAFFIC)
        roll_up_pending(hush.app.store, hush.app.admin_context.clock)
        yield hush


def audit(hush: Harness) -> list[Check]:
    settings = hush.app.settings
    checks = check_database(hush.app.store, retention_days=30, today=date.today(), now=time.time())
    return checks + check_files(
        data_dir=settings.data_dir,
        salt_dir=settings.salt_dir,
        timezones={"UTC"},
        now=time.time(),
        lake_data=Path(settings.lake_data),
    )


def failed(checks: list[Check]) -> list[str]:
    return [check.detail for check in checks if not check.passed]


def test_a_healthy_lake_passes(lake: Harness) -> None:
    checks = audit(lake)
    assert failed(checks) == []
    details = " ".join(check.detail for check in checks)
    for said in ("inlined", "the catalog lists", "snapshot", "min/max", "events.visitor"):
        assert said in details
    assert str(Path(lake.app.settings.lake_data)) in details  # its files were scanned too


def test_a_file_the_catalog_does_not_know_fails(lake: Harness) -> None:
    data = Path(lake.app.settings.lake_data)
    (data / "main" / "events" / "left-over.parquet").write_bytes(b"PAR1 deleted rows PAR1")
    (data / "stray.csv").write_text("path\n/secret\n")
    [finding] = failed(audit(lake))
    assert "2 files" in finding and "left-over.parquet" in finding and "stray.csv" in finding


def test_rows_inlined_into_the_catalog_fail(lake: Harness) -> None:
    store: Any = lake.app.store
    with store.raw_cursor() as cur:
        cur.execute("CALL lake.set_option('data_inlining_row_limit', 10)")
    with store.write() as cur:
        cur.execute("INSERT INTO lake.main.events SELECT * FROM lake.main.events LIMIT 3")
    [finding] = failed(audit(lake))
    assert "inlined" in finding and "events (3 rows)" in finding
