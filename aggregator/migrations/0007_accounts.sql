-- People and what they may read (DESIGN §7). No column holds an address or a user agent: the
-- login throttle keys clients only in memory, and the audit log records who, never from where.

CREATE SEQUENCE user_ids START 1;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY DEFAULT nextval('user_ids'),
    email         VARCHAR NOT NULL UNIQUE,  -- lowercased
    role          VARCHAR NOT NULL,         -- admin | marketing | security
    password_hash VARCHAR NOT NULL,         -- argon2id; '' until set through a one-time link
    created_at    TIMESTAMP NOT NULL
);

-- The sites a marketing or security user reads (admins read every site).
CREATE TABLE user_sites (
    user_id INTEGER NOT NULL,
    site_id INTEGER NOT NULL
);

-- Logged-in browsers: the cookie's 32 random bytes are stored only as their SHA-256.
CREATE TABLE login_sessions (
    token_hash VARCHAR NOT NULL,
    user_id    INTEGER NOT NULL,
    csrf       VARCHAR NOT NULL,  -- the token every form of this session carries
    created_at TIMESTAMP NOT NULL,
    seen_at    TIMESTAMP NOT NULL
);

-- Setup and password-reset links: usable once, until they expire; stored as SHA-256.
CREATE TABLE one_time_links (
    token_hash VARCHAR NOT NULL,
    purpose    VARCHAR NOT NULL,  -- setup (the first admin) | reset (a user's password)
    user_id    INTEGER,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);

-- A key belongs to a user (NULL: made before users existed; the first admin receives it) and
-- reads at most that user's sites, or the fewer listed here.
ALTER TABLE api_keys ADD COLUMN user_id INTEGER;
ALTER TABLE api_keys ADD COLUMN site_ids INTEGER[];
ALTER TABLE api_keys ADD COLUMN last_used_day DATE;

-- Who did what (DESIGN §4): append-only, each row chained to the one before by its hash.
CREATE TABLE audit_log (
    id          BIGINT NOT NULL,
    logged_at   TIMESTAMP NOT NULL,  -- UTC
    actor_type  VARCHAR NOT NULL,    -- user | api_key | cli | system
    actor_id    INTEGER,             -- the user's (or the key's) id
    actor_email VARCHAR NOT NULL,    -- at the time; '' for cli and system
    actor_role  VARCHAR NOT NULL,
    action      VARCHAR NOT NULL,    -- dotted: auth.login, site.create, audit_log.view ...
    target      VARCHAR NOT NULL,
    result      VARCHAR NOT NULL,    -- ok | denied | failed
    reason      VARCHAR NOT NULL,
    changes     VARCHAR NOT NULL,    -- JSON: allowlisted fields before and after, never a secret
    prev_hash   VARCHAR NOT NULL,
    hash        VARCHAR NOT NULL
);

-- Where the chain starts once retention has purged its oldest rows.
CREATE TABLE audit_log_anchor (
    purged_through BIGINT NOT NULL,
    hash           VARCHAR NOT NULL
);
