//! Checks the credentials that callers present to an API protected by
//! Latchkey, and hands handlers a typed [`Principal`].
//!
//! A [`Guard`] accepts `Authorization: Bearer <credential>` where the
//! credential is either a Latchkey JWT access token (RFC 9068) or an API
//! key. Access tokens are verified against a [`KeySet`] (RS256, ES256 or
//! EdDSA, the key chosen by `kid` and its algorithm required to be the
//! header's `alg`, keys parsed once), their `typ`, `iss`, `aud`, `exp` and `nbf`
//! (with a small leeway), and then the [`Authority`] is asked whether the
//! token's grant is still live — Latchkey revokes immediately (its SPEC 7),
//! so this check is never cached. API keys go to the authority as well.
//! Failures follow RFC 6750: `401 invalid_token` with a `WWW-Authenticate`
//! challenge, `403 insufficient_scope` naming the scope, and a bare
//! `WWW-Authenticate: Bearer` when no credential was sent.
//!
//! A resource's RFC 9728 metadata document and the `resource_metadata`
//! its refusals point to are [`ProtectedResource`]'s (see [`resource`]).
//!
//! The crate knows nothing of Latchkey's storage: the server implements
//! [`Authority`] over its database, and another service can implement it
//! over introspection or its own view of the data.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use latchkey_verify::{Authenticated, Guard, GuardError};
//!
//! async fn list_cases(Authenticated(principal): Authenticated) -> Result<String, GuardError> {
//!     principal.require_scope("cases:read")?;
//!     // Every query is confined to principal.organization_id.
//!     Ok(format!("cases of {}", principal.organization_id))
//! }
//!
//! fn app(guard: Arc<Guard>) -> Router {
//!     Router::new().route("/api/v1/cases", get(list_cases)).with_state(guard)
//! }
//! ```

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

pub mod resource;
pub use resource::{Challenge, ProtectedResource, add_resource_metadata};

/// The JOSE `typ` of Latchkey access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The JWS algorithms Latchkey signs with and this guard accepts: RS256
/// (RSA PKCS#1 v1.5 with SHA-256, RFC 7518 §3.3), ES256 (ECDSA on P-256
/// with SHA-256, RFC 7518 §3.4) and EdDSA (Ed25519, RFC 8037 §3.1).
/// Anything else — `none`, the HMAC algorithms — is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    Rs256,
    Es256,
    EdDsa,
}

impl Alg {
    /// Every supported algorithm, RS256 first.
    pub const ALL: [Alg; 3] = [Alg::Rs256, Alg::Es256, Alg::EdDsa];

    /// The JOSE name (`alg` header value).
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// Parses a JOSE name; names are case-sensitive (RFC 7515 §4.1.1).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }

    /// The supported names, for messages: "RS256, ES256, EdDSA".
    pub fn names() -> String {
        Self::ALL.map(Alg::as_str).join(", ")
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Access tokens carry their grant inside `jti`: the grant id followed by
/// this many characters unique to the token. Tokens minted before that
/// carried a separate `grant_id` claim, which is still honored.
pub const JTI_TOKEN_PART_LEN: usize = 4;

/// The grant id inside a compact `jti` (everything but the token part).
pub fn grant_in_jti(jti: &str) -> Option<&str> {
    let end = jti.len().checked_sub(JTI_TOKEN_PART_LEN)?;
    if end == 0 || !jti.is_char_boundary(end) {
        return None;
    }
    Some(&jti[..end])
}

/// A public key as published in a JWK (RFC 7518 §6, RFC 8037 §2), the
/// coordinates as unsigned big-endian bytes.
#[derive(Debug, Clone, Copy)]
pub enum PublicKey<'a> {
    /// `kty: RSA`: modulus and exponent; verifies RS256.
    Rsa { n: &'a [u8], e: &'a [u8] },
    /// `kty: EC`, `crv: P-256`: the point's coordinates; verifies ES256.
    P256 { x: &'a [u8], y: &'a [u8] },
    /// `kty: OKP`, `crv: Ed25519`: the public key; verifies EdDSA.
    Ed25519 { x: &'a [u8] },
}

impl PublicKey<'_> {
    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Alg {
        match self {
            PublicKey::Rsa { .. } => Alg::Rs256,
            PublicKey::P256 { .. } => Alg::Es256,
            PublicKey::Ed25519 { .. } => Alg::EdDsa,
        }
    }

    fn parse(&self) -> Option<ParsedPublicKey> {
        match *self {
            PublicKey::Rsa { n, e } => {
                let der = RsaPublicKeyComponents { n, e }.as_der().ok()?;
                ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_ref()).ok()
            }
            PublicKey::P256 { x, y } => {
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).ok()
            }
            PublicKey::Ed25519 { x } => {
                if x.len() != 32 {
                    return None;
                }
                ParsedPublicKey::new(&ED25519, x).ok()
            }
        }
    }
}

/// Why a credential was not accepted. The descriptions go to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// No `Authorization: Bearer` header at all.
    #[error("no bearer credential")]
    Missing,
    #[error("{0}")]
    InvalidToken(String),
    /// The credential is fine but lacks this scope.
    #[error("this request needs the {0} scope")]
    InsufficientScope(String),
    /// The authority could not answer (e.g. the database is down).
    #[error("the credential cannot be checked right now")]
    Unavailable,
}

fn invalid(description: &str) -> GuardError {
    GuardError::InvalidToken(description.to_owned())
}

impl GuardError {
    /// The `WWW-Authenticate` challenge of this refusal (RFC 6750 §3):
    /// bare without a credential, `invalid_token` with its description,
    /// `insufficient_scope` naming the scope. [`ProtectedResource::challenge`]
    /// adds where the resource's metadata is.
    pub fn challenge(&self) -> Challenge {
        match self {
            Self::Missing | Self::Unavailable => Challenge::bearer(),
            Self::InvalidToken(description) => Challenge::bearer().error("invalid_token", description),
            Self::InsufficientScope(scope) => Challenge::bearer()
                .error("insufficient_scope", self.to_string())
                .scope(scope),
        }
    }
}

impl IntoResponse for GuardError {
    /// The RFC 6750 answer; the error itself rides along in the response's
    /// extensions, so [`add_resource_metadata`] can complete the challenge.
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            Self::Missing => (StatusCode::UNAUTHORIZED, None),
            Self::InvalidToken(description) => (
                StatusCode::UNAUTHORIZED,
                Some(("invalid_token", description.clone())),
            ),
            Self::InsufficientScope(_) => (
                StatusCode::FORBIDDEN,
                Some(("insufficient_scope", self.to_string())),
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(("temporarily_unavailable", self.to_string())),
            ),
        };
        let challenge = self.challenge();
        let mut response = match body {
            Some((error, description)) => {
                let json = serde_json::json!({"error": error, "error_description": description}).to_string();
                (status, [(header::CONTENT_TYPE, "application/json")], json).into_response()
            }
            None => status.into_response(),
        };
        if let Some(value) = challenge.header_value() {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// A key of a [`KeySet`]: parsed once, with the one algorithm it verifies.
struct VerificationKey {
    kid: String,
    alg: Alg,
    key: ParsedPublicKey,
}

/// The public keys tokens may be signed with, parsed once, found by `kid`.
#[derive(Default)]
pub struct KeySet {
    keys: Vec<VerificationKey>,
}

impl KeySet {
    /// Builds a key set from public keys given as (kid, key). Keys that do
    /// not parse are skipped.
    pub fn from_keys<'a>(keys: impl IntoIterator<Item = (&'a str, PublicKey<'a>)>) -> Self {
        let keys = keys
            .into_iter()
            .filter_map(|(kid, public)| {
                Some(VerificationKey {
                    kid: kid.to_owned(),
                    alg: public.alg(),
                    key: public.parse()?,
                })
            })
            .collect();
        Self { keys }
    }

    /// Builds a key set from RSA public keys given as (kid, modulus,
    /// exponent), big-endian bytes. Keys that do not parse are skipped.
    pub fn from_rsa_components<'a>(keys: impl IntoIterator<Item = (&'a str, &'a [u8], &'a [u8])>) -> Self {
        Self::from_keys(keys.into_iter().map(|(kid, n, e)| (kid, PublicKey::Rsa { n, e })))
    }

    /// Builds a key set from a JWKS document (RFC 7517 §5), taking the
    /// signing keys of the supported types: RSA, EC on P-256 and OKP on
    /// Ed25519. A key whose `alg` is not the one its type verifies is
    /// skipped.
    pub fn from_jwks(jwks: &str) -> Result<Self, GuardError> {
        let document: Value = serde_json::from_str(jwks).map_err(|_| invalid("the JWKS is not JSON"))?;
        let keys: Vec<(String, OwnedKey)> = document["keys"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|key| {
                let kid = key["kid"].as_str()?;
                if key["use"] == "enc" {
                    return None;
                }
                let field = |name: &str| key[name].as_str().and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
                let owned = match (key["kty"].as_str()?, key["crv"].as_str()) {
                    ("RSA", _) => OwnedKey::Rsa(field("n")?, field("e")?),
                    ("EC", Some("P-256")) => OwnedKey::P256(field("x")?, field("y")?),
                    ("OKP", Some("Ed25519")) => OwnedKey::Ed25519(field("x")?),
                    _ => return None,
                };
                // A declared `alg` must be the one the key's type verifies.
                match key["alg"].as_str() {
                    Some(declared) if Alg::parse(declared) != Some(owned.public().alg()) => None,
                    _ => Some((kid.to_owned(), owned)),
                }
            })
            .collect();
        Ok(Self::from_keys(
            keys.iter().map(|(kid, key)| (kid.as_str(), key.public())),
        ))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies a compact JWS signed by the key its `kid` names with that
    /// key's algorithm, and returns its `typ` header and claims. A header
    /// `alg` other than the key's is refused (no algorithm confusion), as
    /// are `none` and every algorithm not supported.
    pub fn verify(&self, token: &str) -> Result<(Option<String>, Map<String, Value>), GuardError> {
        let malformed = || invalid("the token is not a well-formed JWT");
        let (signed, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
        let (header, payload) = signed.split_once('.').ok_or_else(malformed)?;
        #[derive(serde::Deserialize)]
        struct Header {
            alg: String,
            kid: Option<String>,
            typ: Option<String>,
        }
        let header: Header = decode_json(header).ok_or_else(malformed)?;
        let alg = Alg::parse(&header.alg).ok_or_else(|| {
            GuardError::InvalidToken(format!(
                "the token is not signed with a supported algorithm ({})",
                Alg::names()
            ))
        })?;
        let kid = header
            .kid
            .ok_or_else(|| invalid("the token names no signing key"))?;
        let key = self
            .keys
            .iter()
            .find(|candidate| candidate.kid == kid)
            .ok_or_else(|| invalid("the token is not signed by a published key"))?;
        if key.alg != alg {
            return Err(invalid("the token's alg is not the algorithm of its signing key"));
        }
        let key = &key.key;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed())?;
        key.verify_sig(signed.as_bytes(), &signature)
            .map_err(|_| invalid("the token's signature is invalid"))?;
        let claims = decode_json(payload).ok_or_else(malformed)?;
        Ok((header.typ, claims))
    }
}

/// A JWK's key material, decoded.
enum OwnedKey {
    Rsa(Vec<u8>, Vec<u8>),
    P256(Vec<u8>, Vec<u8>),
    Ed25519(Vec<u8>),
}

impl OwnedKey {
    fn public(&self) -> PublicKey<'_> {
        match self {
            OwnedKey::Rsa(n, e) => PublicKey::Rsa { n, e },
            OwnedKey::P256(x, y) => PublicKey::P256 { x, y },
            OwnedKey::Ed25519(x) => PublicKey::Ed25519 { x },
        }
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// What an access token must say to be accepted.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The expected `iss`.
    pub issuer: String,
    /// The expected `aud`, if checked: the resource's own identifier
    /// (RFC 8707), so a token issued for another resource is refused.
    pub audience: Option<String>,
    /// The claim carrying the organization (Latchkey's `claims.tenant_id`).
    pub tenant_claim: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_seconds: i64,
    /// How API keys start; credentials with this prefix are API keys.
    pub api_key_prefix: String,
}

/// An access token's claims, read from a verified signature.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenClaims {
    pub subject: String,
    pub client_id: String,
    pub organization_id: String,
    pub scopes: Vec<String>,
    pub grant_id: String,
    pub jti: String,
    pub exp: i64,
    pub nbf: Option<i64>,
    /// Every claim, as signed.
    pub claims: Map<String, Value>,
}

impl TokenClaims {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

fn audience_matches(claim: Option<&Value>, expected: &str) -> bool {
    match claim {
        Some(Value::String(aud)) => aud == expected,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(expected)),
        _ => false,
    }
}

/// Reads an access token: signature by a key of the set, `typ`, `iss`,
/// `aud` and the required claims — but not its lifetime, so revocation can
/// accept an expired token. [`verify_access_token`] adds the lifetime.
pub fn read_access_token(policy: &Policy, keys: &KeySet, token: &str) -> Result<TokenClaims, GuardError> {
    let (typ, claims) = keys.verify(token)?;
    if typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
        return Err(invalid("the token is not an access token"));
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    if text("iss").as_deref() != Some(policy.issuer.as_str()) {
        return Err(invalid("the token was issued by another issuer"));
    }
    if let Some(audience) = &policy.audience
        && !audience_matches(claims.get("aud"), audience)
    {
        // RFC 8707: a token names the one resource it is for.
        return Err(GuardError::InvalidToken(format!(
            "the token is for another resource: its aud is not {audience}"
        )));
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("the token has no exp"))?;
    let (Some(subject), Some(client_id), Some(organization_id), Some(jti)) = (
        text("sub"),
        text("client_id"),
        text(&policy.tenant_claim),
        text("jti"),
    ) else {
        return Err(invalid("the token lacks required claims"));
    };
    // Tokens minted before the grant moved into `jti` name it separately.
    let grant_id = text("grant_id")
        .or_else(|| grant_in_jti(&jti).map(str::to_owned))
        .ok_or_else(|| invalid("the token lacks required claims"))?;
    let scopes = text("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let nbf = claims.get("nbf").and_then(Value::as_i64);
    Ok(TokenClaims {
        subject,
        client_id,
        organization_id,
        scopes,
        grant_id,
        jti,
        exp,
        nbf,
        claims,
    })
}

/// Verifies an access token's signature, claims and lifetime (`exp`,
/// `nbf`, with the policy's leeway) at `now` (Unix seconds). Liveness is
/// the [`Authority`]'s part.
pub fn verify_access_token(
    policy: &Policy,
    keys: &KeySet,
    token: &str,
    now: i64,
) -> Result<TokenClaims, GuardError> {
    let claims = read_access_token(policy, keys, token)?;
    // In i128, so that no signed `exp` or `nbf` and no configured leeway
    // can overflow the sum.
    let (leeway, at) = (i128::from(policy.leeway_seconds), i128::from(now));
    if i128::from(claims.exp) + leeway <= at {
        return Err(invalid("the access token has expired"));
    }
    if claims.nbf.is_some_and(|nbf| i128::from(nbf) - leeway > at) {
        return Err(invalid("the access token is not valid yet"));
    }
    Ok(claims)
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A user, through an app's access token.
    User {
        user_id: String,
        client_id: String,
        grant_id: String,
    },
    /// A server holding an API key, with no user.
    ApiKey { key_id: String },
    /// A client acting for its own organization with a client_credentials
    /// token (RFC 6749 §4.4), with no user: its `sub` is its client id
    /// (RFC 9068 §2.2).
    Client { client_id: String, grant_id: String },
}

/// The authenticated caller a handler receives: who, for which
/// organization, with which scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub caller: Caller,
    /// Every read and write is confined to this organization.
    pub organization_id: String,
    pub scopes: Vec<String>,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `403 insufficient_scope` naming `scope` unless it was granted.
    pub fn require_scope(&self, scope: &str) -> Result<(), GuardError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(GuardError::InsufficientScope(scope.to_owned()))
        }
    }

    /// The user, for calls made on a user's behalf.
    pub fn user_id(&self) -> Option<&str> {
        match &self.caller {
            Caller::User { user_id, .. } => Some(user_id),
            Caller::ApiKey { .. } | Caller::Client { .. } => None,
        }
    }
}

/// What the guard asks of the service that issued the credentials.
#[async_trait::async_trait]
pub trait Authority: Send + Sync + 'static {
    /// The current signing keys (rotation replaces the set).
    fn keys(&self) -> Arc<KeySet>;
    /// Whether the token's grant and the token itself are still live.
    async fn token_is_live(&self, claims: &TokenClaims) -> Result<bool, GuardError>;
    /// The principal an API key stands for, if it is a live key.
    async fn api_key(&self, key: &str, now: i64) -> Result<Option<Principal>, GuardError>;
}

/// The check itself: policy plus authority. Share it as `Arc<Guard>`.
pub struct Guard {
    pub policy: Policy,
    pub authority: Arc<dyn Authority>,
}

impl Guard {
    pub fn new(policy: Policy, authority: Arc<dyn Authority>) -> Self {
        Self { policy, authority }
    }

    /// Authenticates the value of an `Authorization` header at `now`.
    pub async fn authenticate(
        &self,
        authorization: Option<&HeaderValue>,
        now: i64,
    ) -> Result<Principal, GuardError> {
        let credential = bearer(authorization)?;
        if credential.starts_with(&self.policy.api_key_prefix) && !credential.contains('.') {
            return self
                .authority
                .api_key(credential, now)
                .await?
                .ok_or_else(|| invalid("the API key is invalid or revoked"));
        }
        let claims = self.access_token(credential, now).await?;
        // RFC 9068 §2.2: a token with no resource owner has the client id
        // as its subject.
        let caller = if claims.subject == claims.client_id {
            Caller::Client {
                client_id: claims.client_id,
                grant_id: claims.grant_id,
            }
        } else {
            Caller::User {
                user_id: claims.subject,
                client_id: claims.client_id,
                grant_id: claims.grant_id,
            }
        };
        Ok(Principal {
            caller,
            organization_id: claims.organization_id,
            scopes: claims.scopes,
        })
    }
}

impl Guard {
    /// An access token after every check — signature, claims, lifetime and
    /// liveness — for endpoints that take access tokens only.
    pub async fn access_token(&self, token: &str, now: i64) -> Result<TokenClaims, GuardError> {
        let keys = self.authority.keys();
        let claims = verify_access_token(&self.policy, &keys, token, now)?;
        if !self.authority.token_is_live(&claims).await? {
            return Err(invalid("the access token has been revoked"));
        }
        Ok(claims)
    }
}

/// The credential of an `Authorization: Bearer` header (RFC 6750 §2.1).
pub fn bearer(authorization: Option<&HeaderValue>) -> Result<&str, GuardError> {
    let value = authorization.ok_or(GuardError::Missing)?;
    let value = value
        .to_str()
        .map_err(|_| invalid("the Authorization header is not readable"))?;
    let (scheme, credential) = value.split_once(' ').ok_or(GuardError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(GuardError::Missing);
    }
    let credential = credential.trim();
    if credential.is_empty() {
        return Err(GuardError::Missing);
    }
    Ok(credential)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The axum extractor: the request's authenticated [`Principal`], or the
/// RFC 6750 error response.
pub struct Authenticated(pub Principal);

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    Arc<Guard>: FromRef<S>,
{
    type Rejection = GuardError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, GuardError> {
        let guard = Arc::<Guard>::from_ref(state);
        guard
            .authenticate(parts.headers.get(header::AUTHORIZATION), unix_now())
            .await
            .map(Authenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_forms() {
        assert_eq!(bearer(None), Err(GuardError::Missing));
        assert_eq!(
            bearer(Some(&HeaderValue::from_static("Basic abc"))),
            Err(GuardError::Missing)
        );
        assert_eq!(
            bearer(Some(&HeaderValue::from_static("Bearer "))),
            Err(GuardError::Missing)
        );
        assert_eq!(bearer(Some(&HeaderValue::from_static("bearer tok"))), Ok("tok"));
    }

    #[test]
    fn insufficient_scope_names_the_scope() {
        let response = GuardError::InsufficientScope("cases:write".into()).into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let challenge = response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(
            challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"cases:write\"")
        );
    }

    #[test]
    fn missing_credential_gets_a_bare_challenge() {
        let response = GuardError::Missing.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};

    fn signer() -> (KeyPair, KeySet) {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let keys = KeySet::from_rsa_components([("k1", n.as_slice(), e.as_slice())]);
        (pair, keys)
    }

    fn sign(pair: &KeyPair, typ: &str, claims: &Value) -> String {
        let header =
            URL_SAFE_NO_PAD.encode(serde_json::json!({"alg": "RS256", "kid": "k1", "typ": typ}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{payload}");
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn policy() -> Policy {
        Policy {
            issuer: "https://id.example".into(),
            audience: Some("https://id.example".into()),
            tenant_claim: "firm_id".into(),
            leeway_seconds: 30,
            api_key_prefix: "key_".into(),
        }
    }

    fn claims() -> Value {
        serde_json::json!({
            "iss": "https://id.example", "aud": "https://id.example", "sub": "u1", "client_id": "c1",
            "firm_id": "f1", "grant_id": "g1", "jti": "j1", "scope": "cases:read firm:read",
            "iat": 1000, "exp": 4600,
        })
    }

    /// An authority over one key set that finds every token live.
    struct Live(Arc<KeySet>);

    #[async_trait::async_trait]
    impl Authority for Live {
        fn keys(&self) -> Arc<KeySet> {
            Arc::clone(&self.0)
        }
        async fn token_is_live(&self, _: &TokenClaims) -> Result<bool, GuardError> {
            Ok(true)
        }
        async fn api_key(&self, _: &str, _: i64) -> Result<Option<Principal>, GuardError> {
            Ok(None)
        }
    }

    #[tokio::test]
    async fn a_token_whose_subject_is_its_client_is_the_client_calling() {
        let (pair, keys) = signer();
        let guard = Guard::new(policy(), Arc::new(Live(Arc::new(keys))));
        let header = |claims: &Value| {
            HeaderValue::from_str(&format!("Bearer {}", sign(&pair, ACCESS_TOKEN_TYP, claims))).unwrap()
        };
        let user = guard.authenticate(Some(&header(&claims())), 2000).await.unwrap();
        assert_eq!(user.user_id(), Some("u1"));
        let mut machine = claims();
        machine["sub"] = "c1".into();
        let client = guard.authenticate(Some(&header(&machine)), 2000).await.unwrap();
        assert_eq!(
            client.caller,
            Caller::Client {
                client_id: "c1".into(),
                grant_id: "g1".into()
            }
        );
        assert_eq!(client.user_id(), None, "RFC 9068 §2.2: no user");
        assert_eq!(client.organization_id, "f1");
    }

    #[test]
    fn a_well_formed_token_yields_its_claims() {
        let (pair, keys) = signer();
        let claims =
            verify_access_token(&policy(), &keys, &sign(&pair, ACCESS_TOKEN_TYP, &claims()), 2000).unwrap();
        assert_eq!(claims.organization_id, "f1");
        assert_eq!(claims.scopes, ["cases:read", "firm:read"]);
        assert_eq!((claims.grant_id.as_str(), claims.jti.as_str()), ("g1", "j1"));
    }

    #[test]
    fn each_claim_rule_is_enforced() {
        let (pair, keys) = signer();
        let check = |typ: &str, change: &dyn Fn(&mut Value), now: i64| {
            let mut claims = claims();
            change(&mut claims);
            verify_access_token(&policy(), &keys, &sign(&pair, typ, &claims), now)
        };
        assert!(check("JWT", &|_| {}, 2000).is_err(), "typ must be at+jwt");
        assert!(
            check(
                ACCESS_TOKEN_TYP,
                &|c| c["iss"] = "https://other.example".into(),
                2000
            )
            .is_err()
        );
        assert!(check(ACCESS_TOKEN_TYP, &|c| c["aud"] = "https://api.other".into(), 2000).is_err());
        assert!(
            check(
                ACCESS_TOKEN_TYP,
                &|c| c["aud"] = serde_json::json!(["x", "https://id.example"]),
                2000
            )
            .is_ok()
        );
        assert!(
            check(ACCESS_TOKEN_TYP, &|_| {}, 4600 + 30).is_err(),
            "expired beyond the leeway"
        );
        assert!(
            check(ACCESS_TOKEN_TYP, &|_| {}, 4600 + 29).is_ok(),
            "inside the leeway"
        );
        assert!(
            check(ACCESS_TOKEN_TYP, &|c| c["nbf"] = 3000.into(), 2000).is_err(),
            "not valid yet"
        );
        assert!(
            check(
                ACCESS_TOKEN_TYP,
                &|c| {
                    c.as_object_mut().unwrap().remove("firm_id");
                },
                2000
            )
            .is_err()
        );
    }

    #[test]
    fn a_token_for_another_resource_is_refused_naming_this_one() {
        let (pair, keys) = signer();
        let mut other = claims();
        other["aud"] = "https://mcp.example.com".into();
        let error =
            verify_access_token(&policy(), &keys, &sign(&pair, ACCESS_TOKEN_TYP, &other), 2000).unwrap_err();
        assert_eq!(
            error,
            GuardError::InvalidToken(
                "the token is for another resource: its aud is not https://id.example".into()
            )
        );
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            response.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer error=\"invalid_token\"")
        );
    }

    #[test]
    fn jwks_documents_give_the_same_keys() {
        let (pair, _) = signer();
        let public = pair.public_key();
        let jwks = serde_json::json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        }]});
        let keys = KeySet::from_jwks(&jwks.to_string()).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(
            verify_access_token(&policy(), &keys, &sign(&pair, ACCESS_TOKEN_TYP, &claims()), 2000).is_ok()
        );
    }

    /// One signing key for every property case: generating RSA keys is
    /// the slow part.
    fn shared_signer() -> &'static (KeyPair, KeySet) {
        static SIGNER: std::sync::OnceLock<(KeyPair, KeySet)> = std::sync::OnceLock::new();
        SIGNER.get_or_init(signer)
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// Text shaped like a compact JWS: three base64url parts, the first
        /// sometimes a plausible header.
        fn jwt_shaped() -> impl Strategy<Value = String> {
            let header = prop_oneof![
                Just(URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k1","typ":"at+jwt"}"#)),
                Just(URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#)),
                Just(URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#)),
                "[A-Za-z0-9_-]{0,40}",
            ];
            (header, "[A-Za-z0-9_-]{0,60}", "[A-Za-z0-9_=+/.-]{0,400}")
                .prop_map(|(h, p, s)| format!("{h}.{p}.{s}"))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn garbage_is_never_a_valid_token(token in prop_oneof![any::<String>(), jwt_shaped()]) {
                let (_, keys) = shared_signer();
                prop_assert!(matches!(keys.verify(&token), Err(GuardError::InvalidToken(_))));
                prop_assert!(read_access_token(&policy(), keys, &token).is_err());
                prop_assert!(verify_access_token(&policy(), keys, &token, 2000).is_err());
                prop_assert!(KeySet::default().verify(&token).is_err());
            }

            #[test]
            fn a_token_changed_anywhere_is_refused(at in any::<prop::sample::Index>(), replacement in any::<char>()) {
                let (pair, keys) = shared_signer();
                let token = sign(pair, ACCESS_TOKEN_TYP, &claims());
                let position = at.index(token.len());
                let original = token[position..].chars().next().unwrap_or_default();
                prop_assume!(original != replacement);
                let mut changed = token.clone();
                changed.replace_range(position..position + original.len_utf8(), &replacement.to_string());
                prop_assert!(keys.verify(&changed).is_err(), "{changed}");
            }

            #[test]
            fn lifetimes_are_checked_without_overflow(
                exp in any::<i64>(),
                nbf in proptest::option::of(any::<i64>()),
                now in any::<i64>(),
                leeway in prop_oneof![0..=300i64, any::<i64>()],
            ) {
                let (pair, keys) = shared_signer();
                let mut claims = claims();
                claims["exp"] = exp.into();
                if let Some(nbf) = nbf {
                    claims["nbf"] = nbf.into();
                }
                let token = sign(pair, ACCESS_TOKEN_TYP, &claims);
                let policy = Policy { leeway_seconds: leeway, ..policy() };
                let verified = verify_access_token(&policy, keys, &token, now);
                let (exp, now, leeway) = (i128::from(exp), i128::from(now), i128::from(leeway));
                let live = exp + leeway > now && nbf.is_none_or(|nbf| i128::from(nbf) - leeway <= now);
                prop_assert_eq!(verified.is_ok(), live);
            }

            #[test]
            fn any_authorization_header_is_a_credential_or_refused(value in "[ -~\\t]{0,60}") {
                let Ok(header) = HeaderValue::from_str(&value) else {
                    return Ok(());
                };
                if let Ok(credential) = bearer(Some(&header)) {
                    let (scheme, rest) = value.split_once(' ').unwrap_or_default();
                    prop_assert!(scheme.eq_ignore_ascii_case("bearer"));
                    prop_assert!(!credential.is_empty());
                    prop_assert_eq!(credential, rest.trim());
                }
            }

            #[test]
            fn a_bearer_header_gives_back_its_token(
                scheme in "[bB][eE][aA][rR][eE][rR]",
                spaces in " {1,3}",
                token in "[A-Za-z0-9._~+/-]{1,60}=*",
            ) {
                let Ok(header) = HeaderValue::from_str(&format!("{scheme}{spaces}{token}")) else {
                    return Err(TestCaseError::fail("not a header value"));
                };
                prop_assert_eq!(bearer(Some(&header)), Ok(token.as_str()));
            }
        }
    }

    /// A P-256 and an Ed25519 key pair, with their public keys as a JWKS
    /// would give them.
    fn ec_and_ed_signers() -> (
        aws_lc_rs::signature::EcdsaKeyPair,
        aws_lc_rs::signature::Ed25519KeyPair,
        Value,
    ) {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let ed = Ed25519KeyPair::generate().unwrap();
        let point = ec.public_key().as_ref().to_vec();
        let jwks = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "e1",
             "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])},
            {"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": "d1",
             "x": URL_SAFE_NO_PAD.encode(ed.public_key().as_ref())},
        ]});
        (ec, ed, jwks)
    }

    /// A compact JWS with this header over `claims()`, signed by `sign`.
    fn jws(header: Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        let signature = sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    #[test]
    fn es256_and_eddsa_tokens_verify_with_their_jwks_keys() {
        let (ec, ed, jwks) = ec_and_ed_signers();
        let keys = KeySet::from_jwks(&jwks.to_string()).unwrap();
        assert_eq!(keys.len(), 2);
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let es256 = jws(
            serde_json::json!({"alg": "ES256", "kid": "e1", "typ": ACCESS_TOKEN_TYP}),
            |m| ec.sign(&rng, m).unwrap().as_ref().to_vec(),
        );
        let eddsa = jws(
            serde_json::json!({"alg": "EdDSA", "kid": "d1", "typ": ACCESS_TOKEN_TYP}),
            |m| ed.sign(m).as_ref().to_vec(),
        );
        for token in [&es256, &eddsa] {
            let claims = verify_access_token(&policy(), &keys, token, 2000).unwrap();
            assert_eq!(claims.subject, "u1");
        }
        let mut tampered = es256.clone();
        tampered.replace_range(tampered.len() - 2.., "AA");
        assert!(keys.verify(&tampered).is_err());
    }

    #[test]
    fn a_header_alg_other_than_the_keys_is_refused() {
        let (ec, ed, jwks) = ec_and_ed_signers();
        let (pair, rsa_keys) = signer();
        let public = pair.public_key();
        let mut jwks = jwks;
        jwks["keys"].as_array_mut().unwrap().push(serde_json::json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        }));
        let keys = KeySet::from_jwks(&jwks.to_string()).unwrap();
        assert_eq!(keys.len(), 3);
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let confused =
            |alg: &str, kid: &str| serde_json::json!({"alg": alg, "kid": kid, "typ": ACCESS_TOKEN_TYP});
        // Signed by the EC key, claiming to be RS256 under the EC kid, and
        // ES256 under the RSA kid: the key decides, not the header.
        let cases = [
            jws(confused("RS256", "e1"), |m| {
                ec.sign(&rng, m).unwrap().as_ref().to_vec()
            }),
            jws(confused("ES256", "k1"), |m| {
                ec.sign(&rng, m).unwrap().as_ref().to_vec()
            }),
            jws(confused("ES256", "d1"), |m| ed.sign(m).as_ref().to_vec()),
            jws(confused("EdDSA", "e1"), |m| ed.sign(m).as_ref().to_vec()),
        ];
        for token in &cases {
            assert_eq!(
                keys.verify(token).unwrap_err(),
                invalid("the token's alg is not the algorithm of its signing key"),
                "{token}"
            );
        }
        // HS256 keyed with the RSA public key (the classic confusion), and
        // `none` with an empty signature.
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let hmac_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &n);
        let hs256 = jws(confused("HS256", "k1"), |m| {
            aws_lc_rs::hmac::sign(&hmac_key, m).as_ref().to_vec()
        });
        let none = jws(confused("none", "k1"), |_| Vec::new());
        for token in [&hs256, &none] {
            for set in [&keys, &rsa_keys] {
                assert!(
                    matches!(set.verify(token), Err(GuardError::InvalidToken(ref d)) if d.contains("supported algorithm")),
                    "{token}"
                );
            }
        }
        // A JWK whose declared alg is not its type's is not taken.
        let mislabeled = serde_json::json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "alg": "RS256", "kid": "d1",
            "x": URL_SAFE_NO_PAD.encode(ed.public_key().as_ref()),
        }]});
        assert!(KeySet::from_jwks(&mislabeled.to_string()).unwrap().is_empty());
    }

    #[test]
    fn the_grant_comes_from_jti_when_no_grant_id_claim_is_present() {
        let (pair, keys) = signer();
        let mut compact = claims();
        compact.as_object_mut().unwrap().remove("grant_id");
        compact["jti"] = "Gr4nt1dXwxyz".into();
        let token = sign(&pair, ACCESS_TOKEN_TYP, &compact);
        let read = verify_access_token(&policy(), &keys, &token, 2000).unwrap();
        assert_eq!(
            (read.grant_id.as_str(), read.jti.as_str()),
            ("Gr4nt1dX", "Gr4nt1dXwxyz")
        );
        // An old-shape token names its grant separately.
        let old =
            verify_access_token(&policy(), &keys, &sign(&pair, ACCESS_TOKEN_TYP, &claims()), 2000).unwrap();
        assert_eq!(old.grant_id, "g1");
        compact["jti"] = "wxyz".into();
        assert!(
            verify_access_token(&policy(), &keys, &sign(&pair, ACCESS_TOKEN_TYP, &compact), 2000).is_err()
        );
    }

    #[test]
    fn malformed_tokens_are_invalid() {
        let keys = KeySet::default();
        for token in ["", "a", "a.b", "a.b.c", "eyJhbGciOiJub25lIn0.e30.x"] {
            assert!(
                matches!(keys.verify(token), Err(GuardError::InvalidToken(_))),
                "{token}"
            );
        }
    }
}
