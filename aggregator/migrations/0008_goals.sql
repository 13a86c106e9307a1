-- Goals (DESIGN §4): a site's named conversions, each a custom event name or a page path
-- pattern (`*` and `**` globs, as in filters). Rollups count them per day (the rollup
-- `event:goal`); a goal added later is counted from `counted_from`, the first local day whose
-- raw events were still kept when it was added (NULL: every day).
CREATE SEQUENCE goal_ids START 1;

CREATE TABLE goals (
    id           INTEGER PRIMARY KEY DEFAULT nextval('goal_ids'),
    site_id      INTEGER NOT NULL,
    kind         VARCHAR NOT NULL,  -- event | page
    target       VARCHAR NOT NULL,  -- the event name, or the page path pattern
    display_name VARCHAR NOT NULL,  -- the goal's name in queries: the event name, "Visit <path>"
    counted_from DATE,
    created_at   TIMESTAMP NOT NULL,
    UNIQUE (site_id, display_name)
);
