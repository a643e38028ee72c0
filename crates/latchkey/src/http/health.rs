//! `/healthz` (the process answers) and `/readyz` (the database answers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{AppState, json_response};

pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => json_response(StatusCode::OK, &serde_json::json!({"status": "ok"})),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({"status": "unavailable", "reason": "database unreachable"}),
            )
        }
    }
}
