//! Storage: the [`Store`] trait, whose methods are named for domain
//! operations, and its two implementations, SQLite ([`sqlite`]) and
//! PostgreSQL ([`postgres`]), selected by the database URL. This is the only
//! module with SQL. Both implementations share their query text (written
//! once in [`sql`]), so they cannot drift apart; migrations are embedded in
//! the binary, one dialect per backend, with the same numbering.
//!
//! Lookups return `Option`; what "missing" means is for the caller to decide.
//! Times are Unix seconds.

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::DatabaseSettings;
use crate::secret::TokenDigest;

mod direct;
pub(crate) mod hot;
mod migrations;
pub mod postgres;
mod sql;
pub mod sqlite;

/// A storage failure. `Conflict` is a uniqueness rule the caller can
/// explain; `Unavailable` is the database failing for now (down,
/// unreachable, frozen past a timeout, busy, out of disk, read-only), which
/// callers answer with 503 so clients retry; everything else is an
/// internal error for the log only.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a record with the same unique value exists")]
    Conflict,
    #[error("a referenced record does not exist")]
    MissingReference,
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

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

/// An OAuth client (SPEC 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    /// `None` for public clients.
    pub secret_digest: Option<TokenDigest>,
    pub name: String,
    pub description: String,
    pub homepage_url: Option<String>,
    pub logo_url: Option<String>,
    /// Exactly as registered: matching is character for character.
    pub redirect_uris: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub organization_id: Option<String>,
    /// OpenID Connect Dynamic Client Registration §2: the algorithm the
    /// client wants its ID tokens signed with; `None` for the configured one.
    pub id_token_signed_response_alg: Option<latchkey_verify::Alg>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    /// argon2id PHC string.
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
}

/// What one code exchange granted: refresh tokens belong to it, access
/// tokens name it, and revocation ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub organization_id: String,
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub created_at: i64,
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
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    pub grant_id: Option<String>,
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

/// One entry of the audit log. `details` never holds secret material.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: String,
    pub occurred_at: i64,
    /// Who acted: `admin-api`, `cli`, `user:<id>`, `client:<id>`, `system`.
    pub actor: String,
    /// What happened, e.g. `grant.created`, `grant.revoked`.
    pub action: String,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub organization_id: Option<String>,
    pub grant_id: Option<String>,
    pub details: serde_json::Value,
}

/// Where a requested scope of a client stands while it is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeReviewStatus {
    /// Awaiting the platform operator's decision.
    Pending,
    /// Refused by the operator, with a reason.
    Denied,
}

impl ScopeReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// A scope a client asked for that is not (yet) among its allowed scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeReviewRecord {
    pub client_id: String,
    pub scope: String,
    pub status: ScopeReviewStatus,
    /// Why the operator denied it; `None` while pending.
    pub reason: Option<String>,
    pub requested_at: i64,
    pub decided_at: Option<i64>,
}

/// A scope review as the operator's list shows it, with its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeReviewListing {
    pub review: ScopeReviewRecord,
    pub client_name: String,
    pub organization_id: Option<String>,
    pub organization_name: Option<String>,
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

/// A case of the example resource API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub id: String,
    pub organization_id: String,
    pub title: String,
    pub status: String,
    pub created_at: i64,
}

/// A customer of an organization, in the example resource API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub email: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub id: String,
    pub organization_id: String,
    pub client_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub created_at: i64,
}

/// A page of a list: rows after `after` (an id), in id order.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    pub after: Option<&'a str>,
    pub limit: i64,
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
}

/// The outcome of [`Store::exchange_authorization_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeExchange {
    /// This caller consumed the code; the grant and refresh token exist.
    Exchanged,
    /// The code was consumed before (by the grant named, if any).
    AlreadyConsumed { grant_id: Option<String> },
}

/// Every storage operation the server performs. Each method is one
/// statement or one transaction; multi-row changes say so in their docs.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Connections in the pool now: open, and of those idle.
    fn pool_connections(&self) -> (u64, u64);

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;
    /// Every key, retired ones included, oldest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Marks a key retired; `false` when there is no such unretired key.
    async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<bool, StoreError>;

    /// Fails with `Conflict` when the client id exists.
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Every client, oldest first.
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError>;
    /// The clients an organization owns, oldest first.
    async fn list_organization_clients(&self, organization_id: &str)
    -> Result<Vec<ClientRecord>, StoreError>;
    /// Writes the descriptive fields (name, description, URLs, redirect
    /// URIs, scopes, `updated_at`); never the secret or the enabled flag.
    async fn update_client_details(&self, client: &ClientRecord) -> Result<bool, StoreError>;
    /// Replaces the secret digest: the old secret stops working at once.
    async fn set_client_secret(
        &self,
        client_id: &str,
        digest: &TokenDigest,
        now: i64,
    ) -> Result<bool, StoreError>;
    async fn set_client_enabled(&self, client_id: &str, enabled: bool, now: i64) -> Result<bool, StoreError>;
    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;
    /// Inserts a client with the reviews of the scopes it asked for that
    /// are not allowed yet, in one transaction: both or neither. Fails
    /// with `Conflict` when the client id exists.
    async fn insert_client_with_reviews(
        &self,
        client: &ClientRecord,
        reviews: &[ScopeReviewRecord],
    ) -> Result<(), StoreError>;
    /// Writes the descriptive fields as [`Store::update_client_details`]
    /// and replaces the client's scope reviews with `reviews`, in one
    /// transaction; `false` (and nothing changed) when there is no such
    /// client.
    async fn update_client_with_reviews(
        &self,
        client: &ClientRecord,
        reviews: &[ScopeReviewRecord],
    ) -> Result<bool, StoreError>;
    async fn find_scope_review(
        &self,
        client_id: &str,
        scope: &str,
    ) -> Result<Option<ScopeReviewRecord>, StoreError>;
    /// A client's scope reviews, in the order they were requested.
    async fn list_client_scope_reviews(&self, client_id: &str) -> Result<Vec<ScopeReviewRecord>, StoreError>;
    /// Every client's reviews in one status, oldest request first.
    async fn list_scope_reviews(
        &self,
        status: ScopeReviewStatus,
    ) -> Result<Vec<ScopeReviewListing>, StoreError>;
    /// Approves a reviewed scope in one transaction: deletes its review
    /// and writes the client's allowed scopes (`allowed_scopes`, which
    /// include it). `false` (and nothing changed) when the client has no
    /// review of that scope; of concurrent callers, exactly one gets `true`.
    async fn approve_scope(
        &self,
        client_id: &str,
        scope: &str,
        allowed_scopes: &[String],
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Marks a reviewed scope denied with its reason; `false` when the
    /// client has no review of that scope.
    async fn deny_scope(
        &self,
        client_id: &str,
        scope: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Fails with `Conflict` when the email (case-insensitively) exists.
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Case-insensitive.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Removes the user and their memberships.
    async fn delete_user(&self, id: &str) -> Result<bool, StoreError>;

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

    async fn insert_audit_event(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// The newest events first.
    async fn list_audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError>;

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    async fn find_api_key(&self, digest: &TokenDigest) -> Result<Option<ApiKeyRecord>, StoreError>;
    async fn list_api_keys(&self, organization_id: &str) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// `false` when the organization has no such unrevoked key.
    async fn revoke_api_key(&self, organization_id: &str, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Records a use, at most once a minute per key (so the hot path rarely
    /// writes).
    async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), StoreError>;

    /// Cases of the organization, in id order (UUID v7: creation order).
    async fn list_cases(
        &self,
        organization_id: &str,
        page: PageRequest<'_>,
    ) -> Result<Vec<CaseRecord>, StoreError>;
    /// The case, only if it belongs to the organization.
    async fn find_case(&self, organization_id: &str, id: &str) -> Result<Option<CaseRecord>, StoreError>;
    async fn insert_case(&self, case: &CaseRecord) -> Result<(), StoreError>;
    async fn list_customers(
        &self,
        organization_id: &str,
        page: PageRequest<'_>,
    ) -> Result<Vec<CustomerRecord>, StoreError>;
    /// The customer, only if it belongs to the organization.
    async fn find_customer(
        &self,
        organization_id: &str,
        id: &str,
    ) -> Result<Option<CustomerRecord>, StoreError>;
    async fn insert_customer(&self, customer: &CustomerRecord) -> Result<(), StoreError>;
    async fn insert_invoice(&self, invoice: &InvoiceRecord) -> Result<(), StoreError>;

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
    /// One transaction: marks `old` used if it is unused, then inserts its
    /// successor. Of concurrent callers with the same token exactly one gets
    /// `true`; the others change nothing.
    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        successor: &RefreshTokenRecord,
        now: i64,
    ) -> Result<bool, StoreError>;
}

/// Connects to the database the settings name and applies pending
/// migrations.
pub async fn open(settings: &DatabaseSettings) -> Result<Arc<dyn Store>, StoreError> {
    if settings.url.expose().starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(settings).await?))
    } else {
        Ok(Arc::new(postgres::PostgresStore::connect(settings).await?))
    }
}

fn backend(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// Maps a driver error, recognizing constraint violations and the
/// failures of an unwell database.
fn map_sqlx(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::MissingReference,
        sqlx::Error::Database(db) if db.code().is_some_and(|code| means_unavailable(&code)) => {
            StoreError::Unavailable(Box::new(error))
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => StoreError::Unavailable(Box::new(error)),
        _ => backend(error),
    }
}

/// Whether a database error code says the database cannot serve for now.
/// PostgreSQL codes are five-character SQLSTATEs; SQLite's are numbers
/// whose low byte is the primary result code.
fn means_unavailable(code: &str) -> bool {
    if code.len() == 5 {
        // 08: connection exception; 53: insufficient resources (disk full,
        // out of memory, too many connections); 57: operator intervention
        // (statement timeout, shutdown, starting up); 58: system error
        // (I/O); 25006: read-only transaction; 55P03: lock not available;
        // 40001 / 40P01: serialization failure, deadlock.
        return ["08", "53", "57", "58"]
            .iter()
            .any(|class| code.starts_with(class))
            || ["25006", "55P03", "40001", "40P01"].contains(&code);
    }
    // SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_NOMEM 7, SQLITE_READONLY 8,
    // SQLITE_IOERR 10, SQLITE_FULL 13, SQLITE_CANTOPEN 14, SQLITE_PROTOCOL 15.
    code.parse::<u32>()
        .is_ok_and(|extended| matches!(extended & 0xff, 5..=8 | 10 | 13..=15))
}

/// The pool's release check, for both backends: a connection whose
/// transaction bookkeeping is still open after any pending rollback ran is
/// closed instead of reused. SQLite rolls a transaction back by itself on
/// some errors (a full disk, I/O errors); the driver's later `ROLLBACK`
/// then fails and the connection would believe it is still inside a
/// transaction, so the next caller's "transaction" would be a savepoint in
/// a transaction nobody commits: writes answered as successes and lost.
fn release_check<C: sqlx::Connection>(
    connection: &mut C,
    _: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        if connection.is_in_transaction() {
            // Runs any queued rollback first.
            connection.ping().await?;
        }
        Ok(!connection.is_in_transaction())
    })
}
