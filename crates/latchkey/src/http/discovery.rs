//! Discovery documents (OpenID Connect Discovery 1.0, RFC 8414) and the
//! JWKS. Both metadata paths serve the same document.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;

const CACHE_PUBLIC: &str = "public, max-age=300";

pub async fn metadata(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, CACHE_PUBLIC),
        ],
        state.metadata.clone(),
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
