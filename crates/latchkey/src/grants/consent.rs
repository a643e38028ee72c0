//! Consent (SPEC 6 "Consent"): the organizations a user can act on, the
//! consents they gave a client, and recording an approval. Which of them
//! an authorization request needs is decided in [`super::flow`].

use crate::oauth::authorize::AuthorizationRequest;
use crate::oauth::scope::ScopeSet;
use crate::store::{OrganizationRecord, Store, StoreError};

/// An organization the user can act on, with their role in it.
#[derive(Debug, Clone)]
pub struct Membership {
    pub organization: OrganizationRecord,
    pub role: String,
}

/// A consent the user gave one client in one organization.
#[derive(Debug, Clone)]
pub struct Remembered {
    pub organization_id: String,
    pub scopes: ScopeSet,
    /// When it was last approved.
    pub updated_at: i64,
}

/// The user's organizations, oldest membership first.
pub async fn memberships(store: &dyn Store, user_id: &str) -> Result<Vec<Membership>, StoreError> {
    let mut result = Vec::new();
    for membership in store.list_memberships(user_id).await? {
        if let Some(organization) = store.find_organization(&membership.organization_id).await? {
            result.push(Membership {
                organization,
                role: membership.role,
            });
        }
    }
    Ok(result)
}

/// The user's remembered consents to `client_id`, most recently approved
/// first. A stored scope list that no longer parses counts as empty.
pub async fn remembered(
    store: &dyn Store,
    user_id: &str,
    client_id: &str,
) -> Result<Vec<Remembered>, StoreError> {
    let consents = store.list_client_consents(user_id, client_id).await?;
    Ok(consents
        .into_iter()
        .map(|(organization_id, scopes, updated_at)| Remembered {
            organization_id,
            scopes: ScopeSet::from_tokens(scopes).unwrap_or_default(),
            updated_at,
        })
        .collect())
}

/// Records the user's approval in `organization_id` (adding its scopes and
/// resources to what they granted before). `false` when the user is not a
/// member there.
pub async fn approve(
    store: &dyn Store,
    request: &AuthorizationRequest,
    user_id: &str,
    organization_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let member = store
        .list_memberships(user_id)
        .await?
        .iter()
        .any(|m| m.organization_id == organization_id);
    if !member {
        return Ok(false);
    }
    let client_id = &request.client.client_id;
    let mut scopes = store
        .find_consent(user_id, organization_id, client_id)
        .await?
        .unwrap_or_default();
    for scope in request.scopes.iter() {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    store
        .upsert_consent(user_id, organization_id, client_id, &scopes, now)
        .await?;
    if !request.resources.is_empty() {
        let mut resources = store
            .find_consent_resources(user_id, organization_id, client_id)
            .await?;
        for resource in &request.resources {
            if !resources.contains(resource) {
                resources.push(resource.clone());
            }
        }
        store
            .set_consent_resources(user_id, organization_id, client_id, &resources)
            .await?;
    }
    Ok(true)
}

/// Whether the user's remembered consent to the request's client in
/// `organization_id` covers every resource the request names (RFC 8707):
/// a consent given for one resource does not reach another. A request
/// naming none is covered without a look.
pub async fn covers_resources(
    store: &dyn Store,
    request: &AuthorizationRequest,
    user_id: &str,
    organization_id: &str,
) -> Result<bool, StoreError> {
    if request.resources.is_empty() {
        return Ok(true);
    }
    let consented = store
        .find_consent_resources(user_id, organization_id, &request.client.client_id)
        .await?;
    Ok(request.resources.iter().all(|r| consented.contains(r)))
}
