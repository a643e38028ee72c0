//! The demo app's end of the code flow, as an integrator's callback would
//! do it: check that the authorization response answers the request the
//! demo made (`state`, RFC 9207 `iss`), then exchange the code with the
//! PKCE verifier and the app's secret. The exchange is the token
//! endpoint's own domain function, called in-process with the demo client,
//! not an HTTP request to this server. Also here: reading a JWT's header
//! and payload for display, without checking its signature. The page
//! itself (HTML, status codes) is `http::pages::demo`'s.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::DemoClient;
use crate::config::Config;
use crate::grants::exchange::{self, CodeGrant};
use crate::keys::KeyRing;
use crate::metrics::{GrantType, Metrics};
use crate::oauth::client_auth::{self, ClientCredentials};
use crate::oauth::error::OAuthError;
use crate::oauth::token::TokenResponse;
use crate::secret::Secret;
use crate::store::Store;

/// The parameters of the authorization response (RFC 6749 §4.1.2,
/// §4.1.2.1; RFC 9207), as the browser brought them.
#[derive(Debug, Default)]
pub struct AuthorizationResponse {
    pub code: Option<Secret>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl AuthorizationResponse {
    /// Reads the query's parameters; the first of a repeated one counts,
    /// an empty one is absent.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        Self {
            code: get("code").map(Secret::new),
            state: get("state"),
            iss: get("iss"),
            error: get("error"),
            error_description: get("error_description"),
        }
    }
}

/// Why the demo app got no tokens.
#[derive(Debug)]
pub enum CallbackError {
    /// `state` is missing or is not the demo's: the response may answer a
    /// request the demo never made (RFC 6749 §10.12), so it is not used.
    /// Its code, if any, stays unused, for whoever made the request (an
    /// integrator trying the flow by hand with the demo app).
    StateMismatch { unused_code: Option<Secret> },
    /// `iss` names another server (RFC 9207 §2.4).
    IssuerMismatch,
    /// The authorization server answered with an error, e.g.
    /// `access_denied` when the user pressed Deny.
    Refused {
        error: String,
        description: Option<String>,
    },
    /// Neither a code nor an error came back.
    MissingCode,
    /// The token endpoint refused the code, e.g. `invalid_grant` for a code
    /// used before.
    Exchange(OAuthError),
}

/// Checks the response against the demo's request and exchanges its code
/// for tokens.
pub async fn complete(
    store: &dyn Store,
    config: &Config,
    ring: &KeyRing,
    metrics: &Metrics,
    demo: &DemoClient,
    response: AuthorizationResponse,
    now: i64,
) -> Result<TokenResponse, CallbackError> {
    // RFC 6749 §10.12: the state binds the response to the request; an
    // error response carries it too (§4.1.2.1). Compared as digests, in
    // constant time.
    let state_matches = response
        .state
        .as_deref()
        .is_some_and(|state| Secret::new(state).digest().matches(&demo.state.digest()));
    if !state_matches {
        return Err(CallbackError::StateMismatch {
            unused_code: response.code,
        });
    }
    // RFC 9207 §2.4: a client that receives `iss` compares it with the
    // issuer it sent the request to.
    if response.iss.as_deref().is_some_and(|iss| iss != config.issuer) {
        return Err(CallbackError::IssuerMismatch);
    }
    if let Some(error) = response.error {
        return Err(CallbackError::Refused {
            error,
            description: response.error_description,
        });
    }
    let code = response.code.ok_or(CallbackError::MissingCode)?;
    let credentials = ClientCredentials::Basic {
        client_id: demo.client_id.clone(),
        secret: demo.client_secret.clone(),
    };
    let client = client_auth::authenticate(store, &credentials)
        .await
        .map_err(CallbackError::Exchange)?;
    let grant = CodeGrant {
        code: &code,
        redirect_uri: Some(&demo.redirect_uri),
        code_verifier: Some(&demo.code_verifier),
        resources: &[],
    };
    let tokens = exchange::authorization_code(store, config, ring, metrics, &client, grant, now)
        .await
        .map_err(CallbackError::Exchange)?;
    metrics.token_issued(GrantType::AuthorizationCode);
    Ok(tokens)
}

/// A JWT's header and payload as indented JSON, and its claims.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedJwt {
    pub header: String,
    pub payload: String,
    pub claims: serde_json::Value,
}

/// Reads a compact JWS's header and payload. The signature is not checked:
/// this is for showing what a token carries, never for trusting it.
pub fn decode_jwt(token: &str) -> Option<DecodedJwt> {
    let mut parts = token.split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = |part: &str| -> Option<serde_json::Value> {
        let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
        serde_json::from_slice(&bytes)
            .ok()
            .filter(serde_json::Value::is_object)
    };
    let (header, claims) = (json(header)?, json(payload)?);
    Some(DecodedJwt {
        header: serde_json::to_string_pretty(&header).ok()?,
        payload: serde_json::to_string_pretty(&claims).ok()?,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn a_jwt_is_shown_as_indented_header_and_payload() {
        let token = format!(
            "{}.{}.c2ln",
            encode(r#"{"alg":"RS256","typ":"at+jwt"}"#),
            encode(r#"{"sub":"u1","scope":"openid"}"#)
        );
        let decoded = decode_jwt(&token).unwrap();
        assert_eq!(
            decoded.header,
            "{\n  \"alg\": \"RS256\",\n  \"typ\": \"at+jwt\"\n}"
        );
        assert!(decoded.payload.contains("\"sub\": \"u1\""));
    }

    #[test]
    fn anything_but_three_parts_of_json_is_not_a_jwt() {
        let json = encode("{}");
        for token in [
            String::new(),
            "refresh_abc".into(),
            format!("{json}.{json}"),
            format!("{json}.{json}.x.y"),
            format!("{json}.bm90IGpzb24.x"),
            format!("{json}.{}.x", encode("[1]")),
            format!("*.{json}.x"),
        ] {
            assert_eq!(decode_jwt(&token), None, "{token}");
        }
    }

    #[test]
    fn the_first_value_of_a_parameter_counts_and_an_empty_one_is_absent() {
        let pairs: Vec<(String, String)> = [
            ("code", "code_1"),
            ("code", "code_2"),
            ("state", ""),
            ("error", "access_denied"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
        let response = AuthorizationResponse::from_pairs(&pairs);
        assert_eq!(response.code.as_ref().map(Secret::expose), Some("code_1"));
        assert_eq!(response.state, None);
        assert_eq!(response.error.as_deref(), Some("access_denied"));
    }
}
