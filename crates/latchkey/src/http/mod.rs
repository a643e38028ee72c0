//! The only module that knows axum, status codes and wire shapes: it maps
//! requests to domain calls and results to responses. Routes: discovery and
//! JWKS ([`discovery`]), health ([`health`]), the OAuth endpoints
//! ([`oauth`]), the pages and the developer dashboard ([`pages`]; with
//! `serve --demo` also the demo app's callback page), the admin API
//! ([`admin_api`]) and the example API; apart from them, on its own
//! address, `/metrics` ([`metrics`]).

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
pub mod listener;
pub mod metrics;
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
    /// The discovery document, rendered once at start-up, and the
    /// algorithms with keys it was rendered for (a key ring with others
    /// since gets a fresh rendering).
    pub metadata: axum::body::Bytes,
    pub metadata_algs: Arc<[crate::keys::Alg]>,
    pub login_throttle: Arc<crate::accounts::throttle::LoginThrottle>,
    /// Password-reset requests per email and client IP.
    pub reset_throttle: Arc<crate::accounts::throttle::LoginThrottle>,
    /// Wrong second-factor codes, counted per user and address as
    /// passwords are (keyed by user id).
    pub second_factor_throttle: Arc<crate::accounts::throttle::LoginThrottle>,
    /// The passkeys' relying party, built once at start-up; `None` when
    /// passkeys are not offered (delegated sign-in, or an issuer without a
    /// domain name).
    pub relying_party: Option<Arc<webauthn_rs::prelude::Webauthn>>,
    /// The key of CSRF form tokens.
    pub form_key: Arc<crate::secret::FormKey>,
    /// The bounded password-hashing workers.
    pub passwords: Arc<crate::accounts::password::Passwords>,
    pub rate_limiter: Arc<rate_limit::RateLimiter>,
    /// The token guard of the protected API.
    pub guard: Arc<latchkey_verify::Guard>,
    /// Counters of requests, tokens and replays; served on `metrics.bind`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Clients known by the URL of their metadata document: their fetches
    /// and what is remembered of them.
    pub url_clients: Arc<crate::oauth::client_id_metadata::UrlClients>,
    /// The demo app whose callback page `serve --demo` serves; `None`
    /// otherwise, and then the page does not exist.
    pub demo: Option<Arc<crate::demo::DemoClient>>,
    /// Sends reset and verification links; `None` without `[smtp]`, and
    /// then neither link is offered.
    pub mailer: Option<crate::mail::Mailer>,
}

/// All routes of the server.
pub fn router(state: AppState) -> Router {
    let paths = &state.config.paths;
    let mut routes = Router::new()
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
            &pages::second_factor::step_path(&state.config),
            get(pages::second_factor::show).post(pages::second_factor::submit),
        )
        .route(
            &pages::second_factor::setup_path(&state.config),
            get(pages::second_factor::show_setup).post(pages::second_factor::submit_setup),
        )
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
            get(pages::connected_apps::back_to_page).post(pages::connected_apps::revoke),
        )
        .route(
            &format!("{}/sessions", paths.settings),
            get(pages::sessions::show),
        )
        .route(
            &format!("{}/sessions/end", paths.settings),
            get(pages::sessions::back_to_page).post(pages::sessions::end),
        )
        .route(
            &format!("{}/sessions/end-others", paths.settings),
            get(pages::sessions::back_to_page).post(pages::sessions::end_others),
        )
        .route(
            &format!("{}/password", paths.settings),
            get(pages::change_password::show).post(pages::change_password::submit),
        )
        .route(
            &format!("{}/password/verify-email", paths.settings),
            get(pages::change_password::back_to_page).post(pages::change_password::resend_verification),
        )
        .route(
            pages::password_reset::VERIFY_PATH,
            get(pages::password_reset::show_verify).post(pages::password_reset::submit_verify),
        )
        .merge(dashboard_routes(&paths.settings))
        .route("/static/latchkey.css", get(pages::stylesheet))
        .route("/static/copy.js", get(pages::copy_script))
        .route("/static/passkey.js", get(pages::passkey_script))
        .route("/static/theme.css", get(pages::settings::theme))
        .route("/", get(pages::settings::home))
        .route(&paths.settings, get(pages::settings::home))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    // Only `serve --demo` has the demo app's callback page; elsewhere the
    // path is as unknown as any other.
    if state.demo.is_some() {
        routes = routes.route(crate::demo::CALLBACK_PATH, get(pages::demo::callback));
    }
    // Only delegated sign-in has the platform's way back.
    if let crate::config::LoginMode::Delegate(_) = &state.config.login.mode {
        routes = routes.route(
            &pages::delegate::return_path(&state.config),
            get(pages::delegate::finish_get).post(pages::delegate::finish_post),
        );
    }
    // "Forgot password?" exists only with mail and Latchkey's own sign-in.
    if state.mailer.is_some() && matches!(state.config.login.mode, crate::config::LoginMode::Local) {
        routes = routes
            .route(
                &pages::password_reset::forgot_path(&state.config),
                get(pages::password_reset::show_forgot).post(pages::password_reset::submit_forgot),
            )
            .route(
                &pages::password_reset::reset_path(&state.config),
                get(pages::password_reset::show_reset).post(pages::password_reset::submit_reset),
            );
    }
    if matches!(state.config.login.mode, crate::config::LoginMode::Local) {
        routes = routes.merge(two_step_routes(&paths.settings));
    }
    // Passkeys need a relying party: a domain name, and local sign-in.
    if state.relying_party.is_some() {
        routes = routes.merge(passkey_routes(&paths.settings, &paths.login));
    }
    // Without dynamic registration the endpoints do not exist.
    if state.config.oauth.registration.mode.is_enabled() {
        routes = routes
            .route(&paths.register, post(oauth::register::register))
            .route(
                &format!("{}/{{client_id}}", paths.register),
                get(oauth::register::read)
                    .put(oauth::register::update)
                    .delete(oauth::register::delete),
            );
    }
    let resource = Arc::new(api::protected_resource(&state.config));
    routes
        .merge(api::metadata_routes(&resource))
        .nest("/api/v1/admin", admin_api::router(state.clone()))
        .nest(crate::config::API_PATH, api::router(resource))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), deadline))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(body_limit::limit))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            access_log,
        ))
        .with_state(state)
}

/// The developer dashboard's pages under the settings prefix: OAuth Apps
/// and API Keys. Every action a form posts to also answers `GET` (with
/// the page it belongs to), since signing in again after a form was sent
/// comes back to the form's address.
fn dashboard_routes(settings: &str) -> Router<AppState> {
    use pages::{api_keys, oauth_app_form, oauth_apps};
    let apps = format!("{settings}/oauth-apps");
    let app = format!("{apps}/{{client_id}}");
    Router::new()
        .route(&apps, get(oauth_apps::list))
        .route(
            &format!("{apps}/new"),
            get(oauth_app_form::new).post(oauth_app_form::create),
        )
        .route(&app, get(oauth_apps::show))
        .route(
            &format!("{app}/edit"),
            get(oauth_app_form::edit).post(oauth_app_form::update),
        )
        .route(
            &format!("{app}/rotate-secret"),
            get(oauth_apps::back_to_app).post(oauth_apps::rotate_secret),
        )
        .route(
            &format!("{app}/disable"),
            get(oauth_apps::back_to_app).post(oauth_apps::disable),
        )
        .route(
            &format!("{app}/enable"),
            get(oauth_apps::back_to_app).post(oauth_apps::enable),
        )
        .route(
            &format!("{app}/delete"),
            get(oauth_apps::back_to_app).post(oauth_apps::delete),
        )
        .route(
            &format!("{settings}/api-keys"),
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            &format!("{settings}/api-keys/revoke"),
            get(api_keys::back_to_list).post(api_keys::revoke),
        )
}

/// The Passkeys page and the JSON endpoints of `static/passkey.js`:
/// enrolment under the settings prefix, sign-in under the sign-in page.
/// Settings → Two-step verification: only with Latchkey's own sign-in
/// (with delegated sign-in the platform's login never asks for it).
fn two_step_routes(settings: &str) -> Router<AppState> {
    use pages::two_step;
    let page = format!("{settings}/two-step");
    Router::new()
        .route(&page, get(two_step::show))
        .route(
            &format!("{page}/totp/start"),
            get(two_step::back_to_page).post(two_step::start),
        )
        .route(
            &format!("{page}/totp/confirm"),
            get(two_step::back_to_page).post(two_step::confirm),
        )
        .route(
            &format!("{page}/totp/remove"),
            get(two_step::back_to_page).post(two_step::remove),
        )
        .route(
            &format!("{page}/recovery-codes"),
            get(two_step::back_to_page).post(two_step::new_recovery_codes),
        )
}

fn passkey_routes(settings: &str, login: &str) -> Router<AppState> {
    use pages::passkeys;
    let page = format!("{settings}/passkeys");
    Router::new()
        .route(&page, get(passkeys::show))
        .route(
            &format!("{page}/remove"),
            get(passkeys::back_to_page).post(passkeys::remove),
        )
        .route(&format!("{page}/register/begin"), post(passkeys::register_begin))
        .route(
            &format!("{page}/register/finish"),
            post(passkeys::register_finish),
        )
        .route(&format!("{login}/passkey/begin"), post(passkeys::sign_in_begin))
        .route(&format!("{login}/passkey/finish"), post(passkeys::sign_in_finish))
        .route(
            &format!("{login}/second-factor/passkey/begin"),
            post(passkeys::second_factor_begin),
        )
        .route(
            &format!("{login}/second-factor/passkey/finish"),
            post(passkeys::second_factor_finish),
        )
        .route(
            &format!("{login}/second-factor/setup/passkey/begin"),
            post(passkeys::setup_begin),
        )
        .route(
            &format!("{login}/second-factor/setup/passkey/finish"),
            post(passkeys::setup_finish),
        )
}

/// Bounds every request by `database.request_timeout`: a database that
/// stops answering (a frozen server, a lost network) turns into a 503 the
/// client can retry, never a hang. The answer takes the shape of the route:
/// the admin API's envelope, a page for browsers, an OAuth error otherwise.
async fn deadline(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = state.config.database.request_timeout;
    // A shared handle on the URI, not a copy of it: this runs on every
    // request.
    let uri = request.uri().clone();
    let wants_html = wants_html(request.headers());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let path = uri.path();
            tracing::error!(%path, seconds = limit.as_secs(), "request timed out");
            let cause = crate::store::StoreError::Unavailable("the request timed out".into());
            if path.starts_with("/api/v1/admin") {
                admin_api::ApiError::from(cause).into_response()
            } else if wants_html {
                pages::storage_failure_page(&state.config, "the request", &cause)
            } else {
                oauth::json_error(&crate::oauth::error::OAuthError::from(cause), false)
            }
        }
    }
}

/// One line per request: method, path (never the query string, which can
/// carry codes and tokens), status and duration — at DEBUG, and at WARN for
/// a 5xx, so an operator sees failures without turning the level up. The
/// same timing goes to the request metrics, under the matched route
/// pattern (never the raw path, so the label set stays bounded).
async fn access_log(
    axum::extract::State(metrics): axum::extract::State<Arc<crate::metrics::Metrics>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let route = request.extensions().get::<axum::extract::MatchedPath>().cloned();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let path = uri.path();
    let status = response.status().as_u16();
    let route = route
        .as_ref()
        .map_or(crate::metrics::UNMATCHED, |route| route.as_str());
    metrics.request(route, status, elapsed);
    let millis = elapsed.as_secs_f64() * 1000.0;
    if response.status().is_server_error() {
        tracing::warn!(target: "latchkey::access", %method, %path, status, millis, "request failed");
    } else {
        tracing::debug!(target: "latchkey::access", %method, %path, status, millis, "request");
    }
    response
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

/// The name/value pairs of a form body or query string. Bytes that are not
/// UTF-8 become U+FFFD, and so does the NUL character: no parameter may
/// contain a control character (RFC 6749 Appendix A), and PostgreSQL can
/// neither store nor compare text with a NUL, so one must never reach
/// storage. A replaced character fails every grammar (client ids, codes,
/// PKCE, scopes, prompt) and is visible in free text.
pub fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes)
        .map(|(name, value)| (without_nul(&name), without_nul(&value)))
        .collect()
}

/// `text` with every NUL character replaced by U+FFFD.
pub fn without_nul(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

/// The name/value pairs of a request's query string (none without one).
pub fn query_pairs(query: Option<String>) -> Vec<(String, String)> {
    form_pairs(query.unwrap_or_default().as_bytes())
}

/// Whether the request comes from a browser that wants a page.
pub fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
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
            // As in forms: a NUL never reaches storage.
            serde_json::Value::String(text) => Ok((without_nul(&name), without_nul(&text))),
            _ => Err(OAuthError::invalid_request(format!(
                "the parameter {name} must be a string"
            ))),
        })
        .collect()
}

/// 404: a page for browsers (`Accept` with `text/html`), JSON otherwise.
async fn not_found(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    if wants_html(&headers) {
        let page = pages::NotFoundPage {
            brand: pages::Brand::new(&state.config),
        };
        return pages::render(&state.config, StatusCode::NOT_FOUND, &page, &[]);
    }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn form_pairs_give_back_what_was_encoded(pairs in vec((any::<String>(), any::<String>()), 0..8)) {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            let expected: Vec<(String, String)> =
                pairs.iter().map(|(n, v)| (without_nul(n), without_nul(v))).collect();
            let parsed = form_pairs(encoded.as_bytes());
            prop_assert!(parsed.iter().all(|(n, v)| !n.contains('\0') && !v.contains('\0')));
            prop_assert_eq!(parsed, expected);
        }

        #[test]
        fn form_pairs_take_any_bytes(bytes in vec(any::<u8>(), 0..256)) {
            // At most one pair per `&`-separated piece, empty pieces skipped.
            let pieces = bytes.split(|b| *b == b'&').filter(|piece| !piece.is_empty()).count();
            prop_assert_eq!(form_pairs(&bytes).len(), pieces);
        }

        #[test]
        fn json_pairs_give_back_an_object_of_strings(object in btree_map(any::<String>(), any::<String>(), 0..8)) {
            let body = serde_json::to_vec(&object).unwrap_or_default();
            let mut pairs = json_pairs(&body).unwrap_or_default();
            pairs.sort();
            let mut expected: Vec<(String, String)> =
                object.iter().map(|(n, v)| (without_nul(n), without_nul(v))).collect();
            expected.sort();
            prop_assert_eq!(pairs, expected);
        }

        #[test]
        fn json_pairs_skip_nulls_and_refuse_other_values(
            name in any::<String>(),
            value in prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                Just(serde_json::json!(["a"])),
                Just(serde_json::json!({"a": "b"})),
            ],
        ) {
            let body = serde_json::to_vec(&BTreeMap::from([(name, value.clone())])).unwrap_or_default();
            let parsed = json_pairs(&body);
            if value.is_null() {
                prop_assert_eq!(parsed.ok(), Some(Vec::new()));
            } else {
                prop_assert!(parsed.is_err());
            }
        }

        #[test]
        fn json_pairs_take_any_bytes(bytes in vec(any::<u8>(), 0..256)) {
            // Anything accepted is a JSON object.
            if json_pairs(&bytes).is_ok() {
                let value: Result<serde_json::Value, _> = serde_json::from_slice(&bytes);
                prop_assert!(value.is_ok_and(|v| v.is_object()));
            }
        }
    }
}
