//! Storage of passkeys (WebAuthn): [`PasskeyStore`], its records and its
//! SQL ([`impl_passkey_store!`], expanded by both backends). A user's
//! WebAuthn user handle is a random UUID kept beside the user; a passkey is
//! stored under its credential id with the webauthn-rs `Passkey` as JSON
//! (public key, counter, backup flags: nothing secret); a ceremony's state
//! under the digest of the random id the browser holds, taken (deleted) by
//! the one answer that uses it.

use async_trait::async_trait;

use crate::secret::TokenDigest;

use super::StoreError;
use super::sql::{SqlRow, digest_column};

/// One passkey of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The credential id, base64url without padding.
    pub credential_id: String,
    pub user_id: String,
    /// The webauthn-rs `Passkey`, as JSON.
    pub passkey: String,
    /// The name the user reads on the Passkeys page.
    pub name: String,
    /// The authenticator may sync the key to other devices (WebAuthn BE).
    pub backup_eligible: bool,
    /// The key is synced now (WebAuthn BS).
    pub backup_state: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A WebAuthn ceremony under way: the state between the options sent to
/// the browser and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCeremonyRecord {
    /// The digest of the random id in the browser's cookie.
    pub id_digest: TokenDigest,
    /// The user enrolling, or being asked for a passkey; `None` for a
    /// sign-in where the browser names the credential.
    pub user_id: Option<String>,
    /// The webauthn-rs state, as JSON.
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Users' WebAuthn handles, their passkeys and the ceremonies under way.
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// The user's WebAuthn user handle: the stored one, or else `candidate`,
    /// stored now. Of concurrent callers, all get the same handle.
    async fn passkey_user_handle(&self, user_id: &str, candidate: &str) -> Result<String, StoreError>;
    /// The user's WebAuthn user handle, if one was ever given.
    async fn find_passkey_user_handle(&self, user_id: &str) -> Result<Option<String>, StoreError>;
    /// Stores a new passkey; `Conflict` when its credential id is stored.
    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> Result<(), StoreError>;
    /// The user's passkeys, oldest first.
    async fn list_passkeys(&self, user_id: &str) -> Result<Vec<PasskeyRecord>, StoreError>;
    /// The passkey with this credential id.
    async fn find_passkey(&self, credential_id: &str) -> Result<Option<PasskeyRecord>, StoreError>;
    /// Records a use of the passkey: its updated JSON (counter, backup
    /// flags) and the time. `false` when it is gone.
    async fn record_passkey_use(
        &self,
        credential_id: &str,
        passkey: &str,
        backup_eligible: bool,
        backup_state: bool,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes the user's passkey with this credential id; `false` when
    /// the user has none such (another user's stays).
    async fn delete_passkey(&self, user_id: &str, credential_id: &str) -> Result<bool, StoreError>;
    /// Stores a ceremony.
    async fn insert_passkey_ceremony(&self, ceremony: &PasskeyCeremonyRecord) -> Result<(), StoreError>;
    /// Deletes the ceremony with this digest and returns it when it had not
    /// expired at `now`. One statement: of concurrent callers with one
    /// digest, at most one gets it.
    async fn take_passkey_ceremony(
        &self,
        id_digest: &TokenDigest,
        now: i64,
    ) -> Result<Option<PasskeyCeremonyRecord>, StoreError>;
    /// Deletes the ceremonies expired before `now`; how many.
    async fn purge_passkey_ceremonies(&self, now: i64) -> Result<u64, StoreError>;
}

pub(super) fn passkey<R: SqlRow>(row: &R) -> Result<PasskeyRecord, StoreError> {
    Ok(PasskeyRecord {
        credential_id: row.read("credential_id")?,
        user_id: row.read("user_id")?,
        passkey: row.read("passkey")?,
        name: row.read("name")?,
        backup_eligible: row.read("backup_eligible")?,
        backup_state: row.read("backup_state")?,
        created_at: row.read("created_at")?,
        last_used_at: row.read("last_used_at")?,
    })
}

pub(super) fn ceremony<R: SqlRow>(row: &R) -> Result<PasskeyCeremonyRecord, StoreError> {
    Ok(PasskeyCeremonyRecord {
        id_digest: digest_column(row, "id_digest")?,
        user_id: row.read("user_id")?,
        state: row.read("state")?,
        created_at: row.read("created_at")?,
        expires_at: row.read("expires_at")?,
    })
}

/// Implements [`PasskeyStore`] for `$store` (a struct with a
/// `pool: sqlx::Pool<$db>`).
macro_rules! impl_passkey_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::secret::TokenDigest;
            use $crate::store::passkeys::{
                PasskeyCeremonyRecord, PasskeyRecord, PasskeyStore, ceremony, passkey,
            };
            use $crate::store::sql::{all, changed};
            use $crate::store::{StoreError, map_sqlx};

            #[async_trait]
            impl PasskeyStore for $store {
                async fn passkey_user_handle(&self, user_id: &str, candidate: &str) -> Result<String, StoreError> {
                    sqlx::query(
                        "INSERT INTO passkey_user_handles (user_id, user_handle) VALUES ($1, $2) \
                         ON CONFLICT (user_id) DO NOTHING",
                    )
                    .bind(user_id)
                    .bind(candidate)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    self.find_passkey_user_handle(user_id)
                        .await?
                        .ok_or(StoreError::MissingReference)
                }

                async fn find_passkey_user_handle(&self, user_id: &str) -> Result<Option<String>, StoreError> {
                    let row = sqlx::query("SELECT user_handle FROM passkey_user_handles WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    row.as_ref()
                        .map(|row| $crate::store::sql::SqlRow::read(row, "user_handle"))
                        .transpose()
                }

                async fn insert_passkey(&self, p: &PasskeyRecord) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO passkeys (credential_id, user_id, passkey, name, backup_eligible, \
                         backup_state, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&p.credential_id)
                    .bind(&p.user_id)
                    .bind(&p.passkey)
                    .bind(&p.name)
                    .bind(p.backup_eligible)
                    .bind(p.backup_state)
                    .bind(p.created_at)
                    .bind(p.last_used_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn list_passkeys(&self, user_id: &str) -> Result<Vec<PasskeyRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT credential_id, user_id, passkey, name, backup_eligible, backup_state, \
                         created_at, last_used_at FROM passkeys WHERE user_id = $1 \
                         ORDER BY created_at, credential_id",
                    )
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, passkey)
                }

                async fn find_passkey(&self, credential_id: &str) -> Result<Option<PasskeyRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT credential_id, user_id, passkey, name, backup_eligible, backup_state, \
                         created_at, last_used_at FROM passkeys WHERE credential_id = $1",
                    )
                    .bind(credential_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(passkey).transpose()
                }

                async fn record_passkey_use(
                    &self,
                    credential_id: &str,
                    passkey_json: &str,
                    backup_eligible: bool,
                    backup_state: bool,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let updated = sqlx::query(
                        "UPDATE passkeys SET passkey = $1, backup_eligible = $2, backup_state = $3, \
                         last_used_at = $4 WHERE credential_id = $5",
                    )
                    .bind(passkey_json)
                    .bind(backup_eligible)
                    .bind(backup_state)
                    .bind(now)
                    .bind(credential_id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(updated))
                }

                async fn delete_passkey(&self, user_id: &str, credential_id: &str) -> Result<bool, StoreError> {
                    let deleted = sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2")
                        .bind(user_id)
                        .bind(credential_id)
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(changed(deleted))
                }

                async fn insert_passkey_ceremony(&self, c: &PasskeyCeremonyRecord) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO passkey_ceremonies (id_digest, user_id, state, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(c.id_digest.0.to_vec())
                    .bind(&c.user_id)
                    .bind(&c.state)
                    .bind(c.created_at)
                    .bind(c.expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn take_passkey_ceremony(
                    &self,
                    id_digest: &TokenDigest,
                    now: i64,
                ) -> Result<Option<PasskeyCeremonyRecord>, StoreError> {
                    let row = sqlx::query(
                        "DELETE FROM passkey_ceremonies WHERE id_digest = $1 \
                         RETURNING id_digest, user_id, state, created_at, expires_at",
                    )
                    .bind(id_digest.0.to_vec())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    let taken = row.as_ref().map(ceremony).transpose()?;
                    Ok(taken.filter(|c| c.expires_at > now))
                }

                async fn purge_passkey_ceremonies(&self, now: i64) -> Result<u64, StoreError> {
                    let purged = sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at < $1")
                        .bind(now)
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(purged.rows_affected())
                }
            }
        };
    };
}

pub(crate) use impl_passkey_store;
