-- A person's own settings for the dashboard. Keyboard shortcuts are single keys (d, w, x ...),
-- so WCAG 2.1.4 wants a way to turn them off; kept server side because the dashboard sets no
-- cookie but the login session and never uses localStorage.
ALTER TABLE users ADD COLUMN keyboard_shortcuts BOOLEAN DEFAULT true;
ALTER TABLE users ALTER COLUMN keyboard_shortcuts SET NOT NULL;
