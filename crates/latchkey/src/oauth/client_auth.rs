//! Client authentication at the token, revocation and introspection
//! endpoints (RFC 6749 §2.3): `client_secret_basic` (credentials
//! form-urlencoded inside Basic, §2.3.1), `client_secret_post`, or `none`
//! for public clients. Using two methods at once is refused. Secrets are
//! compared as SHA-256 digests in constant time — no password hash on this
//! hot path.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::OAuthError;
use crate::secret::Secret;
use crate::store::{ClientRecord, Store};

/// The credentials a request carries.
#[derive(Debug, Clone)]
pub enum ClientCredentials {
    Basic { client_id: String, secret: Secret },
    Post { client_id: String, secret: Secret },
    None { client_id: String },
}

impl ClientCredentials {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. } | Self::Post { client_id, .. } | Self::None { client_id } => {
                client_id
            }
        }
    }

    /// Reads the credentials from the `Authorization` header and the body's
    /// `client_id` / `client_secret`.
    pub fn from_request(
        authorization: Option<&str>,
        body_client_id: Option<&str>,
        body_secret: Option<&str>,
    ) -> Result<Self, OAuthError> {
        if let Some(header) = authorization {
            let (client_id, secret) = parse_basic(header)?;
            // RFC 6749 §2.3: a client must not use more than one method.
            if body_secret.is_some() {
                return Err(OAuthError::invalid_client(
                    "use one client authentication method: the request has both HTTP Basic and client_secret",
                ));
            }
            if body_client_id.is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_client(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            return Ok(Self::Basic { client_id, secret });
        }
        match (body_client_id, body_secret) {
            (Some(client_id), Some(secret)) => Ok(Self::Post {
                client_id: client_id.to_owned(),
                secret: Secret::new(secret),
            }),
            (Some(client_id), None) => Ok(Self::None {
                client_id: client_id.to_owned(),
            }),
            (None, _) => Err(OAuthError::invalid_client(
                "client authentication is required: send HTTP Basic credentials, or client_id (and client_secret)",
            )),
        }
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))`.
fn parse_basic(header: &str) -> Result<(String, Secret), OAuthError> {
    let malformed =
        || OAuthError::invalid_client("the Authorization header is not valid HTTP Basic credentials");
    let (scheme, encoded) = header.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "only HTTP Basic client authentication is accepted",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    // No client id or secret holds a NUL (and storage could not look one up).
    if id.is_empty() || id.contains('\0') || secret.contains('\0') {
        return Err(malformed());
    }
    Ok((id, Secret::new(secret)))
}

/// application/x-www-form-urlencoded decoding of one value.
fn form_decode(value: &str) -> Option<String> {
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|v| v.into_owned())
}

/// The client the credentials prove, enabled and registered for the
/// method used. Every failure is `invalid_client`.
pub async fn authenticate(
    store: &dyn Store,
    credentials: &ClientCredentials,
) -> Result<ClientRecord, OAuthError> {
    let failed = || OAuthError::invalid_client("client authentication failed");
    let client = store
        .find_client(credentials.client_id())
        .await?
        .ok_or_else(failed)?;
    match (credentials, &client.secret_digest) {
        (ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. }, Some(stored)) => {
            if !stored.matches(&secret.digest()) {
                return Err(failed());
            }
        }
        (ClientCredentials::None { .. }, None) => {}
        (ClientCredentials::None { .. }, Some(_)) => {
            return Err(OAuthError::invalid_client(
                "this client is confidential: authenticate with its client_secret",
            ));
        }
        (_, None) => {
            return Err(OAuthError::invalid_client(
                "this client is public: send client_id without a secret and use PKCE",
            ));
        }
    }
    if !client.enabled {
        return Err(OAuthError::invalid_client("this client is disabled"));
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// RFC 6749 §2.3.1: each part form-urlencoded, then joined and base64.
    fn encode_basic(scheme: &str, id: &str, secret: &str) -> String {
        let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let joined = format!("{}:{}", encode(id), encode(secret));
        format!("{scheme} {}", STANDARD.encode(joined))
    }

    proptest! {
        #[test]
        fn basic_credentials_parse_back_to_the_same_id_and_secret(
            id in any::<String>().prop_filter("a client id is neither empty nor holds a NUL", |id| !id.is_empty() && !id.contains('\0')),
            secret in any::<String>().prop_filter("a secret holds no NUL", |secret| !secret.contains('\0')),
            scheme in "[bB][aA][sS][iI][cC]",
        ) {
            let header = encode_basic(&scheme, &id, &secret);
            match ClientCredentials::from_request(Some(&header), None, None) {
                Ok(ClientCredentials::Basic { client_id, secret: parsed }) => {
                    prop_assert_eq!(client_id, id);
                    prop_assert_eq!(parsed.expose(), secret.as_str());
                }
                other => return Err(TestCaseError::fail(format!("{header}: {other:?}"))),
            }
        }

        #[test]
        fn any_authorization_header_is_basic_or_refused(
            header in prop_oneof![any::<String>(), "[bB][aA][sS][iI][cC] [A-Za-z0-9+/=:% ]{0,40}"],
            body_id in proptest::option::of("[a-z]{1,3}"),
            body_secret in proptest::option::of("[a-z]{1,3}"),
        ) {
            let parsed = ClientCredentials::from_request(Some(&header), body_id.as_deref(), body_secret.as_deref());
            if let Ok(credentials) = parsed {
                let is_basic_scheme = header
                    .trim()
                    .split_once(' ')
                    .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
                prop_assert!(is_basic_scheme, "{header}");
                prop_assert!(body_secret.is_none(), "two methods at once");
                prop_assert!(matches!(&credentials, ClientCredentials::Basic { .. }), "Basic credentials");
                prop_assert!(!credentials.client_id().is_empty());
                if let Some(id) = body_id {
                    prop_assert_eq!(credentials.client_id(), id.as_str());
                }
            }
        }
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = basic("client%3A1", "s%2Bcret+x");
        let credentials = ClientCredentials::from_request(Some(&header), None, None).unwrap();
        let ClientCredentials::Basic { client_id, secret } = credentials else {
            panic!("not basic")
        };
        assert_eq!(client_id, "client:1");
        assert_eq!(secret.expose(), "s+cret x");
    }

    #[test]
    fn debug_output_shows_the_client_id_but_not_the_secret() {
        let basic = ClientCredentials::from_request(Some(&basic("client_1", "secret_sEcReT")), None, None);
        let post = ClientCredentials::from_request(None, Some("client_1"), Some("secret_sEcReT"));
        for printed in [format!("{basic:?}"), format!("{post:?}")] {
            assert!(printed.contains("client_1"), "{printed}");
            assert!(!printed.contains("sEcReT"), "{printed}");
        }
    }

    #[test]
    fn basic_credentials_with_a_nul_are_malformed() {
        for (id, secret) in [("client%00", "s"), ("c", "s%00x"), ("\0", "s")] {
            let header = basic(id, secret);
            let error = ClientCredentials::from_request(Some(&header), None, None).unwrap_err();
            assert_eq!(error.code, super::super::error::ErrorCode::InvalidClient);
        }
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let header = basic("c", "s");
        assert!(ClientCredentials::from_request(Some(&header), Some("c"), Some("s")).is_err());
        assert!(ClientCredentials::from_request(Some(&header), Some("other"), None).is_err());
        assert!(ClientCredentials::from_request(Some(&header), Some("c"), None).is_ok());
    }

    #[test]
    fn body_credentials() {
        assert!(matches!(
            ClientCredentials::from_request(None, Some("c"), Some("s")),
            Ok(ClientCredentials::Post { .. })
        ));
        assert!(matches!(
            ClientCredentials::from_request(None, Some("c"), None),
            Ok(ClientCredentials::None { .. })
        ));
        assert!(ClientCredentials::from_request(None, None, Some("s")).is_err());
        assert!(ClientCredentials::from_request(Some("Bearer x"), None, None).is_err());
    }
}
