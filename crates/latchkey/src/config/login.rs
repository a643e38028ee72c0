//! `[login]`: how people sign in. `local` (the default) is Latchkey's own
//! sign-in page; `delegate` sends the browser to the platform's login URL
//! and takes back a signed assertion (see [`crate::delegate`]). Validated
//! here: the URL, the platform's issuer, and exactly one verification key.

use serde::Deserialize;
use url::Url;

use super::{ConfigError, invalid};
use crate::delegate::assertion::VerifyingKey;
use crate::secret::Secret;

/// The shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: a key of
/// the hash's size or larger).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// `[login]` as an operator writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogin {
    pub mode: Option<String>,
    pub delegate_url: Option<String>,
    pub delegate_issuer: Option<String>,
    pub delegate_hs256_secret: Option<Secret>,
    pub delegate_public_key_pem: Option<String>,
    pub delegate_jwks_url: Option<String>,
}

/// How people sign in.
#[derive(Debug, Clone, Default)]
pub enum LoginMode {
    /// Latchkey's own sign-in page with email and password.
    #[default]
    Local,
    /// The platform's own login, by a signed assertion.
    Delegate(DelegateLogin),
}

/// Where the platform's login is and how its assertions are checked.
#[derive(Debug, Clone)]
pub struct DelegateLogin {
    /// The platform's login URL; Latchkey adds `login_challenge` and
    /// `return_to` to its query.
    pub url: Url,
    /// The `iss` its assertions must carry.
    pub issuer: String,
    /// The key its assertions are signed with, which fixes the algorithm.
    pub key: VerifyingKey,
}

/// `[login]`, validated.
#[derive(Debug, Clone, Default)]
pub struct Login {
    pub mode: LoginMode,
}

impl RawLogin {
    pub(super) fn validate(self) -> Result<Login, ConfigError> {
        match self.mode.as_deref().map(str::trim) {
            None | Some("local") => return Ok(Login::default()),
            Some("delegate") => {}
            Some(other) => {
                return Err(invalid(
                    "login.mode",
                    format!("is `{other}`, expected `local` or `delegate`"),
                ));
            }
        }
        let text = self.delegate_url.as_deref().map(str::trim).unwrap_or_default();
        if text.is_empty() {
            return Err(invalid(
                "login.delegate_url",
                "is required with `login.mode = \"delegate\"`: the platform's login page, e.g. https://app.example.com/oauth/login",
            ));
        }
        let url = web_url("login.delegate_url", text)?;
        let issuer = match self.delegate_issuer.as_deref().map(str::trim) {
            None | Some("") => url.origin().ascii_serialization(),
            Some(issuer) => {
                web_url("login.delegate_issuer", issuer)?;
                issuer.to_owned()
            }
        };
        let jwks_url = self
            .delegate_jwks_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let given = [
            self.delegate_hs256_secret.is_some(),
            self.delegate_public_key_pem.is_some(),
            jwks_url.is_some(),
        ];
        if given.iter().filter(|set| **set).count() > 1 {
            return Err(invalid(
                "login.mode",
                "is `delegate` with more than one key; set only one of `login.delegate_hs256_secret`, `login.delegate_public_key_pem` and `login.delegate_jwks_url`",
            ));
        }
        let key = match (self.delegate_hs256_secret, self.delegate_public_key_pem, jwks_url) {
            (Some(secret), _, _) => {
                if secret.expose().len() < MIN_HS256_SECRET_BYTES {
                    return Err(invalid(
                        "login.delegate_hs256_secret",
                        format!(
                            "is shorter than {MIN_HS256_SECRET_BYTES} bytes; use a random secret such as `openssl rand -base64 32`"
                        ),
                    ));
                }
                VerifyingKey::Hs256(secret)
            }
            (None, Some(pem), _) => VerifyingKey::from_pem(&pem)
                .map_err(|problem| invalid("login.delegate_public_key_pem", problem))?,
            (None, None, Some(text)) => {
                let url = web_url("login.delegate_jwks_url", text)?;
                let remote = crate::delegate::jwks::RemoteKeys::new(url)
                    .map_err(|problem| invalid("login.delegate_jwks_url", problem))?;
                VerifyingKey::Jwks(std::sync::Arc::new(remote))
            }
            (None, None, None) => {
                return Err(invalid(
                    "login.mode",
                    "is `delegate`, which needs the key the platform signs with: set `login.delegate_hs256_secret`, `login.delegate_public_key_pem` or `login.delegate_jwks_url`",
                ));
            }
        };
        Ok(Login {
            mode: LoginMode::Delegate(DelegateLogin { url, issuer, key }),
        })
    }
}

/// An absolute https URL without fragment (http only on loopback hosts).
fn web_url(key: &str, text: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(text).map_err(|e| invalid(key, format!("is `{text}`, not an absolute URL ({e})")))?;
    if url.fragment().is_some() {
        return Err(invalid(key, format!("is `{text}`; it must have no fragment")));
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(invalid(
            key,
            format!("is `{text}`; it must use https (http only for localhost, 127.0.0.1 or [::1])"),
        )),
    }
}
