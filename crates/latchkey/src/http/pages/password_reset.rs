//! "Forgot password?" and the links sent by mail (routed only with
//! `[smtp]` configured; the reset pages only with `login.mode = "local"`):
//!
//! - `{login}/forgot`: the email form. Its answer is the same page whether
//!   or not the address has an account, and takes the same time: the
//!   lookup, the link's storage and the mail all run after the answer, in
//!   the mailer's bounded task. Requests are throttled per email and
//!   client IP, known address or not.
//! - `{login}/reset?token=…`: "Choose a new password"; the POST sets it
//!   (the token travels in the form, never logged: the access log has no
//!   query strings), ends every session of the user and leads to sign-in.
//! - `/verify-email?token=…`: a confirm button; only its POST changes
//!   anything (mail scanners follow links).
//!
//! A link that is unknown, used or expired gets one refusal page (410)
//! with the way to a new one. Every page sends `Referrer-Policy:
//! no-referrer` (the router's security headers), so the token in the URL
//! does not leave with a click.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::extract::CsrfForm;
use super::{Brand, error_page, render, storage_failure_page};
use crate::accounts::{AccountError, MIN_PASSWORD_CHARS, email_links};
use crate::config::Config;
use crate::http::{AppState, cookies, pair, query_pairs};
use crate::mail;
use crate::secret::Secret;
use crate::store::TokenPurpose;
use crate::unix_now;

const THROTTLED: &str = "Too many reset requests. Wait a few minutes and try again.";
const BUSY: &str = "Many people are signing in right now. Wait a few seconds and try again.";

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage {
    brand: Brand,
    action: String,
    login: String,
    csrf_token: String,
    email: String,
    sent: bool,
    ttl_minutes: i64,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage {
    brand: Brand,
    action: String,
    csrf_token: String,
    token: String,
    email: String,
    min_chars: usize,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyPage {
    brand: Brand,
    action: String,
    csrf_token: String,
    token: String,
    email: String,
}

/// A message with one link onward.
#[derive(Template)]
#[template(path = "link_message.html")]
pub struct LinkMessagePage {
    pub brand: Brand,
    pub heading: String,
    pub message: String,
    pub is_error: bool,
    pub link_href: String,
    pub link_label: String,
}

pub fn forgot_path(config: &Config) -> String {
    format!("{}/forgot", config.paths.login)
}

pub fn reset_path(config: &Config) -> String {
    format!("{}/reset", config.paths.login)
}

pub const VERIFY_PATH: &str = "/verify-email";

/// The absolute URL of a link page with its token.
fn link(config: &Config, path: &str, token: &Secret) -> Secret {
    Secret::new(format!("{}{path}?token={}", config.issuer, token.expose()))
}

fn ttl_minutes(state: &AppState) -> i64 {
    state
        .config
        .smtp
        .as_ref()
        .map_or(30, |smtp| (smtp.reset_link_ttl_seconds / 60).max(1))
}

fn forgot_page(
    state: &AppState,
    csrf_token: String,
    email: String,
    sent: bool,
    error: Option<&str>,
) -> ForgotPage {
    let config = &state.config;
    ForgotPage {
        brand: Brand::new(config),
        action: forgot_path(config),
        login: config.paths.login.clone(),
        csrf_token,
        email,
        sent,
        ttl_minutes: ttl_minutes(state),
        error: error.map(str::to_owned),
    }
}

/// `GET {login}/forgot`
pub async fn show_forgot(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, set_csrf) = cookies::csrf_token(&state.form_key, &state.config, &headers);
    let page = forgot_page(&state, csrf, String::new(), false, None);
    render(&state.config, StatusCode::OK, &page, &[set_csrf])
}

/// `POST {login}/forgot`: answers at once; the rest runs in the mailer's
/// task (see the module's doc).
pub async fn submit_forgot(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: CsrfForm,
) -> Response {
    let config = &state.config;
    let email = form.text("email").trim().to_owned();
    let (csrf, _) = cookies::csrf_token(&state.form_key, config, &headers);
    if email.is_empty() || !email.contains('@') {
        let page = forgot_page(
            &state,
            csrf,
            email,
            false,
            Some("Enter your account's email address."),
        );
        return render(config, StatusCode::BAD_REQUEST, &page, &[]);
    }
    let now = unix_now();
    let ip = state.rate_limiter.client_ip(peer, &headers);
    if !state.reset_throttle.allows(&email, ip, now) {
        let page = forgot_page(&state, csrf, email, false, Some(THROTTLED));
        let mut response = render(config, StatusCode::TOO_MANY_REQUESTS, &page, &[]);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("900"));
        return response;
    }
    state.reset_throttle.record_failure(&email, ip, now);
    if let Some(mailer) = &state.mailer {
        let (store, config_for_task) = (state.store.clone(), state.config.clone());
        let wanted = email.clone();
        mailer.compose_and_send("password reset", async move {
            let ttl = config_for_task.smtp.as_ref()?.reset_link_ttl_seconds;
            match email_links::request_reset(store.as_ref(), &wanted, ttl, now).await {
                Ok(Some((user, token))) => Some(mail::reset_letter(
                    &config_for_task.branding.product_name,
                    &user.email,
                    &link(&config_for_task, &reset_path(&config_for_task), &token),
                    ttl,
                )),
                Ok(None) => None,
                Err(error) => {
                    tracing::error!(%error, "storing a password-reset link failed");
                    None
                }
            }
        });
    }
    let page = forgot_page(&state, csrf, email, true, None);
    render(config, StatusCode::OK, &page, &[])
}

/// The page for a link that cannot be used (unknown, used or expired).
pub fn link_refused(config: &Config, purpose: TokenPurpose) -> Response {
    let (message, href, label) = match purpose {
        TokenPurpose::PasswordReset => (
            "This link has been used or has expired — ask for a new one.",
            forgot_path(config),
            "Ask for a new link",
        ),
        TokenPurpose::VerifyEmail => (
            "This link has been used or has expired. Sign in and ask for a new one under Settings → Password.",
            config.paths.login.clone(),
            "Sign in",
        ),
    };
    let page = LinkMessagePage {
        brand: Brand::new(config),
        heading: "This link cannot be used".into(),
        message: message.into(),
        is_error: true,
        link_href: href,
        link_label: label.into(),
    };
    render(config, StatusCode::GONE, &page, &[])
}

fn reset_page(
    state: &AppState,
    headers: &HeaderMap,
    token: String,
    email: String,
    error: Option<&str>,
) -> (ResetPage, Option<HeaderValue>) {
    let (csrf_token, set_csrf) = cookies::csrf_token(&state.form_key, &state.config, headers);
    let page = ResetPage {
        brand: Brand::new(&state.config),
        action: reset_path(&state.config),
        csrf_token,
        token,
        email,
        min_chars: MIN_PASSWORD_CHARS,
        error: error.map(str::to_owned),
    };
    (page, set_csrf)
}

/// The email of the user a usable link belongs to, or the response to
/// give instead.
async fn link_email(state: &AppState, token: &str, purpose: TokenPurpose) -> Result<String, Response> {
    let config = &state.config;
    match email_links::usable(state.store.as_ref(), token, purpose, unix_now()).await {
        Ok(Some(found)) => Ok(found.email),
        Ok(None) => Err(link_refused(config, purpose)),
        Err(error) => Err(storage_failure_page(config, "reading a link", &error)),
    }
}

/// `GET {login}/reset?token=…`
pub async fn show_reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = query_pairs(query);
    let token = pair(&pairs, "token").unwrap_or_default().to_owned();
    let email = match link_email(&state, &token, TokenPurpose::PasswordReset).await {
        Ok(email) => email,
        Err(response) => return response,
    };
    let (page, set_csrf) = reset_page(&state, &headers, token, email, None);
    render(&state.config, StatusCode::OK, &page, &[set_csrf])
}

/// `POST {login}/reset`: sets the password, ends every session of the
/// user (this browser's too), and leads to the sign-in page.
pub async fn submit_reset(State(state): State<AppState>, headers: HeaderMap, form: CsrfForm) -> Response {
    let token = form.text("token").to_owned();
    let password = Secret::new(form.text("new_password"));
    let reset = email_links::reset_password(
        state.store.as_ref(),
        &state.passwords,
        &token,
        password,
        unix_now(),
    )
    .await;
    let config = &state.config;
    match reset {
        Ok(Some(_)) => {
            let page = LinkMessagePage {
                brand: Brand::new(config),
                heading: "Your password is changed".into(),
                message: "You are signed out on every device. Sign in with your new password.".into(),
                is_error: false,
                link_href: config.paths.login.clone(),
                link_label: "Sign in".into(),
            };
            render(config, StatusCode::OK, &page, &[cookies::clear_session(config)])
        }
        Ok(None) => link_refused(config, TokenPurpose::PasswordReset),
        Err(AccountError::Invalid { message, .. }) => {
            let message = super::sentence(&message);
            retry_reset(&state, &headers, token, StatusCode::BAD_REQUEST, &message).await
        }
        Err(AccountError::HashingBusy) => {
            retry_reset(&state, &headers, token, StatusCode::SERVICE_UNAVAILABLE, BUSY).await
        }
        Err(AccountError::Store(error)) => storage_failure_page(config, "resetting a password", &error),
        Err(error) => {
            tracing::error!(%error, "resetting a password failed");
            error_page(
                config,
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Try again later.",
            )
        }
    }
}

/// The reset form again, with what to fix (or the refusal page, when
/// the link stopped being usable meanwhile).
async fn retry_reset(
    state: &AppState,
    headers: &HeaderMap,
    token: String,
    status: StatusCode,
    message: &str,
) -> Response {
    let email = match link_email(state, &token, TokenPurpose::PasswordReset).await {
        Ok(email) => email,
        Err(response) => return response,
    };
    let (page, _) = reset_page(state, headers, token, email, Some(message));
    render(&state.config, status, &page, &[])
}

/// `GET /verify-email?token=…`: the confirm button (a GET changes nothing).
pub async fn show_verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = query_pairs(query);
    let token = pair(&pairs, "token").unwrap_or_default().to_owned();
    let email = match link_email(&state, &token, TokenPurpose::VerifyEmail).await {
        Ok(email) => email,
        Err(response) => return response,
    };
    let (csrf_token, set_csrf) = cookies::csrf_token(&state.form_key, &state.config, &headers);
    let page = VerifyPage {
        brand: Brand::new(&state.config),
        action: VERIFY_PATH.to_owned(),
        csrf_token,
        token,
        email,
    };
    render(&state.config, StatusCode::OK, &page, &[set_csrf])
}

/// `POST /verify-email`: marks the address verified.
pub async fn submit_verify(State(state): State<AppState>, form: CsrfForm) -> Response {
    let config = &state.config;
    match email_links::verify_email(state.store.as_ref(), form.text("token"), unix_now()).await {
        Ok(Some(_)) => {
            let page = LinkMessagePage {
                brand: Brand::new(config),
                heading: "Email address confirmed".into(),
                message: "Thank you: your email address is confirmed.".into(),
                is_error: false,
                link_href: "/".into(),
                link_label: "Continue".into(),
            };
            render(config, StatusCode::OK, &page, &[])
        }
        Ok(None) => link_refused(config, TokenPurpose::VerifyEmail),
        Err(error) => storage_failure_page(config, "verifying an email", &error),
    }
}

/// Stores a verification link for `user` and sends it (after this
/// returns, in the mailer's task). Nothing without a mailer; a storage
/// failure is logged (the caller's own change stands).
pub async fn send_verification(
    state: &AppState,
    actor: &crate::audit::Actor,
    user: &crate::store::UserRecord,
    now: i64,
) {
    let (Some(mailer), Some(smtp)) = (&state.mailer, &state.config.smtp) else {
        return;
    };
    let ttl = smtp.verify_link_ttl_seconds;
    match email_links::request_verification(state.store.as_ref(), actor, user, ttl, now).await {
        Ok(token) => {
            let config = &state.config;
            let letter = mail::verify_letter(
                &config.branding.product_name,
                &user.email,
                &link(config, VERIFY_PATH, &token),
                ttl,
            );
            mailer.send_later("email verification", letter);
        }
        Err(error) => tracing::error!(%error, "storing an email-verification link failed"),
    }
}
