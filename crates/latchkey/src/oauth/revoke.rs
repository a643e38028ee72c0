//! The token-reference request shared by revocation (RFC 7009 §2.1) and
//! introspection (RFC 7662 §2.1): `token`, an optional `token_type_hint`,
//! and the client's credentials. The token is a [`Secret`] from the moment
//! it is parsed.

use super::client_auth::ClientCredentials;
use super::error::OAuthError;
use super::params;
use crate::secret::Secret;

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
    pub token: Secret,
    pub hint: TokenHint,
}

/// Parses a revocation or introspection request. Unknown hints are
/// ignored, as RFC 7009 allows; repeated parameters are refused.
pub fn parse(pairs: &[(String, String)], authorization: Option<&str>) -> Result<TokenReference, OAuthError> {
    params::reject_repeated(pairs)?;
    let get = |name: &str| params::get(pairs, name);
    let credentials = ClientCredentials::from_request(authorization, get("client_id"), get("client_secret"))?;
    let token = get("token")
        .map(Secret::new)
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::params::owned as pairs;

    #[test]
    fn debug_output_shows_neither_the_token_nor_the_client_secret() {
        let reference = parse(
            &pairs(&[
                ("token", "refresh_sEcReT1"),
                ("token_type_hint", "refresh_token"),
                ("client_id", "c"),
                ("client_secret", "secret_sEcReT2"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(reference.token.expose(), "refresh_sEcReT1");
        assert_eq!(reference.hint, TokenHint::RefreshToken);
        let printed = format!("{reference:?}");
        assert!(!printed.contains("sEcReT"), "{printed}");
    }

    #[test]
    fn a_missing_token_is_an_invalid_request() {
        let error = parse(&pairs(&[("client_id", "c")]), None).unwrap_err();
        assert!(error.description.contains("token is required"));
    }
}
