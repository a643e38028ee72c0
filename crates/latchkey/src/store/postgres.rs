//! The PostgreSQL backend, for several instances sharing one database.
//! The pool skips the ping before each checkout (it halves throughput);
//! a broken connection surfaces as an error on the query that used it.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::config::DatabaseSettings;

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects and migrates; the migrator takes an advisory lock, so
    /// instances starting together do not race.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .connect(settings.url.expose())
            .await
            .map_err(map_sqlx)?;
        super::migrations::migrator(super::migrations::POSTGRES)
            .await
            .map_err(backend)?
            .run(&pool)
            .await
            .map_err(backend)?;
        Ok(Self { pool })
    }
}

super::sql::impl_store!(PostgresStore, sqlx::Postgres);
