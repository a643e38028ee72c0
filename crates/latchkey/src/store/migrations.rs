//! Migrations embedded in the binary, one list per dialect with the same
//! numbering, applied through sqlx's migrator (which records them in
//! `_sqlx_migrations` and refuses edited ones).

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

type Resolved<'s> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>>;

type Embedded = &'static [(i64, &'static str, &'static str)];

pub const SQLITE: Embedded = &[
    (
        1,
        "foundation",
        include_str!("../../migrations/sqlite/0001_foundation.sql"),
    ),
    (
        2,
        "sign in",
        include_str!("../../migrations/sqlite/0002_sign_in.sql"),
    ),
    (
        3,
        "token lifecycle",
        include_str!("../../migrations/sqlite/0003_token_lifecycle.sql"),
    ),
    (
        4,
        "protected api",
        include_str!("../../migrations/sqlite/0004_protected_api.sql"),
    ),
    (
        5,
        "scope reviews",
        include_str!("../../migrations/sqlite/0005_scope_reviews.sql"),
    ),
    (
        6,
        "id token alg",
        include_str!("../../migrations/sqlite/0006_id_token_alg.sql"),
    ),
    (
        7,
        "client credentials",
        include_str!("../../migrations/sqlite/0007_client_credentials.sql"),
    ),
    (
        8,
        "resources",
        include_str!("../../migrations/sqlite/0008_resources.sql"),
    ),
    (
        9,
        "dynamic registration",
        include_str!("../../migrations/sqlite/0009_dynamic_registration.sql"),
    ),
    (
        10,
        "client metadata documents",
        include_str!("../../migrations/sqlite/0010_client_metadata_documents.sql"),
    ),
    (
        12,
        "delegated sign in",
        include_str!("../../migrations/sqlite/0012_delegated_sign_in.sql"),
    ),
    (
        13,
        "session details",
        include_str!("../../migrations/sqlite/0013_session_details.sql"),
    ),
    (
        14,
        "authentication methods",
        include_str!("../../migrations/sqlite/0014_authentication_methods.sql"),
    ),
    (
        15,
        "email links",
        include_str!("../../migrations/sqlite/0015_email_links.sql"),
    ),
    (
        17,
        "passkeys",
        include_str!("../../migrations/sqlite/0017_passkeys.sql"),
    ),
    (
        16,
        "second factor",
        include_str!("../../migrations/sqlite/0016_second_factor.sql"),
    ),
];

pub const POSTGRES: Embedded = &[
    (
        1,
        "foundation",
        include_str!("../../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        "sign in",
        include_str!("../../migrations/postgres/0002_sign_in.sql"),
    ),
    (
        3,
        "token lifecycle",
        include_str!("../../migrations/postgres/0003_token_lifecycle.sql"),
    ),
    (
        4,
        "protected api",
        include_str!("../../migrations/postgres/0004_protected_api.sql"),
    ),
    (
        5,
        "scope reviews",
        include_str!("../../migrations/postgres/0005_scope_reviews.sql"),
    ),
    (
        6,
        "id token alg",
        include_str!("../../migrations/postgres/0006_id_token_alg.sql"),
    ),
    (
        7,
        "client credentials",
        include_str!("../../migrations/postgres/0007_client_credentials.sql"),
    ),
    (
        8,
        "resources",
        include_str!("../../migrations/postgres/0008_resources.sql"),
    ),
    (
        9,
        "dynamic registration",
        include_str!("../../migrations/postgres/0009_dynamic_registration.sql"),
    ),
    (
        10,
        "client metadata documents",
        include_str!("../../migrations/postgres/0010_client_metadata_documents.sql"),
    ),
    (
        12,
        "delegated sign in",
        include_str!("../../migrations/postgres/0012_delegated_sign_in.sql"),
    ),
    (
        13,
        "session details",
        include_str!("../../migrations/postgres/0013_session_details.sql"),
    ),
    (
        14,
        "authentication methods",
        include_str!("../../migrations/postgres/0014_authentication_methods.sql"),
    ),
    (
        15,
        "email links",
        include_str!("../../migrations/postgres/0015_email_links.sql"),
    ),
    (
        17,
        "passkeys",
        include_str!("../../migrations/postgres/0017_passkeys.sql"),
    ),
    (
        16,
        "second factor",
        include_str!("../../migrations/postgres/0016_second_factor.sql"),
    ),
];

#[derive(Debug)]
struct Source(Embedded);

impl<'s> MigrationSource<'s> for Source {
    fn resolve(self) -> Resolved<'s> {
        let migrations = self
            .0
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// The migrator for one dialect's embedded migrations.
pub async fn migrator(migrations: Embedded) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Source(migrations)).await
}
