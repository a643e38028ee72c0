//! Discovery documents (OpenID Connect Discovery 1.0, RFC 8414) and the
//! JWKS. Both metadata paths serve the same document.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::oauth::discovery::ServerMetadata;

const CACHE_PUBLIC: &str = "public, max-age=300";

pub async fn metadata(State(state): State<AppState>) -> Response {
    // A key of a new algorithm (a client asked for it) since start-up
    // changes `id_token_signing_alg_values_supported`.
    let algs = state.keys.ring().algs();
    let body = if *algs == *state.metadata_algs {
        state.metadata.clone()
    } else {
        match serde_json::to_vec(&ServerMetadata::from_config(&state.config, &algs)) {
            Ok(body) => body.into(),
            Err(_) => state.metadata.clone(),
        }
    };
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, CACHE_PUBLIC),
        ],
        body,
    )
        .into_response()
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, CACHE_PUBLIC),
        ],
        state.keys.ring().jwks_json().to_string(),
    )
        .into_response()
}
