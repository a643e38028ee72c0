//! Storage of grants and what leads to them or hangs on them: consents,
//! authorization codes, grants, revoked access tokens, refresh tokens,
//! connected apps, and housekeeping: [`GrantStore`], its records, their row mappers, and its SQL
//! ([`impl_grant_store!`], expanded by both backends).
//! The methods on the hot path delegate to [`HotPath`](super::hot::HotPath).

use async_trait::async_trait;

use crate::secret::TokenDigest;

use super::StoreError;
use super::sql::{SqlRow, digest_column, json_list};

/// What one code exchange granted: refresh tokens belong to it, access
/// tokens name it, and revocation ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub organization_id: String,
    pub scopes: Vec<String>,
    /// The resources the authorization named (RFC 8707), as configured
    /// identifiers; empty when it named none.
    pub resources: Vec<String>,
    pub auth_time: i64,
    /// How the user authenticated (RFC 8176), from the code.
    pub amr: Vec<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// One client_credentials issuance (RFC 6749 §4.4): a grant with no user,
/// acting for the client's organization, that its one access token names.
/// It ends when it expires, when the client is disabled or deleted, loses
/// the grant type or leaves the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentialsGrantRecord {
    pub id: String,
    pub client_id: String,
    pub organization_id: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    /// When its access token expires.
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// An authorization code and everything it is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRecord {
    pub code_digest: TokenDigest,
    pub client_id: String,
    pub user_id: String,
    pub organization_id: String,
    pub redirect_uri: String,
    /// Whether the authorization request carried `redirect_uri` (then the
    /// token request must repeat it, RFC 6749 §4.1.3).
    pub redirect_uri_given: bool,
    pub scopes: Vec<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    /// The resources the authorization request named (RFC 8707).
    pub resources: Vec<String>,
    pub auth_time: i64,
    /// How the user authenticated (RFC 8176), from the session.
    pub amr: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    pub grant_id: Option<String>,
}

/// A refresh token with what a refresh needs next, read together: its
/// grant (`None` when gone) and the grant's subject (`None` when the grant,
/// its user or its organization is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshContext {
    pub token: RefreshTokenRecord,
    pub grant: Option<GrantRecord>,
    pub subject: Option<super::SubjectRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub token_digest: TokenDigest,
    pub grant_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// The outcome of [`GrantStore::exchange_authorization_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeExchange {
    /// This caller consumed the code; the grant and refresh token exist.
    Exchanged,
    /// The code was consumed before (by the grant named, if any).
    AlreadyConsumed { grant_id: Option<String> },
}

/// An app a user authorized in one organization (a remembered consent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    pub client_id: String,
    pub client_name: String,
    pub client_logo_url: Option<String>,
    pub organization_id: String,
    pub organization_name: String,
    pub scopes: Vec<String>,
    pub granted_at: i64,
    pub updated_at: i64,
    /// When the app last obtained tokens (a code exchange or a refresh).
    pub last_used_at: Option<i64>,
}

/// How many rows housekeeping removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    pub authorization_codes: u64,
    pub refresh_tokens: u64,
    pub sessions: u64,
    pub revoked_access_tokens: u64,
    pub grants: u64,
    pub audit_events: u64,
    /// Links sent by mail (password reset, email verification) past
    /// their expiry, used or not.
    pub user_tokens: u64,
}

/// Consents, authorization codes, grants, access-token liveness and
/// revocation, refresh tokens, connected apps, and housekeeping.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// The user's consents to the client in every organization, most
    /// recently approved first (ties in organization-name order):
    /// (organization id, scopes, when last approved). One indexed query.
    async fn list_client_consents(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Vec<(String, Vec<String>, i64)>, StoreError>;
    /// The scopes the user granted the client in the organization.
    async fn find_consent(
        &self,
        user_id: &str,
        organization_id: &str,
        client_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError>;
    /// Records (or replaces) the scopes granted.
    async fn upsert_consent(
        &self,
        user_id: &str,
        organization_id: &str,
        client_id: &str,
        scopes: &[String],
        now: i64,
    ) -> Result<(), StoreError>;

    /// The resources (RFC 8707) the user consented to for the client in
    /// the organization; empty when the consent named none, or there is
    /// no consent.
    async fn find_consent_resources(
        &self,
        user_id: &str,
        organization_id: &str,
        client_id: &str,
    ) -> Result<Vec<String>, StoreError>;
    /// Replaces the resources of an existing consent (its scopes stay);
    /// `false` when there is no such consent.
    async fn set_consent_resources(
        &self,
        user_id: &str,
        organization_id: &str,
        client_id: &str,
        resources: &[String],
    ) -> Result<bool, StoreError>;

    async fn insert_authorization_code(&self, code: &AuthorizationCodeRecord) -> Result<(), StoreError>;
    async fn find_authorization_code(
        &self,
        code_digest: &TokenDigest,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError>;
    /// One transaction: marks the code consumed if nobody has, then inserts
    /// the grant and, when given, its first refresh token. Of concurrent
    /// callers with the same code exactly one gets `Exchanged`; the others
    /// change nothing.
    async fn exchange_authorization_code(
        &self,
        code_digest: &TokenDigest,
        grant: &GrantRecord,
        refresh_token: Option<&RefreshTokenRecord>,
        now: i64,
    ) -> Result<CodeExchange, StoreError>;

    async fn find_grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError>;
    /// Whether an access token is live: its grant exists, is not revoked,
    /// its client is enabled, and the token itself (`jti`) was not revoked.
    /// One indexed round trip, run on every token check (SPEC 7).
    async fn access_token_is_live(&self, grant_id: &str, jti: &str) -> Result<bool, StoreError>;
    /// One transaction: marks the grant revoked and deletes its refresh
    /// tokens. `false` when it was already revoked or does not exist.
    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<bool, StoreError>;
    /// Records a revoked access token until it would have expired.
    async fn revoke_access_token(
        &self,
        jti: &str,
        grant_id: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Inserts a refresh token for an existing grant.
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;

    /// The apps the user authorized, in every organization.
    async fn list_connected_apps(&self, user_id: &str) -> Result<Vec<ConnectedApp>, StoreError>;
    /// One transaction: forgets the consent, revokes every grant of the
    /// user × organization × client and deletes their refresh tokens.
    /// `false` when there was nothing to revoke.
    async fn revoke_connected_app(
        &self,
        user_id: &str,
        organization_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Deletes what can no longer matter: codes, refresh tokens, sessions
    /// and revoked-token records past their expiry, grants revoked or
    /// without live refresh tokens since before `grant_cutoff`, and audit
    /// events older than `audit_cutoff`.
    async fn purge_expired(
        &self,
        now: i64,
        grant_cutoff: i64,
        audit_cutoff: i64,
    ) -> Result<PurgeCounts, StoreError>;

    async fn find_refresh_token(
        &self,
        token_digest: &TokenDigest,
    ) -> Result<Option<RefreshTokenRecord>, StoreError>;
    /// The refresh token with its grant and the grant's subject, as of one
    /// moment; `None` when there is no such token.
    async fn find_refresh_context(
        &self,
        token_digest: &TokenDigest,
    ) -> Result<Option<RefreshContext>, StoreError>;
    /// One transaction: marks `old` used if it is unused, then inserts its
    /// successor. Of concurrent callers with the same token exactly one gets
    /// `true`; the others change nothing.
    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        successor: &RefreshTokenRecord,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Records a client_credentials issuance before its token is signed.
    async fn insert_client_credentials_grant(
        &self,
        grant: &ClientCredentialsGrantRecord,
    ) -> Result<(), StoreError>;
    async fn find_client_credentials_grant(
        &self,
        id: &str,
    ) -> Result<Option<ClientCredentialsGrantRecord>, StoreError>;
    /// Whether a client_credentials access token is live: its grant exists
    /// and is not revoked, its client is enabled and still owns the grant's
    /// organization, and the token (`jti`) was not revoked. One indexed
    /// round trip, run on every check of such a token (SPEC 7).
    async fn client_credentials_token_is_live(&self, grant_id: &str, jti: &str) -> Result<bool, StoreError>;
    /// Revokes every live client_credentials grant of the client; how many.
    async fn revoke_client_credentials_grants(&self, client_id: &str, now: i64) -> Result<u64, StoreError>;
}

pub(super) fn client_credentials_grant<R: SqlRow>(
    row: &R,
) -> Result<ClientCredentialsGrantRecord, StoreError> {
    Ok(ClientCredentialsGrantRecord {
        id: row.read("id")?,
        client_id: row.read("client_id")?,
        organization_id: row.read("organization_id")?,
        scopes: json_list(row, "scopes")?,
        created_at: row.read("created_at")?,
        expires_at: row.read("expires_at")?,
        revoked_at: row.read("revoked_at")?,
    })
}

pub(super) fn grant<R: SqlRow>(row: &R) -> Result<GrantRecord, StoreError> {
    Ok(GrantRecord {
        id: row.read("id")?,
        client_id: row.read("client_id")?,
        user_id: row.read("user_id")?,
        organization_id: row.read("organization_id")?,
        scopes: json_list(row, "scopes")?,
        resources: json_list(row, "resources")?,
        auth_time: row.read("auth_time")?,
        amr: json_list(row, "amr")?,
        created_at: row.read("created_at")?,
        revoked_at: row.read("revoked_at")?,
    })
}

pub(super) fn authorization_code<R: SqlRow>(row: &R) -> Result<AuthorizationCodeRecord, StoreError> {
    Ok(AuthorizationCodeRecord {
        code_digest: digest_column(row, "code_digest")?,
        client_id: row.read("client_id")?,
        user_id: row.read("user_id")?,
        organization_id: row.read("organization_id")?,
        redirect_uri: row.read("redirect_uri")?,
        redirect_uri_given: row.read("redirect_uri_given")?,
        scopes: json_list(row, "scopes")?,
        code_challenge: row.read("code_challenge")?,
        code_challenge_method: row.read("code_challenge_method")?,
        nonce: row.read("nonce")?,
        resources: json_list(row, "resources")?,
        auth_time: row.read("auth_time")?,
        amr: json_list(row, "amr")?,
        created_at: row.read("created_at")?,
        expires_at: row.read("expires_at")?,
        consumed_at: row.read("consumed_at")?,
        grant_id: row.read("grant_id")?,
    })
}

pub(super) fn refresh_token<R: SqlRow>(row: &R) -> Result<RefreshTokenRecord, StoreError> {
    Ok(RefreshTokenRecord {
        token_digest: digest_column(row, "token_digest")?,
        grant_id: row.read("grant_id")?,
        client_id: row.read("client_id")?,
        scopes: json_list(row, "scopes")?,
        created_at: row.read("created_at")?,
        expires_at: row.read("expires_at")?,
        used_at: row.read("used_at")?,
    })
}

pub(super) fn consent<R: SqlRow>(row: &R) -> Result<(String, Vec<String>, i64), StoreError> {
    Ok((
        row.read("organization_id")?,
        json_list(row, "scopes")?,
        row.read("updated_at")?,
    ))
}

pub(super) fn connected_app<R: SqlRow>(row: &R) -> Result<ConnectedApp, StoreError> {
    Ok(ConnectedApp {
        client_id: row.read("client_id")?,
        client_name: row.read("client_name")?,
        client_logo_url: row.read("logo_url")?,
        organization_id: row.read("organization_id")?,
        organization_name: row.read("organization_name")?,
        scopes: json_list(row, "scopes")?,
        granted_at: row.read("created_at")?,
        updated_at: row.read("updated_at")?,
        last_used_at: {
            let grant: Option<i64> = row.read("last_grant")?;
            let refresh: Option<i64> = row.read("last_refresh")?;
            grant.max(refresh)
        },
    })
}

/// Implements [`GrantStore`] for `$store` (a struct with a `pool: sqlx::Pool<$db>`,
/// and a `hot()` returning its [`HotPath`](super::hot::HotPath)).
macro_rules! impl_grant_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::secret::TokenDigest;
            use $crate::store::grants::{client_credentials_grant, connected_app, consent};
            use $crate::store::sql::{all, changed, changed_ref, to_json_list};
            use $crate::store::{
                AuthorizationCodeRecord, ClientCredentialsGrantRecord, CodeExchange, ConnectedApp, GrantRecord,
                GrantStore, PurgeCounts, RefreshTokenRecord, StoreError, map_sqlx,
            };

            #[async_trait]
            impl GrantStore for $store {
                async fn find_consent(
                    &self,
                    user_id: &str,
                    organization_id: &str,
                    client_id: &str,
                ) -> Result<Option<Vec<String>>, StoreError> {
                    $crate::store::hot::HotPath::find_consent(self.hot(), user_id, organization_id, client_id).await
                }

                async fn list_client_consents(
                    &self,
                    user_id: &str,
                    client_id: &str,
                ) -> Result<Vec<(String, Vec<String>, i64)>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT k.organization_id, k.scopes, k.updated_at FROM consents k \
                         JOIN organizations o ON o.id = k.organization_id \
                         WHERE k.user_id = $1 AND k.client_id = $2 ORDER BY k.updated_at DESC, o.name",
                    )
                    .bind(user_id)
                    .bind(client_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, consent)
                }

                async fn upsert_consent(
                    &self,
                    user_id: &str,
                    organization_id: &str,
                    client_id: &str,
                    scopes: &[String],
                    now: i64,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO consents (user_id, organization_id, client_id, scopes, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $5) \
                         ON CONFLICT (user_id, organization_id, client_id) \
                         DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at",
                    )
                    .bind(user_id)
                    .bind(organization_id)
                    .bind(client_id)
                    .bind(to_json_list(scopes)?)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_consent_resources(
                    &self,
                    user_id: &str,
                    organization_id: &str,
                    client_id: &str,
                ) -> Result<Vec<String>, StoreError> {
                    let row = sqlx::query(
                        "SELECT resources FROM consents WHERE user_id = $1 AND organization_id = $2 AND client_id = $3",
                    )
                    .bind(user_id)
                    .bind(organization_id)
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    match row {
                        Some(row) => $crate::store::sql::json_list(&row, "resources"),
                        None => Ok(Vec::new()),
                    }
                }

                async fn set_consent_resources(
                    &self,
                    user_id: &str,
                    organization_id: &str,
                    client_id: &str,
                    resources: &[String],
                ) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "UPDATE consents SET resources = $1 WHERE user_id = $2 AND organization_id = $3 AND client_id = $4",
                    )
                    .bind(to_json_list(resources)?)
                    .bind(user_id)
                    .bind(organization_id)
                    .bind(client_id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn insert_authorization_code(&self, c: &AuthorizationCodeRecord) -> Result<(), StoreError> {
                    $crate::store::hot::HotPath::insert_authorization_code(self.hot(), c).await
                }

                async fn find_authorization_code(
                    &self,
                    code_digest: &TokenDigest,
                ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
                    $crate::store::hot::HotPath::find_authorization_code(self.hot(), code_digest).await
                }

                async fn exchange_authorization_code(
                    &self,
                    code_digest: &TokenDigest,
                    g: &GrantRecord,
                    refresh: Option<&RefreshTokenRecord>,
                    now: i64,
                ) -> Result<CodeExchange, StoreError> {
                    $crate::store::hot::HotPath::exchange_authorization_code(self.hot(), code_digest, g, refresh, now).await
                }

                async fn find_grant(&self, id: &str) -> Result<Option<GrantRecord>, StoreError> {
                    $crate::store::hot::HotPath::find_grant(self.hot(), id).await
                }

                async fn access_token_is_live(&self, grant_id: &str, jti: &str) -> Result<bool, StoreError> {
                    $crate::store::hot::HotPath::access_token_is_live(self.hot(), grant_id, jti).await
                }

                async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    let result = sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                        .bind(now)
                        .bind(grant_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    sqlx::query("DELETE FROM refresh_tokens WHERE grant_id = $1")
                        .bind(grant_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(changed(result))
                }

                async fn revoke_access_token(
                    &self,
                    jti: &str,
                    grant_id: &str,
                    expires_at: i64,
                    now: i64,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO revoked_access_tokens (jti, grant_id, expires_at, revoked_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
                    )
                    .bind(jti)
                    .bind(grant_id)
                    .bind(expires_at)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
                    $crate::store::hot::HotPath::insert_refresh_token(self.hot(), token).await
                }

                async fn list_connected_apps(&self, user_id: &str) -> Result<Vec<ConnectedApp>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT k.client_id, c.name AS client_name, c.logo_url, k.organization_id, \
                         o.name AS organization_name, k.scopes, k.created_at, k.updated_at, \
                         (SELECT MAX(g.created_at) FROM grants g WHERE g.user_id = k.user_id \
                          AND g.organization_id = k.organization_id AND g.client_id = k.client_id) AS last_grant, \
                         (SELECT MAX(r.created_at) FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
                          WHERE g.user_id = k.user_id AND g.organization_id = k.organization_id \
                          AND g.client_id = k.client_id) AS last_refresh \
                         FROM consents k JOIN clients c ON c.client_id = k.client_id \
                         JOIN organizations o ON o.id = k.organization_id \
                         WHERE k.user_id = $1 ORDER BY o.name, c.name, k.client_id",
                    )
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, connected_app)
                }

                async fn revoke_connected_app(
                    &self,
                    user_id: &str,
                    organization_id: &str,
                    client_id: &str,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
                    let consent = sqlx::query(
                        "DELETE FROM consents WHERE user_id = $1 AND organization_id = $2 AND client_id = $3",
                    )
                    .bind(user_id)
                    .bind(organization_id)
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    sqlx::query(
                        "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants \
                         WHERE user_id = $1 AND organization_id = $2 AND client_id = $3)",
                    )
                    .bind(user_id)
                    .bind(organization_id)
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    let grants = sqlx::query(
                        "UPDATE grants SET revoked_at = $1 WHERE user_id = $2 AND organization_id = $3 \
                         AND client_id = $4 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(user_id)
                    .bind(organization_id)
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(changed_ref(&consent) || changed(grants))
                }

                async fn purge_expired(
                    &self,
                    now: i64,
                    grant_cutoff: i64,
                    audit_cutoff: i64,
                ) -> Result<PurgeCounts, StoreError> {
                    let run = |sql: &'static str, value: i64| {
                        let pool = &self.pool;
                        async move {
                            sqlx::query(sql)
                                .bind(value)
                                .execute(pool)
                                .await
                                .map(|r| r.rows_affected())
                                .map_err(map_sqlx)
                        }
                    };
                    Ok(PurgeCounts {
                        authorization_codes: run("DELETE FROM authorization_codes WHERE expires_at < $1", grant_cutoff).await?,
                        refresh_tokens: run("DELETE FROM refresh_tokens WHERE expires_at < $1", grant_cutoff).await?,
                        sessions: run("DELETE FROM sessions WHERE expires_at < $1", now).await?,
                        revoked_access_tokens: run("DELETE FROM revoked_access_tokens WHERE expires_at < $1", now).await?,
                        grants: run(
                            "DELETE FROM grants WHERE (revoked_at IS NOT NULL AND revoked_at < $1) \
                             OR (created_at < $1 AND NOT EXISTS \
                             (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.id))",
                            grant_cutoff,
                        )
                        .await?
                            // A client_credentials grant matters until its one token expires.
                            + run("DELETE FROM client_credentials_grants WHERE expires_at < $1", now).await?,
                        audit_events: run("DELETE FROM audit_events WHERE occurred_at < $1", audit_cutoff).await?,
                        user_tokens: run("DELETE FROM user_tokens WHERE expires_at < $1", now).await?,
                    })
                }

                async fn find_refresh_token(
                    &self,
                    token_digest: &TokenDigest,
                ) -> Result<Option<RefreshTokenRecord>, StoreError> {
                    $crate::store::hot::HotPath::find_refresh_token(self.hot(), token_digest).await
                }

                async fn find_refresh_context(
                    &self,
                    token_digest: &TokenDigest,
                ) -> Result<Option<$crate::store::RefreshContext>, StoreError> {
                    $crate::store::hot::HotPath::find_refresh_context(self.hot(), token_digest).await
                }

                async fn rotate_refresh_token(
                    &self,
                    old: &TokenDigest,
                    successor: &RefreshTokenRecord,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    $crate::store::hot::HotPath::rotate_refresh_token(self.hot(), old, successor, now).await
                }

                async fn insert_client_credentials_grant(
                    &self,
                    g: &ClientCredentialsGrantRecord,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO client_credentials_grants (id, client_id, organization_id, scopes, \
                         created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&g.id)
                    .bind(&g.client_id)
                    .bind(&g.organization_id)
                    .bind(to_json_list(&g.scopes)?)
                    .bind(g.created_at)
                    .bind(g.expires_at)
                    .bind(g.revoked_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_client_credentials_grant(
                    &self,
                    id: &str,
                ) -> Result<Option<ClientCredentialsGrantRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, client_id, organization_id, scopes, created_at, expires_at, revoked_at \
                         FROM client_credentials_grants WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(client_credentials_grant).transpose()
                }

                async fn client_credentials_token_is_live(&self, grant_id: &str, jti: &str) -> Result<bool, StoreError> {
                    $crate::store::hot::HotPath::client_credentials_token_is_live(self.hot(), grant_id, jti).await
                }

                async fn revoke_client_credentials_grants(&self, client_id: &str, now: i64) -> Result<u64, StoreError> {
                    let result = sqlx::query(
                        "UPDATE client_credentials_grants SET revoked_at = $1 \
                         WHERE client_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(client_id)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(result.rows_affected())
                }
            }
        };
    };
}

pub(crate) use impl_grant_store;
