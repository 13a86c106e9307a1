-- Rollups of days still open (today, in the site's time zone): rebuilt from raw events every
-- HUSH_LIVE_ROLLUP_INTERVAL seconds while events arrive, and replaced by the final rollup once
-- the day is over. The loader marks an open day's rollup stale instead of removing it, so
-- queries keep reading it (lagging by up to the interval) until it is rebuilt.
ALTER TABLE rolled_days ADD COLUMN provisional BOOLEAN DEFAULT false;
ALTER TABLE rolled_days ADD COLUMN stale BOOLEAN DEFAULT false;
