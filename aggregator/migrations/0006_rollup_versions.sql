-- Which rollups a day holds: the ROLLUP_VERSION (aggregator/queries/rollup_plan.py) it was
-- rolled up with; every day rolled up so far has version 1. When a version adds rollups, the
-- maintenance pass rolls up again the days whose raw events are kept (queries read them raw
-- meanwhile); days already past raw retention keep what they have, and a query needing a
-- rollup they lack answers 400 rather than a wrong number.
ALTER TABLE rolled_days ADD COLUMN rollup_version INTEGER DEFAULT 1;
