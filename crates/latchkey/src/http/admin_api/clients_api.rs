//! `/api/v1/admin/oauth-clients`: registration, listing, changes, secret
//! rotation, disable and enable. Field names follow the integration guide
//! (`clientId`, `redirectUris`, `allowed_scopes`); snake_case aliases are
//! accepted on input.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, nullable, success, success_with_secret, timestamp};
use crate::audit::Actor;
use crate::clients::{self, Approval, Changes, Registration};
use crate::http::AppState;
use crate::secret::{Secret, serialize_exposed_option};
use crate::store::ClientRecord;
use crate::unix_now;

const CREATED_MESSAGE: &str =
    "Client created successfully. Save the client secret - it will not be shown again.";
const ROTATED_MESSAGE: &str = "Client secret rotated. Save the new secret - it will not be shown again. The previous secret no longer works.";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// May be empty (or absent) only without `authorization_code`.
    #[serde(default, rename = "redirectUris", alias = "redirect_uris")]
    redirect_uris: Vec<String>,
    #[serde(rename = "allowed_scopes", alias = "allowedScopes")]
    allowed_scopes: Vec<String>,
    #[serde(default, rename = "homepageUrl", alias = "homepage_url")]
    homepage_url: Option<String>,
    #[serde(default, rename = "logoUrl", alias = "logo_url")]
    logo_url: Option<String>,
    #[serde(
        default,
        rename = "tokenEndpointAuthMethod",
        alias = "token_endpoint_auth_method"
    )]
    token_endpoint_auth_method: Option<String>,
    #[serde(default, rename = "organizationId", alias = "organization_id")]
    organization_id: Option<String>,
    /// Absent: `authorization_code` and `refresh_token`.
    #[serde(default, rename = "grantTypes", alias = "grant_types")]
    grant_types: Option<Vec<String>>,
    #[serde(
        default,
        rename = "idTokenSignedResponseAlg",
        alias = "id_token_signed_response_alg"
    )]
    id_token_signed_response_alg: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "redirectUris", alias = "redirect_uris")]
    redirect_uris: Option<Vec<String>>,
    #[serde(default, rename = "allowed_scopes", alias = "allowedScopes")]
    allowed_scopes: Option<Vec<String>>,
    #[serde(
        default,
        rename = "homepageUrl",
        alias = "homepage_url",
        deserialize_with = "nullable"
    )]
    homepage_url: Option<Option<String>>,
    #[serde(
        default,
        rename = "logoUrl",
        alias = "logo_url",
        deserialize_with = "nullable"
    )]
    logo_url: Option<Option<String>>,
    /// `null` goes back to the configured algorithm.
    #[serde(
        default,
        rename = "idTokenSignedResponseAlg",
        alias = "id_token_signed_response_alg",
        deserialize_with = "nullable"
    )]
    id_token_signed_response_alg: Option<Option<String>>,
    /// `null` leaves the client without an owning organization.
    #[serde(
        default,
        rename = "organizationId",
        alias = "organization_id",
        deserialize_with = "nullable"
    )]
    organization_id: Option<Option<String>>,
    #[serde(default, rename = "grantTypes", alias = "grant_types")]
    grant_types: Option<Vec<String>>,
}

/// A client as the admin API shows it; the secret only right after it was
/// generated.
#[derive(Debug, Serialize)]
struct ClientView {
    #[serde(rename = "clientId")]
    client_id: String,
    #[serde(
        rename = "clientSecret",
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_exposed_option"
    )]
    client_secret: Option<Secret>,
    name: String,
    description: String,
    #[serde(rename = "homepageUrl")]
    homepage_url: Option<String>,
    #[serde(rename = "logoUrl")]
    logo_url: Option<String>,
    #[serde(rename = "redirectUris")]
    redirect_uris: Vec<String>,
    allowed_scopes: Vec<String>,
    #[serde(rename = "tokenEndpointAuthMethod")]
    token_endpoint_auth_method: String,
    #[serde(rename = "organizationId")]
    organization_id: Option<String>,
    #[serde(rename = "grantTypes")]
    grant_types: Vec<&'static str>,
    /// `null`: the configured `tokens.signing_alg`.
    #[serde(rename = "idTokenSignedResponseAlg")]
    id_token_signed_response_alg: Option<&'static str>,
    enabled: bool,
    #[serde(rename = "createdAt")]
    created_at: String,
    #[serde(rename = "updatedAt")]
    updated_at: String,
    /// `operator` (admin API, CLI, dashboard) or `dynamic` (registered by
    /// itself, RFC 7591).
    origin: &'static str,
}

impl From<ClientRecord> for ClientView {
    fn from(c: ClientRecord) -> Self {
        Self {
            client_id: c.client_id,
            client_secret: None,
            name: c.name,
            description: c.description,
            homepage_url: c.homepage_url,
            logo_url: c.logo_url,
            redirect_uris: c.redirect_uris,
            allowed_scopes: c.allowed_scopes,
            token_endpoint_auth_method: c.token_endpoint_auth_method,
            organization_id: c.organization_id,
            grant_types: c.grant_types.iter().map(|g| g.as_str()).collect(),
            id_token_signed_response_alg: c.id_token_signed_response_alg.map(|alg| alg.as_str()),
            enabled: c.enabled,
            created_at: timestamp(c.created_at),
            updated_at: timestamp(c.updated_at),
            origin: c.origin.as_str(),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateClient>,
) -> Result<Response, ApiError> {
    let registration = Registration {
        name: body.name,
        description: body.description,
        homepage_url: body.homepage_url,
        logo_url: body.logo_url,
        redirect_uris: body.redirect_uris,
        allowed_scopes: body.allowed_scopes,
        token_endpoint_auth_method: body.token_endpoint_auth_method,
        organization_id: body.organization_id,
        grant_types: body.grant_types,
        id_token_signed_response_alg: body.id_token_signed_response_alg,
        approval: Approval::AsRegistered,
    };
    let registered = clients::register(state.store.as_ref(), &state.config, registration, unix_now()).await?;
    ensure_alg_key(&state, &registered.client).await?;
    let mut view = ClientView::from(registered.client);
    let message = match registered.client_secret {
        Some(secret) => {
            view.client_secret = Some(secret);
            CREATED_MESSAGE
        }
        None => "Client created successfully. It is a public client: it has no secret and must use PKCE.",
    };
    Ok(success_with_secret(StatusCode::CREATED, view, Some(message)))
}

/// The algorithm a client asks for its ID tokens gets a signing key if it
/// has none yet, loaded into this server's ring at once (other instances
/// load it at their next reload).
async fn ensure_alg_key(state: &AppState, client: &ClientRecord) -> Result<(), ApiError> {
    if let Some(alg) = client.id_token_signed_response_alg {
        state
            .keys
            .ensure(state.store.as_ref(), &[alg], unix_now())
            .await?;
    }
    Ok(())
}

pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let clients = state.store.list_clients().await?;
    let views: Vec<ClientView> = clients.into_iter().map(ClientView::from).collect();
    Ok(success(StatusCode::OK, views, None))
}

pub async fn show(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let client = clients::find(state.store.as_ref(), &client_id).await?;
    Ok(success(StatusCode::OK, ClientView::from(client), None))
}

pub async fn update(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateClient>,
) -> Result<Response, ApiError> {
    let changes = Changes {
        name: body.name,
        description: body.description,
        homepage_url: body.homepage_url,
        logo_url: body.logo_url,
        redirect_uris: body.redirect_uris,
        allowed_scopes: body.allowed_scopes,
        id_token_signed_response_alg: body.id_token_signed_response_alg,
        organization_id: body.organization_id,
        grant_types: body.grant_types,
        approval: Approval::AsRegistered,
    };
    let client = clients::update(
        state.store.as_ref(),
        &state.config,
        &client_id,
        changes,
        unix_now(),
    )
    .await?;
    ensure_alg_key(&state, &client).await?;
    Ok(success(
        StatusCode::OK,
        ClientView::from(client),
        Some("Client updated."),
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    clients::delete(state.store.as_ref(), &client_id, &Actor::AdminApi, unix_now()).await?;
    Ok(success(
        StatusCode::OK,
        serde_json::json!({"clientId": client_id}),
        Some("Client deleted."),
    ))
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let secret = clients::rotate_secret(
        state.store.as_ref(),
        &state.config,
        &client_id,
        &Actor::AdminApi,
        unix_now(),
    )
    .await?;
    let data = serde_json::json!({"clientId": client_id, "clientSecret": secret.expose()});
    Ok(success_with_secret(StatusCode::OK, data, Some(ROTATED_MESSAGE)))
}

pub async fn disable(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let client = clients::set_enabled(
        state.store.as_ref(),
        &client_id,
        false,
        &Actor::AdminApi,
        unix_now(),
    )
    .await?;
    Ok(success(
        StatusCode::OK,
        ClientView::from(client),
        Some("Client disabled."),
    ))
}

pub async fn enable(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let client = clients::set_enabled(
        state.store.as_ref(),
        &client_id,
        true,
        &Actor::AdminApi,
        unix_now(),
    )
    .await?;
    Ok(success(
        StatusCode::OK,
        ClientView::from(client),
        Some("Client enabled."),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::TokenDigest;

    #[test]
    fn a_new_client_shows_its_secret_in_the_body_but_not_in_debug_output() {
        let record = ClientRecord {
            client_id: "client_1".into(),
            secret_digest: Some(TokenDigest::of("secret_sEcReT")),
            name: "App".into(),
            description: String::new(),
            homepage_url: None,
            logo_url: None,
            redirect_uris: vec!["https://app.example/cb".into()],
            allowed_scopes: vec!["openid".into()],
            token_endpoint_auth_method: "client_secret_basic".into(),
            organization_id: None,
            grant_types: crate::oauth::grant_type::GrantType::DEFAULT.to_vec(),
            id_token_signed_response_alg: None,
            enabled: true,
            created_at: 0,
            updated_at: 0,
            origin: Default::default(),
        };
        let mut view = ClientView::from(record);
        assert!(serde_json::to_value(&view).unwrap().get("clientSecret").is_none());
        view.client_secret = Some(Secret::new("secret_sEcReT"));
        assert_eq!(
            serde_json::to_value(&view).unwrap()["clientSecret"],
            "secret_sEcReT"
        );
        let printed = format!("{view:?}");
        assert!(printed.contains("client_1"), "{printed}");
        assert!(!printed.contains("sEcReT"), "{printed}");
    }
}
