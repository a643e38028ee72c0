//! Storage of delegated sign-in (`login.mode = "delegate"`):
//! [`DelegateStore`], its records and its SQL ([`impl_delegate_store!`],
//! expanded by both backends). A login challenge is stored as the digest of
//! the value sent to the platform, with the digest of the browser secret it
//! is bound to and the page to return to; an accepted assertion's `jti` as
//! a digest until the assertion expires. Users signed in this way carry
//! the platform's `sub` in `users.external_id`.

use async_trait::async_trait;

use crate::secret::TokenDigest;

use super::sql::{SqlRow, digest_column};
use super::{OrganizationRecord, SessionRecord, StoreError, UserRecord};

/// A login challenge sent to the platform, waiting for its assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginChallengeRecord {
    pub challenge_digest: TokenDigest,
    /// The digest of the secret in the browser's cookie.
    pub browser_digest: TokenDigest,
    /// The same-origin path to continue to once signed in.
    pub return_to: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A membership the assertion lists, with its organization (created when
/// missing; renamed when `rename` and the name differs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatedMembership {
    pub organization: OrganizationRecord,
    pub rename: bool,
    pub role: String,
}

/// Everything one delegated sign-in writes.
#[derive(Debug, Clone)]
pub struct DelegatedSignIn {
    pub challenge_digest: TokenDigest,
    /// The digest of the assertion's `jti`, kept until `jti_expires_at`.
    pub jti_digest: TokenDigest,
    pub jti_expires_at: i64,
    /// The user as they should be (its `password_hash` is written only
    /// when the user is created).
    pub user: UserRecord,
    pub create_user: bool,
    /// The platform's `sub`.
    pub external_id: String,
    /// `None`: memberships stay as they are; otherwise exactly these.
    pub memberships: Option<Vec<DelegatedMembership>>,
    pub session: SessionRecord,
    pub now: i64,
}

/// What [`DelegateStore::complete_delegated_sign_in`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelegatedOutcome {
    /// Everything was written.
    Completed,
    /// The challenge was used (or expired) meanwhile; nothing was written.
    ChallengeSpent,
    /// The `jti` was accepted before; nothing was written.
    AssertionReplayed,
    /// The user to update is gone or belongs to another `sub`; nothing
    /// was written.
    UserNotLinkable,
}

/// Login challenges, accepted assertions and the users they sign in.
#[async_trait]
pub trait DelegateStore: Send + Sync {
    /// Stores a challenge; in the same transaction, deletes the
    /// challenges and accepted `jti`s expired before `now`.
    async fn insert_login_challenge(
        &self,
        challenge: &LoginChallengeRecord,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The challenge with this digest, expired or not.
    async fn find_login_challenge(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<LoginChallengeRecord>, StoreError>;
    /// The user whose `external_id` this is.
    async fn find_user_by_external_id(&self, external_id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// The oldest organization with exactly this name.
    async fn find_organization_by_name(&self, name: &str) -> Result<Option<OrganizationRecord>, StoreError>;
    /// One transaction: deletes the unexpired challenge (else
    /// `ChallengeSpent`), records the `jti` (else `AssertionReplayed`),
    /// inserts the user or updates their email, name, `email_verified`
    /// and `external_id` (an update only while the user's `external_id`
    /// is unset or already this one, else `UserNotLinkable`), creates the
    /// missing organizations, sets the listed memberships and removes the
    /// others (when `memberships` is given), and inserts the session.
    /// `Conflict` when the email belongs to another user. Of concurrent
    /// callers with one challenge, at most one gets `Completed`.
    async fn complete_delegated_sign_in(
        &self,
        sign_in: &DelegatedSignIn,
    ) -> Result<DelegatedOutcome, StoreError>;
}

pub(super) fn login_challenge<R: SqlRow>(row: &R) -> Result<LoginChallengeRecord, StoreError> {
    Ok(LoginChallengeRecord {
        challenge_digest: digest_column(row, "challenge_digest")?,
        browser_digest: digest_column(row, "browser_digest")?,
        return_to: row.read("return_to")?,
        created_at: row.read("created_at")?,
        expires_at: row.read("expires_at")?,
    })
}

/// Implements [`DelegateStore`] for `$store` (a struct with a
/// `pool: sqlx::Pool<$db>`).
macro_rules! impl_delegate_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::secret::TokenDigest;
            use $crate::store::accounts::{organization, user};
            use $crate::store::delegate::{
                DelegateStore, DelegatedOutcome, DelegatedSignIn, LoginChallengeRecord, login_challenge,
            };
            use $crate::store::sql::changed_ref;
            use $crate::store::{OrganizationRecord, StoreError, UserRecord, map_sqlx};

            #[async_trait]
            impl DelegateStore for $store {
                async fn insert_login_challenge(
                    &self,
                    c: &LoginChallengeRecord,
                    now: i64,
                ) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    sqlx::query("DELETE FROM login_challenges WHERE expires_at < $1")
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    sqlx::query("DELETE FROM delegate_assertions WHERE expires_at < $1")
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    sqlx::query(
                        "INSERT INTO login_challenges (challenge_digest, browser_digest, return_to, \
                         created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(c.challenge_digest.0.to_vec())
                    .bind(c.browser_digest.0.to_vec())
                    .bind(&c.return_to)
                    .bind(c.created_at)
                    .bind(c.expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_login_challenge(
                    &self,
                    digest: &TokenDigest,
                ) -> Result<Option<LoginChallengeRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT challenge_digest, browser_digest, return_to, created_at, expires_at \
                         FROM login_challenges WHERE challenge_digest = $1",
                    )
                    .bind(digest.0.to_vec())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(login_challenge).transpose()
                }

                async fn find_user_by_external_id(
                    &self,
                    external_id: &str,
                ) -> Result<Option<UserRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, email, name, email_verified, password_hash, created_at, updated_at \
                         FROM users WHERE external_id = $1",
                    )
                    .bind(external_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(user).transpose()
                }

                async fn find_organization_by_name(
                    &self,
                    name: &str,
                ) -> Result<Option<OrganizationRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, name, created_at FROM organizations WHERE name = $1 \
                         ORDER BY created_at, id LIMIT 1",
                    )
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(organization).transpose()
                }

                async fn complete_delegated_sign_in(
                    &self,
                    s: &DelegatedSignIn,
                ) -> Result<DelegatedOutcome, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    // A write first, so SQLite's write lock is held from the
                    // start and concurrent callers wait for each other.
                    let spent = sqlx::query(
                        "DELETE FROM login_challenges WHERE challenge_digest = $1 AND expires_at > $2",
                    )
                    .bind(s.challenge_digest.0.to_vec())
                    .bind(s.now)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    if !changed_ref(&spent) {
                        return Ok(DelegatedOutcome::ChallengeSpent);
                    }
                    let recorded = sqlx::query(
                        "INSERT INTO delegate_assertions (jti_digest, expires_at) VALUES ($1, $2) \
                         ON CONFLICT (jti_digest) DO NOTHING",
                    )
                    .bind(s.jti_digest.0.to_vec())
                    .bind(s.jti_expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    if !changed_ref(&recorded) {
                        return Ok(DelegatedOutcome::AssertionReplayed);
                    }
                    let u = &s.user;
                    if s.create_user {
                        $crate::store::accounts::insert_user_query!(u)
                            .bind(&s.external_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_sqlx)?;
                    } else {
                        let updated = sqlx::query(
                            "UPDATE users SET email = $1, email_normalized = $2, name = $3, \
                             email_verified = $4, updated_at = $5, external_id = $6 \
                             WHERE id = $7 AND (external_id IS NULL OR external_id = $6)",
                        )
                        .bind(&u.email)
                        .bind(u.email.to_lowercase())
                        .bind(&u.name)
                        .bind(u.email_verified)
                        .bind(u.updated_at)
                        .bind(&s.external_id)
                        .bind(&u.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                        if !changed_ref(&updated) {
                            return Ok(DelegatedOutcome::UserNotLinkable);
                        }
                    }
                    if let Some(memberships) = &s.memberships {
                        let current: Vec<String> =
                            sqlx::query_scalar("SELECT organization_id FROM memberships WHERE user_id = $1")
                                .bind(&u.id)
                                .fetch_all(&mut *tx)
                                .await
                                .map_err(map_sqlx)?;
                        for organization_id in current {
                            if memberships
                                .iter()
                                .all(|m| m.organization.id != organization_id)
                            {
                                sqlx::query(
                                    "DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2",
                                )
                                .bind(&organization_id)
                                .bind(&u.id)
                                .execute(&mut *tx)
                                .await
                                .map_err(map_sqlx)?;
                            }
                        }
                        for m in memberships {
                            let o = &m.organization;
                            sqlx::query(
                                "INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3) \
                                 ON CONFLICT (id) DO NOTHING",
                            )
                            .bind(&o.id)
                            .bind(&o.name)
                            .bind(o.created_at)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_sqlx)?;
                            if m.rename {
                                sqlx::query(
                                    "UPDATE organizations SET name = $1 WHERE id = $2 AND name <> $1",
                                )
                                .bind(&o.name)
                                .bind(&o.id)
                                .execute(&mut *tx)
                                .await
                                .map_err(map_sqlx)?;
                            }
                            sqlx::query($crate::store::accounts::UPSERT_MEMBERSHIP)
                                .bind(&o.id)
                                .bind(&u.id)
                                .bind(&m.role)
                                .bind(s.now)
                                .execute(&mut *tx)
                                .await
                                .map_err(map_sqlx)?;
                        }
                    }
                    let session = &s.session;
                    $crate::store::accounts::insert_session_query!(session)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(DelegatedOutcome::Completed)
                }
            }
        };
    };
}

pub(crate) use impl_delegate_store;
