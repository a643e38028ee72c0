//! The audit log: grants created and revoked, secret rotations, app
//! disable/enable/delete, and replay detections — who, what, when, never a
//! secret. Recording is best effort: a failure is logged, and the action
//! it describes stands.

use crate::secret::generate_identifier;
use crate::store::{AuditEvent, Store};

/// Who acted.
#[derive(Debug, Clone)]
pub enum Actor {
    AdminApi,
    Cli,
    User(String),
    Client(String),
    /// Latchkey itself, e.g. on detecting a replayed token.
    System,
}

impl Actor {
    fn label(&self) -> String {
        match self {
            Self::AdminApi => "admin-api".to_owned(),
            Self::Cli => "cli".to_owned(),
            Self::User(id) => format!("user:{id}"),
            Self::Client(id) => format!("client:{id}"),
            Self::System => "system".to_owned(),
        }
    }
}

/// What an event is about.
#[derive(Debug, Clone, Default)]
pub struct Subject<'a> {
    pub client_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub organization_id: Option<&'a str>,
    pub grant_id: Option<&'a str>,
}

/// Appends an event to the audit log.
pub async fn record(
    store: &dyn Store,
    actor: &Actor,
    action: &str,
    subject: Subject<'_>,
    details: serde_json::Value,
    now: i64,
) {
    let event = AuditEvent {
        id: generate_identifier("evt_"),
        occurred_at: now,
        actor: actor.label(),
        action: action.to_owned(),
        client_id: subject.client_id.map(str::to_owned),
        user_id: subject.user_id.map(str::to_owned),
        organization_id: subject.organization_id.map(str::to_owned),
        grant_id: subject.grant_id.map(str::to_owned),
        details,
    };
    tracing::info!(actor = %event.actor, action, client_id = ?event.client_id, grant_id = ?event.grant_id, "audit");
    if let Err(error) = store.insert_audit_event(&event).await {
        tracing::error!(%error, action, "writing the audit log failed");
    }
}
