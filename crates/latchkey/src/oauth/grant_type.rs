//! The grant types a client may be allowed (RFC 7591 §2 `grant_types`):
//! the user flows (`authorization_code`, `refresh_token`) every client had
//! before the list existed, and `client_credentials` (RFC 6749 §4.4), for
//! confidential clients acting for their own organization. The token
//! endpoint refuses a grant type the client is not allowed with
//! `unauthorized_client` (RFC 6749 §5.2).

use std::fmt;

use super::error::{ErrorCode, OAuthError};
use crate::store::ClientRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    /// Every grant type, in the order lists show them.
    pub const ALL: [Self; 3] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
    ];

    /// What a client is allowed when nothing is said: the user flows.
    pub const DEFAULT: [Self; 2] = [Self::AuthorizationCode, Self::RefreshToken];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }

    /// `authorization_code, refresh_token or client_credentials`, for messages.
    pub fn names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|g| g.as_str()).collect();
        format!(
            "{} or {}",
            names[..names.len() - 1].join(", "),
            names[names.len() - 1]
        )
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 6749 §5.2 `unauthorized_client`: the authenticated client is not
/// authorized to use this grant type.
pub fn require_allowed(client: &ClientRecord, grant_type: GrantType) -> Result<(), OAuthError> {
    if client.grant_types.contains(&grant_type) {
        return Ok(());
    }
    Err(OAuthError::new(
        ErrorCode::UnauthorizedClient,
        format!(
            "this client is not allowed grant_type={grant_type}; an administrator can allow it in the client's grant types"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_types_parse_back_from_their_names() {
        for grant_type in GrantType::ALL {
            assert_eq!(GrantType::parse(grant_type.as_str()), Some(grant_type));
        }
        assert_eq!(GrantType::parse("password"), None);
        assert_eq!(
            GrantType::names(),
            "authorization_code, refresh_token or client_credentials"
        );
    }
}
