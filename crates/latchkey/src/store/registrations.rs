//! Storage of dynamic client registration (RFC 7591 / RFC 7592):
//! [`RegistrationStore`] — the registration of a self-registered client
//! (its registration access token's digest, software id and version), the
//! initial access tokens that may guard the registration endpoint, and the
//! purge of registrations never used — with its records, row mappers and
//! SQL ([`impl_registration_store!`], expanded by both backends). The
//! client rows themselves are written with the clients area's statements.

use async_trait::async_trait;

use crate::secret::TokenDigest;

use super::sql::{SqlRow, digest_column};
use super::{ClientRecord, StoreError};

/// What a self-registered client has besides its client row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRecord {
    pub client_id: String,
    /// RFC 7592 §1: the bearer credential of the client configuration
    /// endpoint, as its SHA-256 digest.
    pub access_token_digest: TokenDigest,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    /// The initial access token the registration presented, if any.
    pub initial_access_token_id: Option<String>,
    pub created_at: i64,
}

/// An initial access token (RFC 7591 §1.2): lets its bearer register
/// clients, until it expires, is used up or is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialAccessTokenRecord {
    pub id: String,
    pub name: String,
    pub token_digest: TokenDigest,
    pub created_at: i64,
    /// `None`: it never expires.
    pub expires_at: Option<i64>,
    /// `None`: any number of registrations.
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked_at: Option<i64>,
}

impl InitialAccessTokenRecord {
    /// Whether it may register one more client at `now`.
    pub fn is_usable(&self, now: i64) -> bool {
        self.revoked_at.is_none()
            && self.expires_at.is_none_or(|expires| expires > now)
            && self.max_uses.is_none_or(|max| self.uses < max)
    }
}

/// Dynamic registrations and initial access tokens.
#[async_trait]
pub trait RegistrationStore: Send + Sync {
    /// One transaction: counts one use of the registration's initial access
    /// token (when it names one) if the token is still usable at `now`,
    /// then inserts the client and its registration. `false`, and nothing
    /// written, when the token is no longer usable: of concurrent callers
    /// with a token that has one use left, exactly one gets `true`. Fails
    /// with `Conflict` when the client id exists.
    async fn insert_registered_client(
        &self,
        client: &ClientRecord,
        registration: &RegistrationRecord,
        now: i64,
    ) -> Result<bool, StoreError>;
    async fn find_registration(&self, client_id: &str) -> Result<Option<RegistrationRecord>, StoreError>;
    /// One transaction: writes the client's descriptive fields (as
    /// `ClientStore::update_client_details`) and the registration's software
    /// id and version; `false` (and nothing changed) when the client has no
    /// registration.
    async fn update_registered_client(
        &self,
        client: &ClientRecord,
        registration: &RegistrationRecord,
    ) -> Result<bool, StoreError>;
    /// Deletes the self-registered clients created before `cutoff` that
    /// were never used: no authorization code, grant or remembered consent
    /// refers to them. Returns how many were deleted.
    async fn purge_unused_registrations(&self, cutoff: i64) -> Result<u64, StoreError>;

    /// Fails with `Conflict` when the id or the digest exists.
    async fn insert_initial_access_token(&self, token: &InitialAccessTokenRecord) -> Result<(), StoreError>;
    async fn find_initial_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<InitialAccessTokenRecord>, StoreError>;
    /// Every initial access token, oldest first.
    async fn list_initial_access_tokens(&self) -> Result<Vec<InitialAccessTokenRecord>, StoreError>;
    /// Marks an unrevoked token revoked; `false` when there is no such
    /// token or it was revoked already.
    async fn revoke_initial_access_token(&self, id: &str, now: i64) -> Result<bool, StoreError>;
}

pub(super) fn registration<R: SqlRow>(row: &R) -> Result<RegistrationRecord, StoreError> {
    Ok(RegistrationRecord {
        client_id: row.read("client_id")?,
        access_token_digest: digest_column(row, "access_token_digest")?,
        software_id: row.read("software_id")?,
        software_version: row.read("software_version")?,
        initial_access_token_id: row.read("initial_access_token_id")?,
        created_at: row.read("created_at")?,
    })
}

pub(super) fn initial_access_token<R: SqlRow>(row: &R) -> Result<InitialAccessTokenRecord, StoreError> {
    Ok(InitialAccessTokenRecord {
        id: row.read("id")?,
        name: row.read("name")?,
        token_digest: digest_column(row, "token_digest")?,
        created_at: row.read("created_at")?,
        expires_at: row.read("expires_at")?,
        max_uses: row.read("max_uses")?,
        uses: row.read("uses")?,
        revoked_at: row.read("revoked_at")?,
    })
}

/// Implements [`RegistrationStore`] for `$store` (a struct with a
/// `pool: sqlx::Pool<$db>` whose clients area is implemented too).
macro_rules! impl_registration_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::secret::TokenDigest;
            use $crate::store::registrations::{initial_access_token, registration};
            use $crate::store::sql::{all, changed, changed_ref};
            use $crate::store::{
                ClientOrigin, ClientRecord, InitialAccessTokenRecord, RegistrationRecord, RegistrationStore,
                StoreError, map_sqlx,
            };

            #[async_trait]
            impl RegistrationStore for $store {
                async fn insert_registered_client(
                    &self,
                    client: &ClientRecord,
                    r: &RegistrationRecord,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    if let Some(token_id) = &r.initial_access_token_id {
                        let used = sqlx::query(
                            "UPDATE initial_access_tokens SET uses = uses + 1 WHERE id = $1 \
                             AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) \
                             AND (max_uses IS NULL OR uses < max_uses)",
                        )
                        .bind(token_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                        if !changed_ref(&used) {
                            return Ok(false);
                        }
                    }
                    <$store>::insert_client_row(&mut tx, client).await?;
                    sqlx::query(
                        "INSERT INTO client_registrations (client_id, access_token_digest, software_id, \
                         software_version, initial_access_token_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&r.client_id)
                    .bind(r.access_token_digest.0.to_vec())
                    .bind(&r.software_id)
                    .bind(&r.software_version)
                    .bind(&r.initial_access_token_id)
                    .bind(r.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(true)
                }

                async fn find_registration(
                    &self,
                    client_id: &str,
                ) -> Result<Option<RegistrationRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT client_id, access_token_digest, software_id, software_version, \
                         initial_access_token_id, created_at FROM client_registrations WHERE client_id = $1",
                    )
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(registration).transpose()
                }

                async fn update_registered_client(
                    &self,
                    client: &ClientRecord,
                    r: &RegistrationRecord,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    let result = sqlx::query(
                        "UPDATE client_registrations SET software_id = $1, software_version = $2 \
                         WHERE client_id = $3",
                    )
                    .bind(&r.software_id)
                    .bind(&r.software_version)
                    .bind(&r.client_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    if !changed_ref(&result) || !<$store>::update_client_row(&mut tx, client).await? {
                        return Ok(false);
                    }
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(true)
                }

                async fn purge_unused_registrations(&self, cutoff: i64) -> Result<u64, StoreError> {
                    let result = sqlx::query(
                        "DELETE FROM clients WHERE origin = $1 AND created_at < $2 \
                         AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = clients.client_id) \
                         AND NOT EXISTS (SELECT 1 FROM authorization_codes a WHERE a.client_id = clients.client_id) \
                         AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.client_id = clients.client_id)",
                    )
                    .bind(ClientOrigin::Dynamic.as_str())
                    .bind(cutoff)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(result.rows_affected())
                }

                async fn insert_initial_access_token(
                    &self,
                    t: &InitialAccessTokenRecord,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO initial_access_tokens (id, name, token_digest, created_at, expires_at, \
                         max_uses, uses, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&t.id)
                    .bind(&t.name)
                    .bind(t.token_digest.0.to_vec())
                    .bind(t.created_at)
                    .bind(t.expires_at)
                    .bind(t.max_uses)
                    .bind(t.uses)
                    .bind(t.revoked_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_initial_access_token(
                    &self,
                    digest: &TokenDigest,
                ) -> Result<Option<InitialAccessTokenRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, name, token_digest, created_at, expires_at, max_uses, uses, revoked_at \
                         FROM initial_access_tokens WHERE token_digest = $1",
                    )
                    .bind(digest.0.to_vec())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(initial_access_token).transpose()
                }

                async fn list_initial_access_tokens(&self) -> Result<Vec<InitialAccessTokenRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, name, token_digest, created_at, expires_at, max_uses, uses, revoked_at \
                         FROM initial_access_tokens ORDER BY created_at, id",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, initial_access_token)
                }

                async fn revoke_initial_access_token(&self, id: &str, now: i64) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "UPDATE initial_access_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }
            }
        };
    };
}

pub(crate) use impl_registration_store;
