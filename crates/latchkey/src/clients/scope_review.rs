//! The platform operator's approval of sensitive scopes (scopes the
//! vocabulary marks `sensitive = true`). An app made in the developer
//! dashboard that asks for one gets it *pending*: it stays out of the
//! app's allowed scopes until the operator approves it (then it is an
//! ordinary allowed scope) or denies it with a reason, which the app's
//! admins see. Apps the operator registers through the admin API or the
//! CLI are approved as registered. Removing a scope from an app drops its
//! review. Each decision is audited.
//!
//! The authorization endpoint reads reviews only to explain a refusal
//! (`invalid_scope`, "awaiting approval" or "denied"); what it allows is
//! always the client's allowed scopes.

use crate::audit::{self, Actor};
use crate::config::Config;
use crate::store::{ScopeReviewListing, ScopeReviewRecord, ScopeReviewStatus, Store};

use super::{ClientError, find, invalid};

/// Who decides a registration's or change's sensitive scopes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Approval {
    /// The operator registered or changed the app: every listed scope is
    /// allowed as given.
    #[default]
    AsRegistered,
    /// An organization's admin did, in the dashboard: sensitive scopes the
    /// app does not have yet wait for the operator.
    ByOperator,
}

/// The longest reason a denial may give.
pub const MAX_REASON: usize = 500;

/// Splits the scopes an app asks for into those it is allowed now and
/// the reviews of the rest. Under [`Approval::ByOperator`], a sensitive
/// scope the app is not already allowed keeps its existing review (a
/// denied scope stays denied) or gets a new pending one; every other
/// scope is allowed. Reviews of scopes no longer asked for are dropped.
pub fn split(
    config: &Config,
    approval: Approval,
    requested: &[String],
    allowed_now: &[String],
    reviews_now: &[ScopeReviewRecord],
    client_id: &str,
    now: i64,
) -> (Vec<String>, Vec<ScopeReviewRecord>) {
    let mut allowed = Vec::new();
    let mut reviews = Vec::new();
    for scope in requested {
        let sensitive = config.scope(scope).is_some_and(|s| s.sensitive);
        if approval == Approval::AsRegistered || !sensitive || allowed_now.contains(scope) {
            allowed.push(scope.clone());
        } else if let Some(review) = reviews_now.iter().find(|r| &r.scope == scope) {
            reviews.push(review.clone());
        } else {
            reviews.push(ScopeReviewRecord {
                client_id: client_id.to_owned(),
                scope: scope.clone(),
                status: ScopeReviewStatus::Pending,
                reason: None,
                requested_at: now,
                decided_at: None,
            });
        }
    }
    (allowed, reviews)
}

/// A client's pending and denied scopes.
pub async fn of_client(store: &dyn Store, client_id: &str) -> Result<Vec<ScopeReviewRecord>, ClientError> {
    Ok(store.list_client_scope_reviews(client_id).await?)
}

/// Every client's reviews in one status, oldest request first.
pub async fn list(
    store: &dyn Store,
    status: ScopeReviewStatus,
) -> Result<Vec<ScopeReviewListing>, ClientError> {
    Ok(store.list_scope_reviews(status).await?)
}

/// Approves a pending (or earlier denied) scope: it becomes one of the
/// client's allowed scopes.
pub async fn approve(
    store: &dyn Store,
    config: &Config,
    client_id: &str,
    scope: &str,
    actor: &Actor,
    now: i64,
) -> Result<Vec<String>, ClientError> {
    let client = find(store, client_id).await?;
    // Keep every scope the client has (the vocabulary of this process may
    // be another's), add this one, and list them in vocabulary order.
    let mut allowed = client.allowed_scopes;
    if !allowed.iter().any(|s| s == scope) {
        allowed.push(scope.to_owned());
    }
    let position = |name: &str| {
        config
            .scopes
            .iter()
            .position(|s| s.name == name)
            .unwrap_or(usize::MAX)
    };
    allowed.sort_by_key(|name| position(name));
    if !store.approve_scope(client_id, scope, &allowed, now).await? {
        return Err(no_request(client_id, scope));
    }
    let details = serde_json::json!({ "scope": scope });
    record(store, actor, "client.scope_approved", client_id, details, now).await;
    Ok(allowed)
}

/// Denies a reviewed scope with a reason (required, at most
/// [`MAX_REASON`] characters), which the app's admins see.
pub async fn deny(
    store: &dyn Store,
    client_id: &str,
    scope: &str,
    reason: &str,
    actor: &Actor,
    now: i64,
) -> Result<String, ClientError> {
    if reason.chars().count() > MAX_REASON {
        return Err(invalid(
            "reason",
            format!("reason must be at most {MAX_REASON} characters"),
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(invalid("reason", "reason must say why the scope is denied"));
    }
    find(store, client_id).await?;
    if !store.deny_scope(client_id, scope, reason, now).await? {
        return Err(no_request(client_id, scope));
    }
    let details = serde_json::json!({ "scope": scope, "reason": reason });
    record(store, actor, "client.scope_denied", client_id, details, now).await;
    Ok(reason.to_owned())
}

fn no_request(client_id: &str, scope: &str) -> ClientError {
    ClientError::NoScopeRequest {
        client_id: client_id.to_owned(),
        scope: scope.to_owned(),
    }
}

async fn record(
    store: &dyn Store,
    actor: &Actor,
    action: &str,
    client_id: &str,
    details: serde_json::Value,
    now: i64,
) {
    let subject = audit::Subject {
        client_id: Some(client_id),
        ..Default::default()
    };
    audit::record(store, actor, action, subject, details, now).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut config = Config::default_config().unwrap();
        for scope in &mut config.scopes {
            scope.sensitive = scope.name == "cases:write";
        }
        config
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_dashboard_asking_for_a_sensitive_scope_gets_it_pending() {
        let requested = names(&["openid", "cases:write"]);
        let (allowed, reviews) = split(&config(), Approval::ByOperator, &requested, &[], &[], "c", 7);
        assert_eq!(allowed, names(&["openid"]));
        assert_eq!(reviews.len(), 1);
        assert_eq!(reviews[0].scope, "cases:write");
        assert_eq!(reviews[0].status, ScopeReviewStatus::Pending);
        assert_eq!(reviews[0].requested_at, 7);
    }

    #[test]
    fn the_operator_registers_sensitive_scopes_as_allowed() {
        let requested = names(&["openid", "cases:write"]);
        let (allowed, reviews) = split(&config(), Approval::AsRegistered, &requested, &[], &[], "c", 7);
        assert_eq!(allowed, requested);
        assert!(reviews.is_empty());
    }

    #[test]
    fn edits_keep_approved_and_denied_scopes_and_drop_removed_reviews() {
        let denied = ScopeReviewRecord {
            client_id: "c".into(),
            scope: "cases:write".into(),
            status: ScopeReviewStatus::Denied,
            reason: Some("no".into()),
            requested_at: 1,
            decided_at: Some(2),
        };
        let config = config();
        let requested = names(&["openid", "cases:write"]);
        let reviews_now = [denied.clone()];
        let (_, kept) = split(
            &config,
            Approval::ByOperator,
            &requested,
            &[],
            &reviews_now,
            "c",
            9,
        );
        assert_eq!(kept, vec![denied.clone()], "a denied scope stays denied");
        let (_, dropped) = split(
            &config,
            Approval::ByOperator,
            &names(&["openid"]),
            &[],
            &reviews_now,
            "c",
            9,
        );
        assert!(dropped.is_empty(), "removing a scope drops its review");
        let approved = names(&["openid", "cases:write"]);
        let (allowed, reviews) = split(&config, Approval::ByOperator, &requested, &approved, &[], "c", 9);
        assert_eq!(allowed, approved, "an approved scope stays allowed");
        assert!(reviews.is_empty());
    }
}
