//! `POST` revocation (RFC 7009) and introspection (RFC 7662): client
//! authentication as at the token endpoint, form or JSON body.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{json_error, json_no_store, no_store};
use crate::grants::revocation;
use crate::http::AppState;
use crate::http::rate_limit::{Endpoint, too_many_requests};
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

/// What the request asks of the token.
#[derive(Clone, Copy)]
enum Operation {
    Revoke,
    Introspect,
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8], operation: Operation) -> Response {
    let basic = headers.contains_key(header::AUTHORIZATION);
    let (client, reference) = match authenticated(state, headers, body).await {
        Ok(found) => found,
        Err(error) => return json_error(&error, basic),
    };
    let (store, config, guard, now) = (
        state.store.as_ref(),
        &state.config,
        state.guard.as_ref(),
        unix_now(),
    );
    if let Operation::Revoke = operation
        && let Err(retry_after) = state.rate_limiter.check(Endpoint::Revoke, &client.client_id, now)
    {
        return too_many_requests(retry_after);
    }
    let (token, hint) = (&reference.token, reference.hint);
    let outcome = match operation {
        Operation::Revoke => revocation::revoke(store, guard, &client, token, hint, now)
            .await
            .map(|()| {
                let mut response = StatusCode::OK.into_response();
                no_store(response.headers_mut());
                response
            }),
        Operation::Introspect => revocation::introspect(store, config, guard, &client, token, hint, now)
            .await
            .map(|answer| json_no_store(&answer)),
    };
    outcome.unwrap_or_else(|error| json_error(&error, basic))
}

/// RFC 7009: 200 with an empty body, known token or not.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&state, &headers, &body, Operation::Revoke).await
}

/// RFC 7662: the token's claims when active, else `{"active": false}`.
pub async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&state, &headers, &body, Operation::Introspect).await
}
