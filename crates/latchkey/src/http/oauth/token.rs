//! `POST` token endpoint: form or JSON body, client authentication, then
//! the grant type's exchange.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;

use super::{json_error, json_no_store};
use crate::grants::client_credentials;
use crate::grants::exchange::{self, CodeGrant, RefreshGrant};
use crate::http::AppState;
use crate::http::rate_limit::{Endpoint, too_many_requests};
use crate::metrics::GrantType;
use crate::oauth::client_auth;
use crate::oauth::error::OAuthError;
use crate::oauth::grant_type;
use crate::oauth::token::{self, GrantRequest};
use crate::unix_now;

pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let parsed = super::body_pairs(&headers, &body).and_then(|pairs| token::parse(&pairs, authorization));
    let request = match parsed {
        Ok(request) => request,
        Err(error) => return json_error(&error, authorization.is_some()),
    };
    // SPEC 12: per client, counted before the secret is even checked.
    let limited = state
        .rate_limiter
        .check(Endpoint::Token, request.credentials.client_id(), unix_now());
    if let Err(retry_after) = limited {
        return too_many_requests(retry_after);
    }
    match exchange_request(&state, &request).await {
        Ok(response) => json_no_store(&response),
        Err(error) => json_error(&error, authorization.is_some()),
    }
}

async fn exchange_request(
    state: &AppState,
    request: &token::TokenRequest,
) -> Result<token::TokenResponse, OAuthError> {
    let store = state.store.as_ref();
    let now = unix_now();
    let client_id = request.credentials.client_id();
    state
        .url_clients
        .refresh_expired(store, &state.config, client_id, now)
        .await?;
    let client = client_auth::authenticate(store, &request.credentials).await?;
    grant_type::require_allowed(&client, request.grant.grant_type())?;
    let ring = state.keys.ring();
    let metrics = state.metrics.as_ref();
    let (grant_type, issued) = match &request.grant {
        GrantRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let grant = CodeGrant {
                code,
                redirect_uri: redirect_uri.as_deref(),
                code_verifier: code_verifier.as_ref(),
                resources: &request.resources,
            };
            let issued =
                exchange::authorization_code(store, &state.config, &ring, metrics, &client, grant, now).await;
            (GrantType::AuthorizationCode, issued)
        }
        GrantRequest::RefreshToken { refresh_token, scope } => {
            let grant = RefreshGrant {
                refresh_token,
                scope: scope.as_deref(),
                resources: &request.resources,
            };
            let issued =
                exchange::refresh_token(store, &state.config, &ring, metrics, &client, grant, now).await;
            (GrantType::RefreshToken, issued)
        }
        GrantRequest::ClientCredentials { scope } => {
            let config = &state.config;
            let issued = client_credentials::issue(
                store,
                config,
                &ring,
                &client,
                scope.as_deref(),
                &request.resources,
                now,
            )
            .await;
            (GrantType::ClientCredentials, issued)
        }
    };
    if issued.is_ok() {
        metrics.token_issued(grant_type);
    }
    issued
}
