//! The example resource API under `/api/v1` (SPEC 11): what access tokens
//! and API keys are for. Every handler takes the [`Authenticated`] caller
//! from the reusable guard, requires its scope, and reads or writes only
//! the caller's organization. Answers use the admin API's envelope.
//!
//! The API is a protected resource as MCP clients expect one: its RFC 9728
//! metadata is served at the well-known path its identifier gives (and at
//! the bare well-known path), and every refusal of the guard points to it
//! (`resource_metadata`) — both built by latchkey-verify's
//! [`ProtectedResource`], as any of the platform's services would.

use axum::Router;
use axum::extract::{FromRef, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use latchkey_verify::{Authenticated, Guard, ProtectedResource, add_resource_metadata};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::admin_api::{ApiError, ApiJson, ApiPath, success};
use super::{AppState, json_response, pair, query_pairs};
use crate::resources::{self, Page, ResourceError};
use crate::store::{CaseRecord, CustomerRecord};
use crate::unix_now;

impl FromRef<AppState> for Arc<Guard> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.guard)
    }
}

/// The example API's RFC 9728 metadata: its resource (the default
/// audience), this server as its authorization server, the scopes that
/// belong to it, and its name.
pub fn protected_resource(config: &crate::config::Config) -> ProtectedResource {
    let api = config.resources.api();
    ProtectedResource::new(api.identifier.clone(), config.issuer.clone())
        .scopes_supported(config.resources.scopes_of(api, &config.scopes))
        .resource_name(api.name.clone())
}

/// The metadata routes: the RFC 9728 location of the API's identifier,
/// and the bare well-known path that MCP clients try last (the same
/// document, when the identifier has a path).
pub fn metadata_routes(resource: &Arc<ProtectedResource>) -> Router<AppState> {
    let mut routes = Router::new();
    let mut paths = vec![resource.metadata_path()];
    if paths[0] != latchkey_verify::resource::WELL_KNOWN_PATH {
        paths.push(latchkey_verify::resource::WELL_KNOWN_PATH.to_owned());
    }
    for path in paths {
        let resource = Arc::clone(resource);
        routes = routes.route(&path, get(move || async move { resource.metadata_response() }));
    }
    routes
}

/// The API's routes; every refusal of the guard carries
/// `resource_metadata` (RFC 9728 §5.1).
pub fn router(resource: Arc<ProtectedResource>) -> Router<AppState> {
    Router::new()
        .route("/cases", get(list_cases).post(create_case))
        .route("/cases/{id}", get(show_case))
        .route("/clients", get(list_clients))
        .route("/clients/{id}", get(show_client))
        .route("/invoices", post(create_invoice))
        .route("/me", get(me))
        .route("/firm", get(firm))
        .layer(axum::middleware::map_response_with_state(
            resource,
            add_resource_metadata,
        ))
}

impl From<ResourceError> for ApiError {
    fn from(error: ResourceError) -> Self {
        match error {
            ResourceError::Invalid { field, message } => ApiError::validation(field, message),
            ResourceError::NotFound(message) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            ResourceError::Store(error) => error.into(),
        }
    }
}

/// A handler's failure: the guard's RFC 6750 answer or an API error.
pub enum Failure {
    Guard(latchkey_verify::GuardError),
    Api(ApiError),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Self::Guard(error) => error.into_response(),
            Self::Api(error) => error.into_response(),
        }
    }
}

impl From<latchkey_verify::GuardError> for Failure {
    fn from(error: latchkey_verify::GuardError) -> Self {
        Self::Guard(error)
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<ResourceError> for Failure {
    fn from(error: ResourceError) -> Self {
        Self::Api(error.into())
    }
}

impl From<crate::accounts::AccountError> for Failure {
    fn from(error: crate::accounts::AccountError) -> Self {
        Self::Api(error.into())
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(error: crate::store::StoreError) -> Self {
        Self::Api(error.into())
    }
}

type Answer = Result<Response, Failure>;

#[derive(Serialize)]
struct CaseView {
    id: String,
    title: String,
    status: String,
    created_at: String,
}

impl From<CaseRecord> for CaseView {
    fn from(c: CaseRecord) -> Self {
        Self {
            id: c.id,
            title: c.title,
            status: c.status,
            created_at: super::admin_api::timestamp(c.created_at),
        }
    }
}

#[derive(Serialize)]
struct ClientView {
    id: String,
    name: String,
    email: Option<String>,
    created_at: String,
}

impl From<CustomerRecord> for ClientView {
    fn from(c: CustomerRecord) -> Self {
        Self {
            id: c.id,
            name: c.name,
            email: c.email,
            created_at: super::admin_api::timestamp(c.created_at),
        }
    }
}

/// `{"success": true, "data": [...], "next_cursor": …}`.
fn page<R, V: Serialize + From<R>>(page: Page<R>) -> Response {
    let data: Vec<V> = page.items.into_iter().map(V::from).collect();
    json_response(
        StatusCode::OK,
        &serde_json::json!({"success": true, "data": data, "next_cursor": page.next_cursor}),
    )
}

fn page_query(query: Option<String>) -> Vec<(String, String)> {
    query_pairs(query)
}

async fn list_cases(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    RawQuery(query): RawQuery,
) -> Answer {
    who.require_scope("cases:read")?;
    let pairs = page_query(query);
    let request = resources::page_request(pair(&pairs, "cursor"), pair(&pairs, "limit"))?;
    let cases = resources::list_cases(state.store.as_ref(), &who.organization_id, request).await?;
    Ok(page::<_, CaseView>(cases))
}

async fn show_case(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Answer {
    who.require_scope("cases:read")?;
    let case = resources::find_case(state.store.as_ref(), &who.organization_id, &id).await?;
    Ok(success(StatusCode::OK, CaseView::from(case), None))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCase {
    title: String,
    #[serde(default)]
    status: Option<String>,
}

async fn create_case(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiJson(body): ApiJson<NewCase>,
) -> Answer {
    who.require_scope("cases:write")?;
    let store = state.store.as_ref();
    let case = resources::create_case(
        store,
        &who.organization_id,
        &body.title,
        body.status.as_deref(),
        unix_now(),
    )
    .await?;
    Ok(success(StatusCode::CREATED, CaseView::from(case), None))
}

async fn list_clients(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    RawQuery(query): RawQuery,
) -> Answer {
    who.require_scope("read:clients")?;
    let pairs = page_query(query);
    let request = resources::page_request(pair(&pairs, "cursor"), pair(&pairs, "limit"))?;
    let clients = resources::list_customers(state.store.as_ref(), &who.organization_id, request).await?;
    Ok(page::<_, ClientView>(clients))
}

async fn show_client(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Answer {
    who.require_scope("read:clients")?;
    let client = resources::find_customer(state.store.as_ref(), &who.organization_id, &id).await?;
    Ok(success(StatusCode::OK, ClientView::from(client), None))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewInvoice {
    client_id: String,
    amount_cents: i64,
    currency: String,
}

async fn create_invoice(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiJson(body): ApiJson<NewInvoice>,
) -> Answer {
    who.require_scope("write:invoices")?;
    let store = state.store.as_ref();
    let invoice = resources::create_invoice(
        store,
        &who.organization_id,
        &body.client_id,
        body.amount_cents,
        &body.currency,
        unix_now(),
    )
    .await?;
    let data = serde_json::json!({
        "id": invoice.id,
        "client_id": invoice.client_id,
        "amount_cents": invoice.amount_cents,
        "currency": invoice.currency,
        "created_at": super::admin_api::timestamp(invoice.created_at),
    });
    Ok(success(StatusCode::CREATED, data, None))
}

/// The caller's user in this organization; API keys and client_credentials
/// tokens have none.
async fn me(State(state): State<AppState>, Authenticated(who): Authenticated) -> Answer {
    who.require_scope("user:read")?;
    let Some(user_id) = who.user_id() else {
        let message =
            "an API key or a client_credentials token acts for no user; /me needs a user's access token";
        return Err(ApiError::new(StatusCode::FORBIDDEN, "no_user", message).into());
    };
    let subject = crate::grants::tokens::Subject::load(state.store.as_ref(), user_id, &who.organization_id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "the user no longer exists"))?;
    let data = serde_json::json!({
        "id": subject.user.id,
        "email": subject.user.email,
        "name": subject.user.name,
        "role": subject.role,
        "organization_id": subject.organization.id,
    });
    Ok(success(StatusCode::OK, data, None))
}

async fn firm(State(state): State<AppState>, Authenticated(who): Authenticated) -> Answer {
    who.require_scope("firm:read")?;
    let organization = crate::accounts::find_organization(state.store.as_ref(), &who.organization_id).await?;
    Ok(success(
        StatusCode::OK,
        serde_json::json!({"id": organization.id, "name": organization.name}),
        None,
    ))
}
