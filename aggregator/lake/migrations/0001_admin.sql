-- PostgreSQL, in the schema hush's admin tables live in (HUSH_LAKE_SCHEMA, default hush): what
-- every node must see at once and keep unique. The same tables as the embedded file's
-- migrations 0001-0010, in PostgreSQL's own DDL; DuckDB reads and writes them through its
-- postgres extension, so hush's SQL is the same on both stores.
CREATE SEQUENCE site_ids START 1;
CREATE TABLE sites (
    id           INTEGER PRIMARY KEY DEFAULT nextval('site_ids'),
    domain       VARCHAR NOT NULL UNIQUE,
    timezone     VARCHAR NOT NULL DEFAULT 'UTC',
    honour_dnt   BOOLEAN NOT NULL DEFAULT true,
    hash_routing BOOLEAN NOT NULL DEFAULT false,
    created_at   TIMESTAMP NOT NULL
);
CREATE SEQUENCE api_key_ids START 1;
CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY DEFAULT nextval('api_key_ids'),
    name          VARCHAR NOT NULL,
    key_hash      VARCHAR NOT NULL UNIQUE,
    prefix        VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    revoked_at    TIMESTAMP,
    user_id       INTEGER,
    site_ids      INTEGER[],
    last_used_day DATE
);
CREATE SEQUENCE user_ids START 1;
CREATE TABLE users (
    id                 INTEGER PRIMARY KEY DEFAULT nextval('user_ids'),
    email              VARCHAR NOT NULL UNIQUE,
    role               VARCHAR NOT NULL,
    password_hash      VARCHAR NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    keyboard_shortcuts BOOLEAN NOT NULL DEFAULT true
);
CREATE TABLE user_sites (user_id INTEGER NOT NULL, site_id INTEGER NOT NULL);
CREATE TABLE login_sessions (
    token_hash VARCHAR NOT NULL,
    user_id    INTEGER NOT NULL,
    csrf       VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    seen_at    TIMESTAMP NOT NULL
);
CREATE TABLE one_time_links (
    token_hash VARCHAR NOT NULL,
    purpose    VARCHAR NOT NULL,
    user_id    INTEGER,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE TABLE audit_log (
    id          BIGINT NOT NULL,
    logged_at   TIMESTAMP NOT NULL,
    actor_type  VARCHAR NOT NULL,
    actor_id    INTEGER,
    actor_email VARCHAR NOT NULL,
    actor_role  VARCHAR NOT NULL,
    action      VARCHAR NOT NULL,
    target      VARCHAR NOT NULL,
    result      VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    changes     VARCHAR NOT NULL,
    prev_hash   VARCHAR NOT NULL,
    hash        VARCHAR NOT NULL
);
CREATE TABLE audit_log_anchor (purged_through BIGINT NOT NULL, hash VARCHAR NOT NULL);
CREATE SEQUENCE goal_ids START 1;
CREATE TABLE goals (
    id           INTEGER PRIMARY KEY DEFAULT nextval('goal_ids'),
    site_id      INTEGER NOT NULL,
    kind         VARCHAR NOT NULL,
    target       VARCHAR NOT NULL,
    display_name VARCHAR NOT NULL,
    counted_from DATE,
    created_at   TIMESTAMP NOT NULL,
    UNIQUE (site_id, display_name)
);
CREATE TABLE alerts (
    id           BIGINT PRIMARY KEY,
    raised_at    TIMESTAMP NOT NULL,
    rule         VARCHAR NOT NULL,
    site_id      INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end   TIMESTAMP NOT NULL,
    subject      VARCHAR NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    baseline     DOUBLE PRECISION NOT NULL,
    threshold    DOUBLE PRECISION NOT NULL,
    status       VARCHAR NOT NULL,
    attempts     INTEGER NOT NULL,
    error        VARCHAR NOT NULL
);
