-- RFC 7591 / RFC 7592 dynamic client registration. Every client records
-- where it came from: 'operator' (the admin API, the CLI, the dashboard) or
-- 'dynamic' (registered by itself at the registration endpoint); no CHECK
-- constraint, so later origins need no table rebuild. A registered client's
-- registration access token is kept as a SHA-256 digest beside it, and
-- deleting the client deletes it. Initial access tokens (also digests)
-- guard the registration endpoint when the configuration asks for them.

ALTER TABLE clients ADD COLUMN origin TEXT NOT NULL DEFAULT 'operator';
CREATE INDEX clients_origin_created ON clients (origin, created_at);

CREATE TABLE client_registrations (
    client_id TEXT PRIMARY KEY REFERENCES clients (client_id) ON DELETE CASCADE,
    access_token_digest BYTEA NOT NULL,
    software_id TEXT,
    software_version TEXT,
    initial_access_token_id TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE initial_access_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_digest BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    max_uses BIGINT,
    uses BIGINT NOT NULL,
    revoked_at BIGINT
);
