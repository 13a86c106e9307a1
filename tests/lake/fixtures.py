"""``lake_services``: PostgreSQL, moto's S3 server and Redis for the whole session.

Started once (``tests.lake.services``, which installs what is missing, never skips), stopped at
the end of the session, also when a test fails or the run is interrupted.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.lake import services


@dataclass(frozen=True, slots=True)
class LakeServices:
    root: Path  # pg/, redis/, moto.log, env and pids.json
    env: dict[str, str]  # the HUSH_* settings of a node on these services (see services.start)

    @property
    def catalog(self) -> str:
        """The libpq connection string of the ``hush`` database (HUSH_LAKE_CATALOG)."""
        return self.env["HUSH_LAKE_CATALOG"]

    @property
    def redis_url(self) -> str:
        """``redis://127.0.0.1:<port>/0`` (HUSH_SALT_STORE)."""
        return self.env["HUSH_SALT_STORE"]

    @property
    def redis_dir(self) -> Path:
        """Redis's working directory: where a dump.rdb or an AOF would appear."""
        return self.root / "redis"

    def psql(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run ``sql`` (autocommit) in the ``hush`` database; its rows, or [] if it has none."""
        with psycopg.connect(self.catalog, autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="session")
def lake_services() -> Iterator[LakeServices]:
    # Not under pytest's basetemp: its parents are 0700 and PostgreSQL runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="hush-lake-"))
    try:
        env = services.start(root)
        yield LakeServices(root, env)
    finally:
        services.stop(root)
        shutil.rmtree(root, ignore_errors=True)
