-- A second factor at sign-in: the user's authenticator app (TOTP, RFC
-- 6238) and one-time recovery codes, and the organization rule that
-- members must use one.
--
-- The TOTP secret is needed in plaintext to check a code, so it is stored
-- sealed with the master key (AES-256-GCM, bound to the user id). A row
-- without `confirmed_at` is an enrolment waiting for its first code.
-- `last_used_step` is the time step of the last code accepted: a code of
-- that step or an earlier one is refused (no replay).
CREATE TABLE totp_credentials (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_used_step INTEGER
);

-- Recovery codes appear only as SHA-256 digests; a used one keeps its row
-- with `used_at` set until the codes are replaced.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_digest BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (user_id, code_digest)
);

ALTER TABLE organizations ADD COLUMN require_second_factor INTEGER NOT NULL DEFAULT 0;
