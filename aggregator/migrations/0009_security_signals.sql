-- Security signals (DESIGN §4): counts only, never an address, a hash of one or a user agent.

-- The bot family's category ('' for other outcomes); hours are kept like rollups.
ALTER TABLE intake_counts ADD COLUMN category VARCHAR DEFAULT '';
ALTER TABLE intake_counts ALTER COLUMN category SET NOT NULL;

-- Outcomes per site (0 = none), minute, reason, detail and category: kept 30 days; their hours
-- are in intake_counts from the same load, so dropping old minutes loses nothing.
CREATE TABLE intake_minutes (
    minute   TIMESTAMP NOT NULL,  -- UTC
    site_id  INTEGER NOT NULL,
    reason   VARCHAR NOT NULL,
    detail   VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    n        BIGINT NOT NULL
);

-- Distinct clients the rate limiter refused, per site and hour (summed over loads).
CREATE TABLE limited_clients (
    hour    TIMESTAMP NOT NULL,
    site_id INTEGER NOT NULL,
    clients BIGINT NOT NULL
);

-- Requests refused per slot: the day's limited clients numbered 1, 2 ... per collector
-- process (run, a random number) in the order they were first limited; 0 = the rest.
CREATE TABLE limited_slots (
    day     DATE NOT NULL,  -- UTC
    site_id INTEGER NOT NULL,
    run     INTEGER NOT NULL,
    slot    INTEGER NOT NULL,
    n       BIGINT NOT NULL
);

-- Scrubbed hosts and event names sent for unknown sites or outside a site's domain: at most
-- 50 distinct values per site, kind and hour, the rest as '(other)'.
CREATE TABLE unknown_values (
    hour    TIMESTAMP NOT NULL,
    site_id INTEGER NOT NULL,
    kind    VARCHAR NOT NULL,  -- host | name
    value   VARCHAR NOT NULL,
    n       BIGINT NOT NULL
);

-- Alerts raised by the security rules, and what became of their webhook delivery.
CREATE TABLE alerts (
    id           BIGINT PRIMARY KEY,
    raised_at    TIMESTAMP NOT NULL,
    rule         VARCHAR NOT NULL,
    site_id      INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end   TIMESTAMP NOT NULL,
    subject      VARCHAR NOT NULL,  -- the page, source or referrer host; '' for surges
    value        DOUBLE NOT NULL,
    baseline     DOUBLE NOT NULL,
    threshold    DOUBLE NOT NULL,
    status       VARCHAR NOT NULL,  -- sent | failed | recorded (no webhook set)
    attempts     INTEGER NOT NULL,
    error        VARCHAR NOT NULL
);
