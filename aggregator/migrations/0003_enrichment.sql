-- Coarse attributes the collector derives before it drops the address and the user agent:
-- the browser and OS (name and major version), the device class, the country (ISO code, no
-- region or city) and the acquisition channel. '' means unknown.
-- (Added, then made NOT NULL: DuckDB 1.5 cannot add a column with a constraint in one step.)
ALTER TABLE events ADD COLUMN browser VARCHAR DEFAULT '';
ALTER TABLE events ALTER COLUMN browser SET NOT NULL;
ALTER TABLE events ADD COLUMN browser_version VARCHAR DEFAULT '';
ALTER TABLE events ALTER COLUMN browser_version SET NOT NULL;
ALTER TABLE events ADD COLUMN os VARCHAR DEFAULT '';
ALTER TABLE events ALTER COLUMN os SET NOT NULL;
ALTER TABLE events ADD COLUMN os_version VARCHAR DEFAULT '';
ALTER TABLE events ALTER COLUMN os_version SET NOT NULL;
ALTER TABLE events ADD COLUMN device VARCHAR DEFAULT '';
ALTER TABLE events ALTER COLUMN device SET NOT NULL;
ALTER TABLE events ADD COLUMN country VARCHAR DEFAULT '';
ALTER TABLE events ALTER COLUMN country SET NOT NULL;
ALTER TABLE events ADD COLUMN channel VARCHAR DEFAULT '';
ALTER TABLE events ALTER COLUMN channel SET NOT NULL;

-- What a count is about beyond its reason, e.g. the bot family for reason 'bot'.
ALTER TABLE intake_counts ADD COLUMN detail VARCHAR DEFAULT '';
ALTER TABLE intake_counts ALTER COLUMN detail SET NOT NULL;
