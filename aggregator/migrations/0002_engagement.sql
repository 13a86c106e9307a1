-- Engagement events (sent when a page is hidden or left) carry how far the visitor scrolled
-- and how long the page was visible and engaged; NULL for every other event.
ALTER TABLE events ADD COLUMN scroll_depth UTINYINT;
ALTER TABLE events ADD COLUMN engaged_ms UINTEGER;
