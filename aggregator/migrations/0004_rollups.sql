-- Daily rollups: per site, local day and rollup (its dimensions joined by '|', '' for site
-- totals), one row per group with the figures a query combines. No visitor ids: visitors are
-- already counted (distinct per day, so days add up exactly).
CREATE TABLE rollups (
    site_id   INTEGER NOT NULL,
    day       DATE NOT NULL,
    spec      VARCHAR NOT NULL,
    g0        VARCHAR,
    g1        VARCHAR,
    visitors  BIGINT NOT NULL,
    visits    BIGINT NOT NULL,
    pageviews BIGINT NOT NULL,
    events    BIGINT NOT NULL,
    bounces   BIGINT NOT NULL,
    duration  DOUBLE NOT NULL,
    sd_sum    BIGINT NOT NULL,
    sd_n      BIGINT NOT NULL,
    em_sum    BIGINT NOT NULL,
    em_n      BIGINT NOT NULL
);

-- Which local days are rolled up (complete: the day is over and its events are loaded), and
-- whether their raw events are gone (retention). Late events for a day remove its row here, so
-- the day is rolled up again.
CREATE TABLE rolled_days (
    site_id    INTEGER NOT NULL,
    day        DATE NOT NULL,
    rolled_at  TIMESTAMP NOT NULL,
    raw_purged BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (site_id, day)
);
