//! `/healthz` (the process answers) and `/readyz` (the database answers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{AppState, json_response};
use crate::store::StoreError;

pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// How long the readiness check waits for the database.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// `/readyz` answers within [`READY_WAIT`] whatever the database does.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let ping = tokio::time::timeout(READY_WAIT, state.store.ping()).await;
    match ping.unwrap_or_else(|_| Err(StoreError::Unavailable("no answer within a second".into()))) {
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
