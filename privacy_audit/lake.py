"""P8 on a lake (the engine review's §1.5): deleted rows must not live on in the catalog, in
old snapshots, in files the catalog forgot, or as old object versions in the bucket.

``check_lake`` runs where the lake store is open. The bucket's versioning is asked with one
signed ``GET ?versioning`` (SigV4, stdlib only): DuckDB's httpfs reads objects but cannot ask
a bucket for its settings, and boto3 is not a dependency of a node.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import psycopg

from aggregator.lake.store import LakeConfig, LakeStore
from privacy_audit.report import P8, Check, counted, listing

# A deletion's snapshot is expired in the same maintenance pass that deleted (retention then
# compacts); an hour's slack covers a long pass.
SNAPSHOT_SLACK_SECONDS = 3600.0


def check_lake(store: LakeStore, *, now: float, maintenance_interval: float) -> list[Check]:
    """Inlined rows, orphaned files, unexpired snapshots after deletions, the bucket's
    versioning, and the catalog's table-wide min/max values."""
    config = store.config
    metadata = f"{config.schema}_lake"  # a checked plain name (HUSH_LAKE_SCHEMA)
    oldest = datetime.fromtimestamp(now - maintenance_interval - SNAPSHOT_SLACK_SECONDS, UTC)
    with psycopg.connect(config.catalog, autocommit=True) as pg:
        checks = [_no_inlined_rows(pg, metadata), _old_snapshots_expired(pg, metadata, oldest)]
        bounds = pg.execute(
            f"SELECT t.table_name, c.column_name, c.column_type, s.min_value, s.max_value"  # noqa: S608
            f" FROM {metadata}.ducklake_table_column_stats s"
            f" JOIN {metadata}.ducklake_table t ON t.table_id = s.table_id"
            f" AND t.end_snapshot IS NULL"
            f" JOIN {metadata}.ducklake_column c ON c.table_id = s.table_id"
            f" AND c.column_id = s.column_id AND c.end_snapshot IS NULL"
            " WHERE s.min_value IS NOT NULL OR s.max_value IS NOT NULL"
        ).fetchall()
    with store.raw_cursor() as cur:
        checks.append(_no_orphaned_files(cur, config))
        checks.append(_bounds_of_live_rows(cur, bounds))
    if config.data.startswith("s3://"):
        checks.append(_bucket_keeps_no_versions(config))
    return checks


def _no_inlined_rows(pg: psycopg.Connection[Any], metadata: str) -> Check:
    tables = pg.execute(
        f"SELECT i.table_name, t.table_name FROM {metadata}.ducklake_inlined_data_tables i"  # noqa: S608
        f" LEFT JOIN {metadata}.ducklake_table t ON t.table_id = i.table_id"
    ).fetchall()
    found = []
    for inlined, table in tables:
        if not re.fullmatch(r"ducklake_inlined_data_\d+_\d+", inlined):
            continue
        row = pg.execute(f"SELECT count(*) FROM {metadata}.{inlined}").fetchone()  # noqa: S608
        if row and row[0]:
            found.append(f"{table or inlined} ({counted(int(row[0]), 'row')})")
    if found:
        return Check(
            P8,
            False,
            f"rows are inlined into the catalog for {listing(found)}: a DELETE leaves such rows'"
            " bytes in PostgreSQL (attach the lake with DATA_INLINING_ROW_LIMIT 0, as hush does)",
        )
    return Check(P8, True, "no row of any lake table is inlined into the catalog database.")


def _old_snapshots_expired(pg: psycopg.Connection[Any], metadata: str, oldest: datetime) -> Check:
    row = pg.execute(
        f"SELECT count(*) FROM {metadata}.ducklake_snapshot_changes c"  # noqa: S608
        f" JOIN {metadata}.ducklake_snapshot s ON s.snapshot_id = c.snapshot_id"
        " WHERE (c.changes_made LIKE '%%deleted_from_table%%'"
        "   OR c.changes_made LIKE '%%dropped_table%%')"
        "  AND s.snapshot_time < %s"
        f" AND EXISTS (SELECT 1 FROM {metadata}.ducklake_snapshot o"
        "   WHERE o.snapshot_id < s.snapshot_id)",
        (oldest,),
    ).fetchone()
    deletions = int(row[0]) if row else 0
    row = pg.execute(
        f"SELECT count(*) FROM {metadata}.ducklake_files_scheduled_for_deletion"  # noqa: S608
        " WHERE schedule_start < %s",
        (oldest,),
    ).fetchone()
    scheduled = int(row[0]) if row else 0
    since = f"since {oldest:%Y-%m-%d %H:%M} UTC"
    if deletions or scheduled:
        problems = []
        if deletions:
            problems.append(
                f"{counted(deletions, 'deletion')} from before then can still be undone by"
                " reading an older snapshot (snapshots are not expired)"
            )
        if scheduled:
            problems.append(f"{counted(scheduled, 'expired file')} are not deleted yet")
        return Check(
            P8,
            False,
            f"the lake was last cleaned up before {oldest:%Y-%m-%d %H:%M} UTC: "
            + "; ".join(problems)
            + ".",
        )
    return Check(
        P8,
        True,
        f"no snapshot from before a deletion is kept, and no expired file awaits deletion, {since}"
        " (time travel cannot bring deleted rows back).",
    )


def _no_orphaned_files(cur: Any, config: LakeConfig) -> Check:
    if config.data.startswith("s3://"):
        rows = cur.execute("SELECT file FROM glob($pattern)", {"pattern": config.data_path + "**"})
        stored = [str(r[0]) for r in rows.fetchall()]
    else:
        stored = [
            os.path.join(directory, name)
            for directory, _dirs, names in os.walk(config.data)
            for name in names
        ]
    # DuckLake's own list covers its Parquet files; it writes nothing else.
    orphans = {
        str(r[0])
        for r in cur.execute(
            "SELECT * FROM ducklake_delete_orphaned_files('lake', dry_run => true,"
            " cleanup_all => true)"
        ).fetchall()
    }
    orphans.update(path for path in stored if not path.endswith(".parquet"))
    where = config.data_path
    if orphans:
        shown = [path.removeprefix(where) for path in sorted(orphans)]
        return Check(
            P8,
            False,
            f"{counted(len(orphans), 'file')} under {where} the catalog does not know"
            f" ({listing(shown)}): left behind by a failed write or a cleanup that did not run,"
            " they may hold deleted events",
        )
    return Check(
        P8,
        True,
        f"every one of the {counted(len(stored), 'file')} under {where} is a file the catalog"
        " lists (no orphaned data).",
    )


def _bounds_of_live_rows(cur: Any, bounds: list[tuple[str, str, str, Any, Any]]) -> Check:
    """The catalog's table-wide min and max of each column: hush clears them after deletes
    (``LakeStore._forget_catalog_values``), and later inserts set them again; each one left
    must be a value some live row holds, never a deleted row's."""
    by_table: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind, low, high in bounds:
        name = '"' + column.replace('"', "") + '"'
        # The catalog writes a boolean's bounds as 0 and 1.
        shown = (
            f"CAST({name}::INTEGER AS VARCHAR)" if kind == "boolean" else f"CAST({name} AS VARCHAR)"
        )
        for value in (low, high):
            if value is not None:
                by_table.setdefault(table, []).append((shown, str(value)))
    stale = []
    for table, values in by_table.items():
        if not re.fullmatch(r"[a-z_]+", table):
            continue
        tests = ", ".join(f"bool_or({shown} = ${n})" for n, (shown, _) in enumerate(values, 1))
        row = cur.execute(
            f"SELECT {tests} FROM lake.main.{table}",  # noqa: S608 - names from the catalog, checked
            [value for _, value in values],
        ).fetchone()
        for (shown, _), held in zip(values, row or (), strict=False):
            if not held:
                stale.append(f"{table}.{shown.split(chr(34))[1]}")
    if stale:
        return Check(
            P8,
            False,
            "the catalog's table-wide min/max values keep values no live row holds, in"
            f" {listing(sorted(set(stale)))}: a deleted event's value may live on there",
        )
    kept = counted(sum(map(len, by_table.values())), "table-wide min/max value")
    return Check(
        P8,
        True,
        f"each of the catalog's {kept} is a value of a live row (none is left from a deleted one).",
    )


def _bucket_keeps_no_versions(config: LakeConfig) -> Check:
    bucket = config.data.removeprefix("s3://").split("/", 1)[0]
    try:
        status = bucket_versioning(config, bucket)
    except (OSError, urllib.error.URLError) as exc:
        return Check(P8, False, f"the bucket {bucket}'s versioning could not be read: {exc}.")
    if status in ("Enabled", "Suspended"):
        return Check(
            P8,
            False,
            f"versioning of the bucket {bucket} is {status.lower()}: deleted files survive as"
            " old versions (turn it off and delete the non-current versions)",
        )
    return Check(P8, True, f"the bucket {bucket} keeps no old versions of deleted files.")


def bucket_versioning(config: LakeConfig, bucket: str) -> str:
    """The bucket's versioning status (S3's GetBucketVersioning): ``Enabled``, ``Suspended``,
    or ``""`` when it was never turned on."""
    scheme = "https" if config.s3_use_ssl else "http"
    host = config.s3_endpoint or f"s3.{config.s3_region}.amazonaws.com"
    if config.s3_url_style == "path":
        path = f"/{bucket}"
    else:
        host, path = f"{bucket}.{host}", "/"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    empty = hashlib.sha256(b"").hexdigest()
    headers = {"host": host, "x-amz-content-sha256": empty, "x-amz-date": stamp}
    names = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            "GET",
            path,
            "versioning=",
            *(f"{k}:{headers[k]}" for k in sorted(headers)),
            "",
            names,
            empty,
        ]
    )
    scope = f"{stamp[:8]}/{config.s3_region}/s3/aws4_request"
    text = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = ("AWS4" + config.s3_secret).encode()
    for part in (stamp[:8], config.s3_region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(  # noqa: S310 - http(s) only, from the settings
        f"{scheme}://{host}{path}?versioning",
        headers={
            "x-amz-content-sha256": empty,
            "x-amz-date": stamp,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={config.s3_key_id}/{scope},"
            f" SignedHeaders={names}, Signature={signature}",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        body = response.read().decode()
    found = re.search(r"<Status>(\w+)</Status>", body)
    return found.group(1) if found else ""
