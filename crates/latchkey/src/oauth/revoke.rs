//! The token-reference request shared by revocation (RFC 7009 §2.1) and
//! introspection (RFC 7662 §2.1): `token`, an optional `token_type_hint`,
//! and the client's credentials.

use super::client_auth::ClientCredentials;
use super::error::OAuthError;
use super::params;

/// What the client says the token is; only a hint (RFC 7009 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenHint {
    AccessToken,
    RefreshToken,
    Unknown,
}

#[derive(Debug, Clone)]
pub struct TokenReference {
    pub credentials: ClientCredentials,
    pub token: String,
    pub hint: TokenHint,
}

/// Parses a revocation or introspection request. Unknown hints are
/// ignored, as RFC 7009 allows; repeated parameters are refused.
pub fn parse(pairs: &[(String, String)], authorization: Option<&str>) -> Result<TokenReference, OAuthError> {
    params::reject_repeated(pairs)?;
    let get = |name: &str| params::get(pairs, name);
    let credentials = ClientCredentials::from_request(authorization, get("client_id"), get("client_secret"))?;
    let token = get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?
        .to_owned();
    let hint = match get("token_type_hint") {
        Some("access_token") => TokenHint::AccessToken,
        Some("refresh_token") => TokenHint::RefreshToken,
        _ => TokenHint::Unknown,
    };
    Ok(TokenReference {
        credentials,
        token,
        hint,
    })
}
