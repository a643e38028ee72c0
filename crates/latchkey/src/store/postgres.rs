//! The PostgreSQL backend, for several instances sharing one database.
//! The pool skips the ping before each checkout (it halves throughput);
//! a broken connection surfaces as an error on the query that used it.
//! Waits are bounded: for a connection (`acquire_timeout`), and for each
//! statement by the server (`statement_timeout`, also `lock_timeout`); a
//! server that stops answering altogether is bounded by the request
//! timeout in `http`.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::DatabaseSettings;

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects and migrates; the migrator takes an advisory lock, so
    /// instances starting together do not race.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let millis = settings.statement_timeout.as_millis().to_string();
        let options = PgConnectOptions::from_str(settings.url.expose())
            .map_err(backend)?
            .options([
                ("statement_timeout", millis.as_str()),
                ("lock_timeout", millis.as_str()),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .after_release(super::release_check)
            .connect_with(options)
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

    /// The hot-path operations: through the pool, as everything else.
    fn hot(&self) -> &Self {
        self
    }
}

super::sql::impl_store!(PostgresStore, sqlx::Postgres);
super::sql::impl_hot_path!(PostgresStore, sqlx::Postgres);
