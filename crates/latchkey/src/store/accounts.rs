//! Storage of users, organizations, memberships, admin keys, browser
//! sessions and API keys: [`AccountStore`], its records, their row mappers,
//! and its SQL ([`impl_account_store!`], expanded by both backends).
//! The methods on the hot path delegate to [`HotPath`](super::hot::HotPath).

use async_trait::async_trait;

use crate::secret::TokenDigest;

use super::StoreError;
use super::sql::{SqlRow, digest_column, json_list};

#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    /// argon2id PHC string, or an imported hash in one of
    /// `accounts::hash_formats` (replaced by argon2id at the next
    /// sign-in); empty for a user imported without one, who cannot sign
    /// in with a password.
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Everything but the password hash, which a log must not offer to an
/// offline guesser.
impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("email_verified", &self.email_verified)
            .field("password_hash", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRecord {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// Who a grant speaks for, read in one query: the user, the organization,
/// and the user's role there (`None` when no longer a member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRecord {
    pub user: UserRecord,
    pub organization: OrganizationRecord,
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    pub organization_id: String,
    pub user_id: String,
    pub role: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKeyRecord {
    pub id: String,
    pub name: String,
    pub key_digest: TokenDigest,
    pub created_at: i64,
}

/// A browser session behind the session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_digest: TokenDigest,
    pub user_id: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// The browser's `User-Agent` at sign-in, truncated; `None` without one.
    pub user_agent: Option<String>,
    /// The last recorded use (recorded at most once a minute); `None`
    /// until the first, when `created_at` is the last use.
    pub last_seen_at: Option<i64>,
    /// How the user authenticated (RFC 8176 `amr` values); empty when
    /// not recorded.
    pub amr: Vec<String>,
}

/// An API key: a bearer credential bound to one organization and scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub key_digest: TokenDigest,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Users, organizations, memberships, admin keys, browser sessions and
/// API keys.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Fails with `Conflict` when the email (case-insensitively) exists.
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Case-insensitive.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Removes the user and their memberships.
    async fn delete_user(&self, id: &str) -> Result<bool, StoreError>;
    /// Replaces the user's password hash with `new_hash` (and sets
    /// `updated_at`) only if it is still `expected`: of two concurrent
    /// replacements of the same hash, one wins. `false` when the user is
    /// gone or the hash has changed.
    async fn replace_password_hash(
        &self,
        user_id: &str,
        expected: &str,
        new_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// One transaction: inserts `organizations`, then the user, then
    /// `memberships`; either all of it is written or nothing. `Conflict`
    /// when the email (case-insensitively) or an id exists,
    /// `MissingReference` when a membership names an organization that
    /// does not exist.
    async fn import_user(
        &self,
        user: &UserRecord,
        organizations: &[OrganizationRecord],
        memberships: &[MembershipRecord],
    ) -> Result<(), StoreError>;

    async fn insert_organization(&self, organization: &OrganizationRecord) -> Result<(), StoreError>;
    async fn find_organization(&self, id: &str) -> Result<Option<OrganizationRecord>, StoreError>;
    async fn list_organizations(&self) -> Result<Vec<OrganizationRecord>, StoreError>;
    /// Removes the organization, its memberships and the apps it owns.
    async fn delete_organization(&self, id: &str) -> Result<bool, StoreError>;

    /// Adds the membership or changes its role. `MissingReference` when the
    /// user or the organization does not exist.
    async fn upsert_membership(&self, membership: &MembershipRecord) -> Result<(), StoreError>;
    async fn list_members(&self, organization_id: &str) -> Result<Vec<MembershipRecord>, StoreError>;
    async fn list_memberships(&self, user_id: &str) -> Result<Vec<MembershipRecord>, StoreError>;
    async fn delete_membership(&self, organization_id: &str, user_id: &str) -> Result<bool, StoreError>;
    /// The user, the organization and the user's role there; `None` when
    /// the user or the organization does not exist.
    async fn find_subject(
        &self,
        user_id: &str,
        organization_id: &str,
    ) -> Result<Option<SubjectRecord>, StoreError>;

    async fn insert_admin_key(&self, key: &AdminKeyRecord) -> Result<(), StoreError>;
    async fn find_admin_key(&self, digest: &TokenDigest) -> Result<Option<AdminKeyRecord>, StoreError>;
    async fn list_admin_keys(&self) -> Result<Vec<AdminKeyRecord>, StoreError>;
    async fn delete_admin_key(&self, id: &str) -> Result<bool, StoreError>;

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    /// The session with this digest, expired or not.
    async fn find_session(&self, id_digest: &TokenDigest) -> Result<Option<SessionRecord>, StoreError>;
    async fn delete_session(&self, id_digest: &TokenDigest) -> Result<bool, StoreError>;
    /// The user's sessions that have not expired at `now`, the most
    /// recently used first.
    async fn list_user_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError>;
    /// Records a use of the session at `now`, at most once a minute: only
    /// when its last recorded use (or, before any, its creation) is 60 s or
    /// more before `now`. `true` when written. Of concurrent callers in the
    /// same minute at most one writes.
    async fn touch_session(&self, id_digest: &TokenDigest, now: i64) -> Result<bool, StoreError>;
    /// Deletes the session with this digest if it is `user_id`'s; `false`
    /// (nothing deleted) when there is no such session of this user.
    async fn delete_user_session(&self, user_id: &str, id_digest: &TokenDigest) -> Result<bool, StoreError>;
    /// Deletes every session of `user_id` except the one with digest
    /// `keep` (one statement); how many were deleted.
    async fn delete_other_sessions(&self, user_id: &str, keep: &TokenDigest) -> Result<u64, StoreError>;

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    async fn find_api_key(&self, digest: &TokenDigest) -> Result<Option<ApiKeyRecord>, StoreError>;
    async fn list_api_keys(&self, organization_id: &str) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// `false` when the organization has no such unrevoked key.
    async fn revoke_api_key(&self, organization_id: &str, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Records a use, at most once a minute per key (so the hot path rarely
    /// writes).
    async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), StoreError>;
}

pub(super) fn user<R: SqlRow>(row: &R) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: row.read("id")?,
        email: row.read("email")?,
        name: row.read("name")?,
        email_verified: row.read("email_verified")?,
        password_hash: row.read("password_hash")?,
        created_at: row.read("created_at")?,
        updated_at: row.read("updated_at")?,
    })
}

pub(super) fn organization<R: SqlRow>(row: &R) -> Result<OrganizationRecord, StoreError> {
    Ok(OrganizationRecord {
        id: row.read("id")?,
        name: row.read("name")?,
        created_at: row.read("created_at")?,
    })
}

/// A row of `hot::FIND_SUBJECT`: the user's columns under their names,
/// the organization's renamed, and the role.
pub(super) fn subject<R: SqlRow>(row: &R) -> Result<super::SubjectRecord, StoreError> {
    Ok(super::SubjectRecord {
        user: user(row)?,
        organization: OrganizationRecord {
            id: row.read("organization_id")?,
            name: row.read("organization_name")?,
            created_at: row.read("organization_created_at")?,
        },
        role: row.read("role")?,
    })
}

pub(super) fn membership<R: SqlRow>(row: &R) -> Result<MembershipRecord, StoreError> {
    Ok(MembershipRecord {
        organization_id: row.read("organization_id")?,
        user_id: row.read("user_id")?,
        role: row.read("role")?,
        created_at: row.read("created_at")?,
    })
}

pub(super) fn admin_key<R: SqlRow>(row: &R) -> Result<AdminKeyRecord, StoreError> {
    Ok(AdminKeyRecord {
        id: row.read("id")?,
        name: row.read("name")?,
        key_digest: digest_column(row, "key_digest")?,
        created_at: row.read("created_at")?,
    })
}

pub(super) fn api_key<R: SqlRow>(row: &R) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: row.read("id")?,
        organization_id: row.read("organization_id")?,
        name: row.read("name")?,
        scopes: json_list(row, "scopes")?,
        key_digest: digest_column(row, "key_digest")?,
        created_at: row.read("created_at")?,
        last_used_at: row.read("last_used_at")?,
        revoked_at: row.read("revoked_at")?,
    })
}

pub(super) fn session<R: SqlRow>(row: &R) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id_digest: digest_column(row, "id_digest")?,
        user_id: row.read("user_id")?,
        auth_time: row.read("auth_time")?,
        created_at: row.read("created_at")?,
        expires_at: row.read("expires_at")?,
        user_agent: row.read("user_agent")?,
        last_seen_at: row.read("last_seen_at")?,
        amr: json_list(row, "amr")?,
    })
}

/// A user row: `$1`–`$8` bound by [`insert_user_query!`], `$9` the
/// external id a delegated sign-in matches it by (`NULL` for users made by
/// the admin API, the CLI or an import).
pub(crate) const INSERT_USER: &str = "INSERT INTO users (id, email, email_normalized, name, email_verified, \
     password_hash, created_at, updated_at, external_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// [`INSERT_USER`] with the user record `$u`'s columns bound (`$1`–`$8`);
/// the caller binds the external id.
macro_rules! insert_user_query {
    ($u:expr) => {
        sqlx::query($crate::store::accounts::INSERT_USER)
            .bind(&$u.id)
            .bind(&$u.email)
            .bind($u.email.to_lowercase())
            .bind(&$u.name)
            .bind($u.email_verified)
            .bind(&$u.password_hash)
            .bind($u.created_at)
            .bind($u.updated_at)
    };
}
pub(crate) use insert_user_query;

/// [`INSERT_SESSION`] with the session record `$s` bound; the amr list's
/// encoding may fail, hence the `?` inside.
macro_rules! insert_session_query {
    ($s:expr) => {
        sqlx::query($crate::store::accounts::INSERT_SESSION)
            .bind($s.id_digest.0.to_vec())
            .bind(&$s.user_id)
            .bind($s.auth_time)
            .bind($s.created_at)
            .bind($s.expires_at)
            .bind($s.user_agent.as_deref())
            .bind($s.last_seen_at)
            .bind($crate::store::sql::to_json_list(&$s.amr)?)
    };
}
pub(crate) use insert_session_query;

/// A membership, or its new role when it exists: `$1` the organization,
/// `$2` the user, `$3` the role, `$4` created.
pub(crate) const UPSERT_MEMBERSHIP: &str = "INSERT INTO memberships (organization_id, user_id, role, created_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (organization_id, user_id) DO UPDATE SET role = excluded.role";

/// A browser session row, `$1`–`$8`.
pub(crate) const INSERT_SESSION: &str = "INSERT INTO sessions (id_digest, user_id, auth_time, created_at, \
     expires_at, user_agent, last_seen_at, amr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Implements [`AccountStore`] for `$store` (a struct with a `pool: sqlx::Pool<$db>`,
/// and a `hot()` returning its [`HotPath`](super::hot::HotPath)).
macro_rules! impl_account_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::secret::TokenDigest;
            use $crate::store::accounts::{admin_key, api_key, membership, organization, session, user};
            use $crate::store::sql::{all, changed, to_json_list};
            use $crate::store::{
                AccountStore, AdminKeyRecord, ApiKeyRecord, MembershipRecord, OrganizationRecord, SessionRecord,
                StoreError, UserRecord, map_sqlx,
            };

            #[async_trait]
            impl AccountStore for $store {
                async fn insert_user(&self, u: &UserRecord) -> Result<(), StoreError> {
                    $crate::store::accounts::insert_user_query!(u)
                    .bind(None::<String>)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
                    $crate::store::hot::HotPath::find_user(self.hot(), id).await
                }

                async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, email, name, email_verified, password_hash, created_at, updated_at \
                         FROM users WHERE email_normalized = $1",
                    )
                    .bind(email.to_lowercase())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(user).transpose()
                }

                async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, email, name, email_verified, password_hash, created_at, updated_at \
                         FROM users ORDER BY created_at, id",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, user)
                }

                async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
                    let result = sqlx::query("DELETE FROM users WHERE id = $1")
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn replace_password_hash(
                    &self,
                    user_id: &str,
                    expected: &str,
                    new_hash: &str,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND password_hash = $4",
                    )
                    .bind(new_hash)
                    .bind(now)
                    .bind(user_id)
                    .bind(expected)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn import_user(
                    &self,
                    u: &UserRecord,
                    organizations: &[OrganizationRecord],
                    memberships: &[MembershipRecord],
                ) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    for o in organizations {
                        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
                            .bind(&o.id)
                            .bind(&o.name)
                            .bind(o.created_at)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_sqlx)?;
                    }
                    $crate::store::accounts::insert_user_query!(u)
                    .bind(None::<String>)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    for m in memberships {
                        sqlx::query($crate::store::accounts::UPSERT_MEMBERSHIP)
                        .bind(&m.organization_id)
                        .bind(&m.user_id)
                        .bind(&m.role)
                        .bind(m.created_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    }
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(())
                }

                async fn insert_organization(&self, o: &OrganizationRecord) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
                        .bind(&o.id)
                        .bind(&o.name)
                        .bind(o.created_at)
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_organization(&self, id: &str) -> Result<Option<OrganizationRecord>, StoreError> {
                    $crate::store::hot::HotPath::find_organization(self.hot(), id).await
                }

                async fn list_organizations(&self) -> Result<Vec<OrganizationRecord>, StoreError> {
                    let rows = sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY created_at, id")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    all(rows, organization)
                }

                async fn delete_organization(&self, id: &str) -> Result<bool, StoreError> {
                    let result = sqlx::query("DELETE FROM organizations WHERE id = $1")
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn upsert_membership(&self, m: &MembershipRecord) -> Result<(), StoreError> {
                    sqlx::query($crate::store::accounts::UPSERT_MEMBERSHIP)
                    .bind(&m.organization_id)
                    .bind(&m.user_id)
                    .bind(&m.role)
                    .bind(m.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn list_members(&self, organization_id: &str) -> Result<Vec<MembershipRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT organization_id, user_id, role, created_at FROM memberships \
                         WHERE organization_id = $1 ORDER BY created_at, user_id",
                    )
                    .bind(organization_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, membership)
                }

                async fn list_memberships(&self, user_id: &str) -> Result<Vec<MembershipRecord>, StoreError> {
                    $crate::store::hot::HotPath::list_memberships(self.hot(), user_id).await
                }

                async fn find_subject(
                    &self,
                    user_id: &str,
                    organization_id: &str,
                ) -> Result<Option<$crate::store::SubjectRecord>, StoreError> {
                    $crate::store::hot::HotPath::find_subject(self.hot(), user_id, organization_id).await
                }

                async fn delete_membership(&self, organization_id: &str, user_id: &str) -> Result<bool, StoreError> {
                    let result = sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
                        .bind(organization_id)
                        .bind(user_id)
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn insert_admin_key(&self, k: &AdminKeyRecord) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO admin_api_keys (id, name, key_digest, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(&k.id)
                        .bind(&k.name)
                        .bind(k.key_digest.0.to_vec())
                        .bind(k.created_at)
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_admin_key(&self, digest: &TokenDigest) -> Result<Option<AdminKeyRecord>, StoreError> {
                    let row = sqlx::query("SELECT id, name, key_digest, created_at FROM admin_api_keys WHERE key_digest = $1")
                        .bind(digest.0.to_vec())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    row.as_ref().map(admin_key).transpose()
                }

                async fn list_admin_keys(&self) -> Result<Vec<AdminKeyRecord>, StoreError> {
                    let rows = sqlx::query("SELECT id, name, key_digest, created_at FROM admin_api_keys ORDER BY created_at, id")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    all(rows, admin_key)
                }

                async fn delete_admin_key(&self, id: &str) -> Result<bool, StoreError> {
                    let result = sqlx::query("DELETE FROM admin_api_keys WHERE id = $1")
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
                    $crate::store::accounts::insert_session_query!(s)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_session(&self, id_digest: &TokenDigest) -> Result<Option<SessionRecord>, StoreError> {
                    $crate::store::hot::HotPath::find_session(self.hot(), id_digest).await
                }

                async fn delete_session(&self, id_digest: &TokenDigest) -> Result<bool, StoreError> {
                    let result = sqlx::query("DELETE FROM sessions WHERE id_digest = $1")
                        .bind(id_digest.0.to_vec())
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn list_user_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id_digest, user_id, auth_time, created_at, expires_at, user_agent, last_seen_at, amr \
                         FROM sessions WHERE user_id = $1 AND expires_at > $2 \
                         ORDER BY COALESCE(last_seen_at, created_at) DESC, created_at DESC, id_digest",
                    )
                    .bind(user_id)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, session)
                }

                async fn touch_session(&self, id_digest: &TokenDigest, now: i64) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "UPDATE sessions SET last_seen_at = $1 WHERE id_digest = $2 \
                         AND COALESCE(last_seen_at, created_at) <= $3",
                    )
                    .bind(now)
                    .bind(id_digest.0.to_vec())
                    .bind(now.saturating_sub(60))
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn delete_user_session(&self, user_id: &str, id_digest: &TokenDigest) -> Result<bool, StoreError> {
                    let result = sqlx::query("DELETE FROM sessions WHERE id_digest = $1 AND user_id = $2")
                        .bind(id_digest.0.to_vec())
                        .bind(user_id)
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn delete_other_sessions(&self, user_id: &str, keep: &TokenDigest) -> Result<u64, StoreError> {
                    let result = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_digest <> $2")
                        .bind(user_id)
                        .bind(keep.0.to_vec())
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(result.rows_affected())
                }

                async fn insert_api_key(&self, k: &ApiKeyRecord) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO api_keys (id, organization_id, name, scopes, key_digest, created_at, \
                         last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&k.id)
                    .bind(&k.organization_id)
                    .bind(&k.name)
                    .bind(to_json_list(&k.scopes)?)
                    .bind(k.key_digest.0.to_vec())
                    .bind(k.created_at)
                    .bind(k.last_used_at)
                    .bind(k.revoked_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_api_key(&self, digest: &TokenDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
                    $crate::store::hot::HotPath::find_api_key(self.hot(), digest).await
                }

                async fn list_api_keys(&self, organization_id: &str) -> Result<Vec<ApiKeyRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, organization_id, name, scopes, key_digest, created_at, last_used_at, revoked_at \
                         FROM api_keys WHERE organization_id = $1 ORDER BY created_at, id",
                    )
                    .bind(organization_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, api_key)
                }

                async fn revoke_api_key(&self, organization_id: &str, id: &str, now: i64) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND organization_id = $3 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(id)
                    .bind(organization_id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), StoreError> {
                    $crate::store::hot::HotPath::touch_api_key(self.hot(), id, now).await
                }
            }
        };
    };
}

pub(crate) use impl_account_store;
