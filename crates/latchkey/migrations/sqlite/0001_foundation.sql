-- Signing keys, OAuth clients, users, organizations, memberships, admin API keys.
-- Times are Unix seconds. Secrets appear only as SHA-256 digests; private keys
-- only sealed under the master key.

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_key_sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    retired_at INTEGER
);

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email_verified INTEGER NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE memberships (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    secret_digest BLOB,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    homepage_url TEXT,
    logo_url TEXT,
    redirect_uris TEXT NOT NULL,
    allowed_scopes TEXT NOT NULL,
    token_endpoint_auth_method TEXT NOT NULL,
    organization_id TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX clients_organization ON clients (organization_id);

CREATE TABLE admin_api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_digest BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
