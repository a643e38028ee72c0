//! The second step of a sign-in (`<paths.login>/second-factor`): after a
//! right password, a user with a second factor gets no session yet but a
//! pending sign-in (a sealed cookie, `accounts::pending_sign_in`) and this
//! page, which asks for one of the user's methods (a passkey first, then
//! the authenticator app, then a recovery code; the others as links). A
//! passkey answers through the browser (`passkeys::second_factor_begin` /
//! `…_finish`); a code through this page's form. Either starts the
//! session with both methods in its `amr` and continues to where the
//! sign-in was going. Wrong codes and refused passkeys are throttled per
//! user and address as passwords are; once over the limit even a right
//! one is refused until the window passes.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use url::form_urlencoded;

use super::extract::{CsrfForm, sign_in_first};
use super::see_other;
use super::{Brand, error_page, render, storage_failure_page};
use crate::accounts::pending_sign_in::{Due, PENDING_TTL_SECONDS, PendingSignIn};
use crate::accounts::second_factor::{self, Method, SecondFactorError};
use crate::accounts::{amr, sessions};
use crate::config::Config;
use crate::http::{AppState, cookies, pair, query_pairs};
use crate::store::{StoreError, UserRecord};
use crate::unix_now;

const WRONG_CODE: &str =
    "That code is not right. Enter the code your authenticator app shows now; each code works once.";
const WRONG_RECOVERY_CODE: &str = "That recovery code is not right, or it was used already.";
const THROTTLED: &str = "Too many wrong codes. Wait a few minutes and try again.";

#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct SecondFactorPage {
    pub brand: Brand,
    pub action: String,
    pub csrf_token: String,
    /// The method the form is for (`Method::as_str`).
    pub method: &'static str,
    pub error: Option<String>,
    /// (link, label) of the other methods.
    pub alternatives: Vec<(String, String)>,
    /// The sign-in page, to start over.
    pub start_over: String,
    /// For a passkey: the begin and finish addresses of its ceremony.
    pub passkey: Option<(String, String)>,
}

/// `<paths.login>/second-factor`.
pub fn step_path(config: &Config) -> String {
    format!("{}/second-factor", config.paths.login)
}

/// What follows a right password for `user`: `None` when the session may
/// start now; otherwise the redirect to the step that is due, with the
/// pending sign-in's cookie.
pub async fn after_password(
    state: &AppState,
    user: &UserRecord,
    return_to: &str,
    now: i64,
) -> Option<Response> {
    let config = &state.config;
    let methods = match second_factor::methods(state.store.as_ref(), &user.id, passkeys_offered(state)).await
    {
        Ok(methods) => methods,
        Err(error) => return Some(storage_failure_page(config, "reading second factors", &error)),
    };
    let due = if methods.is_empty() {
        // The organization rule: a member without a second factor sets
        // one up before the session starts.
        match second_factor::organizations_requiring(state.store.as_ref(), &user.id).await {
            Ok(names) if names.is_empty() => return None,
            Ok(_) => Due::Enrolment,
            Err(error) => return Some(storage_failure_page(config, "reading organizations", &error)),
        }
    } else {
        Due::SecondFactor
    };
    let pending = PendingSignIn::new(&user.id, amr::of(&[amr::PASSWORD]), return_to, due, now);
    let path = match due {
        Due::SecondFactor => step_path(config),
        Due::Enrolment => setup_path(config),
    };
    Some(redirect_pending(state, &pending, &path))
}

/// `<paths.login>/second-factor/setup`.
pub fn setup_path(config: &Config) -> String {
    format!("{}/second-factor/setup", config.paths.login)
}

#[derive(Template)]
#[template(path = "second_factor_setup.html")]
pub struct SetupPage {
    pub brand: Brand,
    /// The organizations that require it, as a phrase.
    pub organizations: String,
    /// The app to set up (none once it is on).
    pub setup: Option<second_factor::Enrolment>,
    pub confirm_action: String,
    pub csrf_token: String,
    pub confirm_button: &'static str,
    pub error: Option<String>,
    pub start_over: String,
    /// Set once the app is on: the recovery codes, shown this once.
    pub new_codes: Option<Vec<crate::secret::Secret>>,
    pub continue_to: String,
    /// Adding a passkey instead (when passkeys are offered): the begin and
    /// finish addresses of its ceremony.
    pub passkey: Option<(String, String)>,
}

/// The setup page of a pending sign-in that must enrol: a pending secret
/// is made when there is none.
async fn setup_page(
    state: &AppState,
    headers: &HeaderMap,
    pending: &PendingSignIn,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let config = &state.config;
    let store = state.store.as_ref();
    let master = state.keys.master();
    let user = match store.find_user(&pending.user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return sign_in_first(state, "/"),
        Err(error) => return storage_failure_page(config, "reading the user", &error),
    };
    let issuer = &config.branding.product_name;
    let mut enrolment = second_factor::pending_enrolment(store, master, &user, issuer).await;
    if matches!(enrolment, Ok(None)) {
        if let Err(error) = second_factor::begin_enrolment(store, master, &user.id, unix_now()).await {
            return failure(config, &error);
        }
        enrolment = second_factor::pending_enrolment(store, master, &user, issuer).await;
    }
    let setup = match enrolment {
        Ok(Some(setup)) => setup,
        // Set up meanwhile (in another browser): sign in with it.
        Ok(None) => return sign_in_first(state, &pending.return_to),
        Err(error) => return failure(config, &error),
    };
    let organizations = match second_factor::organizations_requiring(store, &user.id).await {
        Ok(names) => names.join(", "),
        Err(error) => return storage_failure_page(config, "reading organizations", &error),
    };
    let (csrf_token, set_csrf) = cookies::csrf_token(&state.form_key, config, headers);
    let page = SetupPage {
        brand: Brand::new(config),
        organizations,
        setup: Some(setup),
        confirm_action: setup_path(config),
        csrf_token,
        confirm_button: "Turn on and continue",
        error: error.map(str::to_owned),
        start_over: login_path(config, &pending.return_to),
        new_codes: None,
        continue_to: pending.return_to.clone(),
        passkey: passkeys_offered(state).then(|| setup_passkey_paths(config)),
    };
    render(config, status, &page, &[set_csrf])
}

/// `GET <paths.login>/second-factor/setup`
pub async fn show_setup(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(pending) = pending(&state, &headers, Due::Enrolment) else {
        return sign_in_first(&state, "/");
    };
    setup_page(&state, &headers, &pending, StatusCode::OK, None).await
}

/// `POST <paths.login>/second-factor/setup` with the app's `code`: turns
/// the app on, starts the session (password and code: two factors) and
/// shows the recovery codes once, with the way on.
pub async fn submit_setup(State(state): State<AppState>, headers: HeaderMap, form: CsrfForm) -> Response {
    let config = &state.config;
    let Some(pending) = pending(&state, &headers, Due::Enrolment) else {
        return sign_in_first(&state, "/");
    };
    let now = unix_now();
    let store = state.store.as_ref();
    let confirmed = second_factor::confirm_enrolment(
        store,
        state.keys.master(),
        &pending.user_id,
        form.text("code"),
        now,
    )
    .await;
    let codes = match confirmed {
        Ok(Some(codes)) => codes,
        Ok(None) => {
            let error = "That code is not right. Enter the 6-digit code your authenticator app shows now.";
            return setup_page(&state, &headers, &pending, StatusCode::BAD_REQUEST, Some(error)).await;
        }
        Err(error) => return failure(config, &error),
    };
    let started = start_session(
        &state,
        &headers,
        &pending,
        pending.completed_by(amr::ONE_TIME_PASSWORD),
        now,
    )
    .await;
    if started.status() != StatusCode::SEE_OTHER {
        return started;
    }
    // The session's cookies, on the page that shows the codes.
    let set_cookies: Vec<Option<axum::http::HeaderValue>> = started
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .map(Some)
        .collect();
    let (csrf_token, _) = cookies::csrf_token(&state.form_key, config, &headers);
    let page = SetupPage {
        brand: Brand::new(config),
        organizations: String::new(),
        setup: None,
        confirm_action: setup_path(config),
        csrf_token,
        confirm_button: "",
        error: None,
        start_over: String::new(),
        new_codes: Some(codes),
        continue_to: pending.return_to.clone(),
        passkey: None,
    };
    render(config, StatusCode::OK, &page, &set_cookies)
}

/// The redirect to `path` carrying `pending` in its cookie.
pub(super) fn redirect_pending(state: &AppState, pending: &PendingSignIn, path: &str) -> Response {
    let config = &state.config;
    match pending.seal(state.keys.master()) {
        Some(value) => see_other(
            path,
            cookies::pending_sign_in(config, &value, PENDING_TTL_SECONDS),
        ),
        None => {
            tracing::error!("sealing a pending sign-in failed");
            error_page(
                config,
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Try again later.",
            )
        }
    }
}

/// The live pending sign-in this browser holds, when `due` is its step.
pub(super) fn pending(state: &AppState, headers: &HeaderMap, due: Due) -> Option<PendingSignIn> {
    let value = cookies::pending_sign_in_value(&state.config, headers)?;
    PendingSignIn::open(state.keys.master(), &value, unix_now()).filter(|p| p.due == due)
}

/// The sign-in page that continues to `return_to`.
fn login_path(config: &Config, return_to: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    format!("{}?{query}", config.paths.login)
}

/// Whether passkeys are offered here (they need a relying party).
fn passkeys_offered(state: &AppState) -> bool {
    state.relying_party.is_some()
}

/// `<paths.login>/second-factor/setup/passkey/begin` and `…/finish`.
pub fn setup_passkey_paths(config: &Config) -> (String, String) {
    let setup = setup_path(config);
    (
        format!("{setup}/passkey/begin"),
        format!("{setup}/passkey/finish"),
    )
}

/// `<paths.login>/second-factor/passkey/begin` and `…/finish`.
pub fn passkey_paths(config: &Config) -> (String, String) {
    let step = step_path(config);
    (format!("{step}/passkey/begin"), format!("{step}/passkey/finish"))
}

fn label(method: Method) -> &'static str {
    match method {
        Method::Passkey => "Use a passkey",
        Method::Totp => "Use your authenticator app",
        Method::RecoveryCode => "Use a recovery code",
    }
}

fn page(
    state: &AppState,
    csrf_token: String,
    pending: &PendingSignIn,
    methods: &[Method],
    method: Method,
    error: Option<&str>,
) -> SecondFactorPage {
    let config = &state.config;
    let path = step_path(config);
    let alternatives = methods
        .iter()
        .filter(|m| **m != method)
        .map(|m| (format!("{path}?method={}", m.as_str()), label(*m).to_owned()))
        .collect();
    SecondFactorPage {
        brand: Brand::new(config),
        action: path,
        csrf_token,
        method: method.as_str(),
        error: error.map(str::to_owned),
        alternatives,
        start_over: login_path(config, &pending.return_to),
        passkey: (method == Method::Passkey).then(|| passkey_paths(config)),
    }
}

/// The user's methods and the one `asked` names (the first otherwise);
/// `None` when the user has none (any more).
async fn choose(
    state: &AppState,
    user_id: &str,
    asked: Option<&str>,
) -> Result<Option<(Vec<Method>, Method)>, Response> {
    let methods = second_factor::methods(state.store.as_ref(), user_id, passkeys_offered(state))
        .await
        .map_err(|error| storage_failure_page(&state.config, "reading second factors", &error))?;
    let chosen = asked
        .and_then(Method::parse)
        .filter(|m| methods.contains(m))
        .or_else(|| methods.first().copied());
    Ok(chosen.map(|method| (methods, method)))
}

/// `GET <paths.login>/second-factor?method=…`
pub async fn show(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let Some(pending) = pending(&state, &headers, Due::SecondFactor) else {
        return sign_in_first(&state, "/");
    };
    let pairs = query_pairs(query);
    let (methods, method) = match choose(&state, &pending.user_id, pair(&pairs, "method")).await {
        Ok(Some(chosen)) => chosen,
        Ok(None) => return see_other(&login_path(&state.config, &pending.return_to), None),
        Err(response) => return response,
    };
    let (csrf, set_csrf) = cookies::csrf_token(&state.form_key, &state.config, &headers);
    let page = page(&state, csrf, &pending, &methods, method, None);
    render(&state.config, StatusCode::OK, &page, &[set_csrf])
}

/// `POST <paths.login>/second-factor` with `method` and `code`.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: CsrfForm,
) -> Response {
    let config = &state.config;
    let Some(pending) = pending(&state, &headers, Due::SecondFactor) else {
        return sign_in_first(&state, "/");
    };
    let (methods, method) = match choose(&state, &pending.user_id, form.get("method")).await {
        Ok(Some(chosen)) => chosen,
        Ok(None) => return see_other(&login_path(config, &pending.return_to), None),
        Err(response) => return response,
    };
    let (csrf, _) = cookies::csrf_token(&state.form_key, config, &headers);
    let retry = |status: StatusCode, message: &str| {
        let page = page(&state, csrf.clone(), &pending, &methods, method, Some(message));
        render(config, status, &page, &[])
    };
    if !method.takes_a_code() {
        let message = "Use the button to answer with your passkey, or choose another way below.";
        return retry(StatusCode::BAD_REQUEST, message);
    }
    let now = unix_now();
    let ip = state.rate_limiter.client_ip(peer, &headers);
    let throttle = &state.second_factor_throttle;
    if !throttle.allows(&pending.user_id, ip, now) {
        return retry(StatusCode::TOO_MANY_REQUESTS, THROTTLED);
    }
    let master = state.keys.master();
    let code = form.text("code");
    match second_factor::verify(state.store.as_ref(), master, &pending.user_id, method, code, now).await {
        Ok(true) => throttle.record_success(&pending.user_id, ip),
        Ok(false) => {
            throttle.record_failure(&pending.user_id, ip, now);
            let message = match method {
                Method::RecoveryCode => WRONG_RECOVERY_CODE,
                Method::Totp | Method::Passkey => WRONG_CODE,
            };
            return retry(StatusCode::UNAUTHORIZED, message);
        }
        Err(error) => return failure(config, &error),
    }
    start_session(
        &state,
        &headers,
        &pending,
        pending.completed_by(amr::ONE_TIME_PASSWORD),
        now,
    )
    .await
}

/// The page for a second-factor operation that failed.
pub(super) fn failure(config: &Config, error: &SecondFactorError) -> Response {
    match error {
        SecondFactorError::Store(error) => storage_failure_page(config, "checking a second factor", error),
        SecondFactorError::Sealed(_) => {
            tracing::error!("a TOTP secret does not open with the master key");
            error_page(
                config,
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Try again later.",
            )
        }
    }
}

/// Starts the session of a completed pending sign-in and continues to its
/// `return_to`, ending the pending one.
pub(super) async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    pending: &PendingSignIn,
    amr: Vec<String>,
    now: i64,
) -> Response {
    match session_cookies(state, headers, pending, amr, now).await {
        Ok(cookies) => {
            let mut response = see_other(&pending.return_to, None);
            for cookie in cookies {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => storage_failure_page(&state.config, "starting a session", &error),
    }
}

/// Starts the session of a completed pending sign-in: the cookies that
/// carry it and end the pending one.
pub(super) async fn session_cookies(
    state: &AppState,
    headers: &HeaderMap,
    pending: &PendingSignIn,
    amr: Vec<String>,
    now: i64,
) -> Result<Vec<HeaderValue>, StoreError> {
    let config = &state.config;
    let user_agent = super::user_agent(headers);
    let session = sessions::start(
        state.store.as_ref(),
        &pending.user_id,
        user_agent.as_deref(),
        amr,
        now,
    )
    .await?;
    Ok([
        cookies::session(config, session.expose()),
        cookies::clear_pending_sign_in(config),
    ]
    .into_iter()
    .flatten()
    .collect())
}
