//! Passkeys over HTTP: the `{settings}/passkeys` page (the user's passkeys,
//! "Add a passkey", "Remove" for each), and the JSON endpoints
//! `static/passkey.js` calls — enrolment's two halves under the settings
//! page, password-free sign-in's under the sign-in page. Every JSON call
//! carries the page's CSRF token in `X-CSRF-Token`; the ceremony is bound
//! to the browser by a cookie holding its random id. Refusals are JSON
//! `{error, error_description}` with a 4xx status.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::form_urlencoded;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential, Webauthn};

use super::extract::{CsrfForm, SignedIn};
use super::see_other;
use super::settings::{Section, chrome};
use super::{Brand, PasskeyView, PasskeysPage, date, date_time, not_found_page, render, return_to};
use super::{storage_failure_page, user_agent};
use crate::accounts::passkeys::{self, CEREMONY_TTL_SECONDS, Enrolment, PasskeyError};
use crate::accounts::pending_sign_in::{Due, PendingSignIn};
use crate::accounts::sessions;
use crate::audit::{self, Actor, Subject};
use crate::grants::consent;
use crate::http::{AppState, cookies, json_response, pair, query_pairs};
use crate::store::StoreError;
use crate::unix_now;

/// The header carrying the page's CSRF token on JSON calls.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A refusal on its way out of a check (boxed: a response is large).
type Refused = Box<Response>;

/// A JSON refusal.
fn refuse(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": code, "error_description": description});
    let mut response = json_response(status, &body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn storage_refusal(what: &str, error: &StoreError) -> Response {
    tracing::error!(%error, "{what} failed");
    match error {
        StoreError::Unavailable(_) => {
            let mut response = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "The service is briefly unavailable. Wait a few seconds and try again.",
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(crate::http::oauth::RETRY_AFTER_SECONDS),
            );
            response
        }
        StoreError::Conflict | StoreError::MissingReference | StoreError::Backend(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Try again later.",
        ),
    }
}

/// The answer to a refused passkey operation.
fn refusal(error: &PasskeyError) -> Response {
    match error {
        PasskeyError::NotAvailable => refuse(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "Passkeys are not available on this server.",
        ),
        PasskeyError::UnknownCeremony => refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This passkey request has expired or was already used. Start again.",
        ),
        PasskeyError::UnknownCredential | PasskeyError::Rejected(_) => {
            if let PasskeyError::Rejected(reason) = error {
                tracing::info!(%reason, "a passkey was refused");
            }
            refuse(
                StatusCode::UNAUTHORIZED,
                "access_denied",
                "This passkey could not be verified for an account here. Try another passkey, or sign in with your password.",
            )
        }
        PasskeyError::AlreadyRegistered => refuse(
            StatusCode::CONFLICT,
            "invalid_request",
            "This passkey is already registered. Use another authenticator.",
        ),
        PasskeyError::InvalidName(message) => refuse(StatusCode::BAD_REQUEST, "invalid_request", message),
        PasskeyError::Store(error) => storage_refusal("a passkey operation", error),
    }
}

/// The relying party, or the refusal when passkeys are not offered.
fn relying_party(state: &AppState) -> Result<Arc<Webauthn>, Refused> {
    state
        .relying_party
        .clone()
        .ok_or_else(|| Box::new(refusal(&PasskeyError::NotAvailable)))
}

/// Refuses a JSON call whose `X-CSRF-Token` was not made for this
/// browser's cookies.
fn check_csrf(state: &AppState, headers: &HeaderMap) -> Result<(), Refused> {
    let submitted = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if cookies::csrf_matches(&state.form_key, &state.config, headers, submitted) {
        Ok(())
    } else {
        Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "The X-CSRF-Token header is missing or was not made for this browser. Reload the page and try again.",
        )))
    }
}

/// A JSON body as `T`, or a refusal saying what is wrong with it.
fn parse<T: DeserializeOwned>(body: &Bytes, expected: &str) -> Result<T, Refused> {
    serde_json::from_slice(body).map_err(|error| {
        Box::new(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("The body must be a JSON object with {expected} ({error})."),
        ))
    })
}

/// The ceremony id in the browser's cookie, or the refusal.
fn ceremony_id(state: &AppState, headers: &HeaderMap) -> Result<String, Refused> {
    cookies::passkey_ceremony_value(&state.config, headers)
        .ok_or_else(|| Box::new(refusal(&PasskeyError::UnknownCeremony)))
}

/// A browser's answer to a ceremony, once every check before reading it
/// passed (the CSRF header, passkeys offered, the ceremony cookie): the
/// relying party, the ceremony id and the body as `T` (`expected` says
/// what it should hold).
fn answer<T: DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
    expected: &str,
) -> Result<(Arc<Webauthn>, String, T), Refused> {
    check_csrf(state, headers)?;
    let rp = relying_party(state)?;
    let id = ceremony_id(state, headers)?;
    Ok((rp, id, parse(body, expected)?))
}

/// Options as JSON, with the cookie binding the ceremony to this browser.
fn options_response(state: &AppState, options: &impl serde::Serialize, ceremony: &str) -> Response {
    let mut response = json_response(StatusCode::OK, options);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = cookies::passkey_ceremony(&state.config, ceremony, CEREMONY_TTL_SECONDS) {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

fn finished(body: &serde_json::Value, set_cookies: &[Option<HeaderValue>]) -> Response {
    let mut response = json_response(StatusCode::OK, body);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in set_cookies.iter().flatten() {
        headers.append(header::SET_COOKIE, cookie.clone());
    }
    response
}

fn login_required() -> Response {
    refuse(
        StatusCode::UNAUTHORIZED,
        "login_required",
        "Sign in first: adding a passkey needs a signed-in session.",
    )
}

/// `GET {settings}/passkeys`
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let store = state.store.as_ref();
    let user_id = &signed_in.user.id;
    let listed = match passkeys::list(store, user_id).await {
        Ok(listed) => listed,
        Err(error) => return storage_failure_page(&state.config, "listing passkeys", &error),
    };
    let memberships = match consent::memberships(store, user_id).await {
        Ok(memberships) => memberships,
        Err(error) => return storage_failure_page(&state.config, "reading memberships", &error),
    };
    let config = &state.config;
    let (chrome, set_csrf) = chrome(&state, &headers, &signed_in, &memberships, Section::Passkeys);
    let page_path = Section::Passkeys.path(config);
    let notice = match pair(&query_pairs(query), "done") {
        Some("added") => Some("Passkey added. You can now sign in with it.".to_owned()),
        Some("removed") => Some("Passkey removed.".to_owned()),
        _ => None,
    };
    let page = PasskeysPage {
        brand: Brand::new(config),
        chrome,
        begin_action: format!("{page_path}/register/begin"),
        finish_action: format!("{page_path}/register/finish"),
        remove_action: format!("{page_path}/remove"),
        passkeys: listed
            .into_iter()
            .map(|p| PasskeyView {
                id: p.credential_id,
                name: p.name,
                added: date(p.created_at),
                last_used: p.last_used_at.map(date_time),
                synced: p.backup_eligible,
            })
            .collect(),
        notice,
    };
    render(config, StatusCode::OK, &page, &[set_csrf])
}

/// `GET` of the remove form's address (after signing in again): the page.
pub async fn back_to_page(State(state): State<AppState>) -> Response {
    see_other(&Section::Passkeys.path(&state.config), None)
}

/// `POST {settings}/passkeys/remove`: removes the user's passkey
/// `passkey`; another user's (or an unknown one) is "not found".
pub async fn remove(State(state): State<AppState>, signed_in: SignedIn, form: CsrfForm) -> Response {
    let removed = passkeys::remove(
        state.store.as_ref(),
        &signed_in.user.id,
        form.text("passkey"),
        unix_now(),
    )
    .await;
    match removed {
        Ok(true) => done(&state, "removed"),
        Ok(false) => not_found_page(&state.config),
        Err(error) => storage_failure_page(&state.config, "removing a passkey", &error),
    }
}

fn done(state: &AppState, what: &str) -> Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("done", what)
        .finish();
    see_other(
        &format!("{}?{query}", Section::Passkeys.path(&state.config)),
        None,
    )
}

/// `POST {settings}/passkeys/register/begin`: the options for
/// `navigator.credentials.create`.
pub async fn register_begin(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<SignedIn>,
) -> Response {
    let Some(signed_in) = signed_in else {
        return login_required();
    };
    if let Err(refused) = check_csrf(&state, &headers) {
        return *refused;
    }
    let rp = match relying_party(&state) {
        Ok(rp) => rp,
        Err(refused) => return *refused,
    };
    match passkeys::begin_registration(state.store.as_ref(), &rp, &signed_in.user, unix_now()).await {
        Ok((options, ceremony)) => options_response(&state, &options, ceremony.expose()),
        Err(error) => refusal(&error),
    }
}

#[derive(Deserialize)]
struct RegisterFinish {
    credential: RegisterPublicKeyCredential,
    #[serde(default)]
    name: Option<String>,
}

/// `POST {settings}/passkeys/register/finish` with `{credential, name?}`.
pub async fn register_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<SignedIn>,
    body: Bytes,
) -> Response {
    let Some(signed_in) = signed_in else {
        return login_required();
    };
    let expected = "`credential` (the browser's answer) and an optional `name`";
    let (rp, id, request) = match answer::<RegisterFinish>(&state, &headers, &body, expected) {
        Ok(checked) => checked,
        Err(refused) => return *refused,
    };
    let user_agent = user_agent(&headers);
    let answer = Enrolment {
        response: &request.credential,
        name: request.name.as_deref(),
        user_agent: user_agent.as_deref(),
    };
    let added = passkeys::finish_registration(
        state.store.as_ref(),
        &rp,
        &signed_in.user,
        &id,
        answer,
        unix_now(),
    )
    .await;
    match added {
        Ok(record) => {
            let body = serde_json::json!({
                "name": record.name,
                "redirect": format!("{}?done=added", Section::Passkeys.path(&state.config)),
            });
            finished(&body, &[cookies::clear_passkey_ceremony(&state.config)])
        }
        Err(error) => refusal(&error),
    }
}

/// `POST {login}/passkey/begin`: the options for `navigator.credentials.get`
/// with a discoverable credential. Bounded per client address by the
/// authorization endpoint's rate limit, and refused while the address is
/// throttled for failed sign-ins.
pub async fn sign_in_begin(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = check_csrf(&state, &headers) {
        return *refused;
    }
    let rp = match relying_party(&state) {
        Ok(rp) => rp,
        Err(refused) => return *refused,
    };
    let now = unix_now();
    let ip = state.rate_limiter.client_ip(peer, &headers);
    if let Err(retry_after) = state.rate_limiter.check(
        crate::http::rate_limit::Endpoint::PasskeySignIn,
        &ip.to_string(),
        now,
    ) {
        return crate::http::rate_limit::too_many_requests(retry_after);
    }
    if !state.login_throttle.allows_ip(ip, now) {
        return throttled();
    }
    match passkeys::begin_authentication(state.store.as_ref(), &rp, None, now).await {
        Ok((options, ceremony)) => options_response(&state, &options, ceremony.expose()),
        Err(error) => refusal(&error),
    }
}

fn throttled() -> Response {
    let mut response = refuse(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        "Too many failed attempts. Wait a few minutes and try again.",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    response
}

#[derive(Deserialize)]
struct SignInFinish {
    credential: PublicKeyCredential,
    #[serde(default)]
    return_to: Option<String>,
}

/// `POST {login}/passkey/finish` with `{credential, return_to?}`: starts a
/// session and answers where to continue (`return_to` when it is a
/// same-origin path, as the password form does).
pub async fn sign_in_finish(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let expected = "`credential` (the browser's answer) and an optional `return_to`";
    let (rp, id, request) = match answer::<SignInFinish>(&state, &headers, &body, expected) {
        Ok(checked) => checked,
        Err(refused) => return *refused,
    };
    let now = unix_now();
    let ip = state.rate_limiter.client_ip(peer, &headers);
    if !state.login_throttle.allows_ip(ip, now) {
        return throttled();
    }
    let store = state.store.as_ref();
    let used = match passkeys::finish_authentication(store, &rp, &id, &request.credential, now).await {
        Ok(used) => used,
        Err(error) => {
            if !matches!(error, PasskeyError::Store(_)) {
                state.login_throttle.record_ip_failure(ip, now);
            }
            return refusal(&error);
        }
    };
    let amr = used.amr();
    let user_agent = user_agent(&headers);
    let session = match sessions::start(store, &used.user_id, user_agent.as_deref(), amr.clone(), now).await {
        Ok(session) => session,
        Err(error) => return storage_refusal("starting a session", &error),
    };
    let details = serde_json::json!({"method": "passkey", "amr": amr, "credential_id": used.credential_id});
    let subject = Subject {
        user_id: Some(&used.user_id),
        ..Subject::default()
    };
    audit::record(
        store,
        &Actor::User(used.user_id.clone()),
        "user.signed_in",
        subject,
        details,
        now,
    )
    .await;
    let config = &state.config;
    let next = return_to::or_home(&config.issuer, request.return_to.as_deref());
    finished(
        &serde_json::json!({"redirect": next}),
        &[
            cookies::session(config, session.expose()),
            cookies::clear_passkey_ceremony(config),
        ],
    )
}

/// The pending sign-in at step `due`, or the refusal.
fn pending_at(state: &AppState, headers: &HeaderMap, due: Due) -> Result<PendingSignIn, Refused> {
    super::second_factor::pending(state, headers, due).ok_or_else(|| {
        Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "login_required",
            "Sign in with your password first; the passkey is the second step.",
        ))
    })
}

/// The pending sign-in whose second step is due, or the refusal.
fn pending_second_step(state: &AppState, headers: &HeaderMap) -> Result<PendingSignIn, Refused> {
    pending_at(state, headers, Due::SecondFactor)
}

/// The user of a pending sign-in, or the refusal.
async fn pending_user(
    state: &AppState,
    pending: &PendingSignIn,
) -> Result<crate::store::UserRecord, Refused> {
    match state.store.find_user(&pending.user_id).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(Box::new(refusal(&PasskeyError::UnknownCredential))),
        Err(error) => Err(Box::new(storage_refusal("reading the user", &error))),
    }
}

/// Completes a pending sign-in with a passkey of `method` (`hwk`/`swk`):
/// the session starts, and the answer says where to continue.
async fn complete_pending(
    state: &AppState,
    headers: &HeaderMap,
    pending: &PendingSignIn,
    method: &str,
) -> Response {
    let amr = pending.completed_by(method);
    let cookies = super::second_factor::session_cookies(state, headers, pending, amr, unix_now()).await;
    let mut set_cookies = match cookies {
        Ok(cookies) => cookies.into_iter().map(Some).collect::<Vec<_>>(),
        Err(error) => return storage_refusal("starting a session", &error),
    };
    set_cookies.push(cookies::clear_passkey_ceremony(&state.config));
    finished(&serde_json::json!({"redirect": pending.return_to}), &set_cookies)
}

/// `POST {login}/second-factor/setup/passkey/begin`: a member of an
/// organization that requires a second factor, signing in without one,
/// adds a passkey instead of an authenticator app.
pub async fn setup_begin(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let checked = check_csrf(&state, &headers)
        .and_then(|()| relying_party(&state))
        .and_then(|rp| Ok((rp, pending_at(&state, &headers, Due::Enrolment)?)));
    let (rp, pending) = match checked {
        Ok(checked) => checked,
        Err(refused) => return *refused,
    };
    let user = match pending_user(&state, &pending).await {
        Ok(user) => user,
        Err(refused) => return *refused,
    };
    match passkeys::begin_registration(state.store.as_ref(), &rp, &user, unix_now()).await {
        Ok((options, ceremony)) => options_response(&state, &options, ceremony.expose()),
        Err(error) => refusal(&error),
    }
}

/// `POST {login}/second-factor/setup/passkey/finish` with `{credential,
/// name?}`: the passkey is added and the sign-in completes (`amr` the
/// password, the key, `mfa`).
pub async fn setup_finish(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let checked = pending_at(&state, &headers, Due::Enrolment).and_then(|pending| {
        let expected = "`credential` (the browser's answer) and an optional `name`";
        let (rp, id, request) = answer::<RegisterFinish>(&state, &headers, &body, expected)?;
        Ok((rp, pending, id, request))
    });
    let (rp, pending, id, request) = match checked {
        Ok(checked) => checked,
        Err(refused) => return *refused,
    };
    let user = match pending_user(&state, &pending).await {
        Ok(user) => user,
        Err(refused) => return *refused,
    };
    let user_agent = user_agent(&headers);
    let answer = Enrolment {
        response: &request.credential,
        name: request.name.as_deref(),
        user_agent: user_agent.as_deref(),
    };
    match passkeys::finish_registration(state.store.as_ref(), &rp, &user, &id, answer, unix_now()).await {
        Ok(record) => {
            let method = passkeys::key_method(record.backup_eligible);
            complete_pending(&state, &headers, &pending, method).await
        }
        Err(error) => refusal(&error),
    }
}

/// `POST {login}/second-factor/passkey/begin`: the options offering the
/// passkeys of the user whose password was right (the pending sign-in).
pub async fn second_factor_begin(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let checked = check_csrf(&state, &headers)
        .and_then(|()| relying_party(&state))
        .and_then(|rp| Ok((rp, pending_second_step(&state, &headers)?)));
    let (rp, pending) = match checked {
        Ok(checked) => checked,
        Err(refused) => return *refused,
    };
    let now = unix_now();
    let ip = state.rate_limiter.client_ip(peer, &headers);
    if !state.second_factor_throttle.allows(&pending.user_id, ip, now) {
        return throttled();
    }
    let user = match pending_user(&state, &pending).await {
        Ok(user) => user,
        Err(refused) => return *refused,
    };
    match passkeys::begin_authentication(state.store.as_ref(), &rp, Some(&user), now).await {
        Ok((options, ceremony)) => options_response(&state, &options, ceremony.expose()),
        Err(error) => refusal(&error),
    }
}

#[derive(Deserialize)]
struct SecondFactorFinish {
    credential: PublicKeyCredential,
}

/// `POST {login}/second-factor/passkey/finish` with `{credential}`: one of
/// the pending user's passkeys completes the sign-in (`amr` the password,
/// the key, `mfa`); answers where to continue, with the session cookie.
pub async fn second_factor_finish(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let checked = pending_second_step(&state, &headers).and_then(|pending| {
        let expected = "`credential` (the browser's answer)";
        let (rp, id, request) = answer::<SecondFactorFinish>(&state, &headers, &body, expected)?;
        Ok((rp, pending, id, request))
    });
    let (rp, pending, id, request) = match checked {
        Ok(checked) => checked,
        Err(refused) => return *refused,
    };
    let now = unix_now();
    let ip = state.rate_limiter.client_ip(peer, &headers);
    let throttle = &state.second_factor_throttle;
    if !throttle.allows(&pending.user_id, ip, now) {
        return throttled();
    }
    let store = state.store.as_ref();
    let used = match passkeys::finish_authentication(store, &rp, &id, &request.credential, now).await {
        // Another account's passkey does not complete this one's sign-in.
        Ok(used) if used.user_id != pending.user_id => Err(PasskeyError::UnknownCredential),
        other => other,
    };
    let used = match used {
        Ok(used) => used,
        Err(error) => {
            if !matches!(error, PasskeyError::Store(_)) {
                throttle.record_failure(&pending.user_id, ip, now);
            }
            return refusal(&error);
        }
    };
    throttle.record_success(&pending.user_id, ip);
    complete_pending(&state, &headers, &pending, used.method).await
}
