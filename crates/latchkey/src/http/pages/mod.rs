//! Server-rendered pages (SPEC 8, 9): sign-in, consent, sign-out, the
//! settings pages, error pages and `serve --demo`'s callback page,
//! rendered with askama (which escapes every value), usable without
//! JavaScript, each sent with a strict Content-Security-Policy, no framing
//! and no referrer. Every form carries the CSRF token. Two scripts:
//! `/static/copy.js` only adds Copy buttons beside secrets that are
//! visible and selectable without it; `/static/passkey.js` adds and uses
//! passkeys, which need it (the pages say so without it).

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::Config;
use crate::oauth::error::{ErrorCode, OAuthError};

pub mod api_keys;
pub mod change_password;
pub mod connected_apps;
pub mod delegate;
pub mod demo;
pub mod extract;
pub mod login;
pub mod oauth_app_form;
pub mod oauth_apps;
pub mod passkeys;
pub mod password_reset;
pub mod return_to;
pub mod second_factor;
pub mod sessions;
pub mod settings;
pub mod two_step;

const STYLESHEET: &str = include_str!("../../../static/latchkey.css");
const COPY_SCRIPT: &str = include_str!("../../../static/copy.js");
const PASSKEY_SCRIPT: &str = include_str!("../../../static/passkey.js");

/// `/static/latchkey.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// `/static/copy.js`: the Copy buttons beside secrets.
pub async fn copy_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        COPY_SCRIPT,
    )
        .into_response()
}

/// `/static/passkey.js`: adding a passkey and signing in with one (the
/// pages say passkeys need it without it).
pub async fn passkey_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        PASSKEY_SCRIPT,
    )
        .into_response()
}

/// The branding every page shows.
#[derive(Debug, Clone)]
pub struct Brand {
    pub product_name: String,
    pub product_logo: Option<String>,
}

impl Brand {
    pub fn new(config: &Config) -> Self {
        Self {
            product_name: config.branding.product_name.clone(),
            product_logo: config.branding.logo_url.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub brand: Brand,
    pub action: String,
    pub csrf_token: String,
    pub return_to: String,
    pub email: String,
    /// The app the sign-in is for, when it continues an authorization.
    pub app_name: Option<String>,
    /// The email of the user already signed in in this browser, with the
    /// "Not you?" link that signs them out and comes back here.
    pub signed_in_as: Option<(String, String)>,
    pub error: Option<String>,
    /// "Forgot password?": only with `[smtp]` configured.
    pub forgot_href: Option<String>,
    /// The password-free sign-in's two addresses (begin, finish), when
    /// passkeys are offered.
    pub passkey: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub brand: Brand,
    pub action: String,
    pub csrf_token: String,
    pub app_name: String,
    pub app_description: String,
    pub app_homepage: Option<String>,
    pub app_logo: Option<String>,
    pub user_name: String,
    pub user_email: String,
    /// The requested scopes, in vocabulary order.
    pub scopes: Vec<ScopeView>,
    /// (name, identifier's host) of the resources the request names
    /// (RFC 8707), in the order asked; empty when it named none.
    pub resources: Vec<(String, String)>,
    /// Where the answer sends the browser (the redirect URI's host).
    pub destination: String,
    /// The platform has not verified the app (it registered itself): the
    /// page says so, with the destination.
    pub unverified: bool,
    /// For an app the platform has not verified (known by the URL of its
    /// metadata document): the host that describes it.
    pub unverified_host: Option<String>,
    /// The authorization request's parameters, carried through the form.
    pub fields: Vec<(String, String)>,
    /// (id, name) of the organizations the user can choose.
    pub organizations: Vec<(String, String)>,
    /// The organization chosen in the picker when the page opens.
    pub preselected: Option<String>,
    pub tenant_word: String,
}

impl ConsentPage {
    /// Whether the organization picker opens on `organization_id`.
    pub fn is_preselected(&self, organization_id: &str) -> bool {
        self.preselected.as_deref() == Some(organization_id)
    }
}

/// The page for an authorization request that cannot be sent back to its
/// app (the client or the redirect URI is not verified): what happened in
/// plain words, a way back, and the protocol error for developers.
#[derive(Template)]
#[template(path = "authorize_error.html")]
pub struct AuthorizeErrorPage {
    pub brand: Brand,
    pub heading: String,
    pub explanation: String,
    pub app_name: Option<String>,
    pub code: String,
    pub description: String,
}

impl AuthorizeErrorPage {
    pub fn new(config: &Config, error: &OAuthError, app_name: Option<&str>) -> Self {
        let product = &config.branding.product_name;
        let (heading, explanation) = explain(product, error.code, app_name);
        Self {
            brand: Brand::new(config),
            heading,
            explanation,
            app_name: app_name.map(str::to_owned),
            code: error.code.as_str().to_owned(),
            description: error.description.clone(),
        }
    }
}

/// What an unverified authorization error means to the person who followed
/// the link: (heading, explanation).
fn explain(product: &str, code: ErrorCode, app_name: Option<&str>) -> (String, String) {
    let app = app_name.unwrap_or("The app");
    match (code, app_name) {
        // A client_id URL whose metadata document was refused.
        (ErrorCode::InvalidClient, Some(host)) => (
            "This app could not be verified".into(),
            format!(
                "{product} could not read a valid description of the app at {host}, so it stopped here. You have not been signed in to it. If you expected this to work, tell the people who make the app."
            ),
        ),
        (ErrorCode::InvalidClient, None) => (
            "This sign-in link does not work".into(),
            format!(
                "The app that sent you here is not registered with {product}, so {product} cannot sign you in to it. The link may be out of date or mistyped."
            ),
        ),
        (ErrorCode::UnauthorizedClient, _) => (
            format!("{app} is not available"),
            format!(
                "{app} has been turned off, so {product} cannot sign you in to it right now. If you expected this to work, ask the people who run {app}."
            ),
        ),
        (ErrorCode::ServerError, _) => (
            "Something went wrong".into(),
            format!(
                "{product} could not finish signing you in because of a problem on our side. Try again later."
            ),
        ),
        (ErrorCode::TemporarilyUnavailable, _) => (
            "Try again in a moment".into(),
            format!("{product} is briefly unavailable. Wait a few seconds, then try again."),
        ),
        (_, Some(app)) => (
            format!("Can't continue to {app}"),
            format!(
                "{product} cannot confirm where to send you back to {app}, so it stopped here to keep your account safe. You have not been signed in to {app}."
            ),
        ),
        (
            ErrorCode::InvalidRequest
            | ErrorCode::InvalidGrant
            | ErrorCode::UnsupportedGrantType
            | ErrorCode::UnsupportedResponseType
            | ErrorCode::InvalidScope
            | ErrorCode::InvalidTarget
            | ErrorCode::AccessDenied
            | ErrorCode::LoginRequired
            | ErrorCode::ConsentRequired
            | ErrorCode::InvalidToken
            | ErrorCode::InsufficientScope
            | ErrorCode::InvalidRedirectUri
            | ErrorCode::InvalidClientMetadata,
            None,
        ) => (
            "This sign-in link is incomplete".into(),
            format!(
                "The link that brought you here is missing something, so {product} cannot tell which app wants you to sign in."
            ),
        ),
    }
}

/// One row of the Connected Apps page.
pub struct ConnectedAppView {
    pub client_id: String,
    pub name: String,
    /// The host of an app known by the URL of its metadata document.
    pub host: Option<String>,
    pub logo_url: Option<String>,
    pub organization_id: String,
    pub organization_name: String,
    pub scopes: Vec<ScopeView>,
    pub granted_at: String,
    pub last_used: Option<String>,
}

#[derive(Template)]
#[template(path = "connected_apps.html")]
pub struct ConnectedAppsPage {
    pub brand: Brand,
    pub chrome: settings::Chrome,
    pub action: String,
    pub apps: Vec<ConnectedAppView>,
    pub tenant_word: String,
    /// The app just revoked, to confirm it.
    pub revoked: Option<String>,
}

/// A live session as the sessions page lists it.
pub struct SessionView {
    /// The public id the page posts to end it.
    pub id: String,
    pub device: String,
    pub created: String,
    pub last_seen: String,
    /// This browser's own session.
    pub current: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
pub struct SessionsPage {
    pub brand: Brand,
    pub chrome: settings::Chrome,
    pub end_action: String,
    pub end_others_action: String,
    /// This browser's session first.
    pub sessions: Vec<SessionView>,
    /// The confirmation of a sign-out just done.
    pub notice: Option<String>,
}

impl SessionsPage {
    /// Whether any session but this browser's is listed.
    pub fn has_others(&self) -> bool {
        self.sessions.iter().any(|session| !session.current)
    }
}

/// A passkey as the Passkeys page lists it.
pub struct PasskeyView {
    /// The credential id the page posts to remove it.
    pub id: String,
    pub name: String,
    pub added: String,
    pub last_used: Option<String>,
    /// The authenticator may sync it to the user's other devices.
    pub synced: bool,
}

#[derive(Template)]
#[template(path = "passkeys.html")]
pub struct PasskeysPage {
    pub brand: Brand,
    pub chrome: settings::Chrome,
    pub begin_action: String,
    pub finish_action: String,
    pub remove_action: String,
    pub passkeys: Vec<PasskeyView>,
    /// The confirmation of a change just made.
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "not_found.html")]
pub struct NotFoundPage {
    pub brand: Brand,
}

/// A small form on a message page (sign out).
pub struct PageForm {
    pub action: String,
    pub csrf_token: String,
    pub button: String,
    /// Where to go once the form is done (a same-origin path).
    pub return_to: Option<String>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub brand: Brand,
    pub heading: String,
    pub message: String,
    pub code: Option<String>,
    pub is_error: bool,
    pub form: Option<PageForm>,
}

impl MessagePage {
    pub fn error(config: &Config, code: &str, message: &str) -> Self {
        let brand = Brand::new(config);
        Self {
            brand,
            heading: "Something went wrong".into(),
            message: message.into(),
            code: Some(code.into()),
            is_error: true,
            form: None,
        }
    }

    /// This error page with a heading that says what failed.
    #[must_use]
    pub fn headed(mut self, heading: &str) -> Self {
        self.heading = heading.into();
        self
    }
}

/// A scope as people read it: its sentence from the vocabulary, and its
/// identifier for the curious.
pub struct ScopeView {
    pub name: String,
    pub description: String,
}

/// A scope offered by a form, checked or not.
pub struct ScopeChoice {
    pub name: String,
    pub description: String,
    pub checked: bool,
    /// Needs the platform operator's approval when an app asks for it.
    pub sensitive: bool,
}

/// `scopes` in vocabulary order as their descriptions (an identifier the
/// vocabulary no longer has is shown as itself).
pub fn scope_views(config: &Config, scopes: &[String]) -> Vec<ScopeView> {
    let mut views: Vec<ScopeView> = config
        .scopes
        .iter()
        .filter(|definition| scopes.contains(&definition.name))
        .map(|definition| ScopeView {
            name: definition.name.clone(),
            description: definition.description.clone(),
        })
        .collect();
    views.extend(
        scopes
            .iter()
            .filter(|name| config.scope(name).is_none())
            .map(|name| ScopeView {
                name: name.clone(),
                description: name.clone(),
            }),
    );
    views
}

/// The browser's `User-Agent` header, as sent (invalid bytes replaced):
/// what a session records of the browser it started in.
pub fn user_agent(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::USER_AGENT)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// A moment to the minute, in UTC: `2026-03-01 14:05 UTC`.
pub fn date_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// A Unix time as a date people read (`2026-11-30`).
pub fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::macros::format_description!("[year]-[month]-[day]"))
                .ok()
        })
        .unwrap_or_default()
}

/// The Content-Security-Policy of every page: scripts and styles only
/// from this server (no inline script, no `eval`), requests from scripts
/// only to this server (the passkey script's JSON calls), images from https (app
/// logos) and, when the issuer is local, from local http origins. (An IPv6
/// literal host is not valid CSP source syntax, so `[::1]` is not listed;
/// a local logo there shows only under the issuer's own origin.)
fn content_security_policy(config: &Config) -> String {
    let local = if config.issuer.starts_with("http://") {
        " http://localhost:* http://127.0.0.1:*"
    } else {
        ""
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' https:{local}; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Renders a page with its status, the page security headers, no caching,
/// and an optional cookie to set.
pub fn render(
    config: &Config,
    status: StatusCode,
    page: &impl Template,
    set_cookies: &[Option<HeaderValue>],
) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "page rendering failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(config)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in set_cookies.iter().flatten() {
        headers.append(header::SET_COOKIE, cookie.clone());
    }
    response
}

/// The page for a failed storage call: 503 "try again" when the database
/// is unavailable (with `Retry-After`), 500 otherwise; the cause is logged.
pub fn storage_failure_page(config: &Config, what: &str, error: &crate::store::StoreError) -> Response {
    tracing::error!(%error, "{what} failed");
    match error {
        crate::store::StoreError::Unavailable(_) => {
            let mut response = error_page(
                config,
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "This service is briefly unavailable. Wait a few seconds and try again.",
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(crate::http::oauth::RETRY_AFTER_SECONDS),
            );
            response
        }
        crate::store::StoreError::Conflict
        | crate::store::StoreError::MissingReference
        | crate::store::StoreError::Backend(_) => error_page(
            config,
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Try again later.",
        ),
    }
}

/// The "page not found" page, for browsers: what is unknown and what is
/// not this user's to see answer alike.
pub fn not_found_page(config: &Config) -> Response {
    let page = NotFoundPage {
        brand: Brand::new(config),
    };
    render(config, StatusCode::NOT_FOUND, &page, &[])
}

/// A rule's message (`password must be …`) as a page shows it: a sentence,
/// capitalized and ended with a full stop.
pub fn sentence(message: &str) -> String {
    let mut sentence = message.to_owned();
    if let Some(first) = sentence.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    sentence.push('.');
    sentence
}

/// A 303 redirect, optionally setting a cookie.
pub fn see_other(location: &str, set_cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An error page.
pub fn error_page(config: &Config, status: StatusCode, code: &str, message: &str) -> Response {
    render(config, status, &MessagePage::error(config, code, message), &[])
}
