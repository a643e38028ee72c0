//! The platform's signed assertion (a compact JWS, RFC 7515): its
//! signature, checked with the one configured key and only that key's
//! algorithm (HS256 for a shared secret; RS256, ES256 or EdDSA for a
//! public key — never `none`, never a header's choice), and its claims,
//! checked against Latchkey's issuer and the time given. Signatures are
//! aws-lc-rs's (HMAC compared in constant time); nothing here is crypto of
//! its own.

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::pki_types::SubjectPublicKeyInfoDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Map, Value};

use crate::keys::Alg;
use crate::secret::Secret;

/// The longest assertion accepted, in bytes.
const MAX_ASSERTION_BYTES: usize = 16 * 1024;

/// The longest an assertion may be valid (`exp` − `iat`), in seconds: it
/// carries a person from the platform back to Latchkey, nothing more.
pub const MAX_LIFETIME_SECONDS: i64 = 600;

/// The key the platform signs with; it decides the one algorithm accepted.
#[derive(Clone)]
pub enum VerifyingKey {
    /// A shared secret (HS256, RFC 7518 §3.2).
    Hs256(Secret),
    /// A public key (SubjectPublicKeyInfo DER) and the algorithm its type
    /// verifies.
    Public { alg: Alg, spki_der: Vec<u8> },
    /// The platform's published keys (JWKS URL): each verifies its own
    /// algorithm, found by the assertion's `kid`.
    Jwks(std::sync::Arc<super::jwks::RemoteKeys>),
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hs256(_) => f.write_str("Hs256([redacted])"),
            Self::Public { alg, .. } => write!(f, "Public({alg})"),
            Self::Jwks(remote) => write!(f, "Jwks({remote:?})"),
        }
    }
}

impl VerifyingKey {
    /// A `-----BEGIN PUBLIC KEY-----` PEM: RSA (RS256, 2048 bits or more),
    /// EC P-256 (ES256) or Ed25519 (EdDSA).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem.trim().as_bytes()).map_err(|_| {
            "is not a PEM public key (`-----BEGIN PUBLIC KEY-----`, as `openssl pkey -pubout` writes)"
                .to_owned()
        })?;
        let spki_der = der.as_ref().to_vec();
        Alg::ALL
            .into_iter()
            .find(|alg| ParsedPublicKey::new(algorithm(*alg), &spki_der).is_ok())
            .map(|alg| Self::Public { alg, spki_der })
            .ok_or_else(|| "is not an RSA (2048 bits or more), EC P-256 or Ed25519 public key".to_owned())
    }

    /// The JOSE name of the one algorithm this key verifies.
    pub fn alg_name(&self) -> &'static str {
        match self {
            Self::Hs256(_) => "HS256",
            Self::Public { alg, .. } => alg.as_str(),
            Self::Jwks(_) => "the JWKS keys'",
        }
    }

    fn verify_signature(&self, signed: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Hs256(secret) => {
                let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
                hmac::verify(&key, signed, signature).is_ok()
            }
            Self::Public { alg, spki_der } => ParsedPublicKey::new(algorithm(*alg), spki_der)
                .is_ok_and(|key| key.verify_sig(signed, signature).is_ok()),
            // Checked by `verify_published` with the key its `kid` names.
            Self::Jwks(_) => false,
        }
    }
}

fn algorithm(alg: Alg) -> &'static dyn aws_lc_rs::signature::VerificationAlgorithm {
    match alg {
        Alg::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
        Alg::Es256 => &ECDSA_P256_SHA256_FIXED,
        Alg::EdDsa => &ED25519,
    }
}

/// What an assertion must say besides its signature.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The platform (`iss`).
    pub issuer: &'a str,
    /// Latchkey's issuer (`aud`).
    pub audience: &'a str,
    /// Clock skew tolerated on `exp`, `nbf`, `iat` and `auth_time`.
    pub leeway: i64,
}

/// One organization of the assertion's `organizations`: named by `id`
/// (Latchkey's organization id, which the platform may choose) or by
/// `name`, with the person's role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertedOrganization {
    pub id: Option<String>,
    pub name: Option<String>,
    pub role: String,
}

/// A verified assertion's claims.
#[derive(Debug)]
pub struct Assertion {
    pub subject: String,
    pub email: String,
    pub name: Option<String>,
    pub email_verified: bool,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub login_challenge: Secret,
    pub jti: String,
    pub expires_at: i64,
    /// `None` when the claim is absent (memberships stay as they are).
    pub organizations: Option<Vec<AssertedOrganization>>,
}

/// Why an assertion was refused, in words for the person and the
/// platform's developers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refused(text: impl Into<String>) -> Refused {
    Refused(text.into())
}

/// Verifies `token`'s signature with `key` and its claims against
/// `expected` at `now`.
pub fn verify(
    key: &VerifyingKey,
    expected: Expected<'_>,
    token: &str,
    now: i64,
) -> Result<Assertion, Refused> {
    let claims = verify_signature(key, token)?;
    read_claims(&claims, expected, now)
}

/// [`verify`] for the platform's published keys ([`VerifyingKey::Jwks`]).
pub async fn verify_published(
    remote: &super::jwks::RemoteKeys,
    expected: Expected<'_>,
    token: &str,
    now: i64,
) -> Result<Assertion, Refused> {
    check_shape(token)?;
    let claims = remote.verify(token).await?;
    read_claims(&claims, expected, now)
}

/// The bounds every assertion keeps before its signature is checked: its
/// size, and no `crit` extension (RFC 7515 §4.1.11).
fn check_shape(token: &str) -> Result<(), Refused> {
    let malformed = || refused("The sign-in assertion is not a well-formed signed JWT.");
    if token.len() > MAX_ASSERTION_BYTES {
        return Err(refused(format!(
            "The sign-in assertion is longer than {MAX_ASSERTION_BYTES} bytes."
        )));
    }
    let (header, _) = token.split_once('.').ok_or_else(malformed)?;
    let header: Map<String, Value> = decode_json(header).ok_or_else(malformed)?;
    if header.contains_key("crit") {
        return Err(refused(
            "The sign-in assertion's header has `crit` extensions, which this server does not support.",
        ));
    }
    Ok(())
}

fn verify_signature(key: &VerifyingKey, token: &str) -> Result<Map<String, Value>, Refused> {
    let malformed = || refused("The sign-in assertion is not a well-formed signed JWT.");
    if token.len() > MAX_ASSERTION_BYTES {
        return Err(refused(format!(
            "The sign-in assertion is longer than {MAX_ASSERTION_BYTES} bytes."
        )));
    }
    let (signed, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
    let (header, payload) = signed.split_once('.').ok_or_else(malformed)?;
    let header: Map<String, Value> = decode_json(header).ok_or_else(malformed)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or_default();
    // RFC 8725 §3.1: the algorithm is the key's, never the token's choice.
    if alg != key.alg_name() {
        return Err(refused(format!(
            "The sign-in assertion is signed with `{alg}`, but this server accepts only {} assertions from the platform.",
            key.alg_name()
        )));
    }
    // RFC 7515 §4.1.11: extensions we do not understand must be refused.
    if header.contains_key("crit") {
        return Err(refused(
            "The sign-in assertion's header has `crit` extensions, which this server does not support.",
        ));
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed())?;
    if !key.verify_signature(signed.as_bytes(), &signature) {
        return Err(refused(
            "The sign-in assertion's signature is not valid for the platform's configured key.",
        ));
    }
    decode_json(payload).ok_or_else(malformed)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<&'a str, Refused> {
    match claims.get(name) {
        Some(Value::String(value)) if !value.trim().is_empty() => Ok(value),
        Some(_) => Err(refused(format!(
            "The sign-in assertion's `{name}` claim must be a non-empty string."
        ))),
        None => Err(refused(format!("The sign-in assertion has no `{name}` claim."))),
    }
}

fn time(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Refused> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_i64().map(Some).ok_or_else(|| {
            refused(format!(
                "The sign-in assertion's `{name}` claim must be a whole number of seconds since 1970."
            ))
        }),
    }
}

fn required_time(claims: &Map<String, Value>, name: &str) -> Result<i64, Refused> {
    time(claims, name)?.ok_or_else(|| refused(format!("The sign-in assertion has no `{name}` claim.")))
}

fn read_claims(claims: &Map<String, Value>, expected: Expected<'_>, now: i64) -> Result<Assertion, Refused> {
    let issuer = text(claims, "iss")?;
    if issuer != expected.issuer {
        return Err(refused(format!(
            "The sign-in assertion was issued by `{issuer}`, not by the configured platform `{}`.",
            expected.issuer
        )));
    }
    let audience_matches = match claims.get("aud") {
        Some(Value::String(aud)) => aud == expected.audience,
        Some(Value::Array(list)) => list.iter().any(|aud| aud.as_str() == Some(expected.audience)),
        _ => false,
    };
    if !audience_matches {
        return Err(refused(format!(
            "The sign-in assertion's `aud` must be this server's issuer, `{}`.",
            expected.audience
        )));
    }
    let expires_at = required_time(claims, "exp")?;
    let issued_at = required_time(claims, "iat")?;
    if expires_at + expected.leeway <= now {
        return Err(refused(
            "The sign-in assertion has expired. Sign in again from the app.",
        ));
    }
    if issued_at > now + expected.leeway {
        return Err(refused(
            "The sign-in assertion's `iat` is in the future; check the platform's clock.",
        ));
    }
    if expires_at - issued_at > MAX_LIFETIME_SECONDS {
        return Err(refused(format!(
            "The sign-in assertion is valid for longer than {MAX_LIFETIME_SECONDS} seconds (`exp` − `iat`); the platform must issue short-lived assertions."
        )));
    }
    if time(claims, "nbf")?.is_some_and(|nbf| nbf > now + expected.leeway) {
        return Err(refused("The sign-in assertion is not valid yet (`nbf`)."));
    }
    let auth_time = time(claims, "auth_time")?.unwrap_or(issued_at);
    if auth_time > now + expected.leeway {
        return Err(refused(
            "The sign-in assertion's `auth_time` is in the future; check the platform's clock.",
        ));
    }
    let email_verified = match claims.get("email_verified") {
        None => false,
        Some(Value::Bool(verified)) => *verified,
        Some(_) => {
            return Err(refused(
                "The sign-in assertion's `email_verified` claim must be true or false.",
            ));
        }
    };
    let name = match claims.get("name") {
        None | Some(Value::Null) => None,
        Some(_) => Some(text(claims, "name")?.to_owned()),
    };
    Ok(Assertion {
        subject: text(claims, "sub")?.to_owned(),
        email: text(claims, "email")?.to_owned(),
        name,
        email_verified,
        auth_time: auth_time.min(now),
        amr: read_amr(claims)?,
        login_challenge: Secret::new(text(claims, "login_challenge")?),
        jti: text(claims, "jti")?.to_owned(),
        expires_at,
        organizations: read_organizations(claims)?,
    })
}

fn read_amr(claims: &Map<String, Value>) -> Result<Vec<String>, Refused> {
    let bad = || refused("The sign-in assertion's `amr` claim must be a list of strings.");
    match claims.get("amr") {
        None => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

fn read_organizations(claims: &Map<String, Value>) -> Result<Option<Vec<AssertedOrganization>>, Refused> {
    let bad = |detail: &str| {
        refused(format!(
            "The sign-in assertion's `organizations` claim must be a list of {{\"id\" or \"name\", \"name\", \"role\"}} objects: {detail}"
        ))
    };
    let list = match claims.get("organizations") {
        None => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad("it is not a list.")),
    };
    let field = |entry: &Map<String, Value>, name: &str| -> Result<Option<String>, Refused> {
        match entry.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) if !value.trim().is_empty() => Ok(Some(value.trim().to_owned())),
            Some(_) => Err(bad(&format!("`{name}` must be a non-empty string."))),
        }
    };
    list.iter()
        .map(|entry| {
            let entry = entry
                .as_object()
                .ok_or_else(|| bad("an entry is not an object."))?;
            let id = field(entry, "id")?;
            let name = field(entry, "name")?;
            if id.is_none() && name.is_none() {
                return Err(bad("an entry has neither `id` nor `name`."));
            }
            let role = field(entry, "role")?.ok_or_else(|| bad("an entry has no `role`."))?;
            Ok(AssertedOrganization { id, name, role })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn sign(header: &Value, claims: &Value, secret: &str) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let tag = hmac::sign(&key, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    fn claims(now: i64) -> Value {
        json!({
            "iss": "https://app.example.com", "aud": "https://id.example.com",
            "iat": now, "exp": now + 120, "sub": "u-1", "email": "a@example.com",
            "login_challenge": "lc_x", "jti": "j-1",
        })
    }

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "https://app.example.com",
            audience: "https://id.example.com",
            leeway: 30,
        }
    }

    fn key() -> VerifyingKey {
        VerifyingKey::Hs256(Secret::new(SECRET))
    }

    #[test]
    fn a_well_signed_assertion_gives_its_claims() {
        let token = sign(&json!({"alg": "HS256"}), &claims(1000), SECRET);
        let assertion = verify(&key(), expected(), &token, 1000).unwrap();
        assert_eq!(assertion.subject, "u-1");
        assert_eq!(assertion.auth_time, 1000);
        assert!(!assertion.email_verified);
        assert!(assertion.organizations.is_none());
    }

    #[test]
    fn wrong_secret_alg_none_and_crit_are_refused() {
        let wrong = sign(
            &json!({"alg": "HS256"}),
            &claims(1000),
            "another secret of thirty-two bytes!",
        );
        assert!(
            verify(&key(), expected(), &wrong, 1000)
                .unwrap_err()
                .0
                .contains("signature")
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
            URL_SAFE_NO_PAD.encode(claims(1000).to_string())
        );
        assert!(
            verify(&key(), expected(), &none, 1000)
                .unwrap_err()
                .0
                .contains("`none`")
        );
        let crit = sign(&json!({"alg": "HS256", "crit": ["x"]}), &claims(1000), SECRET);
        assert!(
            verify(&key(), expected(), &crit, 1000)
                .unwrap_err()
                .0
                .contains("crit")
        );
    }

    #[test]
    fn time_claims_are_checked_with_leeway() {
        let token = sign(&json!({"alg": "HS256"}), &claims(1000), SECRET);
        assert!(verify(&key(), expected(), &token, 1149).is_ok());
        assert!(
            verify(&key(), expected(), &token, 1150)
                .unwrap_err()
                .0
                .contains("expired")
        );
        let mut long = claims(1000);
        long["exp"] = json!(1000 + MAX_LIFETIME_SECONDS + 1);
        let token = sign(&json!({"alg": "HS256"}), &long, SECRET);
        assert!(
            verify(&key(), expected(), &token, 1000)
                .unwrap_err()
                .0
                .contains("longer than")
        );
    }

    #[test]
    fn organizations_need_an_id_or_a_name_and_a_role() {
        let mut with = claims(1000);
        with["organizations"] = json!([{"id": "o1", "role": "admin"}, {"name": "Acme", "role": "member"}]);
        let token = sign(&json!({"alg": "HS256"}), &with, SECRET);
        let orgs = verify(&key(), expected(), &token, 1000)
            .unwrap()
            .organizations
            .unwrap();
        assert_eq!(orgs.len(), 2);
        for bad in [json!([{"role": "admin"}]), json!([{"id": "o1"}]), json!("o1")] {
            with["organizations"] = bad;
            let token = sign(&json!({"alg": "HS256"}), &with, SECRET);
            assert!(
                verify(&key(), expected(), &token, 1000)
                    .unwrap_err()
                    .0
                    .contains("organizations")
            );
        }
    }

    #[test]
    fn pem_keys_fix_their_algorithm() {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
        let pair = Ed25519KeyPair::generate().unwrap();
        let der = pair.public_key().as_der().unwrap();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der.as_ref())
        );
        let key = VerifyingKey::from_pem(&pem).unwrap();
        assert_eq!(key.alg_name(), "EdDSA");
        assert!(VerifyingKey::from_pem("not a key").is_err());
    }
}
