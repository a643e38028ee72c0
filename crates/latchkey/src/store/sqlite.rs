//! The SQLite backend: the default, one file, WAL journal. The hot path
//! (token requests and checks, sign-in, authorization) runs on connections
//! of its own (`direct.rs`); everything else through the sqlx pool. Writers
//! are serialized by SQLite itself; `busy_timeout` (the statement timeout)
//! makes concurrent writers wait, boundedly, instead of failing at once.
//! Each connection (pooled or direct) has its own page cache, held to
//! `database.sqlite_cache_kib` so the memory stays bounded.
//! A pooled connection left inside a transaction by a failed write is
//! closed on release, never reused (see `release_check`).

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::config::{DatabaseSettings, SqliteSynchronous};

use super::direct::{Direct, DirectOptions};
use super::{StoreError, backend, map_sqlx};

pub struct SqliteStore {
    pool: SqlitePool,
    direct: Direct,
}

impl SqliteStore {
    /// Opens (creating it if needed) and migrates the database.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let synchronous = match settings.sqlite_synchronous {
            SqliteSynchronous::Normal => sqlx::sqlite::SqliteSynchronous::Normal,
            SqliteSynchronous::Full => sqlx::sqlite::SqliteSynchronous::Full,
        };
        let options = SqliteConnectOptions::from_str(settings.url.expose())
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(settings.statement_timeout)
            // Negative: a size in KiB rather than in pages.
            .pragma("cache_size", format!("-{}", settings.sqlite_cache_kib));
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .after_release(super::release_check)
            .connect_with(options.clone())
            .await
            .map_err(map_sqlx)?;
        super::migrations::migrator(super::migrations::SQLITE)
            .await
            .map_err(backend)?
            .run(&pool)
            .await
            .map_err(backend)?;
        let path = options.get_filename().to_path_buf();
        let in_memory = path.to_string_lossy().starts_with("file:sqlx-in-memory");
        let direct = Direct::open(DirectOptions {
            path,
            in_memory,
            synchronous: settings.sqlite_synchronous,
            cache_kib: settings.sqlite_cache_kib,
            write_timeout: settings.statement_timeout,
            readers: std::thread::available_parallelism().map_or(2, usize::from) + 1,
        })?;
        Ok(Self { pool, direct })
    }

    /// The hot-path operations: on SQLite's own connections.
    fn hot(&self) -> &Direct {
        &self.direct
    }
}

super::sql::impl_store!(SqliteStore, sqlx::Sqlite);
super::clients::impl_client_store!(SqliteStore, sqlx::Sqlite);
super::client_documents::impl_client_document_store!(SqliteStore, sqlx::Sqlite);
super::accounts::impl_account_store!(SqliteStore, sqlx::Sqlite);
super::grants::impl_grant_store!(SqliteStore, sqlx::Sqlite);
super::keys::impl_key_store!(SqliteStore, sqlx::Sqlite);
super::audit::impl_audit_store!(SqliteStore, sqlx::Sqlite);
super::resources::impl_resource_store!(SqliteStore, sqlx::Sqlite);
super::registrations::impl_registration_store!(SqliteStore, sqlx::Sqlite);
super::delegate::impl_delegate_store!(SqliteStore, sqlx::Sqlite);
super::user_tokens::impl_user_token_store!(SqliteStore, sqlx::Sqlite);
super::passkeys::impl_passkey_store!(SqliteStore, sqlx::Sqlite);
super::second_factor::impl_second_factor_store!(SqliteStore, sqlx::Sqlite);
