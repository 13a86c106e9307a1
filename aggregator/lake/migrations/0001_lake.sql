-- DuckDB, in the lake (USE lake): what the loaders append and the maintenance leader rolls up
-- and purges. The embedded file's tables at migration 0010, without what DuckLake has not
-- (primary keys, UNIQUE, sequences): the loader checks segment ids itself, and rolled_days is
-- replaced by DELETE + INSERT in one transaction.
CREATE TABLE IF NOT EXISTS events (
    ts TIMESTAMP NOT NULL, site_id INTEGER NOT NULL, day DATE NOT NULL, name VARCHAR NOT NULL,
    hostname VARCHAR NOT NULL, path VARCHAR NOT NULL, referrer_host VARCHAR NOT NULL,
    referrer_path VARCHAR NOT NULL, source VARCHAR NOT NULL, utm_source VARCHAR NOT NULL,
    utm_medium VARCHAR NOT NULL, utm_campaign VARCHAR NOT NULL, utm_content VARCHAR NOT NULL,
    utm_term VARCHAR NOT NULL, visitor UBIGINT NOT NULL, props MAP(VARCHAR, VARCHAR) NOT NULL,
    interactive BOOLEAN NOT NULL, scroll_depth UTINYINT, engaged_ms UINTEGER,
    browser VARCHAR NOT NULL DEFAULT '', browser_version VARCHAR NOT NULL DEFAULT '',
    os VARCHAR NOT NULL DEFAULT '', os_version VARCHAR NOT NULL DEFAULT '',
    device VARCHAR NOT NULL DEFAULT '', country VARCHAR NOT NULL DEFAULT '',
    channel VARCHAR NOT NULL DEFAULT ''
);
-- Retention drops whole days: each day's rows in files of their own.
ALTER TABLE events SET PARTITIONED BY (day);
-- A visitor's day side by side in each file (compresses far better, as the embedded file's
-- sorted rewrite at retention does).
ALTER TABLE events SET SORTED BY (site_id, day, visitor, ts);
CREATE TABLE IF NOT EXISTS intake_counts (
    hour TIMESTAMP NOT NULL, site_id INTEGER NOT NULL, reason VARCHAR NOT NULL, n BIGINT NOT NULL,
    detail VARCHAR NOT NULL DEFAULT '', category VARCHAR NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS intake_minutes (
    minute TIMESTAMP NOT NULL, site_id INTEGER NOT NULL, reason VARCHAR NOT NULL,
    detail VARCHAR NOT NULL, category VARCHAR NOT NULL, n BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS limited_clients (hour TIMESTAMP NOT NULL, site_id INTEGER NOT NULL, clients BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS limited_slots (
    day DATE NOT NULL, site_id INTEGER NOT NULL, run INTEGER NOT NULL, slot INTEGER NOT NULL,
    n BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS unknown_values (
    hour TIMESTAMP NOT NULL, site_id INTEGER NOT NULL, kind VARCHAR NOT NULL,
    value VARCHAR NOT NULL, n BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS loaded_segments (id VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS rollups (
    site_id INTEGER NOT NULL, day DATE NOT NULL, spec VARCHAR NOT NULL, g0 VARCHAR, g1 VARCHAR,
    visitors BIGINT NOT NULL, visits BIGINT NOT NULL, pageviews BIGINT NOT NULL,
    events BIGINT NOT NULL, bounces BIGINT NOT NULL, duration DOUBLE NOT NULL,
    sd_sum BIGINT NOT NULL, sd_n BIGINT NOT NULL, em_sum BIGINT NOT NULL, em_n BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS rolled_days (
    site_id INTEGER NOT NULL, day DATE NOT NULL, rolled_at TIMESTAMP NOT NULL,
    raw_purged BOOLEAN NOT NULL DEFAULT false, provisional BOOLEAN DEFAULT false,
    stale BOOLEAN DEFAULT false, rollup_version INTEGER DEFAULT 1
);
-- The loaders' record of days that received events (append only: an UPDATE of rolled_days by
-- two loaders at once conflicts); the maintenance leader folds it into rolled_days.stale.
CREATE TABLE IF NOT EXISTS changed_days (site_id INTEGER NOT NULL, day DATE NOT NULL, changed_at TIMESTAMP NOT NULL);
