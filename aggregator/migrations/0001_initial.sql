-- The complete list of what hush stores. No column holds an address, a user agent, a full URL,
-- a query string or a cookie: see the privacy invariants in README.md.

CREATE SEQUENCE site_ids START 1;

CREATE TABLE sites (
    id           INTEGER PRIMARY KEY DEFAULT nextval('site_ids'),
    domain       VARCHAR NOT NULL UNIQUE,  -- the registered domain, e.g. example.com
    timezone     VARCHAR NOT NULL DEFAULT 'UTC',
    honour_dnt   BOOLEAN NOT NULL DEFAULT true,
    hash_routing BOOLEAN NOT NULL DEFAULT false,
    created_at   TIMESTAMP NOT NULL
);

CREATE SEQUENCE api_key_ids START 1;

CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY DEFAULT nextval('api_key_ids'),
    name       VARCHAR NOT NULL,
    key_hash   VARCHAR NOT NULL UNIQUE,  -- sha256 of the key; the key itself is shown once
    prefix     VARCHAR NOT NULL,         -- first characters, so a person can tell keys apart
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

-- One row per counted event (page view or custom event).
CREATE TABLE events (
    ts            TIMESTAMP NOT NULL,  -- UTC, when the collector accepted it
    site_id       INTEGER NOT NULL,
    day           DATE NOT NULL,       -- the site's local date: the day of the visitor id's salt
    name          VARCHAR NOT NULL,    -- 'pageview' or a custom event name (scrubbed)
    hostname      VARCHAR NOT NULL,
    path          VARCHAR NOT NULL,    -- scrubbed, no query string
    referrer_host VARCHAR NOT NULL,    -- '' when direct or a self-referral
    referrer_path VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,    -- '' means Direct / None
    utm_source    VARCHAR NOT NULL,
    utm_medium    VARCHAR NOT NULL,
    utm_campaign  VARCHAR NOT NULL,
    utm_content   VARCHAR NOT NULL,
    utm_term      VARCHAR NOT NULL,
    visitor       UBIGINT NOT NULL,    -- keyed hash with a salt of that day; unlinkable after it
    props         MAP(VARCHAR, VARCHAR) NOT NULL,
    interactive   BOOLEAN NOT NULL
);

-- Accepted, rejected and dropped requests per hour, site (0 = none) and reason.
CREATE TABLE intake_counts (
    hour    TIMESTAMP NOT NULL,
    site_id INTEGER NOT NULL,
    reason  VARCHAR NOT NULL,
    n       BIGINT NOT NULL
);

-- Spool segments already loaded: recorded in the loading transaction, so each loads once.
CREATE TABLE loaded_segments (
    id        VARCHAR PRIMARY KEY,
    loaded_at TIMESTAMP NOT NULL
);
