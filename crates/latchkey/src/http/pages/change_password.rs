//! `{settings}/password` (only with `login.mode = "local"`: with delegated
//! sign-in the platform owns passwords): change the password with the
//! current one, and "Sign out of my other sessions" (checked by default).
//! Wrong current passwords count against the sign-in throttle of the
//! user's email and client IP. With `[smtp]` configured and the email not
//! verified, the page also offers a new confirmation link.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::extract::{CsrfForm, SignedIn};
use super::see_other;
use super::settings::{Chrome, Section, chrome};
use super::{Brand, error_page, not_found_page, render, storage_failure_page};
use crate::accounts::MIN_PASSWORD_CHARS;
use crate::accounts::change_password::{ChangeError, change_password};
use crate::audit::Actor;
use crate::config::LoginMode;
use crate::grants::consent;
use crate::http::{AppState, pair, query_pairs};
use crate::secret::Secret;
use crate::unix_now;

const WRONG_PASSWORD: &str = "Your current password is incorrect.";
const THROTTLED: &str = "Too many failed attempts. Wait a few minutes and try again.";
const BUSY: &str = "Many people are signing in right now. Wait a few seconds and try again.";

#[derive(Template)]
#[template(path = "change_password.html")]
struct ChangePasswordPage {
    brand: Brand,
    chrome: Chrome,
    action: String,
    min_chars: usize,
    end_others: bool,
    /// Where "Send a new confirmation link" posts, when offered.
    verify_action: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

fn is_local(state: &AppState) -> bool {
    matches!(state.config.login.mode, LoginMode::Local)
}

async fn page(
    state: &AppState,
    headers: &HeaderMap,
    signed_in: &SignedIn,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    end_others: bool,
) -> Response {
    let memberships = match consent::memberships(state.store.as_ref(), &signed_in.user.id).await {
        Ok(memberships) => memberships,
        Err(error) => return storage_failure_page(&state.config, "reading memberships", &error),
    };
    let config = &state.config;
    let (chrome, set_csrf) = chrome(state, headers, signed_in, &memberships, Section::Password);
    let path = Section::Password.path(config);
    let page = ChangePasswordPage {
        brand: Brand::new(config),
        chrome,
        action: path.clone(),
        min_chars: MIN_PASSWORD_CHARS,
        end_others,
        verify_action: (state.mailer.is_some() && !signed_in.user.email_verified)
            .then(|| format!("{path}/verify-email")),
        notice,
        error,
    };
    render(config, status, &page, &[set_csrf])
}

/// `GET {settings}/password`
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    if !is_local(&state) {
        return not_found_page(&state.config);
    }
    let notice = match pair(&query_pairs(query), "done") {
        Some("changed") => Some("Your password is changed.".to_owned()),
        Some("sent") => Some("We sent a new confirmation link to your email address.".to_owned()),
        _ => None,
    };
    page(&state, &headers, &signed_in, StatusCode::OK, notice, None, true).await
}

/// `POST {settings}/password`
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    signed_in: SignedIn,
    form: CsrfForm,
) -> Response {
    if !is_local(&state) {
        return not_found_page(&state.config);
    }
    let end_others = form.get("end_other_sessions").is_some();
    let (email, now) = (signed_in.user.email.clone(), unix_now());
    let ip = state.rate_limiter.client_ip(peer, &headers);
    let refuse = |status: StatusCode, message: String| {
        page(
            &state,
            &headers,
            &signed_in,
            status,
            None,
            Some(message),
            end_others,
        )
    };
    if !state.login_throttle.allows(&email, ip, now) {
        return refuse(StatusCode::TOO_MANY_REQUESTS, THROTTLED.into()).await;
    }
    let changed = change_password(
        state.store.as_ref(),
        &state.passwords,
        &signed_in.user,
        Secret::new(form.text("current_password")),
        Secret::new(form.text("new_password")),
        end_others.then_some(&signed_in.session.id_digest),
        now,
    )
    .await;
    match changed {
        Ok(_) => {
            state.login_throttle.record_success(&email, ip);
            see_other(
                &format!("{}?done=changed", Section::Password.path(&state.config)),
                None,
            )
        }
        Err(ChangeError::WrongPassword) => {
            state.login_throttle.record_failure(&email, ip, now);
            refuse(StatusCode::UNAUTHORIZED, WRONG_PASSWORD.into()).await
        }
        Err(ChangeError::Invalid(message)) => {
            refuse(StatusCode::BAD_REQUEST, super::sentence(&message)).await
        }
        Err(ChangeError::Changed) => {
            refuse(
                StatusCode::CONFLICT,
                "Your password was changed meanwhile. Reload the page and try again.".into(),
            )
            .await
        }
        Err(ChangeError::Busy) => refuse(StatusCode::SERVICE_UNAVAILABLE, BUSY.into()).await,
        Err(ChangeError::Store(error)) => storage_failure_page(&state.config, "changing a password", &error),
        Err(ChangeError::Hashing) => {
            tracing::error!("password change failed");
            error_page(
                &state.config,
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Try again later.",
            )
        }
    }
}

/// `POST {settings}/password/verify-email`: a new confirmation link for
/// the signed-in user's unverified address.
pub async fn resend_verification(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    signed_in: SignedIn,
    _form: CsrfForm,
) -> Response {
    if state.mailer.is_none() || signed_in.user.email_verified {
        return not_found_page(&state.config);
    }
    // The same few links per address and place as reset requests.
    let (email, ip, now) = (
        &signed_in.user.email,
        state.rate_limiter.client_ip(peer, &headers),
        unix_now(),
    );
    if !state.reset_throttle.allows(email, ip, now) {
        let message = "Too many links were asked for. Wait a few minutes and try again.";
        return page(
            &state,
            &headers,
            &signed_in,
            StatusCode::TOO_MANY_REQUESTS,
            None,
            Some(message.into()),
            true,
        )
        .await;
    }
    state.reset_throttle.record_failure(email, ip, now);
    let actor = Actor::User(signed_in.user.id.clone());
    super::password_reset::send_verification(&state, &actor, &signed_in.user, unix_now()).await;
    see_other(
        &format!("{}?done=sent", Section::Password.path(&state.config)),
        None,
    )
}

/// `GET` of a form's address: the page itself.
pub async fn back_to_page(State(state): State<AppState>) -> Response {
    see_other(&Section::Password.path(&state.config), None)
}
