//! The SQLite backend: the default, one file, WAL journal. Writers are
//! serialized by SQLite itself; `busy_timeout` (the statement timeout)
//! makes concurrent writers wait, boundedly, instead of failing at once.
//! Each pooled connection has its own page cache, held to
//! `database.sqlite_cache_kib` so the pool's memory stays bounded.
//! A connection left inside a transaction by a failed write is closed on
//! release, never reused (see `release_check`).

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::config::{DatabaseSettings, SqliteSynchronous};

pub struct SqliteStore {
    pool: SqlitePool,
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
            .connect_with(options)
            .await
            .map_err(map_sqlx)?;
        super::migrations::migrator(super::migrations::SQLITE)
            .await
            .map_err(backend)?
            .run(&pool)
            .await
            .map_err(backend)?;
        Ok(Self { pool })
    }
}

super::sql::impl_store!(SqliteStore, sqlx::Sqlite);
