-- Revoked access tokens (until they expire), and the audit log.

CREATE TABLE revoked_access_tokens (
    jti TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at);

-- Who did what to which grant or client, and when. Never secret material.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    occurred_at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    client_id TEXT,
    user_id TEXT,
    organization_id TEXT,
    grant_id TEXT,
    details TEXT NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (occurred_at);

CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
CREATE INDEX grants_revoked ON grants (revoked_at);
