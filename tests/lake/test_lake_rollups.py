"""The rollup tests that hold on the embedded file hold on a lake, on the same traffic: every
rollup gives the numbers raw events give, and retention deletes what it promises (P8), its
marker found in no data file and no catalog row afterwards. (A file of its own, so that it runs
beside the file's, not after it.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.aggregator import test_rollups as on_the_file
from tests.lakes import lake_env
from tests.servers import ManualClock, ThreadServer

pytestmark = pytest.mark.server

# In this order, as in their own file: retention last (it deletes the raw events).
test_rollups_give_the_numbers_raw_events_give = (
    on_the_file.test_rollups_give_the_numbers_raw_events_give
)
test_retention_deletes_old_raw_events_and_their_bytes_and_keeps_rollups = (
    on_the_file.test_retention_deletes_old_raw_events_and_their_bytes_and_keeps_rollups
)


@pytest.fixture(scope="module")
def traffic(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ThreadServer, ManualClock]]:
    root = tmp_path_factory.mktemp("lake-rollups")
    yield from on_the_file.serve_traffic(root, **lake_env(request, root))
