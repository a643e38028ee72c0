//! Storage of the audit log: [`AuditStore`], its record, and its SQL
//! ([`impl_audit_store!`], expanded by both backends).

use async_trait::async_trait;

use super::StoreError;

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

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn insert_audit_event(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// The newest events first.
    async fn list_audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError>;
}

/// Implements [`AuditStore`] for `$store` (a struct with a `pool: sqlx::Pool<$db>`).
macro_rules! impl_audit_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row as _;
            use $crate::store::{AuditEvent, AuditStore, StoreError, backend, map_sqlx};

            #[async_trait]
            impl AuditStore for $store {
                async fn insert_audit_event(&self, e: &AuditEvent) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO audit_events (id, occurred_at, actor, action, client_id, user_id, \
                         organization_id, grant_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&e.id)
                    .bind(e.occurred_at)
                    .bind(&e.actor)
                    .bind(&e.action)
                    .bind(&e.client_id)
                    .bind(&e.user_id)
                    .bind(&e.organization_id)
                    .bind(&e.grant_id)
                    .bind(e.details.to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn list_audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, occurred_at, actor, action, client_id, user_id, organization_id, grant_id, \
                         details FROM audit_events ORDER BY occurred_at DESC, id DESC LIMIT $1",
                    )
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    rows.iter()
                        .map(|row| {
                            let details: String = row.try_get("details").map_err(map_sqlx)?;
                            Ok(AuditEvent {
                                id: row.try_get("id").map_err(map_sqlx)?,
                                occurred_at: row.try_get("occurred_at").map_err(map_sqlx)?,
                                actor: row.try_get("actor").map_err(map_sqlx)?,
                                action: row.try_get("action").map_err(map_sqlx)?,
                                client_id: row.try_get("client_id").map_err(map_sqlx)?,
                                user_id: row.try_get("user_id").map_err(map_sqlx)?,
                                organization_id: row.try_get("organization_id").map_err(map_sqlx)?,
                                grant_id: row.try_get("grant_id").map_err(map_sqlx)?,
                                details: serde_json::from_str(&details).map_err(backend)?,
                            })
                        })
                        .collect()
                }
            }
        };
    };
}

pub(crate) use impl_audit_store;
