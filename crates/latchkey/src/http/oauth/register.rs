//! Dynamic client registration over HTTP: `POST` on the registration
//! endpoint (RFC 7591 §3), and `GET`, `PUT`, `DELETE` on each registered
//! client's configuration endpoint below it (RFC 7592 §2), authenticated by
//! the registration access token. Routed only when
//! `oauth.dynamic_client_registration` is not `off`. The rules are
//! `clients::registration`'s; this module owns the JSON shapes.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{bearer_error, json_error, no_store};
use crate::clients::registration::{self, GRANT_TYPES, Metadata, RESPONSE_TYPES};
use crate::config::Config;
use crate::http::AppState;
use crate::http::rate_limit::{Endpoint, too_many_requests};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::secret::Secret;
use crate::store::{ClientRecord, RegistrationRecord};
use crate::unix_now;

/// `POST` on the registration endpoint: 201 with the client information.
pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = unix_now();
    let ip = state.rate_limiter.client_ip(peer, &headers);
    if let Err(retry_after) = state.rate_limiter.check(Endpoint::Register, &ip.to_string(), now) {
        return too_many_requests(retry_after);
    }
    let outcome = async {
        let metadata = metadata(&headers, &body)?;
        let registered = registration::register(
            state.store.as_ref(),
            &state.config,
            metadata,
            bearer(&headers),
            now,
        )
        .await?;
        ensure_alg_key(&state, &registered.client, now).await?;
        Ok::<_, OAuthError>(information(
            &state.config,
            &registered.client,
            &registered.registration,
            registered.client_secret.as_ref(),
            &registered.registration_access_token,
        ))
    }
    .await;
    respond(StatusCode::CREATED, outcome)
}

/// `GET` on a client's configuration endpoint (RFC 7592 §2.1).
pub async fn read(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let outcome = async {
        let (token, client, registration) = authorized(&state, path, &headers).await?;
        Ok(information(&state.config, &client, &registration, None, &token))
    }
    .await;
    respond(StatusCode::OK, outcome)
}

/// `PUT` on a client's configuration endpoint (RFC 7592 §2.2): the new
/// metadata replaces the old.
pub async fn update(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = unix_now();
    let outcome = async {
        let (token, client, registration) = authorized(&state, path, &headers).await?;
        let metadata = metadata(&headers, &body)?;
        let (client, registration) = registration::update(
            state.store.as_ref(),
            &state.config,
            client,
            registration,
            metadata,
            now,
        )
        .await?;
        ensure_alg_key(&state, &client, now).await?;
        Ok(information(&state.config, &client, &registration, None, &token))
    }
    .await;
    respond(StatusCode::OK, outcome)
}

/// `DELETE` on a client's configuration endpoint (RFC 7592 §2.3): 204.
pub async fn delete(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let outcome = async {
        let (_, client, _) = authorized(&state, path, &headers).await?;
        registration::delete(state.store.as_ref(), &client, unix_now()).await
    }
    .await;
    match outcome {
        Ok(()) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            no_store(response.headers_mut());
            response
        }
        Err(error) => error_response(&error),
    }
}

fn respond(status: StatusCode, outcome: Result<Value, OAuthError>) -> Response {
    match outcome {
        Ok(body) => {
            let mut response = crate::http::json_response(status, &body);
            no_store(response.headers_mut());
            response
        }
        Err(error) => error_response(&error),
    }
}

/// `invalid_token` with its bearer challenge (RFC 6750 §3); the other
/// errors as at the token endpoint.
fn error_response(error: &OAuthError) -> Response {
    if error.code == ErrorCode::InvalidToken {
        bearer_error(Some(error))
    } else {
        json_error(error, false)
    }
}

/// The bearer token of `Authorization: Bearer …`, if the request has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The registration access token and the client it opens.
async fn authorized(
    state: &AppState,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
) -> Result<(Secret, ClientRecord, RegistrationRecord), OAuthError> {
    let refused = || OAuthError::new(ErrorCode::InvalidToken, "no such client registration");
    let Ok(Path(client_id)) = path else {
        return Err(refused());
    };
    // No client id holds a NUL, and PostgreSQL could not even look one up.
    if client_id.contains('\0') {
        return Err(refused());
    }
    let presented = bearer(headers);
    let (client, registration) = registration::authorize(state.store.as_ref(), &client_id, presented).await?;
    let token = Secret::new(presented.unwrap_or_default());
    Ok((token, client, registration))
}

/// The metadata of a JSON object body (RFC 7591 §3.1); anything else is
/// `invalid_client_metadata`.
fn metadata(headers: &HeaderMap, body: &[u8]) -> Result<Metadata, OAuthError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media_type.is_some_and(|m| m != "application/json") {
        return Err(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "send the client metadata as a JSON object with Content-Type: application/json",
        ));
    }
    let object: Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
        OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            format!("the body must be a JSON object of client metadata: {e}"),
        )
    })?;
    Metadata::from_json(&object)
}

/// An ID token algorithm the client asked for gets a signing key if it
/// has none yet, as for clients the operator registers.
async fn ensure_alg_key(state: &AppState, client: &ClientRecord, now: i64) -> Result<(), OAuthError> {
    if let Some(alg) = client.id_token_signed_response_alg {
        state.keys.ensure(state.store.as_ref(), &[alg], now).await?;
    }
    Ok(())
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3): the
/// registered metadata, the secret when just issued, and the registration
/// access token with the client's configuration endpoint.
fn information(
    config: &Config,
    client: &ClientRecord,
    registration: &RegistrationRecord,
    client_secret: Option<&Secret>,
    registration_access_token: &Secret,
) -> Value {
    let mut body = json!({
        "client_id": client.client_id,
        "client_id_issued_at": registration.created_at,
        "client_name": client.name,
        "redirect_uris": client.redirect_uris,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": GRANT_TYPES,
        "response_types": RESPONSE_TYPES,
        "scope": client.allowed_scopes.join(" "),
        "registration_access_token": registration_access_token.expose(),
        "registration_client_uri": config.url(&format!("{}/{}", config.paths.register, client.client_id)),
    });
    let optional = [
        ("client_uri", client.homepage_url.as_deref()),
        ("logo_uri", client.logo_url.as_deref()),
        ("software_id", registration.software_id.as_deref()),
        ("software_version", registration.software_version.as_deref()),
        (
            "id_token_signed_response_alg",
            client.id_token_signed_response_alg.map(|alg| alg.as_str()),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            body[name] = value.into();
        }
    }
    if let Some(secret) = client_secret {
        body["client_secret"] = secret.expose().into();
    }
    if client.secret_digest.is_some() {
        // RFC 7591 §3.2.1: 0 — the secret does not expire.
        body["client_secret_expires_at"] = 0.into();
    }
    body
}
