-- Hourly rollups of the site totals (spec 'time:hour') exist from this version on. Days whose
-- raw events are kept turn stale and are rolled up again by the next maintenance pass (queries
-- read their raw events meanwhile); days already past raw retention cannot be, and their
-- `hourly` says so: an hourly graph over them answers 400 rather than a wrong number.
ALTER TABLE rolled_days ADD COLUMN hourly BOOLEAN DEFAULT true;
UPDATE rolled_days SET hourly = false WHERE raw_purged;
UPDATE rolled_days SET stale = true WHERE NOT raw_purged;
