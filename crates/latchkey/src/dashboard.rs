//! The developer dashboard's rules (SPEC 9): which organization a settings
//! page works on, who may see and who may change an organization's OAuth
//! apps and API keys, and those changes confined to it. Organization
//! admins (a role in `dashboard.admin_roles`) manage their organization's
//! apps and keys; other members see its apps and change nothing; nobody
//! sees another organization's. What is out of bounds is reported exactly
//! like what does not exist, so a page reveals nothing about other
//! organizations.
//!
//! The changes themselves are made by [`clients`] and
//! [`accounts::api_keys`], the functions the admin API and the CLI call:
//! this module decides only whether this user may make them here.

use crate::accounts::{self, AccountError, api_keys};
use crate::audit::Actor;
use crate::clients::{self, Approval, AuthMethod, Changes, ClientError, Registration};
use crate::config::Config;
use crate::grants::consent::Membership;
use crate::oauth::grant_type::GrantType;
use crate::secret::Secret;
use crate::store::{
    ApiKeyRecord, AuditEvent, ClientRecord, OrganizationRecord, ScopeReviewRecord, Store, StoreError,
};

/// What a member may do with an organization's apps and keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// See its apps.
    Read,
    /// See and change its apps and keys.
    Manage,
}

/// An organization as the signed-in member works on it.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub organization: OrganizationRecord,
    pub access: Access,
}

impl Workspace {
    pub fn can_manage(&self) -> bool {
        self.access == Access::Manage
    }
}

/// Why a dashboard change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// Unknown, another organization's, or not this member's to change.
    #[error("not found")]
    NotFound,
    /// Input that breaks a rule; `field` uses the admin API's field name.
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ClientError> for DashboardError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Invalid { field, message } => Self::Invalid { field, message },
            ClientError::NotFound(_) | ClientError::NoScopeRequest { .. } => Self::NotFound,
            ClientError::Store(error) => Self::Store(error),
        }
    }
}

impl From<AccountError> for DashboardError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Invalid { field, message } => Self::Invalid { field, message },
            AccountError::NotFound(_) => Self::NotFound,
            AccountError::Store(error) => Self::Store(error),
            // API keys neither conflict nor hash passwords; should a
            // future rule do so, it is a failure this page cannot explain.
            error @ (AccountError::Conflict(_) | AccountError::Hashing | AccountError::HashingBusy) => {
                Self::Store(StoreError::Backend(Box::new(error)))
            }
        }
    }
}

/// What a member's role lets them do in its organization.
pub fn access(config: &Config, membership: &Membership) -> Access {
    if config.dashboard.is_admin_role(&membership.role) {
        Access::Manage
    } else {
        Access::Read
    }
}

fn workspace(config: &Config, membership: &Membership) -> Workspace {
    Workspace {
        organization: membership.organization.clone(),
        access: access(config, membership),
    }
}

/// The memberships in which the user is an admin.
pub fn administered(config: &Config, memberships: &[Membership]) -> Vec<Membership> {
    memberships
        .iter()
        .filter(|m| access(config, m) == Access::Manage)
        .cloned()
        .collect()
}

/// The organization a page shows (its apps, to every member): the one
/// `requested`, when the user belongs to it; with nothing requested, the
/// first one the user administers, else the first one they belong to.
/// `None` for an organization the user is not in, or a user in none.
pub fn viewable(config: &Config, memberships: &[Membership], requested: Option<&str>) -> Option<Workspace> {
    let chosen = match requested.filter(|id| !id.is_empty()) {
        Some(id) => memberships.iter().find(|m| m.organization.id == id),
        None => memberships
            .iter()
            .find(|m| access(config, m) == Access::Manage)
            .or_else(|| memberships.first()),
    };
    chosen.map(|m| workspace(config, m))
}

/// The organization a page changes (its apps, its API keys, which only
/// admins see): as [`viewable`], but only among the organizations the
/// user administers.
pub fn manageable(config: &Config, memberships: &[Membership], requested: Option<&str>) -> Option<Workspace> {
    viewable(config, &administered(config, memberships), requested)
}

/// The workspace of exactly `organization_id` (a change names the
/// organization it is for; nothing is chosen for it) when the user
/// administers it.
fn managed(
    config: &Config,
    memberships: &[Membership],
    organization_id: &str,
) -> Result<Workspace, DashboardError> {
    memberships
        .iter()
        .find(|m| m.organization.id == organization_id && access(config, m) == Access::Manage)
        .map(|m| workspace(config, m))
        .ok_or(DashboardError::NotFound)
}

/// The apps an organization owns, oldest first.
pub async fn list_apps(store: &dyn Store, workspace: &Workspace) -> Result<Vec<ClientRecord>, StoreError> {
    store.list_organization_clients(&workspace.organization.id).await
}

/// An app of one of the user's organizations, with what the user may do
/// with it. Apps without an owner (registered by an operator) belong to no
/// one's dashboard.
pub async fn app(
    store: &dyn Store,
    config: &Config,
    memberships: &[Membership],
    client_id: &str,
) -> Result<(ClientRecord, Workspace), DashboardError> {
    let client = clients::find(store, client_id).await?;
    let membership = client
        .organization_id
        .as_deref()
        .and_then(|owner| memberships.iter().find(|m| m.organization.id == owner))
        .ok_or(DashboardError::NotFound)?;
    let workspace = workspace(config, membership);
    Ok((client, workspace))
}

/// An app the user may change: one of an organization they administer.
pub async fn managed_app(
    store: &dyn Store,
    config: &Config,
    memberships: &[Membership],
    client_id: &str,
) -> Result<(ClientRecord, Workspace), DashboardError> {
    let (client, workspace) = app(store, config, memberships, client_id).await?;
    if !workspace.can_manage() {
        return Err(DashboardError::NotFound);
    }
    Ok((client, workspace))
}

/// An app the user may change, with its scopes awaiting or refused the
/// operator's approval (for the Edit form).
pub async fn managed_app_with_reviews(
    store: &dyn Store,
    config: &Config,
    memberships: &[Membership],
    client_id: &str,
) -> Result<(ClientRecord, Vec<ScopeReviewRecord>, Workspace), DashboardError> {
    let (client, workspace) = managed_app(store, config, memberships, client_id).await?;
    let reviews = clients::scope_review::of_client(store, client_id).await?;
    Ok((client, reviews, workspace))
}

/// An app's scopes awaiting or refused the operator's approval; the
/// app's page shows them (a denial with its reason) to every member who
/// sees the app.
pub async fn app_reviews(
    store: &dyn Store,
    client: &ClientRecord,
) -> Result<Vec<ScopeReviewRecord>, DashboardError> {
    Ok(clients::scope_review::of_client(store, &client.client_id).await?)
}

/// How many of an app's latest replay detections its page lists.
pub const LISTED_REPLAYS: i64 = 10;

/// An app's latest refresh-token replay detections (RFC 9700 §4.14.2: a
/// rotated refresh token presented again outside the grace window, whose
/// grant was revoked), newest first, from the audit log.
pub async fn app_replays(
    store: &dyn Store,
    client: &ClientRecord,
) -> Result<Vec<AuditEvent>, DashboardError> {
    Ok(store
        .list_client_audit_events(&client.client_id, "refresh_token.replayed", LISTED_REPLAYS)
        .await?)
}

/// An app's fields as the dashboard's form gives them.
#[derive(Debug, Clone, Default)]
pub struct AppDraft {
    pub name: String,
    pub description: String,
    pub homepage_url: String,
    pub logo_url: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    /// Machine-to-machine access: the `client_credentials` grant, whose
    /// tokens act for the app's organization. Off unless asked for.
    pub machine_access: bool,
}

/// The grant types an app has after the form: the user flows it has (all
/// of them for a new app), plus `client_credentials` when asked for.
fn draft_grant_types(current: Option<&[GrantType]>, machine_access: bool) -> Vec<String> {
    let user_flows = current.unwrap_or(&GrantType::DEFAULT);
    user_flows
        .iter()
        .filter(|g| **g != GrantType::ClientCredentials)
        .copied()
        .chain(machine_access.then_some(GrantType::ClientCredentials))
        .map(|g| g.as_str().to_owned())
        .collect()
}

/// Registers an app owned by an organization the user administers. Apps
/// made in the dashboard are confidential (`client_secret_basic`); the
/// secret exists only in the returned value.
pub async fn create_app(
    store: &dyn Store,
    config: &Config,
    memberships: &[Membership],
    organization_id: &str,
    draft: AppDraft,
    now: i64,
) -> Result<(clients::Registered, Workspace), DashboardError> {
    let workspace = managed(config, memberships, organization_id)?;
    let registration = Registration {
        name: draft.name,
        description: Some(draft.description),
        homepage_url: Some(draft.homepage_url),
        logo_url: Some(draft.logo_url),
        redirect_uris: draft.redirect_uris,
        allowed_scopes: draft.scopes,
        token_endpoint_auth_method: Some(AuthMethod::ClientSecretBasic.as_str().to_owned()),
        organization_id: Some(workspace.organization.id.clone()),
        grant_types: Some(draft_grant_types(None, draft.machine_access)),
        id_token_signed_response_alg: None,
        approval: Approval::ByOperator,
    };
    let registered = clients::register(store, config, registration, now).await?;
    Ok((registered, workspace))
}

/// Replaces an app's fields with the form's (an empty URL clears it).
pub async fn update_app(
    store: &dyn Store,
    config: &Config,
    memberships: &[Membership],
    client_id: &str,
    draft: AppDraft,
    now: i64,
) -> Result<(ClientRecord, Workspace), DashboardError> {
    let (current, workspace) = managed_app(store, config, memberships, client_id).await?;
    let changes = Changes {
        name: Some(draft.name),
        description: Some(draft.description),
        homepage_url: Some(Some(draft.homepage_url)),
        logo_url: Some(Some(draft.logo_url)),
        redirect_uris: Some(draft.redirect_uris),
        allowed_scopes: Some(draft.scopes),
        id_token_signed_response_alg: None,
        grant_types: Some(draft_grant_types(
            Some(&current.grant_types),
            draft.machine_access,
        )),
        organization_id: None,
        approval: Approval::ByOperator,
    };
    let client = clients::update(store, config, client_id, changes, now).await?;
    Ok((client, workspace))
}

/// Issues a new secret for an app; the old one stops working at once and
/// users' grants stay.
pub async fn rotate_app_secret(
    store: &dyn Store,
    config: &Config,
    memberships: &[Membership],
    client_id: &str,
    actor: &Actor,
    now: i64,
) -> Result<(ClientRecord, Workspace, Secret), DashboardError> {
    let (client, workspace) = managed_app(store, config, memberships, client_id).await?;
    let secret = clients::rotate_secret(store, config, client_id, actor, now).await?;
    Ok((client, workspace, secret))
}

/// Disables or enables an app (see [`clients::set_enabled`]).
pub async fn set_app_enabled(
    store: &dyn Store,
    config: &Config,
    memberships: &[Membership],
    client_id: &str,
    enabled: bool,
    actor: &Actor,
    now: i64,
) -> Result<(ClientRecord, Workspace), DashboardError> {
    let (_, workspace) = managed_app(store, config, memberships, client_id).await?;
    let client = clients::set_enabled(store, client_id, enabled, actor, now).await?;
    Ok((client, workspace))
}

/// Deletes an app with its grants, codes, consents and tokens; returns
/// the organization it belonged to.
pub async fn delete_app(
    store: &dyn Store,
    config: &Config,
    memberships: &[Membership],
    client_id: &str,
    actor: &Actor,
    now: i64,
) -> Result<Workspace, DashboardError> {
    let (_, workspace) = managed_app(store, config, memberships, client_id).await?;
    clients::delete(store, client_id, actor, now).await?;
    Ok(workspace)
}

/// An organization's API keys, oldest first (revoked ones included).
pub async fn list_api_keys(
    store: &dyn Store,
    workspace: &Workspace,
) -> Result<Vec<ApiKeyRecord>, StoreError> {
    if !workspace.can_manage() {
        return Ok(Vec::new());
    }
    store.list_api_keys(&workspace.organization.id).await
}

/// A new API key as the dashboard's form gives it.
#[derive(Debug, Clone, Default)]
pub struct KeyDraft {
    pub organization_id: String,
    pub name: String,
    pub scopes: Vec<String>,
}

/// Creates an API key for an organization the user administers; the key
/// exists only in the returned value.
pub async fn create_api_key(
    store: &dyn Store,
    config: &Config,
    memberships: &[Membership],
    draft: &KeyDraft,
    actor: &Actor,
    now: i64,
) -> Result<(ApiKeyRecord, Secret, Workspace), DashboardError> {
    let workspace = managed(config, memberships, &draft.organization_id)?;
    let organization_id = &workspace.organization.id;
    let (record, key) = api_keys::create(
        store,
        config,
        organization_id,
        &draft.name,
        &draft.scopes,
        actor,
        now,
    )
    .await?;
    Ok((record, key, workspace))
}

/// Revokes an API key of an organization the user administers; it stops
/// working at once.
pub async fn revoke_api_key(
    store: &dyn Store,
    config: &Config,
    memberships: &[Membership],
    organization_id: &str,
    key_id: &str,
    actor: &Actor,
    now: i64,
) -> Result<Workspace, DashboardError> {
    let workspace = managed(config, memberships, organization_id)?;
    accounts::api_keys::revoke(store, organization_id, key_id, actor, now).await?;
    Ok(workspace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(id: &str, role: &str) -> Membership {
        Membership {
            organization: OrganizationRecord {
                id: id.into(),
                name: id.into(),
                created_at: 0,
            },
            role: role.into(),
        }
    }

    fn config() -> Config {
        Config::default_config().unwrap()
    }

    #[test]
    fn apps_default_to_the_first_administered_organization() {
        let config = config();
        let memberships = [membership("a", "ATTORNEY"), membership("b", "FIRM_ADMIN")];
        let chosen = viewable(&config, &memberships, None).map(|w| (w.organization.id, w.access));
        assert_eq!(chosen, Some(("b".into(), Access::Manage)));
        let chosen = viewable(&config, &memberships, Some("")).map(|w| w.organization.id);
        assert_eq!(chosen.as_deref(), Some("b"), "an empty choice is no choice");
    }

    #[test]
    fn members_who_administer_nothing_read_their_first_organization() {
        let config = config();
        let memberships = [membership("a", "ATTORNEY"), membership("b", "PARALEGAL")];
        let chosen = viewable(&config, &memberships, None).map(|w| (w.organization.id, w.access));
        assert_eq!(chosen, Some(("a".into(), Access::Read)));
        assert!(
            manageable(&config, &memberships, None).is_none(),
            "keys are for admins"
        );
        assert!(manageable(&config, &memberships, Some("a")).is_none());
    }

    #[test]
    fn a_requested_organization_must_be_one_of_the_users() {
        let config = config();
        let memberships = [membership("a", "admin"), membership("b", "ATTORNEY")];
        let chosen = viewable(&config, &memberships, Some("b")).map(|w| (w.organization.id, w.access));
        assert_eq!(chosen, Some(("b".into(), Access::Read)));
        assert!(viewable(&config, &memberships, Some("c")).is_none());
        assert!(manageable(&config, &memberships, Some("b")).is_none());
        let keys = manageable(&config, &memberships, Some("a")).map(|w| w.organization.id);
        assert_eq!(keys.as_deref(), Some("a"));
        assert!(viewable(&config, &[], None).is_none());
        assert!(
            managed(&config, &memberships, "").is_err(),
            "a change names its organization"
        );
        assert!(managed(&config, &memberships, "b").is_err());
        assert!(managed(&config, &memberships, "a").is_ok());
    }
}
