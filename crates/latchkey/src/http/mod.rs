//! The only module that knows axum, status codes and wire shapes: it maps
//! requests to domain calls and results to responses. Routes: discovery and
//! JWKS ([`discovery`]), health ([`health`]), the admin API
//! ([`admin_api`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::config::Config;
use crate::keys::Keys;
use crate::store::Store;

pub mod admin_api;
mod api;
pub mod body_limit;
pub mod cookies;
mod discovery;
mod health;
pub mod oauth;
pub mod pages;
pub mod rate_limit;

/// Bodies larger than this are refused with 413 before they are parsed
/// (after being drained: see [`body_limit`]).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub keys: Arc<Keys>,
    /// The discovery document, rendered once at start-up.
    pub metadata: axum::body::Bytes,
    pub login_throttle: Arc<crate::accounts::throttle::LoginThrottle>,
    pub rate_limiter: Arc<rate_limit::RateLimiter>,
    /// The token guard of the protected API.
    pub guard: Arc<latchkey_verify::Guard>,
}

/// All routes of the server.
pub fn router(state: AppState) -> Router {
    let paths = &state.config.paths;
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::metadata))
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
        .route(&paths.jwks, get(discovery::jwks))
        .route(
            &paths.authorize,
            get(oauth::authorize::get).post(oauth::authorize::post),
        )
        .route(&paths.consent, post(oauth::authorize::decide))
        .route(&paths.token, post(oauth::token::token))
        .route(&paths.revoke, post(oauth::revoke::revoke))
        .route(&paths.introspect, post(oauth::revoke::introspect))
        .route(
            &paths.userinfo,
            get(oauth::userinfo::get).post(oauth::userinfo::post),
        )
        .route(&paths.login, get(pages::login::show).post(pages::login::submit))
        .route(
            &paths.logout,
            get(pages::login::show_logout).post(pages::login::logout),
        )
        .route(
            &format!("{}/connected-apps", paths.settings),
            get(pages::connected_apps::show),
        )
        .route(
            &format!("{}/connected-apps/revoke", paths.settings),
            post(pages::connected_apps::revoke),
        )
        .route("/static/latchkey.css", get(pages::stylesheet))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .nest("/api/v1/admin", admin_api::router(state.clone()))
        .nest("/api/v1", api::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(body_limit::limit))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// A JSON body with status and extra headers: the one way responses are
/// built from serializable values.
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The name/value pairs of a form body or query string.
pub fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// The first value of `name` in `pairs`.
pub fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// The name/value pairs of a JSON object body whose values are strings.
pub fn json_pairs(bytes: &[u8]) -> Result<Vec<(String, String)>, crate::oauth::error::OAuthError> {
    use crate::oauth::error::OAuthError;
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes)
        .map_err(|e| OAuthError::invalid_request(format!("the body is not a JSON object: {e}")))?;
    object
        .into_iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| match value {
            serde_json::Value::String(text) => Ok((name, text)),
            _ => Err(OAuthError::invalid_request(format!(
                "the parameter {name} must be a string"
            ))),
        })
        .collect()
}

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error": "not_found", "error_description": "no such endpoint"}),
    )
}

async fn method_not_allowed() -> Response {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &serde_json::json!({"error": "method_not_allowed", "error_description": "this endpoint does not accept that method"}),
    )
}
