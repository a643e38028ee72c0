//! Storage of second factors: the user's authenticator app (TOTP secret,
//! sealed by the caller), the one-time recovery codes (digests only), and
//! the organization rule that members must use a second factor:
//! [`SecondFactorStore`], its records, and its SQL
//! ([`impl_second_factor_store!`], expanded by both backends).

use async_trait::async_trait;

use crate::secret::TokenDigest;

use super::StoreError;
use super::sql::SqlRow;

/// A user's authenticator app.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpRecord {
    pub user_id: String,
    /// The TOTP secret sealed with the master key.
    pub secret_sealed: Vec<u8>,
    pub created_at: i64,
    /// `None` while the enrolment waits for its first code.
    pub confirmed_at: Option<i64>,
    /// The time step of the last code accepted.
    pub last_used_step: Option<i64>,
}

/// Everything but the sealed secret.
impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord")
            .field("user_id", &self.user_id)
            .field("secret_sealed", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("confirmed_at", &self.confirmed_at)
            .field("last_used_step", &self.last_used_step)
            .finish()
    }
}

/// Authenticator apps, recovery codes and the organization rule.
#[async_trait]
pub trait SecondFactorStore: Send + Sync {
    /// The user's authenticator app, confirmed or pending.
    async fn find_totp(&self, user_id: &str) -> Result<Option<TotpRecord>, StoreError>;
    /// Stores a pending enrolment (replacing a pending one); `false`, and
    /// nothing changes, when the user has a confirmed one.
    async fn put_pending_totp(
        &self,
        user_id: &str,
        secret_sealed: &[u8],
        now: i64,
    ) -> Result<bool, StoreError>;
    /// One transaction: confirms the pending enrolment, recording `step`
    /// as used, and replaces the user's recovery codes by `recovery_codes`.
    /// `false`, and nothing changes, when there is no pending enrolment
    /// (of concurrent callers, exactly one gets `true`).
    async fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        recovery_codes: &[TokenDigest],
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Records `step` as used by the confirmed app, when it is later than
    /// the last one used; `false` otherwise (a replay). Of concurrent
    /// callers with one step, exactly one gets `true`.
    async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError>;
    /// One transaction: removes the app (confirmed or pending) and the
    /// recovery codes; whether there was an app.
    async fn delete_totp(&self, user_id: &str) -> Result<bool, StoreError>;
    /// One transaction: replaces the user's recovery codes.
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        recovery_codes: &[TokenDigest],
        now: i64,
    ) -> Result<(), StoreError>;
    /// Marks the unused code with this digest used; `false` when there is
    /// none (of concurrent callers with one code, exactly one gets `true`).
    async fn use_recovery_code(
        &self,
        user_id: &str,
        digest: &TokenDigest,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// How many of the user's recovery codes are unused.
    async fn count_recovery_codes(&self, user_id: &str) -> Result<u64, StoreError>;
    /// Sets the organization's rule; `false` when there is no such
    /// organization.
    async fn set_organization_second_factor(
        &self,
        organization_id: &str,
        required: bool,
    ) -> Result<bool, StoreError>;
    /// The ids of the organizations, among those given, whose members
    /// must use a second factor.
    async fn organizations_requiring_second_factor(
        &self,
        organization_ids: &[String],
    ) -> Result<Vec<String>, StoreError>;
}

pub(super) fn totp<R: SqlRow>(row: &R) -> Result<TotpRecord, StoreError> {
    Ok(TotpRecord {
        user_id: row.read("user_id")?,
        secret_sealed: row.read("secret_sealed")?,
        created_at: row.read("created_at")?,
        confirmed_at: row.read("confirmed_at")?,
        last_used_step: row.read("last_used_step")?,
    })
}

/// Implements [`SecondFactorStore`] for `$store` (a struct with a
/// `pool: sqlx::Pool<$db>`).
macro_rules! impl_second_factor_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::secret::TokenDigest;
            use $crate::store::second_factor::{SecondFactorStore, TotpRecord, totp};
            use $crate::store::sql::{changed, changed_ref};
            use $crate::store::{StoreError, map_sqlx};

            /// Deletes the user's recovery codes and inserts `codes`,
            /// inside `tx`.
            async fn put_codes(
                tx: &mut sqlx::Transaction<'_, $db>,
                user_id: &str,
                codes: &[TokenDigest],
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(map_sqlx)?;
                for code in codes {
                    sqlx::query(
                        "INSERT INTO recovery_codes (user_id, code_digest, created_at) VALUES ($1, $2, $3)",
                    )
                    .bind(user_id)
                    .bind(code.0.to_vec())
                    .bind(now)
                    .execute(&mut **tx)
                    .await
                    .map_err(map_sqlx)?;
                }
                Ok(())
            }

            #[async_trait]
            impl SecondFactorStore for $store {
                async fn find_totp(&self, user_id: &str) -> Result<Option<TotpRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT user_id, secret_sealed, created_at, confirmed_at, last_used_step \
                         FROM totp_credentials WHERE user_id = $1",
                    )
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(totp).transpose()
                }

                async fn put_pending_totp(
                    &self,
                    user_id: &str,
                    secret_sealed: &[u8],
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "INSERT INTO totp_credentials (user_id, secret_sealed, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, \
                         created_at = excluded.created_at WHERE totp_credentials.confirmed_at IS NULL",
                    )
                    .bind(user_id)
                    .bind(secret_sealed)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn confirm_totp(
                    &self,
                    user_id: &str,
                    step: i64,
                    recovery_codes: &[TokenDigest],
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    let confirmed = sqlx::query(
                        "UPDATE totp_credentials SET confirmed_at = $1, last_used_step = $2 \
                         WHERE user_id = $3 AND confirmed_at IS NULL",
                    )
                    .bind(now)
                    .bind(step)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    if !changed_ref(&confirmed) {
                        return Ok(false);
                    }
                    put_codes(&mut tx, user_id, recovery_codes, now).await?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(true)
                }

                async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "UPDATE totp_credentials SET last_used_step = $1 WHERE user_id = $2 \
                         AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $1)",
                    )
                    .bind(step)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn delete_totp(&self, user_id: &str) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    let deleted = sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(changed(deleted))
                }

                async fn replace_recovery_codes(
                    &self,
                    user_id: &str,
                    recovery_codes: &[TokenDigest],
                    now: i64,
                ) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    put_codes(&mut tx, user_id, recovery_codes, now).await?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(())
                }

                async fn use_recovery_code(
                    &self,
                    user_id: &str,
                    digest: &TokenDigest,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "UPDATE recovery_codes SET used_at = $1 \
                         WHERE user_id = $2 AND code_digest = $3 AND used_at IS NULL",
                    )
                    .bind(now)
                    .bind(user_id)
                    .bind(digest.0.to_vec())
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn count_recovery_codes(&self, user_id: &str) -> Result<u64, StoreError> {
                    let count: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
                    )
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(u64::try_from(count).unwrap_or_default())
                }

                async fn set_organization_second_factor(
                    &self,
                    organization_id: &str,
                    required: bool,
                ) -> Result<bool, StoreError> {
                    let result = sqlx::query("UPDATE organizations SET require_second_factor = $1 WHERE id = $2")
                        .bind(required)
                        .bind(organization_id)
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn organizations_requiring_second_factor(
                    &self,
                    organization_ids: &[String],
                ) -> Result<Vec<String>, StoreError> {
                    let mut required = Vec::new();
                    for id in organization_ids {
                        let flagged: Option<bool> = sqlx::query_scalar(
                            "SELECT require_second_factor FROM organizations WHERE id = $1",
                        )
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                        if flagged == Some(true) {
                            required.push(id.clone());
                        }
                    }
                    Ok(required)
                }
            }
        };
    };
}

pub(crate) use impl_second_factor_store;
