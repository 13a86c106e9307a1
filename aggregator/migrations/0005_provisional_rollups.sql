-- Rollups of days still open (today, in the site's time zone): rebuilt from raw events every
-- HUSH_LIVE_ROLLUP_INTERVAL seconds while events arrive, and replaced by the final rollup once
-- the day is over. The loader marks a day's rollup stale when events for it arrive: an open
-- day's keeps answering (lagging by up to the interval) until it is rebuilt.
ALTER TABLE rolled_days ADD COLUMN provisional BOOLEAN DEFAULT false;
ALTER TABLE rolled_days ADD COLUMN stale BOOLEAN DEFAULT false;
