//! Storage of signing keys: [`KeyStore`], its record, and its SQL
//! ([`impl_key_store!`], expanded by both backends).

use async_trait::async_trait;

use super::StoreError;
use super::sql::SqlRow;

/// A signing key as stored: the private key only sealed under the master key.
#[derive(Debug, Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: String,
    pub private_key_sealed: Vec<u8>,
    pub created_at: i64,
    /// When the key starts signing; it is published from `created_at`.
    pub activates_at: i64,
    pub retired_at: Option<i64>,
}

/// The signing keys, sealed under the master key.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;
    /// Every key, retired ones included, oldest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Marks a key retired; `false` when there is no such unretired key.
    async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<bool, StoreError>;
}

pub(super) fn signing_key<R: SqlRow>(row: &R) -> Result<SigningKeyRecord, StoreError> {
    Ok(SigningKeyRecord {
        kid: row.read("kid")?,
        alg: row.read("alg")?,
        private_key_sealed: row.read("private_key_sealed")?,
        created_at: row.read("created_at")?,
        activates_at: row.read("activates_at")?,
        retired_at: row.read("retired_at")?,
    })
}

/// Implements [`KeyStore`] for `$store` (a struct with a `pool: sqlx::Pool<$db>`).
macro_rules! impl_key_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::store::keys::signing_key;
            use $crate::store::sql::{all, changed};
            use $crate::store::{KeyStore, SigningKeyRecord, StoreError, map_sqlx};

            #[async_trait]
            impl KeyStore for $store {
                async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO signing_keys (kid, alg, private_key_sealed, created_at, activates_at, retired_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&key.kid)
                    .bind(&key.alg)
                    .bind(&key.private_key_sealed)
                    .bind(key.created_at)
                    .bind(key.activates_at)
                    .bind(key.retired_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT kid, alg, private_key_sealed, created_at, activates_at, retired_at \
                         FROM signing_keys ORDER BY created_at, kid",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, signing_key)
                }

                async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL",
                    )
                    .bind(now)
                    .bind(kid)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }
            }
        };
    };
}

pub(crate) use impl_key_store;
