//! API keys (ClientCasa: "for server-to-server access without a user, use
//! API keys — same scope vocabulary"): bound to one organization and chosen
//! scopes, shown once, stored as a digest, accepted as bearer credentials
//! by the same API, revocable with immediate effect.

use latchkey_verify::{Caller, Principal};

use super::{AccountError, MAX_LABEL_CHARS, find_organization};
use crate::audit::{self, Actor};
use crate::config::{Config, ScopeDefinition};
use crate::secret::{Secret, generate_token};
use crate::store::{ApiKeyRecord, Store, StoreError};

/// Scopes that speak of a user, meaningless for a key without one.
const USER_SCOPES: [&str; 4] = ["openid", "offline_access", "email", "profile"];

/// The part of the vocabulary an API key may hold: every scope that does
/// not speak of a user, in vocabulary order.
pub fn api_scopes(config: &Config) -> impl Iterator<Item = &ScopeDefinition> {
    config
        .scopes
        .iter()
        .filter(|scope| !USER_SCOPES.contains(&scope.name.as_str()))
}

fn invalid(field: &'static str, message: impl Into<String>) -> AccountError {
    AccountError::Invalid {
        field,
        message: message.into(),
    }
}

/// Creates a key; the key itself exists only in the returned value.
pub async fn create(
    store: &dyn Store,
    config: &Config,
    organization_id: &str,
    name: &str,
    scopes: &[String],
    actor: &Actor,
    now: i64,
) -> Result<(ApiKeyRecord, Secret), AccountError> {
    find_organization(store, organization_id).await?;
    // Measured as sent: an over-long name is refused, not trimmed to fit.
    if name.chars().count() > MAX_LABEL_CHARS || name.trim().is_empty() {
        return Err(invalid(
            "name",
            format!("name must be 1 to {MAX_LABEL_CHARS} characters"),
        ));
    }
    let name = name.trim();
    if scopes.is_empty() {
        return Err(invalid("scopes", "scopes must list at least one scope"));
    }
    for scope in scopes {
        if config.scope(scope).is_none() {
            return Err(invalid("scopes", format!("unknown scope `{scope}`")));
        }
        if USER_SCOPES.contains(&scope.as_str()) {
            return Err(invalid(
                "scopes",
                format!("`{scope}` needs a user; an API key has none"),
            ));
        }
    }
    let key = generate_token(&config.prefixes.api_key);
    let record = ApiKeyRecord {
        id: uuid::Uuid::now_v7().to_string(),
        organization_id: organization_id.to_owned(),
        name: name.to_owned(),
        scopes: config
            .scopes
            .iter()
            .filter(|s| scopes.contains(&s.name))
            .map(|s| s.name.clone())
            .collect(),
        key_digest: key.digest(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    store.insert_api_key(&record).await?;
    let subject = audit::Subject {
        organization_id: Some(organization_id),
        ..Default::default()
    };
    audit::record(
        store,
        actor,
        "api_key.created",
        subject,
        serde_json::json!({"apiKeyId": record.id}),
        now,
    )
    .await;
    Ok((record, key))
}

/// Revokes a key of the organization; it stops working at once.
pub async fn revoke(
    store: &dyn Store,
    organization_id: &str,
    id: &str,
    actor: &Actor,
    now: i64,
) -> Result<(), AccountError> {
    if !store.revoke_api_key(organization_id, id, now).await? {
        return Err(AccountError::NotFound(format!(
            "organization `{organization_id}` has no active API key `{id}`"
        )));
    }
    let subject = audit::Subject {
        organization_id: Some(organization_id),
        ..Default::default()
    };
    audit::record(
        store,
        actor,
        "api_key.revoked",
        subject,
        serde_json::json!({"apiKeyId": id}),
        now,
    )
    .await;
    Ok(())
}

/// The principal a presented key stands for, if it is a live key.
pub async fn authenticate(
    store: &dyn Store,
    presented: &str,
    now: i64,
) -> Result<Option<Principal>, StoreError> {
    let Some(key) = store.find_api_key(&Secret::new(presented).digest()).await? else {
        return Ok(None);
    };
    if key.revoked_at.is_some() {
        return Ok(None);
    }
    if key.last_used_at.is_none_or(|used| used < now - 60) {
        store.touch_api_key(&key.id, now).await?;
    }
    Ok(Some(Principal {
        caller: Caller::ApiKey { key_id: key.id },
        organization_id: key.organization_id,
        scopes: key.scopes,
    }))
}
