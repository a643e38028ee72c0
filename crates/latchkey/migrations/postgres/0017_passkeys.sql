-- Passkeys (WebAuthn): each user's WebAuthn user handle (a random UUID,
-- never the email), their credentials (the webauthn-rs Passkey as JSON,
-- with a name the user reads, and the backup flags the authenticator
-- reported), and the ceremonies under way: the state kept between the
-- options sent to the browser and its answer, under the digest of a random
-- id held in the browser's cookie, deleted when used and 5 minutes after.

CREATE TABLE passkey_user_handles (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    user_handle TEXT NOT NULL UNIQUE
);

CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    passkey TEXT NOT NULL,
    name TEXT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

CREATE TABLE passkey_ceremonies (
    id_digest BYTEA PRIMARY KEY,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
