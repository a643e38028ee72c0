//! What the SQL of every area shares: reading a column from a row of
//! either backend (so each area's row mappers are plain functions beside
//! its records), JSON lists, digests, and [`impl_store!`] for the one
//! method of [`Store`](super::Store) outside the areas. Each area's query
//! text is written once, in its `impl_*_store!` macro, and expanded for
//! both backends. The SQL is the common subset of SQLite and PostgreSQL,
//! with `$n` placeholders (which both drivers accept); dialect differences
//! live in the migrations.

use sqlx::Row as _;
use sqlx::postgres::{PgQueryResult, PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteQueryResult, SqliteRow};

use crate::secret::TokenDigest;

use super::{StoreError, backend, map_sqlx};

/// A value every driver decodes from a column: sqlx for both backends,
/// rusqlite for SQLite's hot path (`direct.rs`).
pub(crate) trait Column:
    for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
    + rusqlite::types::FromSql
{
}

impl<T> Column for T where
    T: for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
        + rusqlite::types::FromSql
{
}

/// A row of either backend.
pub(crate) trait SqlRow {
    /// The named column's value, a driver error mapped by `map_sqlx`.
    fn read<T: Column>(&self, column: &str) -> Result<T, StoreError>;
}

impl SqlRow for SqliteRow {
    fn read<T: Column>(&self, column: &str) -> Result<T, StoreError> {
        self.try_get(column).map_err(map_sqlx)
    }
}

impl SqlRow for PgRow {
    fn read<T: Column>(&self, column: &str) -> Result<T, StoreError> {
        self.try_get(column).map_err(map_sqlx)
    }
}

impl SqlRow for rusqlite::Row<'_> {
    fn read<T: Column>(&self, column: &str) -> Result<T, StoreError> {
        self.get(column).map_err(super::direct::map_error)
    }
}

/// What a statement of either backend reports.
pub(crate) trait Outcome {
    fn affected_rows(&self) -> u64;
}

impl Outcome for SqliteQueryResult {
    fn affected_rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl Outcome for PgQueryResult {
    fn affected_rows(&self) -> u64 {
        self.rows_affected()
    }
}

pub(crate) fn digest_column<R: SqlRow>(row: &R, column: &str) -> Result<TokenDigest, StoreError> {
    let bytes: Vec<u8> = row.read(column)?;
    TokenDigest::from_slice(&bytes).ok_or_else(|| {
        backend(std::io::Error::other(format!(
            "column {column} is not a 32-byte digest"
        )))
    })
}

pub(crate) fn json_list<R: SqlRow>(row: &R, column: &str) -> Result<Vec<String>, StoreError> {
    let text: String = row.read(column)?;
    serde_json::from_str(&text).map_err(backend)
}

pub(crate) fn to_json_list(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(backend)
}

pub(crate) fn all<R, T>(rows: Vec<R>, map: fn(&R) -> Result<T, StoreError>) -> Result<Vec<T>, StoreError> {
    rows.iter().map(map).collect()
}

pub(crate) fn changed(result: impl Outcome) -> bool {
    result.affected_rows() > 0
}

pub(crate) fn changed_ref(result: &impl Outcome) -> bool {
    result.affected_rows() > 0
}

/// Implements [`Store`](super::Store) for `$store` (a struct with a
/// `pool: sqlx::Pool<$db>` that implements every area's trait).
macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::store::{Store, StoreError, map_sqlx};

            #[async_trait]
            impl Store for $store {
                async fn ping(&self) -> Result<(), StoreError> {
                    sqlx::query("SELECT 1")
                        .execute(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(())
                }

                fn pool_connections(&self) -> (u64, u64) {
                    let idle = u64::try_from(self.pool.num_idle()).unwrap_or(u64::MAX);
                    (u64::from(self.pool.size()), idle)
                }
            }
        };
    };
}

pub(crate) use impl_store;
