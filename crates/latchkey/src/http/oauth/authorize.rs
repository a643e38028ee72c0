//! The authorization endpoint (GET and POST form) and the consent form it
//! renders and receives. The request is validated by
//! [`crate::oauth::authorize`]; sign-in, organization and consent decisions
//! come from [`crate::grants::consent`]; this file turns their outcomes into
//! pages and redirects.

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use url::form_urlencoded;

use crate::accounts::sessions;
use crate::grants::{codes, consent};
use crate::http::pages::login::see_other;
use crate::http::pages::{Brand, ConsentPage, error_page, render};
use crate::http::rate_limit::{Endpoint, too_many_requests};
use crate::http::{AppState, cookies, form_pairs, json_response, pair};
use crate::oauth::authorize::{self, AuthorizationRequest, AuthorizeError};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::store::{SessionRecord, UserRecord};
use crate::unix_now;

/// Form fields of the consent form that are not authorization parameters.
const CONSENT_FIELDS: [&str; 3] = ["csrf_token", "decision", "organization"];

pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(retry_after) = limit(&state, peer, &headers) {
        return too_many_requests(retry_after);
    }
    let pairs = form_pairs(query.unwrap_or_default().as_bytes());
    authorize(&state, &headers, pairs).await
}

pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(retry_after) = limit(&state, peer, &headers) {
        return too_many_requests(retry_after);
    }
    authorize(&state, &headers, form_pairs(&body)).await
}

/// SPEC 12: the authorization endpoint is limited per client IP.
fn limit(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Result<(), i64> {
    let ip = state.rate_limiter.client_ip(peer, headers);
    state
        .rate_limiter
        .check(Endpoint::Authorize, &ip.to_string(), unix_now())
}

/// The page (or JSON) for errors that must not redirect.
fn unverified_error(state: &AppState, headers: &HeaderMap, error: &OAuthError) -> Response {
    crate::http::oauth::log_cause(error);
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json") && !accept.contains("text/html"));
    let status = match error.code {
        ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable => {
            crate::http::oauth::status_of(error.code)
        }
        _ => StatusCode::BAD_REQUEST,
    };
    if wants_json {
        let body = serde_json::json!({"error": error.code.as_str(), "error_description": error.description});
        return json_response(status, &body);
    }
    error_page(&state.config, status, error.code.as_str(), &error.description)
}

fn redirect_error(state: &AppState, request: &AuthorizationRequest, error: &OAuthError) -> Response {
    crate::http::oauth::log_cause(error);
    let url = authorize::redirect_url(
        &request.redirect_uri,
        &state.config.issuer,
        Err(error),
        request.state.as_deref(),
    );
    see_other(&url, None)
}

fn fail(state: &AppState, headers: &HeaderMap, error: AuthorizeError) -> Response {
    match error {
        AuthorizeError::Page(error) => unverified_error(state, headers, &error),
        AuthorizeError::Redirect {
            redirect_uri,
            state: client_state,
            error,
        } => {
            crate::http::oauth::log_cause(&error);
            let url = authorize::redirect_url(
                &redirect_uri,
                &state.config.issuer,
                Err(&error),
                client_state.as_deref(),
            );
            see_other(&url, None)
        }
    }
}

/// The signed-in user, if the session cookie names a live session.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    now: i64,
) -> Result<Option<(SessionRecord, UserRecord)>, OAuthError> {
    match cookies::session_value(&state.config, headers) {
        Some(value) => Ok(sessions::resume(state.store.as_ref(), &value, now).await?),
        None => Ok(None),
    }
}

/// The authorization parameters without `login` in `prompt` and without
/// `max_age`, so the request can resume after the sign-in it asked for
/// (which satisfied both) without asking again.
fn without_login_prompt(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|(name, _)| !CONSENT_FIELDS.contains(&name.as_str()) && name != "max_age")
        .filter_map(|(name, value)| {
            if name != "prompt" {
                return Some((name.clone(), value.clone()));
            }
            let kept: Vec<&str> = value
                .split(' ')
                .filter(|v| !v.is_empty() && *v != "login")
                .collect();
            (!kept.is_empty()).then(|| (name.clone(), kept.join(" ")))
        })
        .collect()
}

fn login_redirect(state: &AppState, request: &AuthorizationRequest, pairs: &[(String, String)]) -> Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(without_login_prompt(pairs))
        .finish();
    let return_to = format!("{}?{query}", state.config.paths.authorize);
    let mut login = form_urlencoded::Serializer::new(String::new());
    login.append_pair("return_to", &return_to);
    if let Some(hint) = &request.login_hint {
        login.append_pair("login_hint", hint);
    }
    see_other(&format!("{}?{}", state.config.paths.login, login.finish()), None)
}

async fn authorize(state: &AppState, headers: &HeaderMap, pairs: Vec<(String, String)>) -> Response {
    let request = match authorize::validate(state.store.as_ref(), &state.config, &pairs).await {
        Ok(request) => request,
        Err(error) => return fail(state, headers, error),
    };
    let now = unix_now();
    let session = match signed_in(state, headers, now).await {
        Ok(session) => session,
        Err(error) => return redirect_error(state, &request, &error),
    };
    let too_old = |s: &SessionRecord| request.max_age.is_some_and(|max_age| now - s.auth_time > max_age);
    let (session, user) = match session {
        Some((session, user)) if !request.prompt.login && !too_old(&session) => (session, user),
        _ if request.prompt.none => {
            let error = OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in");
            return redirect_error(state, &request, &error);
        }
        _ => return login_redirect(state, &request, &pairs),
    };
    let decision = match consent::decide(state.store.as_ref(), &request, &user.id).await {
        Ok(decision) => decision,
        Err(error) => return redirect_error(state, &request, &OAuthError::from(error)),
    };
    match decision {
        consent::Decision::Issue { organization_id } => {
            issue_code(state, &request, &session, &user.id, &organization_id, now).await
        }
        consent::Decision::NoOrganization => {
            let error = OAuthError::new(
                ErrorCode::AccessDenied,
                "the user does not belong to any organization",
            );
            redirect_error(state, &request, &error)
        }
        consent::Decision::AskConsent { .. } if request.prompt.none => {
            let error = OAuthError::new(
                ErrorCode::ConsentRequired,
                "the user has not approved this request",
            );
            redirect_error(state, &request, &error)
        }
        consent::Decision::AskConsent { memberships } => consent_page(
            state,
            headers,
            &request,
            &user,
            &memberships,
            without_login_prompt(&pairs),
        ),
    }
}

async fn issue_code(
    state: &AppState,
    request: &AuthorizationRequest,
    session: &SessionRecord,
    user_id: &str,
    organization_id: &str,
    now: i64,
) -> Response {
    let issued = codes::issue(
        state.store.as_ref(),
        &state.config,
        request,
        user_id,
        organization_id,
        session.auth_time,
        now,
    )
    .await;
    match issued {
        Ok(code) => {
            let url = authorize::redirect_url(
                &request.redirect_uri,
                &state.config.issuer,
                Ok(code.expose()),
                request.state.as_deref(),
            );
            see_other(&url, None)
        }
        Err(error) => redirect_error(state, request, &OAuthError::from(error)),
    }
}

fn consent_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthorizationRequest,
    user: &UserRecord,
    memberships: &[consent::Membership],
    fields: Vec<(String, String)>,
) -> Response {
    let config = &state.config;
    let (csrf, set_csrf) = cookies::csrf_token(&state.form_key, config, headers);
    let brand = Brand::new(config);
    let scopes = request
        .scopes
        .iter()
        .map(|name| {
            let description = config
                .scope(name)
                .map(|s| s.description.clone())
                .unwrap_or_default();
            (name.to_owned(), description)
        })
        .collect();
    let page = ConsentPage {
        brand,
        action: config.paths.consent.clone(),
        csrf_token: csrf,
        app_name: request.client.name.clone(),
        app_description: request.client.description.clone(),
        app_homepage: request.client.homepage_url.clone(),
        app_logo: request.client.logo_url.clone(),
        user_name: user.name.clone(),
        user_email: user.email.clone(),
        scopes,
        fields,
        organizations: memberships
            .iter()
            .map(|m| (m.organization.id.clone(), m.organization.name.clone()))
            .collect(),
        tenant_word: config.branding.tenant_word.clone(),
    };
    render(config, StatusCode::OK, &page, &[set_csrf])
}

/// `POST` consent: the user's decision on the request the form carries.
pub async fn decide(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    if !cookies::csrf_matches(
        &state.form_key,
        &state.config,
        &headers,
        pair(&pairs, "csrf_token"),
    ) {
        let error =
            OAuthError::invalid_request("This form has expired. Go back, reload the page and try again.");
        return unverified_error(&state, &headers, &error);
    }
    let decision = pair(&pairs, "decision").unwrap_or_default().to_owned();
    let organization_id = pair(&pairs, "organization").unwrap_or_default().to_owned();
    let auth_pairs = without_login_prompt(&pairs);
    let request = match authorize::validate(state.store.as_ref(), &state.config, &auth_pairs).await {
        Ok(request) => request,
        Err(error) => return fail(&state, &headers, error),
    };
    let now = unix_now();
    let (session, user) = match signed_in(&state, &headers, now).await {
        Ok(Some(signed_in)) => signed_in,
        Ok(None) => return login_redirect(&state, &request, &auth_pairs),
        Err(error) => return redirect_error(&state, &request, &error),
    };
    match decision.as_str() {
        "approve" => {}
        "deny" => {
            let error = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
            return redirect_error(&state, &request, &error);
        }
        _ => {
            let error = OAuthError::invalid_request("decision must be approve or deny");
            return unverified_error(&state, &headers, &error);
        }
    }
    match consent::approve(state.store.as_ref(), &request, &user.id, &organization_id, now).await {
        Ok(true) => issue_code(&state, &request, &session, &user.id, &organization_id, now).await,
        Ok(false) => {
            let error = OAuthError::invalid_request("choose one of your organizations");
            unverified_error(&state, &headers, &error)
        }
        Err(error) => redirect_error(&state, &request, &OAuthError::from(error)),
    }
}
