-- What the account page shows of a browser session: the browser's
-- User-Agent at sign-in (truncated) and when the session was last used
-- (written at most once a minute; NULL until the first such write, when
-- the session's creation is its last use).

ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
