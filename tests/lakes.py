"""The suite's lakes: each test (or module) that runs hush on a DuckLake gets a schema of its
own in the suite's one PostgreSQL database and a data directory of its own, so lakes never
meet; ``stored_bytes`` is everything a lake keeps at rest, for the tests that look for a
marker there."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aggregator.store import Store

_COUNTER = itertools.count()


def lake_env(request: pytest.FixtureRequest, root: Path, **extra: str) -> dict[str, str]:
    """``HUSH_*`` settings for a new, empty lake (the services start on first use)."""
    services: Any = request.getfixturevalue("lake_services")
    schema = f"t{os.getpid()}_{next(_COUNTER)}"
    return {
        **services.env,
        "HUSH_STORE": "ducklake",
        "HUSH_LAKE_SCHEMA": schema,
        "HUSH_LAKE_DATA": str(root / "lake-data"),
        "HUSH_LAKE_COMMIT_INTERVAL": "1",
        **extra,
    }


def stored_bytes(store: Store) -> bytes:
    """What the store holds at rest: the file; or every file under a lake's data directory and
    every row of its catalog's and its admin tables (as PostgreSQL prints them)."""
    if not store.lake:
        store.checkpoint()
        return store.path.read_bytes()
    config: Any = store.config  # type: ignore[attr-defined]
    if config.data.startswith("s3://"):
        found = [bucket_bytes(config)]
    else:
        found = [p.read_bytes() for p in sorted(Path(config.data).rglob("*")) if p.is_file()]
    with psycopg.connect(config.catalog, autocommit=True) as pg:
        tables = pg.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema IN (%s, %s)",
            (config.schema, config.schema + "_lake"),
        ).fetchall()
        for schema, table in tables:
            rows = pg.execute(f'SELECT t::text FROM "{schema}"."{table}" t').fetchall()  # noqa: S608
            found.extend(str(row[0]).encode() for row in rows)
    return b"\n".join(found)


def bucket_bytes(config: Any) -> bytes:
    """Every object of the bucket a lake's ``config`` names (whatever their prefix), joined."""
    import boto3  # with moto, in the lake-test extra

    bucket = config.data.removeprefix("s3://").split("/", 1)[0]
    scheme = "https" if config.s3_use_ssl else "http"
    client = boto3.client(
        "s3",
        endpoint_url=f"{scheme}://{config.s3_endpoint}" if config.s3_endpoint else None,
        aws_access_key_id=config.s3_key_id,
        aws_secret_access_key=config.s3_secret,
        region_name=config.s3_region,
    )
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found.append(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return b"\n".join(found)
