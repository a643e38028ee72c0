//! `/api/v1/admin/initial-access-tokens`: the initial access tokens that
//! registrations present when `oauth.dynamic_client_registration` is
//! `initial_access_token` (RFC 7591 §3) — issue (shown once), list, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, success, success_with_secret, timestamp};
use crate::audit::Actor;
use crate::clients::initial_access::{self, NewToken};
use crate::http::AppState;
use crate::secret::{Secret, serialize_exposed_option};
use crate::store::InitialAccessTokenRecord;
use crate::unix_now;

const CREATED_MESSAGE: &str = "Initial access token created. Save it - it will not be shown again.";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    #[serde(default, rename = "expiresInSeconds", alias = "expires_in_seconds")]
    expires_in_seconds: Option<i64>,
    #[serde(default, rename = "maxUses", alias = "max_uses")]
    max_uses: Option<i64>,
}

/// A token as the admin API shows it; the token itself only right after
/// it was issued.
#[derive(Debug, Serialize)]
struct TokenView {
    id: String,
    name: String,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_exposed_option"
    )]
    token: Option<Secret>,
    #[serde(rename = "createdAt")]
    created_at: String,
    #[serde(rename = "expiresAt")]
    expires_at: Option<String>,
    #[serde(rename = "maxUses")]
    max_uses: Option<i64>,
    uses: i64,
    #[serde(rename = "revokedAt")]
    revoked_at: Option<String>,
}

impl From<InitialAccessTokenRecord> for TokenView {
    fn from(t: InitialAccessTokenRecord) -> Self {
        Self {
            id: t.id,
            name: t.name,
            token: None,
            created_at: timestamp(t.created_at),
            expires_at: t.expires_at.map(timestamp),
            max_uses: t.max_uses,
            uses: t.uses,
            revoked_at: t.revoked_at.map(timestamp),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<Response, ApiError> {
    let new = NewToken {
        name: body.name,
        expires_in: body.expires_in_seconds,
        max_uses: body.max_uses,
    };
    let (record, token) = initial_access::create(
        state.store.as_ref(),
        &state.config,
        new,
        &Actor::AdminApi,
        unix_now(),
    )
    .await?;
    let mut view = TokenView::from(record);
    view.token = Some(token);
    Ok(success_with_secret(
        StatusCode::CREATED,
        view,
        Some(CREATED_MESSAGE),
    ))
}

pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let tokens = state.store.list_initial_access_tokens().await?;
    let views: Vec<TokenView> = tokens.into_iter().map(TokenView::from).collect();
    Ok(success(StatusCode::OK, views, None))
}

pub async fn revoke(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    initial_access::revoke(state.store.as_ref(), &id, &Actor::AdminApi, unix_now()).await?;
    Ok(success(
        StatusCode::OK,
        serde_json::json!({"id": id}),
        Some("Initial access token revoked. Clients it registered stay registered."),
    ))
}
