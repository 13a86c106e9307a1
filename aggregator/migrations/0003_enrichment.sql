-- Coarse attributes the collector derives before it drops the address and the user agent:
-- the browser and OS (name and major version), the device class, the country (ISO code, no
-- region or city) and the acquisition channel. '' means unknown.
ALTER TABLE events ADD COLUMN browser VARCHAR NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN browser_version VARCHAR NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN os VARCHAR NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN os_version VARCHAR NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN device VARCHAR NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN country VARCHAR NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN channel VARCHAR NOT NULL DEFAULT '';

-- What a count is about beyond its reason, e.g. the bot family for reason 'bot'.
ALTER TABLE intake_counts ADD COLUMN detail VARCHAR NOT NULL DEFAULT '';
