-- RFC 6749 §4.4 client_credentials. Each client lists the grant types it
-- may use (a JSON list; existing clients keep the user flows they had).
-- Each client_credentials issuance is a grant with no user, in a table of
-- its own: the access token names it in `jti`, the guard checks it (with
-- its client) on every request, and disabling or deleting the client ends
-- it. The audit log is listed per client (replay detections on its page).

ALTER TABLE clients ADD COLUMN grant_types TEXT NOT NULL
    DEFAULT '["authorization_code","refresh_token"]';

CREATE TABLE client_credentials_grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX client_credentials_grants_client ON client_credentials_grants (client_id);
CREATE INDEX client_credentials_grants_expiry ON client_credentials_grants (expires_at);

CREATE INDEX audit_events_client ON audit_events (client_id, occurred_at);
