//! Secret values and the few primitives every opaque credential shares:
//! generation from the OS random source, the SHA-256 digest that is the only
//! form ever stored, constant-time comparison, and the master key that
//! encrypts signing keys at rest. Secret values live in types whose `Debug`
//! prints `[redacted]`, so they cannot reach a log by accident.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use subtle::ConstantTimeEq;

/// A secret string: a client secret, refresh token, API key, password.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must return or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest that is stored and looked up instead of the secret.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A secret is read from a request body or a configuration file as a plain
/// string; once read, only [`Secret::expose`] gives it back.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// Writes a secret into a response body, for
/// `#[serde(serialize_with = "…")]` on the one field that must carry it.
/// `Secret` has no `Serialize` of its own, so a secret is never serialized
/// by accident.
pub fn serialize_exposed<S: serde::Serializer>(secret: &Secret, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

/// [`serialize_exposed`] for an optional secret.
pub fn serialize_exposed_option<S: serde::Serializer>(
    secret: &Option<Secret>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose()),
        None => serializer.serialize_none(),
    }
}

/// SHA-256 of an opaque credential. The credentials are 256 random bits, so
/// a fast unsalted digest is the right storage form (SPEC 5).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    pub fn of(value: &str) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, value.as_bytes()).as_ref());
        Self(out)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// Constant-time equality, for comparing a presented secret's digest
    /// with a stored one.
    pub fn matches(&self, other: &TokenDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest([redacted])")
    }
}

/// `n` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS random source failing is not something a server can continue
    // after; aws-lc aborts internally in that case as well.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        std::process::abort();
    }
    bytes
}

/// A new opaque credential: `prefix` followed by 256 random bits in
/// base64url (43 characters).
pub fn generate_token(prefix: &str) -> Secret {
    let mut value = String::with_capacity(prefix.len() + 43);
    value.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(random_bytes::<32>(), &mut value);
    Secret(value)
}

/// A non-secret identifier: `prefix` followed by 128 random bits in
/// lower-case hex (32 characters), safe in URLs and logs.
pub fn generate_identifier(prefix: &str) -> String {
    let mut value = String::with_capacity(prefix.len() + 32);
    value.push_str(prefix);
    for byte in random_bytes::<16>() {
        value.push_str(&format!("{byte:02x}"));
    }
    value
}

/// The 256-bit key that encrypts private signing keys at rest
/// (AES-256-GCM), given in configuration as standard base64.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Encryption or decryption under the master key failed; for decryption
/// this means the key is not the one the data was sealed with.
#[derive(Debug, thiserror::Error)]
#[error("data cannot be decrypted with this master key")]
pub struct SealError;

impl MasterKey {
    pub fn generate() -> Self {
        Self(random_bytes::<32>())
    }

    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| "is not valid base64".to_owned())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "must decode to exactly 32 bytes (e.g. `openssl rand -base64 32`)".to_owned())?;
        Ok(Self(key))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn aead(&self) -> Result<LessSafeKey, SealError> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| SealError)
    }

    /// Encrypts `plaintext`, binding it to `context` (authenticated, not
    /// stored). Output: 12-byte nonce followed by ciphertext and tag.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut in_out = plaintext.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context),
                &mut in_out,
            )
            .map_err(|_| SealError)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
        sealed.extend_from_slice(&nonce_bytes);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Reverses [`MasterKey::seal`]; fails for another key or context.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError);
        }
        let (nonce_bytes, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| SealError)?;
        let mut in_out = ciphertext.to_vec();
        let plaintext = self
            .aead()?
            .open_in_place(nonce, Aad::from(context), &mut in_out)
            .map_err(|_| SealError)?;
        Ok(plaintext.to_vec())
    }

    /// A value derived from the master key for `purpose`: stable across
    /// restarts, unguessable without the key (used for the demo data's
    /// printed credentials).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&key, purpose.as_bytes()).as_ref());
        out
    }
}

/// The key of form tokens (CSRF): an HMAC-SHA256 key derived from the
/// master key, so every instance sharing the master key accepts the
/// tokens of the others.
pub struct FormKey(hmac::Key);

impl fmt::Debug for FormKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FormKey([redacted])")
    }
}

impl FormKey {
    pub fn new(master_key: &MasterKey) -> Self {
        Self(hmac::Key::new(
            hmac::HMAC_SHA256,
            &master_key.derive("form tokens v1"),
        ))
    }

    fn message(parts: &[&str]) -> Vec<u8> {
        let mut message = Vec::new();
        for part in parts {
            message.extend_from_slice(&(part.len() as u64).to_be_bytes());
            message.extend_from_slice(part.as_bytes());
        }
        message
    }

    /// The token binding `parts` (each length-prefixed, so no two lists
    /// sign alike), base64url.
    pub fn sign(&self, parts: &[&str]) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, &Self::message(parts)))
    }

    /// Whether `token` is the token of `parts`, compared in constant time.
    pub fn verify(&self, parts: &[&str], token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token) {
            Ok(tag) => hmac::verify(&self.0, &Self::message(parts), &tag).is_ok(),
            Err(_) => false,
        }
    }
}

/// A credential with `prefix`, derived from the master key for `purpose`.
pub fn derive_token(master_key: &MasterKey, prefix: &str, purpose: &str) -> Secret {
    let mut value = String::from(prefix);
    URL_SAFE_NO_PAD.encode_string(master_key.derive(purpose), &mut value);
    Secret(value)
}

/// RFC 7636 §4.2: `BASE64URL(SHA256(ASCII(code_verifier)))`.
pub fn pkce_s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_master_key_is_exactly_32_bytes_of_base64(
            bytes in proptest::collection::vec(any::<u8>(), 0..48),
            url_safe in any::<bool>(),
        ) {
            let text = if url_safe { URL_SAFE_NO_PAD.encode(&bytes) } else { STANDARD.encode(&bytes) };
            match MasterKey::from_base64(&text) {
                Ok(key) => prop_assert_eq!(key.0.as_slice(), bytes.as_slice()),
                Err(_) => prop_assert_ne!(bytes.len(), 32),
            }
        }

        #[test]
        fn any_text_is_refused_or_read_as_a_key(text in any::<String>()) {
            if let Ok(key) = MasterKey::from_base64(&text) {
                prop_assert_eq!(MasterKey::from_base64(&key.to_base64()).map(|again| again.0).ok(), Some(key.0));
            }
        }
    }

    #[test]
    fn generated_tokens_carry_the_prefix_and_256_bits() {
        let token = generate_token("rt_");
        assert!(token.expose().starts_with("rt_"));
        assert_eq!(token.expose().len(), 3 + 43);
        assert_ne!(token, generate_token("rt_"));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let secret = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert!(!format!("{:?}", secret.digest()).contains("hunter"));
    }

    #[test]
    fn deserialized_secrets_stay_redacted_and_serialize_only_on_request() {
        let secret: Secret = serde_json::from_str("\"hunter2-hunter2\"").unwrap();
        assert_eq!(secret.expose(), "hunter2-hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));

        #[derive(serde::Serialize)]
        struct Body {
            #[serde(serialize_with = "serialize_exposed")]
            token: Secret,
            #[serde(serialize_with = "serialize_exposed_option")]
            other: Option<Secret>,
        }
        let body = Body {
            token: secret,
            other: None,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"token": "hunter2-hunter2", "other": null})
        );
    }

    #[test]
    fn digest_matches_only_the_same_value() {
        let a = TokenDigest::of("secret_a");
        assert!(a.matches(&TokenDigest::of("secret_a")));
        assert!(!a.matches(&TokenDigest::of("secret_b")));
    }

    #[test]
    fn sealed_data_opens_only_with_the_same_key_and_context() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"kid-1", b"private key bytes").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        assert_eq!(key.open(b"kid-1", &sealed).unwrap(), b"private key bytes");
        assert!(key.open(b"kid-2", &sealed).is_err());
        assert!(MasterKey::generate().open(b"kid-1", &sealed).is_err());
    }

    #[test]
    fn master_key_round_trips_through_base64() {
        let key = MasterKey::generate();
        let again = MasterKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(key.0, again.0);
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    }
}
