//! The token request (RFC 6749 §4.1.3, §6) and response (§5.1): parsing
//! name/value pairs from a form or JSON body into a typed request, refusing
//! repeated parameters, and the response shape. Codes, verifiers and
//! tokens are [`Secret`]s from the moment they are parsed, so neither the
//! request nor the response can print them.

use serde::Serialize;

use super::client_auth::ClientCredentials;
use super::error::{ErrorCode, OAuthError};
use super::grant_type::GrantType;
use super::params;
use crate::secret::{Secret, serialize_exposed, serialize_exposed_option};

/// The grant the client presents.
#[derive(Debug, Clone)]
pub enum GrantRequest {
    AuthorizationCode {
        code: Secret,
        redirect_uri: Option<String>,
        code_verifier: Option<Secret>,
    },
    RefreshToken {
        refresh_token: Secret,
        scope: Option<String>,
    },
    /// RFC 6749 §4.4.2.
    ClientCredentials { scope: Option<String> },
}

impl GrantRequest {
    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::ClientCredentials { .. } => GrantType::ClientCredentials,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub credentials: ClientCredentials,
    pub grant: GrantRequest,
    /// The `resource` values (RFC 8707 §2.2), for any grant type; the
    /// rules are [`super::resource::for_token`]'s.
    pub resources: Vec<String>,
}

/// RFC 6749 §5.1, and OpenID Connect Core §3.1.3.3 for `id_token`.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    #[serde(serialize_with = "serialize_exposed")]
    pub access_token: Secret,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_exposed_option"
    )]
    pub refresh_token: Option<Secret>,
    pub scope: String,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_exposed_option"
    )]
    pub id_token: Option<Secret>,
}

/// Parses a token request. Empty values count as absent; a repeated
/// parameter is `invalid_request` (RFC 6749 §3.2), except `resource`.
pub fn parse(pairs: &[(String, String)], authorization: Option<&str>) -> Result<TokenRequest, OAuthError> {
    params::reject_repeated(pairs)?;
    let get = |name: &str| params::get(pairs, name);
    let grant_type =
        get("grant_type").ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let credentials = ClientCredentials::from_request(authorization, get("client_id"), get("client_secret"))?;
    let secret = |name: &str| get(name).map(Secret::new);
    let required = |name: &str| {
        secret(name).ok_or_else(|| {
            OAuthError::invalid_request(format!("{name} is required for grant_type={grant_type}"))
        })
    };
    let grant = match grant_type {
        "authorization_code" => GrantRequest::AuthorizationCode {
            code: required("code")?,
            redirect_uri: get("redirect_uri").map(str::to_owned),
            code_verifier: secret("code_verifier"),
        },
        "refresh_token" => GrantRequest::RefreshToken {
            refresh_token: required("refresh_token")?,
            scope: get("scope").map(str::to_owned),
        },
        "client_credentials" => GrantRequest::ClientCredentials {
            scope: get("scope").map(str::to_owned),
        },
        other => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type `{other}` is not supported; use {}",
                    GrantType::names()
                ),
            ));
        }
    };
    let resources = params::all(pairs, super::resource::PARAMETER)
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok(TokenRequest {
        credentials,
        grant,
        resources,
    })
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::oauth::params::owned as pairs;

    /// Token request parameters with the names that matter, and values
    /// that are sometimes empty or the grant types.
    fn request_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
        let name = prop_oneof![
            Just("grant_type"),
            Just("code"),
            Just("code_verifier"),
            Just("redirect_uri"),
            Just("refresh_token"),
            Just("scope"),
            Just("client_id"),
            Just("client_secret"),
        ]
        .prop_map(str::to_owned);
        let value = prop_oneof![
            Just("authorization_code".to_owned()),
            Just("refresh_token".to_owned()),
            Just("client_credentials".to_owned()),
            Just(String::new()),
            any::<String>(),
        ];
        vec((prop_oneof![name, any::<String>()], value), 0..8)
    }

    proptest! {
        #[test]
        fn a_parsed_request_holds_the_parameters_it_was_given(pairs in request_pairs()) {
            let get = |name: &str| params::get(&pairs, name);
            let Ok(request) = parse(&pairs, None) else {
                return Ok(());
            };
            prop_assert!(params::reject_repeated(&pairs).is_ok());
            prop_assert_eq!(request.credentials.client_id(), get("client_id").unwrap_or_default());
            match request.grant {
                GrantRequest::AuthorizationCode { code, redirect_uri, code_verifier } => {
                    prop_assert_eq!(get("grant_type"), Some("authorization_code"));
                    prop_assert_eq!(Some(code.expose()), get("code"));
                    prop_assert_eq!(redirect_uri.as_deref(), get("redirect_uri"));
                    prop_assert_eq!(code_verifier.as_ref().map(Secret::expose), get("code_verifier"));
                }
                GrantRequest::RefreshToken { refresh_token, scope } => {
                    prop_assert_eq!(get("grant_type"), Some("refresh_token"));
                    prop_assert_eq!(Some(refresh_token.expose()), get("refresh_token"));
                    prop_assert_eq!(scope.as_deref(), get("scope"));
                }
                GrantRequest::ClientCredentials { scope } => {
                    prop_assert_eq!(get("grant_type"), Some("client_credentials"));
                    prop_assert_eq!(scope.as_deref(), get("scope"));
                }
            }
        }
    }

    #[test]
    fn repeated_parameters_are_invalid_requests() {
        let error = parse(
            &pairs(&[("grant_type", "authorization_code"), ("code", "a"), ("code", "b")]),
            None,
        )
        .unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn unknown_grant_types_are_unsupported() {
        let error = parse(&pairs(&[("grant_type", "password"), ("client_id", "c")]), None).unwrap_err();
        assert_eq!(error.code, ErrorCode::UnsupportedGrantType);
    }

    #[test]
    fn debug_output_shows_no_code_verifier_or_refresh_token() {
        let code = parse(
            &pairs(&[
                ("grant_type", "authorization_code"),
                ("code", "code_sEcReT1"),
                ("code_verifier", "verifier-sEcReT2"),
                ("client_id", "c"),
                ("client_secret", "secret_sEcReT3"),
            ]),
            None,
        )
        .unwrap();
        let refresh = parse(
            &pairs(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "refresh_sEcReT4"),
                ("client_id", "c"),
            ]),
            None,
        )
        .unwrap();
        let response = TokenResponse {
            access_token: Secret::new("access-sEcReT5"),
            token_type: "Bearer",
            expires_in: 3600,
            refresh_token: Some(Secret::new("refresh_sEcReT6")),
            scope: "openid".into(),
            id_token: Some(Secret::new("id-sEcReT7")),
        };
        for printed in [
            format!("{code:?}"),
            format!("{refresh:?}"),
            format!("{response:?}"),
        ] {
            assert!(!printed.contains("sEcReT"), "{printed}");
        }
        let body = serde_json::to_value(&response).unwrap();
        assert_eq!(
            body["access_token"], "access-sEcReT5",
            "the wire form carries them"
        );
        assert_eq!(body["refresh_token"], "refresh_sEcReT6");
        assert_eq!(body["id_token"], "id-sEcReT7");
    }

    #[test]
    fn missing_code_is_named() {
        let error = parse(
            &pairs(&[("grant_type", "authorization_code"), ("client_id", "c")]),
            None,
        )
        .unwrap_err();
        assert!(error.description.contains("code is required"));
    }
}
