-- Clients known by the URL of their metadata document
-- (draft-ietf-oauth-client-id-metadata-document): the client is a row of
-- `clients` whose id is the URL; this says when its document was fetched
-- and until when the stored copy is used before it is fetched again.

CREATE TABLE client_metadata_documents (
    client_id TEXT PRIMARY KEY REFERENCES clients (client_id) ON DELETE CASCADE,
    fetched_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
