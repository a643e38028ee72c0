//! Sign-in and sign-out pages. A successful sign-in starts a session and
//! returns to the page that asked for it (a local path only — never another
//! origin). Every wrong credential gets the same message, and the email is
//! kept in the form.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use url::form_urlencoded;

use super::extract::{CsrfForm, SignedIn};
use super::return_to;
use super::{Brand, LoginPage, MessagePage, PageForm, error_page, render, see_other, storage_failure_page};
use crate::accounts::amr;
use crate::accounts::sessions::{self, CheckError};
use crate::config::LoginMode;
use crate::http::{AppState, cookies, form_pairs, pair, query_pairs};
use crate::oauth::params;
use crate::secret::Secret;
use crate::unix_now;

const WRONG_CREDENTIALS: &str = "Incorrect email or password.";
const THROTTLED: &str = "Too many failed attempts. Wait a few minutes and try again.";
const BUSY: &str = "Many people are signing in right now. Wait a few seconds and try again.";

/// What a sign-in page shows besides the form: the app it continues to,
/// and who is signed in already.
struct Context {
    app_name: Option<String>,
    signed_in_as: Option<(String, String)>,
}

impl Context {
    async fn new(state: &AppState, return_to: &str, signed_in: Option<&SignedIn>) -> Self {
        let login = form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", return_to)
            .finish();
        let logout = form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", &format!("{}?{login}", state.config.paths.login))
            .finish();
        Self {
            app_name: app_asking(state, return_to).await,
            signed_in_as: signed_in.map(|s| {
                (
                    s.user.email.clone(),
                    format!("{}?{logout}", state.config.paths.logout),
                )
            }),
        }
    }
}

/// The name of the app whose authorization request `return_to` (a checked
/// same-origin path) resumes: read from that request's own `client_id`,
/// and only for a registered, enabled client.
async fn app_asking(state: &AppState, return_to: &str) -> Option<String> {
    let (path, query) = return_to.split_once('?')?;
    if path != state.config.paths.authorize {
        return None;
    }
    // The authorization endpoint's own reading of its parameters.
    let pairs = form_pairs(query.as_bytes());
    params::reject_repeated(&pairs).ok()?;
    let client_id = params::get(&pairs, "client_id")?;
    match state.store.find_client(client_id).await {
        Ok(client) => client.filter(|c| c.enabled).map(|c| c.name),
        Err(error) => {
            tracing::warn!(%error, "looking up the app for the sign-in page failed");
            None
        }
    }
}

fn login_page(
    state: &AppState,
    context: &Context,
    csrf_token: String,
    return_to: String,
    email: String,
    error: Option<&str>,
) -> LoginPage {
    let brand = Brand::new(&state.config);
    LoginPage {
        brand,
        action: state.config.paths.login.clone(),
        csrf_token,
        return_to,
        email,
        app_name: context.app_name.clone(),
        signed_in_as: context.signed_in_as.clone(),
        error: error.map(str::to_owned),
        // This page is the local sign-in, so `login.mode` is `local`.
        forgot_href: state
            .mailer
            .as_ref()
            .map(|_| super::password_reset::forgot_path(&state.config)),
        passkey: passkey_sign_in(state),
    }
}

/// The password-free sign-in's addresses (begin, finish), when passkeys
/// are offered.
fn passkey_sign_in(state: &AppState) -> Option<(String, String)> {
    state.relying_party.as_ref()?;
    let base = &state.config.paths.login;
    Some((format!("{base}/passkey/begin"), format!("{base}/passkey/finish")))
}

/// `GET /login?return_to=…&login_hint=…`
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<SignedIn>,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = query_pairs(query);
    let return_to = return_to::or_home(&state.config.issuer, pair(&pairs, "return_to"));
    // With delegated sign-in the platform's login takes this page's place.
    if let LoginMode::Delegate(settings) = &state.config.login.mode {
        return super::delegate::begin(&state, &headers, settings, &return_to).await;
    }
    let email = pair(&pairs, "login_hint")
        .map(str::to_owned)
        .or_else(|| signed_in.as_ref().map(|s| s.user.email.clone()))
        .unwrap_or_default();
    let context = Context::new(&state, &return_to, signed_in.as_ref()).await;
    let (csrf, set_csrf) = cookies::csrf_token(&state.form_key, &state.config, &headers);
    let page = login_page(&state, &context, csrf, return_to, email, None);
    render(&state.config, StatusCode::OK, &page, &[set_csrf])
}

/// `POST /login`
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    signed_in: Option<SignedIn>,
    form: CsrfForm,
) -> Response {
    let config = &state.config;
    if let LoginMode::Delegate(_) = &config.login.mode {
        let message = "Passwords are not accepted here: people sign in at the platform. Go back to the app and sign in again.";
        return error_page(config, StatusCode::BAD_REQUEST, "invalid_request", message);
    }
    let email = form.text("email").trim().to_owned();
    let password = Secret::new(form.text("password"));
    let return_to = return_to::or_home(&state.config.issuer, form.get("return_to"));
    let (csrf, _) = cookies::csrf_token(&state.form_key, config, &headers);
    let now = unix_now();
    let ip = state.rate_limiter.client_ip(peer, &headers);
    let context = Context::new(&state, &return_to, signed_in.as_ref()).await;
    let retry = |status: StatusCode, message: &str| {
        let page = login_page(
            &state,
            &context,
            csrf.clone(),
            return_to.clone(),
            email.clone(),
            Some(message),
        );
        let mut response = render(config, status, &page, &[]);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(crate::http::oauth::RETRY_AFTER_SECONDS),
            );
        }
        response
    };
    if !state.login_throttle.allows(&email, ip, now) {
        return retry(StatusCode::TOO_MANY_REQUESTS, THROTTLED);
    }
    let checked =
        sessions::check_credentials(state.store.as_ref(), &state.passwords, &email, password, now).await;
    let user = match checked {
        Ok(Some(user)) => user,
        Ok(None) => {
            state.login_throttle.record_failure(&email, ip, now);
            return retry(StatusCode::UNAUTHORIZED, WRONG_CREDENTIALS);
        }
        Err(CheckError::Busy) => return retry(StatusCode::SERVICE_UNAVAILABLE, BUSY),
        Err(CheckError::Hashing) => {
            tracing::error!("password check failed");
            return error_page(
                config,
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Try again later.",
            );
        }
        Err(CheckError::Store(error)) => return storage_failure_page(config, "sign-in", &error),
    };
    state.login_throttle.record_success(&email, ip);
    // A user with a second factor gets no session yet: its step is due.
    if let Some(step) = super::second_factor::after_password(&state, &user, &return_to, now).await {
        return step;
    }
    let user_agent = super::user_agent(&headers);
    let session = match sessions::start(
        state.store.as_ref(),
        &user.id,
        user_agent.as_deref(),
        amr::of(&[amr::PASSWORD]),
        now,
    )
    .await
    {
        Ok(session) => session,
        Err(error) => {
            return storage_failure_page(config, "starting a session", &error);
        }
    };
    see_other(&return_to, cookies::session(config, session.expose()))
}

fn message(state: &AppState, heading: &str, text: &str, form: Option<PageForm>) -> MessagePage {
    let brand = Brand::new(&state.config);
    MessagePage {
        brand,
        heading: heading.into(),
        message: text.into(),
        code: None,
        is_error: false,
        form,
    }
}

/// `GET /logout?return_to=…`: a confirmation form (sign-out changes state,
/// so it is a POST), coming back to `return_to` afterwards when given.
pub async fn show_logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = query_pairs(query);
    let back = pair(&pairs, "return_to").and_then(|t| return_to::same_origin_path(&state.config.issuer, t));
    let text = match back {
        Some(_) => "Sign out of this browser, then sign in with another account?",
        None => "Sign out of this browser?",
    };
    let (csrf, set_csrf) = cookies::csrf_token(&state.form_key, &state.config, &headers);
    let form = PageForm {
        action: state.config.paths.logout.clone(),
        csrf_token: csrf,
        button: "Sign out".into(),
        return_to: back,
    };
    let page = message(&state, "Sign out", text, Some(form));
    render(&state.config, StatusCode::OK, &page, &[set_csrf])
}

/// `POST /logout`: ends the session, then goes to the form's `return_to`
/// (a same-origin path) or says so.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, form: CsrfForm) -> Response {
    if let Some(value) = cookies::session_value(&state.config, &headers)
        && let Err(error) = sessions::end(state.store.as_ref(), &value).await
    {
        tracing::error!(%error, "ending a session failed");
    }
    let cleared = cookies::clear_session(&state.config);
    if let Some(back) = form
        .get("return_to")
        .and_then(|t| return_to::same_origin_path(&state.config.issuer, t))
    {
        return see_other(&back, cleared);
    }
    let page = message(
        &state,
        "Signed out",
        "You are signed out of this browser. Close it on a shared computer.",
        None,
    );
    render(&state.config, StatusCode::OK, &page, &[cleared])
}
