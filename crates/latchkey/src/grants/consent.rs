//! Consent (SPEC 6 "Consent"): which organization an authorization acts
//! on, whether the user already granted the requested scopes there, and
//! recording an approval.

use crate::oauth::authorize::AuthorizationRequest;
use crate::oauth::scope::ScopeSet;
use crate::store::{OrganizationRecord, Store, StoreError};

/// An organization the user can act on, with their role in it.
#[derive(Debug, Clone)]
pub struct Membership {
    pub organization: OrganizationRecord,
    pub role: String,
}

/// What happens after the user is signed in.
#[derive(Debug)]
pub enum Decision {
    /// Consent already covers the request in this organization.
    Issue { organization_id: String },
    /// Ask the user (choosing among these organizations).
    AskConsent { memberships: Vec<Membership> },
    /// The user belongs to no organization, so no token can name one.
    NoOrganization,
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

/// Skips the consent screen when exactly one of the user's organizations
/// has a consent covering every requested scope, unless `prompt=consent`.
pub async fn decide(
    store: &dyn Store,
    request: &AuthorizationRequest,
    user_id: &str,
) -> Result<Decision, StoreError> {
    let memberships = memberships(store, user_id).await?;
    if memberships.is_empty() {
        return Ok(Decision::NoOrganization);
    }
    if !request.prompt.consent {
        let mut covered = Vec::new();
        for membership in &memberships {
            let granted = store
                .find_consent(user_id, &membership.organization.id, &request.client.client_id)
                .await?
                .and_then(|scopes| ScopeSet::from_tokens(scopes).ok())
                .unwrap_or_default();
            if request.scopes.is_subset(&granted) {
                covered.push(membership.organization.id.clone());
            }
        }
        if let [organization_id] = covered.as_slice() {
            return Ok(Decision::Issue {
                organization_id: organization_id.clone(),
            });
        }
    }
    Ok(Decision::AskConsent { memberships })
}

/// Records the user's approval in `organization_id` (adding to what they
/// granted before). `false` when the user is not a member there.
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
    Ok(true)
}
