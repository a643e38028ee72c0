//! `POST` revocation (RFC 7009) and introspection (RFC 7662): client
//! authentication as at the token endpoint, form or JSON body.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{json_error, json_no_store, no_store};
use crate::grants::revocation;
use crate::http::AppState;
use crate::oauth::client_auth;
use crate::oauth::error::OAuthError;
use crate::oauth::revoke::{self, TokenReference};
use crate::store::ClientRecord;
use crate::unix_now;

/// Parses the body and authenticates the client.
async fn authenticated(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(ClientRecord, TokenReference), OAuthError> {
    let pairs = super::body_pairs(headers, body)?;
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let reference = revoke::parse(&pairs, authorization)?;
    let client = client_auth::authenticate(state.store.as_ref(), &reference.credentials).await?;
    Ok((client, reference))
}

pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let basic = headers.contains_key(header::AUTHORIZATION);
    let (client, reference) = match authenticated(&state, &headers, &body).await {
        Ok(found) => found,
        Err(error) => return json_error(&error, basic),
    };
    let store = state.store.as_ref();
    let ring = state.keys.ring();
    let now = unix_now();
    match revocation::revoke(
        store,
        &state.config,
        &ring,
        &client,
        &reference.token,
        reference.hint,
        now,
    )
    .await
    {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            no_store(response.headers_mut());
            response
        }
        Err(error) => json_error(&error, basic),
    }
}

pub async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let basic = headers.contains_key(header::AUTHORIZATION);
    let (client, reference) = match authenticated(&state, &headers, &body).await {
        Ok(found) => found,
        Err(error) => return json_error(&error, basic),
    };
    let store = state.store.as_ref();
    let ring = state.keys.ring();
    let now = unix_now();
    match revocation::introspect(
        store,
        &state.config,
        &ring,
        &client,
        &reference.token,
        reference.hint,
        now,
    )
    .await
    {
        Ok(answer) => json_no_store(&answer),
        Err(error) => json_error(&error, basic),
    }
}
