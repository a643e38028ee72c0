//! Storage of the one-time links sent by mail (password reset, email
//! verification): [`UserTokenStore`], its record and its SQL
//! ([`impl_user_token_store!`], expanded by both backends). A link's token
//! is stored only as its SHA-256 digest, with its user, its purpose, the
//! address it was sent to, when it expires and when it was used.

use async_trait::async_trait;

use crate::secret::TokenDigest;

use super::StoreError;
use super::sql::{SqlRow, digest_column};

/// What a link sent by mail is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    PasswordReset,
    VerifyEmail,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::VerifyEmail => "verify_email",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "password_reset" => Ok(Self::PasswordReset),
            "verify_email" => Ok(Self::VerifyEmail),
            other => Err(StoreError::Backend(
                format!("unknown user token purpose `{other}`").into(),
            )),
        }
    }
}

/// A link sent by mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTokenRecord {
    pub token_digest: TokenDigest,
    pub user_id: String,
    pub purpose: TokenPurpose,
    /// The address the link was sent to (a verification holds only while
    /// the user's email is still this one).
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// One-time links sent by mail, and what using one changes.
#[async_trait]
pub trait UserTokenStore: Send + Sync {
    /// Stores a link; in the same transaction, deletes the links expired
    /// before `now`.
    async fn insert_user_token(&self, token: &UserTokenRecord, now: i64) -> Result<(), StoreError>;
    /// The link with this digest, used, expired or not.
    async fn find_user_token(&self, digest: &TokenDigest) -> Result<Option<UserTokenRecord>, StoreError>;
    /// One transaction: marks the unused, unexpired password-reset link
    /// `digest` used at `now`, sets its user's password hash to
    /// `password_hash`, marks the user's other unused reset links used,
    /// and deletes every session of the user. The user's id, or `None`
    /// (nothing written) when the link is unknown, used, expired or not a
    /// reset link. Of concurrent callers with one link, at most one gets
    /// `Some`.
    async fn complete_password_reset(
        &self,
        digest: &TokenDigest,
        password_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError>;
    /// Marks every unused password-reset link of `user_id` used at `now`
    /// (the password changed); how many.
    async fn spend_password_resets(&self, user_id: &str, now: i64) -> Result<u64, StoreError>;
    /// One transaction: marks the unused, unexpired verification link
    /// `digest` used at `now` and sets `email_verified` on its user, if
    /// the user's email is still the one the link was sent to. The user's
    /// id, or `None` (nothing written) otherwise. Of concurrent callers
    /// with one link, at most one gets `Some`.
    async fn complete_email_verification(
        &self,
        digest: &TokenDigest,
        now: i64,
    ) -> Result<Option<String>, StoreError>;
}

pub(super) fn user_token<R: SqlRow>(row: &R) -> Result<UserTokenRecord, StoreError> {
    let purpose: String = row.read("purpose")?;
    Ok(UserTokenRecord {
        token_digest: digest_column(row, "token_digest")?,
        user_id: row.read("user_id")?,
        purpose: TokenPurpose::parse(&purpose)?,
        email: row.read("email")?,
        created_at: row.read("created_at")?,
        expires_at: row.read("expires_at")?,
        used_at: row.read("used_at")?,
    })
}

/// Marks a user's unused links of a purpose used: `$1` now, `$2` the
/// user, `$3` the purpose.
pub(crate) const SPEND_PASSWORD_RESETS: &str =
    "UPDATE user_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL";

/// Implements [`UserTokenStore`] for `$store` (a struct with a
/// `pool: sqlx::Pool<$db>`).
macro_rules! impl_user_token_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::secret::TokenDigest;
            use $crate::store::sql::changed_ref;
            use $crate::store::user_tokens::{
                SPEND_PASSWORD_RESETS, TokenPurpose, UserTokenRecord, UserTokenStore, user_token,
            };
            use $crate::store::{StoreError, map_sqlx};

            /// Marks the link used when it is unused, unexpired and for
            /// `purpose`; its user's id, or `None`.
            async fn spend(
                tx: &mut sqlx::Transaction<'_, $db>,
                digest: &TokenDigest,
                purpose: TokenPurpose,
                now: i64,
            ) -> Result<Option<(String, String)>, StoreError> {
                let spent = sqlx::query(
                    "UPDATE user_tokens SET used_at = $1 WHERE token_digest = $2 AND purpose = $3 \
                     AND used_at IS NULL AND expires_at > $1",
                )
                .bind(now)
                .bind(digest.0.to_vec())
                .bind(purpose.as_str())
                .execute(&mut **tx)
                .await
                .map_err(map_sqlx)?;
                if !changed_ref(&spent) {
                    return Ok(None);
                }
                let row: (String, String) =
                    sqlx::query_as("SELECT user_id, email FROM user_tokens WHERE token_digest = $1")
                        .bind(digest.0.to_vec())
                        .fetch_one(&mut **tx)
                        .await
                        .map_err(map_sqlx)?;
                Ok(Some(row))
            }

            #[async_trait]
            impl UserTokenStore for $store {
                async fn insert_user_token(&self, t: &UserTokenRecord, now: i64) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    sqlx::query("DELETE FROM user_tokens WHERE expires_at < $1")
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    sqlx::query(
                        "INSERT INTO user_tokens (token_digest, user_id, purpose, email, created_at, \
                         expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(t.token_digest.0.to_vec())
                    .bind(&t.user_id)
                    .bind(t.purpose.as_str())
                    .bind(&t.email)
                    .bind(t.created_at)
                    .bind(t.expires_at)
                    .bind(t.used_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_user_token(
                    &self,
                    digest: &TokenDigest,
                ) -> Result<Option<UserTokenRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT token_digest, user_id, purpose, email, created_at, expires_at, used_at \
                         FROM user_tokens WHERE token_digest = $1",
                    )
                    .bind(digest.0.to_vec())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(user_token).transpose()
                }

                async fn complete_password_reset(
                    &self,
                    digest: &TokenDigest,
                    password_hash: &str,
                    now: i64,
                ) -> Result<Option<String>, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    // A write first, so SQLite's write lock is held from the
                    // start and concurrent callers wait for each other.
                    let Some((user_id, _)) = spend(&mut tx, digest, TokenPurpose::PasswordReset, now).await?
                    else {
                        return Ok(None);
                    };
                    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                        .bind(password_hash)
                        .bind(now)
                        .bind(&user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    sqlx::query(SPEND_PASSWORD_RESETS)
                        .bind(now)
                        .bind(&user_id)
                        .bind(TokenPurpose::PasswordReset.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(&user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(Some(user_id))
                }

                async fn spend_password_resets(&self, user_id: &str, now: i64) -> Result<u64, StoreError> {
                    let spent = sqlx::query(SPEND_PASSWORD_RESETS)
                        .bind(now)
                        .bind(user_id)
                        .bind(TokenPurpose::PasswordReset.as_str())
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(spent.rows_affected())
                }

                async fn complete_email_verification(
                    &self,
                    digest: &TokenDigest,
                    now: i64,
                ) -> Result<Option<String>, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    let Some((user_id, email)) =
                        spend(&mut tx, digest, TokenPurpose::VerifyEmail, now).await?
                    else {
                        return Ok(None);
                    };
                    let verified = sqlx::query(
                        "UPDATE users SET email_verified = $1, updated_at = $2 \
                         WHERE id = $3 AND email_normalized = $4",
                    )
                    .bind(true)
                    .bind(now)
                    .bind(&user_id)
                    .bind(email.to_lowercase())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    if !changed_ref(&verified) {
                        // The address changed since the link was sent:
                        // nothing is written, the link included.
                        return Ok(None);
                    }
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(Some(user_id))
                }
            }
        };
    };
}

pub(crate) use impl_user_token_store;
