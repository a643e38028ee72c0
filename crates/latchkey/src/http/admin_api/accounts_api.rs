//! `/api/v1/admin/users` and `/api/v1/admin/organizations` (with their
//! members): create, list, get, delete, and membership roles.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, success, success_with_secret, timestamp};
use crate::accounts::import::{self, Credential, Directory, Imported, ImportedUser};
use crate::accounts::{self, AccountError, NewUser, api_keys, second_factor};
use crate::audit::Actor;
use crate::grants::connected;
use crate::http::AppState;
use crate::secret::Secret;
use crate::store::{ApiKeyRecord, ConnectedApp, MembershipRecord, OrganizationRecord, UserRecord};
use crate::unix_now;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    email: String,
    name: String,
    #[serde(default)]
    password: Option<Secret>,
    /// A hash made elsewhere (`accounts::hash_formats`), instead of
    /// `password`.
    #[serde(default, rename = "passwordHash", alias = "password_hash")]
    password_hash: Option<Secret>,
    #[serde(default, rename = "emailVerified", alias = "email_verified")]
    email_verified: bool,
}

#[derive(Debug, Serialize)]
struct UserView {
    id: String,
    email: String,
    name: String,
    #[serde(rename = "emailVerified")]
    email_verified: bool,
    #[serde(rename = "createdAt")]
    created_at: String,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            email_verified: u.email_verified,
            created_at: timestamp(u.created_at),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    name: String,
    /// Members must use a second factor.
    #[serde(default, rename = "requireSecondFactor")]
    require_second_factor: bool,
}

/// `PATCH /organizations/{id}`: the settings to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    #[serde(rename = "requireSecondFactor")]
    require_second_factor: bool,
}

#[derive(Debug, Serialize)]
struct OrganizationView {
    id: String,
    name: String,
    #[serde(rename = "requireSecondFactor")]
    require_second_factor: bool,
    #[serde(rename = "createdAt")]
    created_at: String,
}

/// The views of `organizations`, each with its second-factor rule.
async fn organization_views(
    state: &AppState,
    organizations: Vec<OrganizationRecord>,
) -> Result<Vec<OrganizationView>, ApiError> {
    let ids: Vec<String> = organizations.iter().map(|o| o.id.clone()).collect();
    let required = state.store.organizations_requiring_second_factor(&ids).await?;
    Ok(organizations
        .into_iter()
        .map(|o| OrganizationView {
            require_second_factor: required.contains(&o.id),
            id: o.id,
            name: o.name,
            created_at: timestamp(o.created_at),
        })
        .collect())
}

/// The view of one organization.
async fn organization_view(
    state: &AppState,
    organization: OrganizationRecord,
) -> Result<OrganizationView, ApiError> {
    let mut views = organization_views(state, vec![organization]).await?;
    views.pop().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    #[serde(rename = "userId", alias = "user_id")]
    user_id: String,
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    role: String,
}

#[derive(Debug, Serialize)]
struct MembershipView {
    #[serde(rename = "organizationId")]
    organization_id: String,
    #[serde(rename = "userId")]
    user_id: String,
    role: String,
    #[serde(rename = "createdAt")]
    created_at: String,
}

impl From<MembershipRecord> for MembershipView {
    fn from(m: MembershipRecord) -> Self {
        Self {
            organization_id: m.organization_id,
            user_id: m.user_id,
            role: m.role,
            created_at: timestamp(m.created_at),
        }
    }
}

fn views<R, V: From<R>>(records: Vec<R>) -> Vec<V> {
    records.into_iter().map(V::from).collect()
}

pub async fn create_user(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<Response, ApiError> {
    let store = state.store.as_ref();
    let user = match import::credential(body.password, body.password_hash)? {
        Credential::Password(password) => {
            let new = NewUser {
                email: body.email,
                name: body.name,
                password,
                email_verified: body.email_verified,
            };
            accounts::create_user(store, &state.passwords, new, unix_now()).await?
        }
        Credential::Hash(hash) => {
            let new = ImportedUser {
                email: body.email,
                name: body.name,
                email_verified: body.email_verified,
                password_hash: Some(hash),
                organizations: Vec::new(),
            };
            match import::import_user(store, &mut Directory::default(), new, unix_now()).await? {
                Imported::Created { user, .. } => user,
                Imported::Exists(existing) => {
                    return Err(AccountError::Conflict(format!(
                        "a user with the email `{}` exists",
                        existing.email
                    ))
                    .into());
                }
            }
        }
    };
    // With mail configured, an unverified address gets its confirmation
    // link (sent after this answer; the bulk import sends none).
    let message = if !user.email_verified && state.mailer.is_some() {
        let actor = crate::audit::Actor::AdminApi;
        crate::http::pages::password_reset::send_verification(&state, &actor, &user, unix_now()).await;
        "User created. A link to confirm the email address is being sent."
    } else {
        "User created."
    };
    Ok(success(StatusCode::CREATED, UserView::from(user), Some(message)))
}

pub async fn list_users(State(state): State<AppState>) -> Result<Response, ApiError> {
    let users = state.store.list_users().await?;
    Ok(success(StatusCode::OK, views::<_, UserView>(users), None))
}

pub async fn show_user(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let user = accounts::find_user(state.store.as_ref(), &user_id).await?;
    Ok(success(StatusCode::OK, UserView::from(user), None))
}

pub async fn delete_user(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    accounts::delete_user(state.store.as_ref(), &user_id).await?;
    Ok(success(
        StatusCode::OK,
        serde_json::json!({"id": user_id}),
        Some("User deleted."),
    ))
}

/// `DELETE /users/{id}/second-factors`: the way back in for a user who
/// lost their phone and recovery codes.
pub async fn reset_second_factors(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let store = state.store.as_ref();
    accounts::find_user(store, &user_id).await?;
    let reset = second_factor::reset_all(store, &Actor::AdminApi, &user_id, unix_now()).await?;
    Ok(success(
        StatusCode::OK,
        serde_json::json!({
            "userId": user_id,
            "authenticatorApp": reset.authenticator_app,
            "passkeys": reset.passkeys,
        }),
        Some("Second factors removed: the user signs in with their password."),
    ))
}

pub async fn list_user_memberships(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    accounts::find_user(state.store.as_ref(), &user_id).await?;
    let memberships = state.store.list_memberships(&user_id).await?;
    Ok(success(
        StatusCode::OK,
        views::<_, MembershipView>(memberships),
        None,
    ))
}

pub async fn create_organization(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateOrganization>,
) -> Result<Response, ApiError> {
    let store = state.store.as_ref();
    let now = unix_now();
    let organization = accounts::create_organization(store, &body.name, now).await?;
    if body.require_second_factor {
        second_factor::set_organization_rule(store, &Actor::AdminApi, &organization.id, true, now).await?;
    }
    Ok(success(
        StatusCode::CREATED,
        organization_view(&state, organization).await?,
        Some("Organization created."),
    ))
}

/// `PATCH /organizations/{id}`: changes the second-factor rule (audited).
pub async fn update_organization(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateOrganization>,
) -> Result<Response, ApiError> {
    let store = state.store.as_ref();
    let organization = accounts::find_organization(store, &id).await?;
    let required = body.require_second_factor;
    if !second_factor::set_organization_rule(store, &Actor::AdminApi, &id, required, unix_now()).await? {
        return Err(AccountError::NotFound(format!("no organization has the id `{id}`")).into());
    }
    Ok(success(
        StatusCode::OK,
        organization_view(&state, organization).await?,
        Some("Organization updated."),
    ))
}

pub async fn list_organizations(State(state): State<AppState>) -> Result<Response, ApiError> {
    let organizations = state.store.list_organizations().await?;
    Ok(success(
        StatusCode::OK,
        organization_views(&state, organizations).await?,
        None,
    ))
}

pub async fn show_organization(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let organization = accounts::find_organization(state.store.as_ref(), &id).await?;
    Ok(success(
        StatusCode::OK,
        organization_view(&state, organization).await?,
        None,
    ))
}

pub async fn delete_organization(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    accounts::delete_organization(state.store.as_ref(), &id).await?;
    Ok(success(
        StatusCode::OK,
        serde_json::json!({"id": id}),
        Some("Organization deleted."),
    ))
}

pub async fn add_member(
    State(state): State<AppState>,
    ApiPath(organization_id): ApiPath<String>,
    ApiJson(body): ApiJson<AddMember>,
) -> Result<Response, ApiError> {
    let membership = accounts::set_membership(
        state.store.as_ref(),
        &organization_id,
        &body.user_id,
        &body.role,
        unix_now(),
    )
    .await?;
    Ok(success(
        StatusCode::CREATED,
        MembershipView::from(membership),
        Some("Member added."),
    ))
}

pub async fn set_member_role(
    State(state): State<AppState>,
    ApiPath((organization_id, user_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<SetRole>,
) -> Result<Response, ApiError> {
    let membership = accounts::set_membership(
        state.store.as_ref(),
        &organization_id,
        &user_id,
        &body.role,
        unix_now(),
    )
    .await?;
    Ok(success(
        StatusCode::OK,
        MembershipView::from(membership),
        Some("Role updated."),
    ))
}

pub async fn list_members(
    State(state): State<AppState>,
    ApiPath(organization_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    accounts::find_organization(state.store.as_ref(), &organization_id).await?;
    let members = state.store.list_members(&organization_id).await?;
    Ok(success(StatusCode::OK, views::<_, MembershipView>(members), None))
}

pub async fn remove_member(
    State(state): State<AppState>,
    ApiPath((organization_id, user_id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    accounts::remove_membership(state.store.as_ref(), &organization_id, &user_id).await?;
    Ok(success(
        StatusCode::OK,
        serde_json::json!({"organizationId": organization_id, "userId": user_id}),
        Some("Member removed."),
    ))
}

#[derive(Debug, Serialize)]
struct ConnectedAppView {
    #[serde(rename = "clientId")]
    client_id: String,
    #[serde(rename = "clientName")]
    client_name: String,
    #[serde(rename = "organizationId")]
    organization_id: String,
    #[serde(rename = "organizationName")]
    organization_name: String,
    scopes: Vec<String>,
    #[serde(rename = "grantedAt")]
    granted_at: String,
    #[serde(rename = "updatedAt")]
    updated_at: String,
}

impl From<ConnectedApp> for ConnectedAppView {
    fn from(a: ConnectedApp) -> Self {
        Self {
            client_id: a.client_id,
            client_name: a.client_name,
            organization_id: a.organization_id,
            organization_name: a.organization_name,
            scopes: a.scopes,
            granted_at: timestamp(a.granted_at),
            updated_at: timestamp(a.updated_at),
        }
    }
}

pub async fn list_connected_apps(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    accounts::find_user(state.store.as_ref(), &user_id).await?;
    let apps = connected::list(state.store.as_ref(), &user_id).await?;
    Ok(success(StatusCode::OK, views::<_, ConnectedAppView>(apps), None))
}

pub async fn revoke_connected_app(
    State(state): State<AppState>,
    ApiPath((user_id, organization_id, client_id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let store = state.store.as_ref();
    let revoked = connected::revoke(
        store,
        &Actor::AdminApi,
        &user_id,
        &organization_id,
        &client_id,
        unix_now(),
    )
    .await?;
    if !revoked {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "user `{user_id}` has not connected client `{client_id}` in organization `{organization_id}`"
            ),
        ));
    }
    let data =
        serde_json::json!({"userId": user_id, "organizationId": organization_id, "clientId": client_id});
    Ok(success(
        StatusCode::OK,
        data,
        Some("Connected app revoked; its tokens no longer work."),
    ))
}

pub async fn list_audit_events(
    State(state): State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let pairs = crate::http::query_pairs(query);
    let limit = crate::audit::listing_limit(crate::http::pair(&pairs, "limit"))
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let events = state.store.list_audit_events(limit).await?;
    let data: Vec<serde_json::Value> = events
        .into_iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id,
                "occurredAt": timestamp(e.occurred_at),
                "actor": e.actor,
                "action": e.action,
                "clientId": e.client_id,
                "userId": e.user_id,
                "organizationId": e.organization_id,
                "grantId": e.grant_id,
                "details": e.details,
            })
        })
        .collect();
    Ok(success(StatusCode::OK, data, None))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    name: String,
    scopes: Vec<String>,
}

fn api_key_view(key: &ApiKeyRecord) -> serde_json::Value {
    serde_json::json!({
        "id": key.id,
        "organizationId": key.organization_id,
        "name": key.name,
        "scopes": key.scopes,
        "createdAt": timestamp(key.created_at),
        "lastUsedAt": key.last_used_at.map(timestamp),
        "revokedAt": key.revoked_at.map(timestamp),
    })
}

pub async fn create_api_key(
    State(state): State<AppState>,
    ApiPath(organization_id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> Result<Response, ApiError> {
    let store = state.store.as_ref();
    let (record, key) = api_keys::create(
        store,
        &state.config,
        &organization_id,
        &body.name,
        &body.scopes,
        &Actor::AdminApi,
        unix_now(),
    )
    .await?;
    let mut data = api_key_view(&record);
    data["apiKey"] = key.expose().into();
    Ok(success_with_secret(
        StatusCode::CREATED,
        data,
        Some("API key created. Save the key - it will not be shown again."),
    ))
}

pub async fn list_api_keys(
    State(state): State<AppState>,
    ApiPath(organization_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    accounts::find_organization(state.store.as_ref(), &organization_id).await?;
    let keys = state.store.list_api_keys(&organization_id).await?;
    Ok(success(
        StatusCode::OK,
        keys.iter().map(api_key_view).collect::<Vec<_>>(),
        None,
    ))
}

pub async fn revoke_api_key(
    State(state): State<AppState>,
    ApiPath((organization_id, key_id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    api_keys::revoke(
        state.store.as_ref(),
        &organization_id,
        &key_id,
        &Actor::AdminApi,
        unix_now(),
    )
    .await?;
    let data = serde_json::json!({"id": key_id, "organizationId": organization_id});
    Ok(success(
        StatusCode::OK,
        data,
        Some("API key revoked; it no longer works."),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_of_a_new_user_shows_no_password() {
        let body: CreateUser = serde_json::from_value(serde_json::json!({
            "email": "a@example.com", "name": "A", "password": "correct horse sEcReT"
        }))
        .unwrap();
        assert_eq!(body.password.as_ref().unwrap().expose(), "correct horse sEcReT");
        let printed = format!("{body:?}");
        assert!(printed.contains("a@example.com"), "{printed}");
        assert!(!printed.contains("sEcReT"), "{printed}");
    }

    #[test]
    fn debug_output_of_a_new_user_shows_no_password_hash() {
        let body: CreateUser = serde_json::from_value(serde_json::json!({
            "email": "a@example.com", "name": "A", "passwordHash": "$2b$10$sEcReTsEcReTsEcReT"
        }))
        .unwrap();
        let printed = format!("{body:?}");
        assert!(printed.contains("a@example.com"), "{printed}");
        assert!(!printed.contains("sEcReT"), "{printed}");
    }
}
