-- One-time links sent by mail: password reset and email verification. Only
-- the SHA-256 digest of the link's token is stored, with its user, what it
-- is for, the address it was sent to, and when it expires or was used.

CREATE TABLE user_tokens (
    token_digest BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX user_tokens_user ON user_tokens (user_id, purpose);
CREATE INDEX user_tokens_expiry ON user_tokens (expires_at);
