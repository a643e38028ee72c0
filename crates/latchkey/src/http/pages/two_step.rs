//! `{settings}/two-step`: the signed-in user's second factor. "Set up an
//! authenticator app" makes a pending secret and shows it as a QR code
//! (the `otpauth://` URI, issuer the product's name, label the user's
//! email), as a setup key to type, and as a link; a code from the app
//! turns it on and shows the 10 recovery codes once. When on, the page
//! says how many recovery codes are left, makes new ones (replacing the
//! old), and turns it off after the current password (a wrong password
//! is throttled as at sign-in) — unless an organization of the user
//! requires a second factor of its members. The rules are
//! `accounts::second_factor`'s.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::extract::{CsrfForm, SignedIn};
use super::see_other;
use super::settings::{Chrome, Section, chrome};
use super::{Brand, date, render, storage_failure_page};
use crate::accounts::second_factor::{self, AuthenticatorState, Enrolment, RECOVERY_CODE_COUNT};
use crate::accounts::sessions::{self, CheckError};
use crate::grants::consent;
use crate::http::{AppState, pair, query_pairs};
use crate::secret::Secret;
use crate::unix_now;

/// What the authenticator app section shows.
pub enum AppView {
    Off,
    Setup(Enrolment),
    /// Since (a date), recovery codes left.
    On(String, u64),
}

#[derive(Template)]
#[template(path = "two_step.html")]
pub struct TwoStepPage {
    pub brand: Brand,
    pub chrome: Chrome,
    pub app: AppView,
    /// The CSRF token (as in `chrome`), for the shared setup steps.
    pub csrf_token: String,
    pub confirm_button: &'static str,
    pub start_action: String,
    pub confirm_action: String,
    pub recovery_action: String,
    pub remove_action: String,
    pub recovery_code_count: usize,
    /// Recovery codes just made, shown this once.
    pub new_codes: Option<Vec<Secret>>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// What one rendering adds to the page's state.
#[derive(Default)]
struct Extra {
    new_codes: Option<Vec<Secret>>,
    notice: Option<String>,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    headers: &HeaderMap,
    signed_in: &SignedIn,
    status: StatusCode,
    extra: Extra,
) -> Response {
    let config = &state.config;
    let store = state.store.as_ref();
    let user = &signed_in.user;
    let memberships = match consent::memberships(store, &user.id).await {
        Ok(memberships) => memberships,
        Err(error) => return storage_failure_page(config, "reading memberships", &error),
    };
    let app = match second_factor::app_state(store, &user.id).await {
        Ok(AuthenticatorState::None) => AppView::Off,
        Ok(AuthenticatorState::Pending) => {
            let issuer = &config.branding.product_name;
            match second_factor::pending_enrolment(store, state.keys.master(), user, issuer).await {
                Ok(Some(enrolment)) => AppView::Setup(enrolment),
                Ok(None) => AppView::Off,
                Err(error) => return super::second_factor::failure(config, &error),
            }
        }
        Ok(AuthenticatorState::Active {
            since,
            recovery_codes_left,
        }) => AppView::On(date(since), recovery_codes_left),
        Err(error) => return storage_failure_page(config, "reading second factors", &error),
    };
    let (chrome, set_csrf) = chrome(state, headers, signed_in, &memberships, Section::TwoStep);
    let path = Section::TwoStep.path(config);
    let page = TwoStepPage {
        brand: Brand::new(config),
        csrf_token: chrome.csrf_token.clone(),
        chrome,
        app,
        confirm_button: "Turn on",
        start_action: format!("{path}/totp/start"),
        confirm_action: format!("{path}/totp/confirm"),
        recovery_action: format!("{path}/recovery-codes"),
        remove_action: format!("{path}/totp/remove"),
        recovery_code_count: RECOVERY_CODE_COUNT,
        new_codes: extra.new_codes,
        notice: extra.notice,
        error: extra.error,
    };
    render(config, status, &page, &[set_csrf])
}

/// `GET {settings}/two-step`
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let notice = (pair(&query_pairs(query), "removed") == Some("1"))
        .then(|| "Two-step verification is off. Signing in needs only your password.".to_owned());
    let extra = Extra {
        notice,
        ..Extra::default()
    };
    page(&state, &headers, &signed_in, StatusCode::OK, extra).await
}

/// `GET` of a form's address: the page itself.
pub async fn back_to_page(State(state): State<AppState>) -> Response {
    see_other(&Section::TwoStep.path(&state.config), None)
}

/// `POST {settings}/two-step/totp/start`: a new pending secret (unless
/// the app is on already), then the page showing it.
pub async fn start(State(state): State<AppState>, signed_in: SignedIn, _form: CsrfForm) -> Response {
    let store = state.store.as_ref();
    let begun =
        second_factor::begin_enrolment(store, state.keys.master(), &signed_in.user.id, unix_now()).await;
    if let Err(error) = begun {
        return super::second_factor::failure(&state.config, &error);
    }
    see_other(&Section::TwoStep.path(&state.config), None)
}

/// `POST {settings}/two-step/totp/confirm` with `code`: turns the app on
/// and shows the recovery codes, or says the code is wrong.
pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    form: CsrfForm,
) -> Response {
    let store = state.store.as_ref();
    let user_id = &signed_in.user.id;
    let confirmed =
        second_factor::confirm_enrolment(store, state.keys.master(), user_id, form.text("code"), unix_now())
            .await;
    let extra = match confirmed {
        Ok(Some(codes)) => Extra {
            new_codes: Some(codes),
            notice: Some("Two-step verification is on.".to_owned()),
            ..Extra::default()
        },
        Ok(None) => {
            let error = "That code is not right. Enter the 6-digit code your authenticator app shows now.";
            let extra = Extra {
                error: Some(error.to_owned()),
                ..Extra::default()
            };
            return page(&state, &headers, &signed_in, StatusCode::BAD_REQUEST, extra).await;
        }
        Err(error) => return super::second_factor::failure(&state.config, &error),
    };
    page(&state, &headers, &signed_in, StatusCode::OK, extra).await
}

/// `POST {settings}/two-step/recovery-codes`: new recovery codes in place
/// of the old, shown once (only while the app is on).
pub async fn new_recovery_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    _form: CsrfForm,
) -> Response {
    let store = state.store.as_ref();
    let user_id = &signed_in.user.id;
    match second_factor::app_state(store, user_id).await {
        Ok(AuthenticatorState::Active { .. }) => {}
        Ok(_) => return see_other(&Section::TwoStep.path(&state.config), None),
        Err(error) => return storage_failure_page(&state.config, "reading second factors", &error),
    }
    let extra = match second_factor::replace_recovery_codes(store, user_id, unix_now()).await {
        Ok(codes) => Extra {
            new_codes: Some(codes),
            notice: Some("New recovery codes made; the old ones no longer work.".to_owned()),
            ..Extra::default()
        },
        Err(error) => return storage_failure_page(&state.config, "replacing recovery codes", &error),
    };
    page(&state, &headers, &signed_in, StatusCode::OK, extra).await
}

/// `POST {settings}/two-step/totp/remove` with the current `password`.
pub async fn remove(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    signed_in: SignedIn,
    form: CsrfForm,
) -> Response {
    let config = &state.config;
    let store = state.store.as_ref();
    let email = &signed_in.user.email;
    let now = unix_now();
    let ip = state.rate_limiter.client_ip(peer, &headers);
    let refuse = |status: StatusCode, error: &str| {
        let extra = Extra {
            error: Some(error.to_owned()),
            ..Extra::default()
        };
        page(&state, &headers, &signed_in, status, extra)
    };
    match second_factor::organizations_requiring(store, &signed_in.user.id).await {
        Ok(names) if names.is_empty() => {}
        Ok(names) => {
            let message = format!(
                "{} requires two-step verification of its members, so it stays on.",
                names.join(", ")
            );
            return refuse(StatusCode::FORBIDDEN, &message).await;
        }
        Err(error) => return storage_failure_page(config, "reading organizations", &error),
    }
    if !state.login_throttle.allows(email, ip, now) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts. Wait a few minutes and try again.",
        )
        .await;
    }
    let password = Secret::new(form.text("password"));
    match sessions::check_credentials(store, &state.passwords, email, password, now).await {
        Ok(Some(user)) if user.id == signed_in.user.id => state.login_throttle.record_success(email, ip),
        Ok(_) => {
            state.login_throttle.record_failure(email, ip, now);
            return refuse(
                StatusCode::UNAUTHORIZED,
                "Incorrect password. Two-step verification is still on.",
            )
            .await;
        }
        Err(CheckError::Store(error)) => return storage_failure_page(config, "checking a password", &error),
        Err(CheckError::Busy | CheckError::Hashing) => {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "The password could not be checked right now. Wait a few seconds and try again.",
            )
            .await;
        }
    }
    if let Err(error) = second_factor::remove(store, &signed_in.user.id, now).await {
        return storage_failure_page(config, "removing the authenticator app", &error);
    }
    see_other(&format!("{}?removed=1", Section::TwoStep.path(config)), None)
}
