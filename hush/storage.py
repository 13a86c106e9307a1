"""The store a process opens, by ``HUSH_STORE``: the embedded DuckDB file (the default) or a
node's view of a DuckLake."""

from __future__ import annotations

from aggregator.store import Store
from hush.settings import Settings


def open_store(settings: Settings, *, bounded: bool = True) -> Store:
    """The store ``settings`` name. ``bounded``: with the server's memory and thread limits
    (a one-off command takes DuckDB's defaults)."""
    memory = (settings.duckdb_memory_limit or None) if bounded else None
    threads = (settings.duckdb_threads or None) if bounded else None
    if settings.store == "ducklake":
        from aggregator.lake.store import LakeConfig, LakeStore

        config = LakeConfig(
            catalog=settings.lake_catalog,
            data=settings.lake_data,
            work_dir=settings.data_dir / "lake",
            schema=settings.lake_schema,
            s3_endpoint=settings.s3_endpoint,
            s3_key_id=settings.s3_key_id,
            s3_secret=settings.s3_secret,
            s3_region=settings.s3_region,
            s3_url_style=settings.s3_url_style,
            s3_use_ssl=settings.s3_use_ssl,
        )
        return LakeStore(config, memory_limit=memory, threads=threads)
    return Store(settings.database_path, memory_limit=memory, threads=threads)
