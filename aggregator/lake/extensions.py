"""DuckDB's DuckLake, PostgreSQL and httpfs extensions, loaded from their PyPI wheels.

DuckDB looks for ``<dir>/<version>/<platform>/<name>.duckdb_extension``; the wheels (the `lake`
extra) carry DuckDB's own signed builds under another layout, so hush links them into a private
directory of that shape at start and turns automatic installs off: nothing is ever downloaded.
The PostgreSQL extension must be named ``postgres_scanner`` (DuckDB derives its entry point from
the file name)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import duckdb

# wheel package → (the file it ships, the name DuckDB loads it by)
WHEELS = {
    "duckdb_extension_ducklake": ("ducklake", "ducklake"),
    "duckdb_extension_postgres": ("postgres", "postgres_scanner"),
    "duckdb_extension_httpfs": ("httpfs", "httpfs"),
}


class ExtensionMissing(Exception):
    """A DuckDB extension the lake needs is not installed (the `lake` extra)."""


def extension_directory(root: Path) -> Path:
    """Lay out ``root`` as DuckDB's extension directory, linked to the installed wheels."""
    version = duckdb.__version__
    platform = duckdb.execute("PRAGMA platform").fetchone()
    assert platform is not None
    target = root / f"v{version}" / str(platform[0])
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for package, (shipped, loaded_as) in WHEELS.items():
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ExtensionMissing(
                f"{package} is not installed: a lake node needs the `lake` extra"
                " (scripts/install lake)"
            )
        found = sorted(Path(spec.origin).parent.rglob(f"{shipped}.duckdb_extension"))
        found = [path for path in found if f"v{version}" in path.parts] or found
        if not found:
            raise ExtensionMissing(f"{package} holds no {shipped}.duckdb_extension")
        link = target / f"{loaded_as}.duckdb_extension"
        if not (link.is_symlink() and Path(os.readlink(link)) == found[0]):
            link.unlink(missing_ok=True)
            link.symlink_to(found[0])
    return root
