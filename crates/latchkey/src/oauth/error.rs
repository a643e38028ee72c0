//! OAuth error codes (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7591 §3.2.2; RFC 8707 §2;
//! OpenID Connect Core §3.1.2.6) and the one error type protocol functions return.
//! The description is for the client; the cause, if any, is for the log.
//! Mapping to HTTP happens once, in `http/`.

use std::fmt;

/// Every error code Latchkey sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    /// RFC 8707 §2: the requested resource is invalid, missing, unknown,
    /// or malformed.
    InvalidTarget,
    AccessDenied,
    LoginRequired,
    ConsentRequired,
    InvalidToken,
    InsufficientScope,
    ServerError,
    /// RFC 6749 §4.1.2.1: the server cannot handle the request now (its
    /// database is unavailable); the client should retry later.
    TemporarilyUnavailable,
    /// RFC 7591 §3.2.2: a redirect URI of a registration is invalid.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: a client metadata field of a registration is invalid.
    InvalidClientMetadata,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol error: code, a description telling the client what to fix,
/// and an internal cause that only reaches the log.
#[derive(Debug)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    pub cause: Option<String>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            cause: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// The database is unwell: the client is told to retry shortly.
    pub fn temporarily_unavailable(cause: impl fmt::Display) -> Self {
        Self {
            code: ErrorCode::TemporarilyUnavailable,
            description: "the service is temporarily unavailable; retry in a few seconds".into(),
            cause: Some(cause.to_string()),
        }
    }

    /// An internal failure: the client sees a generic description.
    pub fn server_error(cause: impl fmt::Display) -> Self {
        Self {
            code: ErrorCode::ServerError,
            description: "internal error".into(),
            cause: Some(cause.to_string()),
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}

impl From<crate::store::StoreError> for OAuthError {
    fn from(error: crate::store::StoreError) -> Self {
        match error {
            crate::store::StoreError::Unavailable(_) => Self::temporarily_unavailable(error),
            crate::store::StoreError::Conflict
            | crate::store::StoreError::MissingReference
            | crate::store::StoreError::Backend(_) => Self::server_error(error),
        }
    }
}

impl From<crate::keys::KeyError> for OAuthError {
    fn from(error: crate::keys::KeyError) -> Self {
        match error {
            // A key made by another instance or the CLI for an algorithm a
            // client just asked for reaches this ring at its next reload.
            crate::keys::KeyError::NoActiveKey(_) => Self::temporarily_unavailable(error),
            _ => Self::server_error(error),
        }
    }
}

impl From<latchkey_verify::GuardError> for OAuthError {
    fn from(error: latchkey_verify::GuardError) -> Self {
        use latchkey_verify::GuardError;
        match error {
            GuardError::Missing => Self::new(ErrorCode::InvalidToken, "no access token was sent"),
            GuardError::InvalidToken(description) => Self::new(ErrorCode::InvalidToken, description),
            GuardError::InsufficientScope(scope) => Self::new(
                ErrorCode::InsufficientScope,
                format!("this request needs the {scope} scope"),
            ),
            GuardError::Unavailable => Self::temporarily_unavailable("the token check is unavailable"),
        }
    }
}
