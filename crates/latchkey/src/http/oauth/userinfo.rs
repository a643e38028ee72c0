//! UserInfo (OpenID Connect Core §5.3), GET and POST: the bearer token
//! from the `Authorization` header (or, for POST, an `access_token` form
//! field, RFC 6750 §2.2), verified and checked for a live grant.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;

use super::{bearer_error, json_no_store};
use crate::http::rate_limit::{Endpoint, too_many_requests};
use crate::http::{AppState, form_pairs, pair};
use crate::oauth::error::OAuthError;
use crate::oauth::userinfo;
use crate::unix_now;

/// The bearer token of a request, if any.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    latchkey_verify::bearer(headers.get(header::AUTHORIZATION)).ok()
}

pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(&state, bearer_token(&headers)).await
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(token) = bearer_token(&headers) {
        return respond(&state, Some(token)).await;
    }
    let pairs = form_pairs(&body);
    respond(&state, pair(&pairs, "access_token")).await
}

async fn respond(state: &AppState, token: Option<&str>) -> Response {
    let Some(token) = token else {
        return bearer_error(None);
    };
    if let Err(retry_after) = state.rate_limiter.check(Endpoint::Userinfo, token, unix_now()) {
        return too_many_requests(retry_after);
    }
    let store = state.store.as_ref();
    let verified = state
        .guard
        .access_token(token, unix_now())
        .await
        .map_err(OAuthError::from);
    let claims = match verified {
        Ok(access) => userinfo::claims(store, &state.config, &access).await,
        Err(error) => Err(error),
    };
    match claims {
        Ok(claims) => json_no_store(&claims),
        Err(error) => bearer_error(Some(&error)),
    }
}
