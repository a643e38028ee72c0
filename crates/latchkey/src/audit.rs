//! The audit log: grants created and revoked, secret rotations, app
//! disable/enable/delete, the operator's approvals and denials of sensitive
//! scopes, API keys made and revoked, browser sessions a user signed out of,
//! replay detections and refresh retries
//! inside the grace window — who, what, when, never a secret. Recording is best
//! effort: a failure is logged, and the action it describes stands. Also
//! the rule for how many events one listing returns.

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

/// The most events one listing returns.
pub const MAX_LISTED: i64 = 1000;

/// How many events a listing returns when it does not say.
pub const DEFAULT_LISTED: i64 = 100;

/// A listing's `limit` that is not a whole number from 1 to [`MAX_LISTED`].
#[derive(Debug, thiserror::Error)]
#[error("limit must be a whole number from 1 to {MAX_LISTED}, not `{0}`")]
pub struct BadLimit(String);

/// Reads a listing's `limit`: [`DEFAULT_LISTED`] when absent, else a whole
/// number from 1 to [`MAX_LISTED`]; anything else is refused, not clamped.
pub fn listing_limit(text: Option<&str>) -> Result<i64, BadLimit> {
    let Some(text) = text else {
        return Ok(DEFAULT_LISTED);
    };
    text.parse::<i64>()
        .ok()
        .filter(|n| (1..=MAX_LISTED).contains(n))
        .ok_or_else(|| BadLimit(text.to_owned()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_limit_is_one_to_a_thousand() {
        assert_eq!(listing_limit(None).unwrap(), 100);
        assert_eq!(listing_limit(Some("1")).unwrap(), 1);
        assert_eq!(listing_limit(Some("1000")).unwrap(), 1000);
        for bad in ["0", "-1", "1001", "abc", "", "1.5", " 5", "99999999999999999999"] {
            let error = listing_limit(Some(bad)).unwrap_err();
            assert!(error.to_string().contains("1 to 1000"), "{bad}: {error}");
        }
    }
}
