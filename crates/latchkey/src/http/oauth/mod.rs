//! The protocol endpoints over HTTP: authorization (with the consent form
//! it renders and receives), token, userinfo, revocation and
//! introspection, and dynamic client registration. This module owns the one
//! mapping of [`OAuthError`] to HTTP.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::oauth::error::{ErrorCode, OAuthError};

pub mod authorize;
pub mod register;
pub mod revoke;
pub mod token;
pub mod userinfo;

/// The name/value pairs of a token, revocation or introspection request:
/// a form body (RFC 6749 §3.2), or a JSON object of strings.
pub fn body_pairs(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-www-form-urlencoded" => Ok(crate::http::form_pairs(body)),
        "application/json" => crate::http::json_pairs(body),
        _ => Err(OAuthError::invalid_request(
            "send the request as application/x-www-form-urlencoded or application/json",
        )),
    }
}

/// What a 503 asks clients to wait before retrying.
pub const RETRY_AFTER_SECONDS: &str = "5";

/// RFC 6749 §5.2, RFC 6750 §3.1: the status of each error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::InvalidRequest
        | ErrorCode::InvalidGrant
        | ErrorCode::UnauthorizedClient
        | ErrorCode::UnsupportedGrantType
        | ErrorCode::UnsupportedResponseType
        | ErrorCode::InvalidScope
        | ErrorCode::InvalidTarget
        | ErrorCode::AccessDenied
        | ErrorCode::LoginRequired
        | ErrorCode::ConsentRequired
        | ErrorCode::InvalidRedirectUri
        | ErrorCode::InvalidClientMetadata => StatusCode::BAD_REQUEST,
    }
}

/// Logs the cause of an internal error; never sends it.
pub fn log_cause(error: &OAuthError) {
    if let Some(cause) = &error.cause {
        tracing::error!(code = %error.code, %cause, "request failed");
    }
}

/// `{"error", "error_description"}` with `Cache-Control: no-store`, and
/// `WWW-Authenticate: Basic` for `invalid_client` when Basic was tried.
pub fn json_error(error: &OAuthError, basic_attempted: bool) -> Response {
    log_cause(error);
    let body = serde_json::json!({"error": error.code.as_str(), "error_description": error.description});
    let mut response = crate::http::json_response(status_of(error.code), &body);
    let headers = response.headers_mut();
    no_store(headers);
    if error.code == ErrorCode::TemporarilyUnavailable {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    }
    if error.code == ErrorCode::InvalidClient && basic_attempted {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"latchkey\""),
        );
    }
    response
}

pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A JSON body with `Cache-Control: no-store`.
pub fn json_no_store(body: &impl serde::Serialize) -> Response {
    let mut response = crate::http::json_response(StatusCode::OK, body);
    no_store(response.headers_mut());
    response
}

/// RFC 6750 §3: the bearer challenge; bare when no token was sent.
pub fn bearer_error(error: Option<&OAuthError>) -> Response {
    let Some(error) = error else {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    };
    log_cause(error);
    let challenge = latchkey_verify::Challenge::bearer();
    let challenge = match error.code {
        ErrorCode::InsufficientScope => challenge
            .error(error.code.as_str(), &error.description)
            .scope("openid"),
        ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable => challenge,
        _ => challenge.error(error.code.as_str(), &error.description),
    };
    let mut response = json_error(error, false);
    if let Some(value) = challenge.header_value() {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        json_error(&self, false)
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// A content type: one of the two accepted media types in any letter
    /// case, possibly with parameters, or any visible ASCII text.
    fn content_type() -> impl Strategy<Value = String> {
        let known = (
            prop_oneof![
                Just("application/x-www-form-urlencoded"),
                Just("application/json")
            ],
            vec(any::<bool>(), 33),
            "( ?; ?[ -~]{0,16})?",
        )
            .prop_map(|(media, upper, parameters)| {
                let cased: String = media
                    .chars()
                    .zip(upper)
                    .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                    .collect();
                format!("{cased}{parameters}")
            });
        prop_oneof![known, "[ -~]{0,40}"]
    }

    proptest! {
        #[test]
        fn body_pairs_follow_the_media_type(content_type in content_type(), body in vec(any::<u8>(), 0..128)) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                headers.insert(header::CONTENT_TYPE, value);
            }
            let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            let parsed = body_pairs(&headers, &body).ok();
            match media_type.as_str() {
                "application/x-www-form-urlencoded" => prop_assert_eq!(parsed, Some(crate::http::form_pairs(&body))),
                "application/json" => prop_assert_eq!(parsed, crate::http::json_pairs(&body).ok()),
                _ => prop_assert_eq!(parsed, None),
            }
        }
    }
}
