//! `/api/v1/admin/scope-approvals` and the approve and deny actions under
//! `/api/v1/admin/oauth-clients/{client_id}/scopes/{scope}`: the
//! operator's side of sensitive scopes that dashboard-created apps asked
//! for. The rules are [`crate::clients::scope_review`]'s.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{ApiError, ApiJson, ApiPath, success, timestamp};
use crate::audit::Actor;
use crate::clients::scope_review;
use crate::http::{AppState, pair, query_pairs};
use crate::store::{ScopeReviewListing, ScopeReviewStatus};
use crate::unix_now;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Denial {
    reason: String,
}

fn listing_view(listing: ScopeReviewListing) -> serde_json::Value {
    let review = listing.review;
    serde_json::json!({
        "clientId": review.client_id,
        "clientName": listing.client_name,
        "organizationId": listing.organization_id,
        "organizationName": listing.organization_name,
        "scope": review.scope,
        "status": review.status.as_str(),
        "reason": review.reason,
        "requestedAt": timestamp(review.requested_at),
        "decidedAt": review.decided_at.map(timestamp),
    })
}

/// `GET /scope-approvals?status=pending|denied` (pending when absent).
pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let pairs = query_pairs(query);
    let text = pair(&pairs, "status").unwrap_or("pending");
    let status = ScopeReviewStatus::parse(text).ok_or_else(|| {
        ApiError::bad_request(format!("status must be `pending` or `denied`, not `{text}`"))
    })?;
    let listings = scope_review::list(state.store.as_ref(), status).await?;
    let data: Vec<serde_json::Value> = listings.into_iter().map(listing_view).collect();
    Ok(success(StatusCode::OK, data, None))
}

/// `POST /oauth-clients/{client_id}/scopes/{scope}/approve`
pub async fn approve(
    State(state): State<AppState>,
    ApiPath((client_id, scope)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let allowed = scope_review::approve(
        state.store.as_ref(),
        &state.config,
        &client_id,
        &scope,
        &Actor::AdminApi,
        unix_now(),
    )
    .await?;
    let data = serde_json::json!({
        "clientId": client_id,
        "scope": scope,
        "status": "approved",
        "allowed_scopes": allowed,
    });
    Ok(success(StatusCode::OK, data, Some("Scope approved.")))
}

/// `POST /oauth-clients/{client_id}/scopes/{scope}/deny` with `{"reason"}`.
pub async fn deny(
    State(state): State<AppState>,
    ApiPath((client_id, scope)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<Denial>,
) -> Result<Response, ApiError> {
    let reason = scope_review::deny(
        state.store.as_ref(),
        &client_id,
        &scope,
        &body.reason,
        &Actor::AdminApi,
        unix_now(),
    )
    .await?;
    let data = serde_json::json!({
        "clientId": client_id,
        "scope": scope,
        "status": "denied",
        "reason": reason,
    });
    Ok(success(StatusCode::OK, data, Some("Scope denied.")))
}
