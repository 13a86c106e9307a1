"""P1, P2, P5 and P8 in the store: text columns, column names, visitor ids, the age of raw rows."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import duckdb

from aggregator.store import Store
from privacy_audit.addresses import LOOSE, scan
from privacy_audit.report import P1, P2, P5, P8, Check, counted, listing

# Retention keeps each site's own local days, which differ from ``today`` by up to a day either
# way, and it runs every minute once a day is rolled up: a day's grace spares false alarms.
RETENTION_GRACE_DAYS = 1

# The tables of the store: the file's (its own database's ``main``), or a lake node's (the lake's
# ``main`` and the admin tables' schema in PostgreSQL; its rollup cache is a copy of the lake's).
_COLUMNS = """
SELECT c.table_name, c.column_name, c.data_type
FROM information_schema.columns AS c
JOIN information_schema.tables AS t USING (table_catalog, table_schema, table_name)
WHERE t.table_type = 'BASE TABLE'
  AND list_contains($places, c.table_catalog || '.' || c.table_schema)
ORDER BY c.table_name, c.ordinal_position
"""
# Names that say a column holds an address, a user agent, a full URL, a query or a cookie.
_IDENTIFYING = re.compile(
    r"(?:^|_)(?:ip|ips|ipv4|ipv6|ua|agent|url|urls|uri|href|query|referer)(?:_|$)"
    r"|addr|cookie|useragent|fingerprint"
)
_VISITOR_COLUMNS = ("visitor", "visitor_id")
# Text hush makes itself, never from a browser: a key's SHA-256 and a segment's name are long
# hex by design, and would be P5 findings.
_HUSH_MADE = frozenset({("api_keys", "key_hash"), ("loaded_segments", "id")})
# The dashboard's own people, not visitors: their emails, password and session hashes and the
# audit log's hash chain are meant to be there (P5 is about what browsers send; P1 still
# scans these tables for addresses).
_ACCOUNT_TABLES = frozenset(
    {"users", "user_sites", "login_sessions", "one_time_links", "audit_log", "audit_log_anchor"}
)

Schema = dict[str, dict[str, str]]  # table -> column -> type


def check_database(
    store: Store,
    *,
    retention_days: int,
    today: date,
    now: float | None = None,
    maintenance_interval: float = 60.0,
) -> list[Check]:
    """P1, P5, P2 and P8 in the store: every text column (for addresses, then for emails and
    secret tokens, as ``collector.detectors`` finds them), the schema, visitor ids, retention.

    ``today`` draws the retention line: rows of visitor-level tables (those with a visitor id,
    such as ``events``) whose ``day`` is before ``today - retention_days`` should be gone, give
    or take ``RETENTION_GRACE_DAYS``. On a lake, P8 there too (``privacy_audit.lake``), with
    ``now`` (default: the epoch time now) and the interval of the maintenance passes.
    """
    cutoff = today - timedelta(days=retention_days + RETENTION_GRACE_DAYS)
    with store.read() as cur:
        if store.lake:
            from aggregator.lake.store import LakeStore

            assert isinstance(store, LakeStore)
            places = ["lake.main", f"pg.{store.config.schema}"]
        else:
            row = cur.execute("SELECT current_database()").fetchone()
            places = [f"{row[0] if row else ''}.main"]
        schema: Schema = {}
        for table, column, data_type in cur.execute(_COLUMNS, {"places": places}).fetchall():
            schema.setdefault(table, {})[column] = data_type
        checks = [
            *_nothing_unscrubbed_in_columns(cur, schema),
            _no_identifying_columns(schema),
            _visitor_ids_last_one_day(cur, schema),
            _raw_rows_within_retention(cur, schema, cutoff, retention_days),
        ]
    if store.lake:
        from privacy_audit.lake import check_lake

        assert isinstance(store, LakeStore)
        checks += check_lake(
            store,
            now=datetime.now(UTC).timestamp() if now is None else now,
            maintenance_interval=maintenance_interval,
        )
    return checks


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _nothing_unscrubbed_in_columns(
    cur: duckdb.DuckDBPyConnection, schema: Schema
) -> tuple[Check, Check]:
    text = [(t, c) for t, cols in schema.items() for c, kind in cols.items() if "VARCHAR" in kind]
    addresses, secrets = [], []
    for table, column in text:
        # Distinct values first: DuckDB groups dictionary-compressed text far faster than it
        # runs a regex over every row (5M events: 0.03 s instead of 0.9 s for a column).
        sql = (
            f"SELECT v, n FROM (SELECT CAST({_quote(column)} AS VARCHAR) AS v, count(*) AS n"  # noqa: S608
            f" FROM {_quote(table)} GROUP BY v) WHERE regexp_matches(v, $loose)"
        )
        cur.execute(sql, {"loose": LOOSE})
        host = "host" in column or column == "source"
        with_address = with_secret = 0
        while batch := cur.fetchmany(10_000):
            for value, n in batch:
                address, secret = scan(value, host=host)
                with_address += n * address
                with_secret += n * secret
        if with_address:
            addresses.append(f"{table}.{column} ({_rows(with_address)})")
        if with_secret and (table, column) not in _HUSH_MADE and table not in _ACCOUNT_TABLES:
            secrets.append(f"{table}.{column} ({_rows(with_secret)})")
    columns = f"{counted(len(text), 'text column')} in {counted(len(schema), 'table')}"
    if addresses:
        p1 = Check(P1, False, f"IP addresses are stored in {listing(addresses)}.")
    else:
        p1 = Check(
            P1, True, f"none of the {columns} holds an IP address, as written or percent-encoded."
        )
    if secrets:
        p5 = Check(P5, False, f"email addresses or secret tokens are stored in {listing(secrets)}.")
    else:
        p5 = Check(
            P5,
            True,
            f"none of the {columns} holds an email address or a secret token (UUID, JWT,"
            " API key, reset link, card-like number) that the scrubber would have replaced.",
        )
    return p1, p5


def _no_identifying_columns(schema: Schema) -> Check:
    found = [
        f"{table}.{column}" if column else table
        for table, columns in schema.items()
        for column in ("", *columns)
        if _IDENTIFYING.search((column or table).lower())
    ]
    count = sum(map(len, schema.values()))
    if found:
        return Check(
            P2,
            False,
            f"the schema has columns named for an address, user agent, URL or cookie: "
            f"{listing(found)}.",
        )
    return Check(
        P2,
        True,
        f"none of the {counted(count, 'column')} in {counted(len(schema), 'table')} is meant"
        " for an address, a user agent, a full URL, a query string or a cookie.",
    )


def _visitor_tables(schema: Schema) -> list[tuple[str, str]]:
    return [(t, c) for t, cols in schema.items() for c in cols if c in _VISITOR_COLUMNS]


def _visitor_ids_last_one_day(cur: duckdb.DuckDBPyConnection, schema: Schema) -> Check:
    problems, checked = [], []
    for table, column in _visitor_tables(schema):
        kind = schema[table][column]
        if kind != "UBIGINT":
            problems.append(f"{table}.{column} is {kind}, not a 64-bit hash")
        if "day" not in schema[table]:
            continue
        group = "site_id, " if "site_id" in schema[table] else ""
        sql = (
            f"SELECT count(*) FROM (SELECT 1 FROM {_quote(table)}"  # noqa: S608
            f" GROUP BY {group}{_quote(column)} HAVING min(day) <> max(day))"
        )
        row = cur.execute(sql).fetchone()
        spanning = row[0] if row else 0
        checked.append(f"{table}.{column}")
        if spanning:
            problems.append(
                f"in {table}, {counted(spanning, 'visitor id')} turned up on more than one day:"
                " a salt outlived its day, or ids were made without one"
            )
    if problems:
        return Check(P2, False, "; ".join(problems) + ".")
    if not checked:
        return Check(P2, True, "no table holds visitor ids.")
    return Check(
        P2,
        True,
        f"visitor ids ({', '.join(checked)}) are 64-bit hashes, and none appears on two days.",
    )


def _raw_rows_within_retention(
    cur: duckdb.DuckDBPyConnection, schema: Schema, cutoff: date, days: int
) -> Check:
    late, kept = [], []
    for table, _column in _visitor_tables(schema):
        if "day" not in schema[table]:
            late.append(f"{table} holds visitor ids without a day, so its age cannot be told")
            continue
        row = cur.execute(
            f"SELECT count(*) FILTER (WHERE day < $cutoff), min(day) FROM {_quote(table)}",  # noqa: S608
            {"cutoff": cutoff},
        ).fetchone()
        old, oldest = row if row else (0, None)
        if old:
            late.append(
                f"{table} holds {_rows(old)} from before {cutoff}, the oldest from {oldest}"
            )
        else:
            kept.append(
                f"the oldest in {table} is from {oldest}" if oldest else f"{table} is empty"
            )
    rule = (
        f"raw data is kept {days} days, so nothing from before {cutoff} (a day's grace for"
        " time zones) should remain"
    )
    if late:
        return Check(P8, False, f"{rule}, but {'; '.join(late)}.")
    return Check(P8, True, f"{rule}, and nothing does ({'; '.join(kept) or 'no raw tables'}).")


def _rows(n: int) -> str:
    return counted(n, "row")
