-- Scopes of dashboard-created apps that wait for the platform operator's
-- approval, or that the operator denied. An approved scope is an ordinary
-- allowed scope of the client and has no row here; deleting a client
-- deletes its rows.

CREATE TABLE client_scope_reviews (
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'denied')),
    reason TEXT,
    requested_at INTEGER NOT NULL,
    decided_at INTEGER,
    PRIMARY KEY (client_id, scope)
);
CREATE INDEX client_scope_reviews_status ON client_scope_reviews (status, requested_at);
