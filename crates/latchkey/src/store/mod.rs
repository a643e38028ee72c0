//! Storage: the [`Store`] trait, the sum of one trait per area whose
//! methods are named for domain operations ([`ClientStore`] in `clients.rs`,
//! [`AccountStore`] in `accounts.rs`, [`GrantStore`] in `grants.rs`,
//! [`KeyStore`] in `keys.rs`, [`AuditStore`] in `audit.rs`,
//! [`ResourceStore`] in `resources.rs`, [`RegistrationStore`] in
//! `registrations.rs`, [`ClientDocumentStore`] in `client_documents.rs`,
//! [`DelegateStore`] in `delegate.rs`, [`UserTokenStore`] in
//! `user_tokens.rs`, [`PasskeyStore`] in `passkeys.rs`, [`SecondFactorStore`]
//! in `second_factor.rs`),
//! and its two implementations,
//! SQLite ([`sqlite`]) and PostgreSQL ([`postgres`]), selected by the
//! database URL. This is the only module with SQL. Both implementations
//! share their query text (written once, in each area's file, with the
//! helpers in `sql.rs`), so they cannot drift apart; migrations are
//! embedded in the binary, one dialect per backend, with the same numbering.
//!
//! Lookups return `Option`; what "missing" means is for the caller to decide.
//! Times are Unix seconds.

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::DatabaseSettings;

mod accounts;
mod audit;
mod client_documents;
mod clients;
pub(crate) mod delegate;
mod direct;
mod grants;
pub(crate) mod hot;
mod keys;
mod migrations;
mod passkeys;
pub mod postgres;
mod registrations;
mod resources;
pub(crate) mod second_factor;
mod sql;
pub mod sqlite;
mod user_tokens;

pub use accounts::{
    AccountStore, AdminKeyRecord, ApiKeyRecord, MembershipRecord, OrganizationRecord, SessionRecord,
    SubjectRecord, UserRecord,
};
pub use audit::{AuditEvent, AuditStore};
pub use client_documents::{ClientDocumentRecord, ClientDocumentStore};
pub use clients::{
    ClientOrigin, ClientRecord, ClientStore, ScopeReviewListing, ScopeReviewRecord, ScopeReviewStatus,
};
pub use delegate::{
    DelegateStore, DelegatedMembership, DelegatedOutcome, DelegatedSignIn, LoginChallengeRecord,
};
pub use grants::{
    AuthorizationCodeRecord, ClientCredentialsGrantRecord, CodeExchange, ConnectedApp, GrantRecord,
    GrantStore, PurgeCounts, RefreshContext, RefreshTokenRecord,
};
pub use keys::{KeyStore, SigningKeyRecord};
pub use passkeys::{PasskeyCeremonyRecord, PasskeyRecord, PasskeyStore};
pub use registrations::{InitialAccessTokenRecord, RegistrationRecord, RegistrationStore};
pub use resources::{CaseRecord, CustomerRecord, InvoiceRecord, PageRequest, ResourceStore};
pub use second_factor::{SecondFactorStore, TotpRecord};
pub use user_tokens::{TokenPurpose, UserTokenRecord, UserTokenStore};

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

/// Every storage operation the server performs: the sum of the areas'
/// traits, each in its own file, plus `ping`. Each method is one statement
/// or one transaction; multi-row changes say so in their docs. Call a
/// method on `dyn Store` with its area's trait in scope.
#[async_trait]
pub trait Store:
    ClientStore
    + ClientDocumentStore
    + AccountStore
    + GrantStore
    + KeyStore
    + AuditStore
    + ResourceStore
    + RegistrationStore
    + DelegateStore
    + UserTokenStore
    + PasskeyStore
    + SecondFactorStore
    + Send
    + Sync
    + 'static
{
    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Connections in the pool now: open, and of those idle.
    fn pool_connections(&self) -> (u64, u64);
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
