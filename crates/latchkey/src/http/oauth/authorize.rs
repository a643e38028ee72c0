//! The authorization endpoint (GET and POST form) and the consent form it
//! renders and receives. The request is validated by
//! [`crate::oauth::authorize`]; what happens next (sign in, ask, issue,
//! refuse) is decided by [`crate::grants::flow`]; this file turns each step
//! into a page or a redirect.

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use url::form_urlencoded;

use crate::grants::codes;
use crate::grants::consent::Membership;
use crate::grants::flow::{self, Answer, Step};
use crate::http::pages::extract::{CsrfForm, SignedIn};
use crate::http::pages::see_other;
use crate::http::pages::{AuthorizeErrorPage, Brand, ConsentPage, error_page, render, scope_views};
use crate::http::rate_limit::{Endpoint, too_many_requests};
use crate::http::{AppState, cookies, form_pairs, json_response};
use crate::oauth::authorize::{self, AuthorizationRequest, AuthorizeError};
use crate::oauth::error::{ErrorCode, OAuthError};
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
    let pairs = crate::http::query_pairs(query);
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

async fn authorize(state: &AppState, headers: &HeaderMap, pairs: Vec<(String, String)>) -> Response {
    let validated = authorize::validate(
        state.store.as_ref(),
        &state.config,
        &state.url_clients,
        &pairs,
        unix_now(),
    )
    .await;
    let request = match validated {
        Ok(request) => request,
        Err(error) => return fail(state, headers, error),
    };
    let signed_in = match SignedIn::resume(state, headers).await {
        Ok(signed_in) => signed_in,
        Err(error) => return redirect_error(state, &request, &OAuthError::from(error)),
    };
    let session = signed_in.as_ref().map(|s| &s.session);
    let factors = flow::Factors {
        passkeys: state.relying_party.is_some(),
    };
    let step = flow::next_step(state.store.as_ref(), &request, session, factors, unix_now()).await;
    respond(state, headers, &request, signed_in.as_ref(), step, &pairs).await
}

/// `POST` consent: the user's answer on the request the form carries. A
/// browser whose session ended signs in and comes back to the request.
pub async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<SignedIn>,
    form: CsrfForm,
) -> Response {
    let pairs = without_login_prompt(&form.0);
    let validated = authorize::validate(
        state.store.as_ref(),
        &state.config,
        &state.url_clients,
        &pairs,
        unix_now(),
    )
    .await;
    let request = match validated {
        Ok(request) => request,
        Err(error) => return fail(&state, &headers, error),
    };
    let Some(answer) = Answer::from_form(form.text("decision"), form.text("organization")) else {
        let message = "The form was not sent as shown: choose Approve or Deny on the page.";
        return error_page(&state.config, StatusCode::BAD_REQUEST, "invalid_request", message);
    };
    let session = signed_in.as_ref().map(|s| &s.session);
    let step = flow::answer(state.store.as_ref(), &request, session, answer, unix_now()).await;
    respond(&state, &headers, &request, signed_in.as_ref(), step, &pairs).await
}

/// The page or redirect for a step of the flow.
async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthorizationRequest,
    signed_in: Option<&SignedIn>,
    step: Step,
    pairs: &[(String, String)],
) -> Response {
    match (step, signed_in) {
        (Step::Refuse(error), _) => redirect_error(state, request, &error),
        (Step::Issue { organization_id }, Some(signed_in)) => {
            issue_code(state, request, signed_in, &organization_id).await
        }
        (
            Step::AskConsent {
                memberships,
                preselected,
            },
            Some(signed_in),
        ) => {
            let fields = without_login_prompt(pairs);
            let choice = (memberships.as_slice(), preselected.as_deref());
            consent_page(state, headers, request, signed_in, choice, fields)
        }
        // Issuing and asking need a user; the flow asks for one first.
        (Step::SignIn | Step::Issue { .. } | Step::AskConsent { .. }, _) => {
            login_redirect(state, request, pairs)
        }
    }
}

/// The page (or JSON) for errors that must not redirect.
fn unverified_error(
    state: &AppState,
    headers: &HeaderMap,
    error: &OAuthError,
    app_name: Option<&str>,
) -> Response {
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
    let page = AuthorizeErrorPage::new(&state.config, error, app_name);
    let mut response = render(&state.config, status, &page, &[]);
    if error.code == ErrorCode::TemporarilyUnavailable {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static(crate::http::oauth::RETRY_AFTER_SECONDS),
        );
    }
    response
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
        AuthorizeError::Page { error, app_name } => {
            unverified_error(state, headers, &error, app_name.as_deref())
        }
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

/// The authorization parameters without the consent form's own fields,
/// without `login` in `prompt` and without `max_age`, so the request can
/// resume after the sign-in it asked for (which satisfied both) without
/// asking again.
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

async fn issue_code(
    state: &AppState,
    request: &AuthorizationRequest,
    signed_in: &SignedIn,
    organization_id: &str,
) -> Response {
    let issued = codes::issue(
        state.store.as_ref(),
        &state.config,
        request,
        &signed_in.session,
        organization_id,
        unix_now(),
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

/// Where the browser goes after the answer, as people read it: the
/// redirect URI's host (with a port other than the default), or the whole
/// URI when it has no host (an app's own scheme).
fn destination(redirect_uri: &str) -> String {
    let Ok(url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => redirect_uri.to_owned(),
    }
}

fn consent_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthorizationRequest,
    signed_in: &SignedIn,
    (memberships, preselected): (&[Membership], Option<&str>),
    fields: Vec<(String, String)>,
) -> Response {
    let config = &state.config;
    let (csrf, set_csrf) = cookies::csrf_token(&state.form_key, config, headers);
    let client = &request.client;
    let page = ConsentPage {
        brand: Brand::new(config),
        action: config.paths.consent.clone(),
        csrf_token: csrf,
        app_name: client.name.clone(),
        app_description: client.description.clone(),
        app_homepage: client.homepage_url.clone(),
        app_logo: client.logo_url.clone(),
        user_name: signed_in.user.name.clone(),
        user_email: signed_in.user.email.clone(),
        scopes: scope_views(config, &request.scopes.to_vec()),
        resources: request
            .resources
            .iter()
            .filter_map(|identifier| config.resources.by_identifier(identifier))
            .map(|resource| (resource.name.clone(), resource.host()))
            .collect(),
        destination: destination(&request.redirect_uri),
        unverified: !client.origin.is_verified(),
        unverified_host: crate::clients::metadata_document::display_host(&client.client_id),
        fields,
        organizations: memberships
            .iter()
            .map(|m| (m.organization.id.clone(), m.organization.name.clone()))
            .collect(),
        preselected: preselected.map(str::to_owned),
        tenant_word: config.branding.tenant_word.clone(),
    };
    render(config, StatusCode::OK, &page, &[set_csrf])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_destination_is_the_redirect_uris_host() {
        assert_eq!(
            destination("https://yourapp.com/oauth/callback?x=1"),
            "yourapp.com"
        );
        assert_eq!(destination("http://localhost:3000/cb"), "localhost:3000");
        assert_eq!(destination("https://yourapp.com:443/cb"), "yourapp.com");
        assert_eq!(
            destination("com.example.app:/callback"),
            "com.example.app:/callback"
        );
    }

    #[test]
    fn resumed_requests_keep_organization_id_and_drop_the_form_fields() {
        let pairs = crate::oauth::params::owned(&[
            ("client_id", "c"),
            ("organization_id", "o"),
            ("organization", "p"),
            ("csrf_token", "t"),
            ("decision", "approve"),
            ("prompt", "login consent"),
            ("max_age", "0"),
        ]);
        let kept = without_login_prompt(&pairs);
        assert_eq!(
            kept,
            crate::oauth::params::owned(&[
                ("client_id", "c"),
                ("organization_id", "o"),
                ("prompt", "consent")
            ])
        );
    }
}
