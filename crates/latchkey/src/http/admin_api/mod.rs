//! The admin API (SPEC 10) under `/api/v1/admin`: operators manage clients,
//! users, organizations and memberships with an `x-admin-api-key` header.
//! JSON in and out; every answer is `{"success": true, "data", "message"?}`
//! or `{"success": false, "error": {"code", "message"}}`. This module owns
//! the wire shapes and the one mapping from domain errors to statuses; the
//! rules live in `clients` and `accounts`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{AppState, json_response};
use crate::accounts::{self, AccountError};
use crate::clients::ClientError;
use crate::store::StoreError;

mod accounts_api;
mod approvals_api;
mod clients_api;
mod initial_access_api;

const OPENAPI: &str = include_str!("openapi.json");

pub fn router(state: AppState) -> Router<AppState> {
    let protected = Router::new()
        .route("/oauth-clients", post(clients_api::create).get(clients_api::list))
        .route(
            "/oauth-clients/{client_id}",
            get(clients_api::show)
                .patch(clients_api::update)
                .delete(clients_api::delete),
        )
        .route(
            "/oauth-clients/{client_id}/rotate-secret",
            post(clients_api::rotate_secret),
        )
        .route("/oauth-clients/{client_id}/disable", post(clients_api::disable))
        .route("/oauth-clients/{client_id}/enable", post(clients_api::enable))
        .route(
            "/oauth-clients/{client_id}/scopes/{scope}/approve",
            post(approvals_api::approve),
        )
        .route(
            "/oauth-clients/{client_id}/scopes/{scope}/deny",
            post(approvals_api::deny),
        )
        .route("/scope-approvals", get(approvals_api::list))
        .route(
            "/initial-access-tokens",
            post(initial_access_api::create).get(initial_access_api::list),
        )
        .route(
            "/initial-access-tokens/{token_id}",
            axum::routing::delete(initial_access_api::revoke),
        )
        .route(
            "/users",
            post(accounts_api::create_user).get(accounts_api::list_users),
        )
        .route(
            "/users/{user_id}",
            get(accounts_api::show_user).delete(accounts_api::delete_user),
        )
        .route(
            "/users/{user_id}/second-factors",
            axum::routing::delete(accounts_api::reset_second_factors),
        )
        .route(
            "/users/{user_id}/memberships",
            get(accounts_api::list_user_memberships),
        )
        .route(
            "/users/{user_id}/connected-apps",
            get(accounts_api::list_connected_apps),
        )
        .route(
            "/users/{user_id}/connected-apps/{organization_id}/{client_id}",
            axum::routing::delete(accounts_api::revoke_connected_app),
        )
        .route("/audit-events", get(accounts_api::list_audit_events))
        .route(
            "/organizations/{organization_id}/api-keys",
            post(accounts_api::create_api_key).get(accounts_api::list_api_keys),
        )
        .route(
            "/organizations/{organization_id}/api-keys/{key_id}",
            axum::routing::delete(accounts_api::revoke_api_key),
        )
        .route(
            "/organizations",
            post(accounts_api::create_organization).get(accounts_api::list_organizations),
        )
        .route(
            "/organizations/{organization_id}",
            get(accounts_api::show_organization)
                .patch(accounts_api::update_organization)
                .delete(accounts_api::delete_organization),
        )
        .route(
            "/organizations/{organization_id}/members",
            post(accounts_api::add_member).get(accounts_api::list_members),
        )
        .route(
            "/organizations/{organization_id}/members/{user_id}",
            axum::routing::put(accounts_api::set_member_role).delete(accounts_api::remove_member),
        )
        .route_layer(axum::middleware::from_fn_with_state(state, require_admin_key));
    Router::new()
        .route("/openapi.json", get(openapi))
        .merge(protected)
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such admin API endpoint")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not accept that method",
            )
        })
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Refuses requests without a valid `x-admin-api-key`. Every answer to an
/// authenticated request holds account data, so none may be cached.
async fn require_admin_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(presented) = request.headers().get("x-admin-api-key") else {
        return ApiError::unauthorized("missing x-admin-api-key header").into_response();
    };
    let presented = presented.to_str().unwrap_or_default();
    match accounts::is_admin_key(state.store.as_ref(), &state.config.admin_api_keys, presented).await {
        Ok(true) => {
            let mut response = next.run(request).await;
            crate::http::oauth::no_store(response.headers_mut());
            response
        }
        Ok(false) => ApiError::unauthorized("invalid admin API key").into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// An admin API error: status, stable code, and a message saying what to fix.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub(crate) fn validation(field: &'static str, message: String) -> Self {
        Self {
            field: Some(field),
            ..Self::new(StatusCode::BAD_REQUEST, "validation_failed", message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({"code": self.code, "message": self.message});
        if let Some(field) = self.field {
            error["field"] = field.into();
        }
        let mut response = json_response(
            self.status,
            &serde_json::json!({"success": false, "error": error}),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(crate::http::oauth::RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "a record with the same unique value exists",
            ),
            StoreError::MissingReference => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "a referenced record does not exist",
            ),
            StoreError::Unavailable(cause) => {
                tracing::error!(error = %cause, "admin API storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the database is temporarily unavailable; retry in a few seconds",
                )
            }
            StoreError::Backend(cause) => {
                tracing::error!(error = %cause, "admin API storage failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error",
                )
            }
        }
    }
}

impl From<crate::keys::KeyError> for ApiError {
    fn from(error: crate::keys::KeyError) -> Self {
        match error {
            crate::keys::KeyError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "signing key creation failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error",
                )
            }
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Invalid { field, message } => Self::validation(field, message),
            ClientError::NotFound(_) | ClientError::NoScopeRequest { .. } => {
                Self::new(StatusCode::NOT_FOUND, "not_found", error.to_string())
            }
            ClientError::Store(e) => e.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Invalid { field, message } => Self::validation(field, message),
            AccountError::NotFound(message) => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            AccountError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            AccountError::Hashing => {
                tracing::error!("password hashing failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error",
                )
            }
            AccountError::HashingBusy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "password hashing is at capacity; retry in a few seconds",
            ),
            AccountError::Store(e) => e.into(),
        }
    }
}

/// `{"success": true, "data": …}` with an optional message.
pub fn success(status: StatusCode, data: impl Serialize, message: Option<&str>) -> Response {
    let mut body = serde_json::json!({"success": true, "data": data});
    if let Some(message) = message {
        body["message"] = message.into();
    }
    json_response(status, &body)
}

/// [`success`] for an answer that carries a plaintext secret shown only
/// once (a client secret, an API key): `Cache-Control: no-store` and
/// `Pragma: no-cache` keep it out of every cache on the way.
pub fn success_with_secret(status: StatusCode, data: impl Serialize, message: Option<&str>) -> Response {
    let mut response = success(status, data, message);
    crate::http::oauth::no_store(response.headers_mut());
    response
}

/// A JSON request body whose every failure — wrong content type, oversize,
/// malformed, wrong types, unknown or missing fields — is an [`ApiError`]
/// naming the problem and the field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("the request body is larger than {} bytes", super::MAX_BODY_BYTES),
                )
            } else {
                ApiError::bad_request("the request body could not be read")
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Every admin API body is a JSON object. Refused here, before the typed
/// parse: serde would otherwise read an array as a struct's fields in
/// order, and an empty array as a struct whose fields are all optional.
fn require_object(bytes: &[u8]) -> Result<(), ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return Ok(());
    }
    let found = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Array(_)) => "an array",
        Ok(serde_json::Value::String(_)) => "a string",
        Ok(serde_json::Value::Number(_)) => "a number",
        Ok(serde_json::Value::Bool(_)) => "a boolean",
        Ok(serde_json::Value::Null) => "null",
        Ok(serde_json::Value::Object(_)) => return Ok(()),
        Err(_) if first.is_none() => "an empty body",
        Err(error) => return Err(ApiError::bad_request(format!("invalid JSON body: {error}"))),
    };
    Err(ApiError::bad_request(format!(
        "invalid JSON body: expected a JSON object, found {found}"
    )))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if has_escaped_nul(bytes) {
        // PostgreSQL can neither store nor compare text with a NUL.
        return Err(ApiError::bad_request(
            "invalid JSON body: text must not contain the NUL character (\\u0000)",
        ));
    }
    require_object(bytes)?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." || path.is_empty() {
            ApiError::bad_request(format!("invalid JSON body: {inner}"))
        } else {
            ApiError::bad_request(format!("invalid JSON body at `{path}`: {inner}"))
        }
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::bad_request(format!("invalid JSON body: {error}")))?;
    Ok(value)
}

/// Whether JSON text holds a NUL character, which inside a string can only
/// be written `\u0000` (any other escape is skipped whole, so `\\u0000`
/// is not one). A raw NUL byte counts too, though JSON refuses it anyway.
fn has_escaped_nul(bytes: &[u8]) -> bool {
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            0 => return true,
            b'\\' if bytes.get(at + 1) == Some(&b'u') => {
                if bytes.get(at + 2..at + 6) == Some(b"0000".as_slice()) {
                    return true;
                }
                at += 2;
            }
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
    false
}

/// A path parameter whose rejection (e.g. bad percent-encoding) is an
/// [`ApiError`] rather than axum's plain-text default.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // No id holds a NUL, and PostgreSQL could not even look one up.
        if parts.uri.path().contains("%00") {
            return Err(ApiError::bad_request(
                "invalid path: it must not contain the NUL character (%00)",
            ));
        }
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection| ApiError::bad_request(format!("invalid path: {}", rejection.body_text())))
    }
}

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`)
/// or a value, for partial updates that can clear a field.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// RFC 3339 form of a Unix time.
pub(crate) fn timestamp(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        name: String,
        uris: Vec<String>,
    }

    #[test]
    fn a_nul_anywhere_in_a_json_string_is_found() {
        for text in [r#"{"name":"\u0000"}"#, r#"{"a\u0000":1}"#, "{\"name\":\"a\0\"}"] {
            assert!(has_escaped_nul(text.as_bytes()), "{text}");
        }
        for text in [
            r#"{"name":"\\u0000"}"#,
            r#"{"name":"\u00001"}"#,
            r#"{"name":"\u0001"}"#,
        ] {
            assert_eq!(
                has_escaped_nul(text.as_bytes()),
                text.contains("u00001"),
                "{text}"
            );
        }
        let error = parse_json::<Sample>(br#"{"name":"\u0000","uris":[]}"#).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }

    proptest! {
        #[test]
        fn a_nul_is_found_exactly_when_the_parsed_text_has_one(name in any::<String>(), uris in proptest::collection::vec(any::<String>(), 0..3)) {
            let body = serde_json::to_vec(&Sample { name: name.clone(), uris: uris.clone() }).unwrap_or_default();
            let has_nul = name.contains('\0') || uris.iter().any(|u| u.contains('\0'));
            prop_assert_eq!(has_escaped_nul(&body), has_nul);
        }

        #[test]
        fn bodies_parse_back_to_the_value_they_encode(
            name in any::<String>(),
            uris in proptest::collection::vec(any::<String>(), 0..4),
            trailing_space in "[ \t\r\n]{0,3}",
        ) {
            let sample = Sample { name, uris };
            let mut body = serde_json::to_vec(&sample).unwrap_or_default();
            body.extend_from_slice(trailing_space.as_bytes());
            prop_assert_eq!(parse_json::<Sample>(&body).ok(), Some(sample));
        }

        #[test]
        fn any_body_is_parsed_or_refused_as_a_bad_request(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Err(error) = parse_json::<Sample>(&bytes) {
                prop_assert_eq!(error.status, StatusCode::BAD_REQUEST);
                prop_assert!(error.message.starts_with("invalid JSON body"));
            }
        }
    }

    #[test]
    fn parse_errors_name_the_field() {
        let error = parse_json::<Sample>(br#"{"name": "x", "uris": [1]}"#).unwrap_err();
        assert!(error.message.contains("uris[0]"), "{}", error.message);
        let error = parse_json::<Sample>(br#"{"name": "x", "uris": [], "extra": 1}"#).unwrap_err();
        assert!(error.message.contains("extra"), "{}", error.message);
        let error = parse_json::<Sample>(br#"{"name": "x"}"#).unwrap_err();
        assert!(error.message.contains("uris"), "{}", error.message);
        let error = parse_json::<Sample>(br#"{"name": "x", "uris": []} trailing"#).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct AllOptional {
        #[serde(default)]
        name: Option<String>,
    }

    #[test]
    fn only_objects_are_bodies() {
        for (body, found) in [
            (&b"[]"[..], "an array"),
            (b" [\"renamed\"]", "an array"),
            (b"\"x\"", "a string"),
            (b"5", "a number"),
            (b"true", "a boolean"),
            (b"null", "null"),
            (b"  ", "an empty body"),
        ] {
            let error = parse_json::<AllOptional>(body).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert!(
                error.message.contains("expected a JSON object") && error.message.contains(found),
                "{}",
                error.message
            );
        }
        assert!(parse_json::<AllOptional>(b" {} ").is_ok());
        let error = parse_json::<AllOptional>(b"[oops").unwrap_err();
        assert!(
            error.message.starts_with("invalid JSON body"),
            "{}",
            error.message
        );
    }
}
