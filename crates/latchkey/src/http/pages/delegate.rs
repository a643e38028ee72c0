//! Delegated sign-in in the browser (`login.mode = "delegate"`): where the
//! sign-in page would be shown, the browser is sent to the platform's
//! login URL with a one-time `login_challenge` and `return_to` (this
//! server's `<paths.login>/delegate/return`), the challenge bound to the
//! browser by a cookie; the platform sends it back there with the signed
//! `assertion` (GET query or POST form). The rules are
//! [`crate::delegate`]'s; this file reads and writes the wire.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::see_other;
use super::{MessagePage, not_found_page, render, storage_failure_page};
use crate::config::{Config, DelegateLogin, LoginMode, seconds};
use crate::delegate::{self, CHALLENGE_TTL_SECONDS, DelegateError};
use crate::http::rate_limit::Endpoint;
use crate::http::{AppState, cookies, form_pairs, query_pairs};
use crate::unix_now;

/// Where the platform sends the browser back: `<paths.login>/delegate/return`.
pub fn return_path(config: &Config) -> String {
    format!("{}/delegate/return", config.paths.login)
}

/// The redirect to the platform's login for a sign-in that continues to
/// `return_to` (a checked same-origin path): a new challenge, and the
/// cookie that binds it to this browser.
pub async fn begin(
    state: &AppState,
    headers: &HeaderMap,
    settings: &DelegateLogin,
    return_to: &str,
) -> Response {
    let config = &state.config;
    let browser = cookies::delegate_browser_value(config, headers);
    let started = match delegate::start(state.store.as_ref(), browser.as_deref(), return_to, unix_now()).await
    {
        Ok(started) => started,
        Err(error) => return storage_failure_page(config, "starting a delegated sign-in", &error),
    };
    let mut url = settings.url.clone();
    url.query_pairs_mut()
        .append_pair("login_challenge", started.challenge.expose())
        .append_pair("return_to", &format!("{}{}", config.issuer, return_path(config)));
    let cookie = cookies::delegate_browser(config, started.browser.expose(), CHALLENGE_TTL_SECONDS);
    see_other(url.as_str(), cookie)
}

/// The heading of every page that refuses a return from the platform.
const NOT_SIGNED_IN: &str = "You could not be signed in";

/// `GET <paths.login>/delegate/return?assertion=…`
pub async fn finish_get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    finish(&state, peer, &headers, query_pairs(query)).await
}

/// `POST <paths.login>/delegate/return` with the form field `assertion`.
pub async fn finish_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    finish(&state, peer, &headers, form_pairs(&body)).await
}

/// A page refusing the return, saying why and what to do.
fn refusal(config: &Config, status: StatusCode, code: &str, message: &str) -> Response {
    let page = MessagePage::error(config, code, message).headed(NOT_SIGNED_IN);
    render(config, status, &page, &[])
}

async fn finish(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
) -> Response {
    let config = &state.config;
    let LoginMode::Delegate(settings) = &config.login.mode else {
        return not_found_page(config);
    };
    let ip = state.rate_limiter.client_ip(peer, headers);
    if let Err(retry_after) = state
        .rate_limiter
        .check(Endpoint::DelegatedReturn, &ip.to_string(), unix_now())
    {
        let message = format!(
            "Too many sign-ins from your network. Wait {retry_after} seconds, then go back to the app and sign in again."
        );
        let mut response = refusal(
            config,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            &message,
        );
        if let Ok(value) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let mut assertions = pairs.iter().filter(|(name, _)| name == "assertion");
    let token = match (assertions.next(), assertions.next()) {
        (Some((_, token)), None) => token,
        (None, _) => {
            let message = "The platform sent you back without a sign-in `assertion`. Go back to the app and sign in again.";
            return refusal(config, StatusCode::BAD_REQUEST, "invalid_request", message);
        }
        (Some(_), Some(_)) => {
            let message = "The platform sent you back with more than one `assertion`. Go back to the app and sign in again.";
            return refusal(config, StatusCode::BAD_REQUEST, "invalid_request", message);
        }
    };
    let browser = cookies::delegate_browser_value(config, headers);
    let user_agent = super::user_agent(headers);
    let completed = delegate::complete(
        state.store.as_ref(),
        settings,
        &config.issuer,
        seconds(config.tokens.leeway),
        token,
        delegate::Browser {
            secret: browser.as_deref(),
            user_agent: user_agent.as_deref(),
        },
        unix_now(),
    )
    .await;
    match completed {
        Ok(done) => see_other(&done.return_to, cookies::session(config, done.session.expose())),
        Err(DelegateError::Refused(refused)) => {
            tracing::info!(reason = %refused, "delegated sign-in refused");
            refusal(config, StatusCode::BAD_REQUEST, "access_denied", &refused.0)
        }
        Err(DelegateError::Store(error)) => storage_failure_page(config, "a delegated sign-in", &error),
    }
}
