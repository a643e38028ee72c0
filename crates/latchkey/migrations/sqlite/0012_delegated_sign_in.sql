-- Delegated sign-in (login.mode = "delegate"): the platform's subject of a
-- user, the login challenges sent to the platform (digests only, bound to
-- the digest of a browser secret), and the assertion ids already accepted
-- (kept until the assertion expires, so each is used once).

ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external_id ON users (external_id);

CREATE TABLE login_challenges (
    challenge_digest BLOB PRIMARY KEY,
    browser_digest BLOB NOT NULL,
    return_to TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX login_challenges_expiry ON login_challenges (expires_at);

CREATE TABLE delegate_assertions (
    jti_digest BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX delegate_assertions_expiry ON delegate_assertions (expires_at);
