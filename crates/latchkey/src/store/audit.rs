//! Storage of the audit log: [`AuditStore`], its record, and its SQL
//! ([`impl_audit_store!`], expanded by both backends).

use async_trait::async_trait;

use super::sql::SqlRow;
use super::{StoreError, backend};

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
    /// A client's events of one action, the newest first.
    async fn list_client_audit_events(
        &self,
        client_id: &str,
        action: &str,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}

pub(super) fn audit_event<R: SqlRow>(row: &R) -> Result<AuditEvent, StoreError> {
    let details: String = row.read("details")?;
    Ok(AuditEvent {
        id: row.read("id")?,
        occurred_at: row.read("occurred_at")?,
        actor: row.read("actor")?,
        action: row.read("action")?,
        client_id: row.read("client_id")?,
        user_id: row.read("user_id")?,
        organization_id: row.read("organization_id")?,
        grant_id: row.read("grant_id")?,
        details: serde_json::from_str(&details).map_err(backend)?,
    })
}

/// Implements [`AuditStore`] for `$store` (a struct with a `pool: sqlx::Pool<$db>`).
macro_rules! impl_audit_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::store::audit::audit_event;
            use $crate::store::sql::all;
            use $crate::store::{AuditEvent, AuditStore, StoreError, map_sqlx};

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
                    all(rows, audit_event)
                }

                async fn list_client_audit_events(
                    &self,
                    client_id: &str,
                    action: &str,
                    limit: i64,
                ) -> Result<Vec<AuditEvent>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, occurred_at, actor, action, client_id, user_id, organization_id, grant_id, \
                         details FROM audit_events WHERE client_id = $1 AND action = $2 \
                         ORDER BY occurred_at DESC, id DESC LIMIT $3",
                    )
                    .bind(client_id)
                    .bind(action)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, audit_event)
                }
            }
        };
    };
}

pub(crate) use impl_audit_store;
