//! Storage of clients known by the URL of their metadata document
//! (draft-ietf-oauth-client-id-metadata-document): [`ClientDocumentStore`],
//! its record, its row mapper and its SQL ([`impl_client_document_store!`],
//! expanded by both backends). The client itself is an ordinary row of
//! `clients` (its id is the URL), so grants, tokens and Connected Apps treat
//! it like any other; `client_metadata_documents` says when its document
//! was fetched and until when it is used.

use async_trait::async_trait;

use super::StoreError;
use super::clients::ClientRecord;
use super::sql::SqlRow;

/// When a client's metadata document was fetched, and until when the
/// stored copy is used before it is fetched again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientDocumentRecord {
    pub fetched_at: i64,
    pub expires_at: i64,
}

/// Clients registered by their metadata documents.
#[async_trait]
pub trait ClientDocumentStore: Send + Sync {
    /// The document record of `client_id`; `None` when the client (if it
    /// exists) was not registered by a document.
    async fn find_client_document(&self, client_id: &str)
    -> Result<Option<ClientDocumentRecord>, StoreError>;
    /// Stores what a freshly fetched document says, in one transaction:
    /// inserts the client, or — when it was registered by a document
    /// before — rewrites its descriptive fields (name, URLs, redirect
    /// URIs, scopes, auth method, `updated_at`; never `enabled` or
    /// `created_at`), and writes the document record. `false`, and nothing
    /// changed, when a client with that id exists that was registered some
    /// other way. Concurrent first saves of one id wait for each other: one
    /// inserts, the others rewrite.
    async fn save_client_document(
        &self,
        client: &ClientRecord,
        document: &ClientDocumentRecord,
    ) -> Result<bool, StoreError>;
}

pub(super) fn client_document<R: SqlRow>(row: &R) -> Result<ClientDocumentRecord, StoreError> {
    Ok(ClientDocumentRecord {
        fetched_at: row.read("fetched_at")?,
        expires_at: row.read("expires_at")?,
    })
}

/// Implements [`ClientDocumentStore`] for `$store` (a struct with a
/// `pool: sqlx::Pool<$db>`).
macro_rules! impl_client_document_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::store::client_documents::{
                ClientDocumentRecord, ClientDocumentStore, client_document,
            };
            use $crate::store::sql::to_json_list;
            use $crate::store::{ClientRecord, StoreError, map_sqlx};

            #[async_trait]
            impl ClientDocumentStore for $store {
                async fn find_client_document(
                    &self,
                    client_id: &str,
                ) -> Result<Option<ClientDocumentRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT fetched_at, expires_at FROM client_metadata_documents WHERE client_id = $1",
                    )
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(client_document).transpose()
                }

                async fn save_client_document(
                    &self,
                    c: &ClientRecord,
                    document: &ClientDocumentRecord,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    // A write first, so the transaction holds SQLite's write
                    // lock from its first statement (a read upgraded later
                    // could fail at once beside another writer), and
                    // concurrent first saves wait for each other.
                    let inserted = <$store>::insert_client_row_if_new(&mut tx, c).await?;
                    if !inserted {
                        let known = sqlx::query(
                            "SELECT client_id FROM client_metadata_documents WHERE client_id = $1",
                        )
                        .bind(&c.client_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                        if known.is_none() {
                            return Ok(false);
                        }
                        sqlx::query(
                            "UPDATE clients SET name = $1, description = $2, homepage_url = $3, \
                             logo_url = $4, redirect_uris = $5, allowed_scopes = $6, \
                             token_endpoint_auth_method = $7, updated_at = $8 WHERE client_id = $9",
                        )
                        .bind(&c.name)
                        .bind(&c.description)
                        .bind(&c.homepage_url)
                        .bind(&c.logo_url)
                        .bind(to_json_list(&c.redirect_uris)?)
                        .bind(to_json_list(&c.allowed_scopes)?)
                        .bind(&c.token_endpoint_auth_method)
                        .bind(c.updated_at)
                        .bind(&c.client_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    }
                    sqlx::query(
                        "INSERT INTO client_metadata_documents (client_id, fetched_at, expires_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (client_id) DO UPDATE \
                         SET fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
                    )
                    .bind(&c.client_id)
                    .bind(document.fetched_at)
                    .bind(document.expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(true)
                }
            }
        };
    };
}

pub(crate) use impl_client_document_store;
