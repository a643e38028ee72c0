//! Signing keys: generation (RSA-2048 for RS256, P-256 for ES256 and
//! Ed25519 for EdDSA, through aws-lc-rs), the master key that seals private
//! keys at rest, the key ring a running server signs with, the JWKS it
//! publishes, and the rotation rules (SPEC 6 "Tokens"), per algorithm: a
//! new key is published before it signs, and an old key stays published
//! until the tokens it signed have expired.
//!
//! The key ring holds parsed key pairs, so signing never re-parses a key.
//! Servers reload it from storage periodically, which is how a key rotated
//! by the CLI or by another instance reaches every instance before it is
//! due to sign.

use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub use latchkey_verify::Alg;
use latchkey_verify::{KeySet, PublicKey};
use serde::Serialize;

use crate::secret::MasterKey;
use crate::store::{SigningKeyRecord, Store, StoreError};

mod master;

pub use master::{MasterKeyError, resolve_master_key};

pub const ALG_RS256: &str = "RS256";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no signing key is active for {0}")]
    NoActiveKey(Alg),
    #[error("signing key {kid} cannot be decrypted with the configured master key")]
    Undecryptable { kid: String },
    #[error("signing key {kid} is not a valid private key for its algorithm")]
    Malformed { kid: String },
    #[error("signing key {kid} has the unsupported algorithm `{alg}`")]
    UnknownAlg { kid: String, alg: String },
    #[error("key generation failed")]
    Generation,
    #[error("signing failed")]
    Signing,
    #[error("no unretired signing key has the kid `{0}`")]
    NotFound(String),
    #[error("signing key {0} is the active key; rotate first, then retire it once its tokens have expired")]
    Active(String),
    #[error(
        "signing key {kid} signed tokens until {signed_until}; they may be valid until {needed_until} — retire it after that, or pass --force"
    )]
    StillNeeded {
        kid: String,
        signed_until: i64,
        needed_until: i64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A public key in JWK form (RFC 7517, RFC 7518 §6, RFC 8037 §2), as the
/// JWKS publishes it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<&'static str>,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
    pub kid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// A parsed private key of one of the supported algorithms.
enum Signer {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// Public key bytes: RSA (n, e), a P-256 point's (x, y), or an Ed25519 key.
enum PublicParts {
    Rsa(Vec<u8>, Vec<u8>),
    P256(Vec<u8>, Vec<u8>),
    Ed25519(Vec<u8>),
}

impl PublicParts {
    fn key(&self) -> PublicKey<'_> {
        match self {
            PublicParts::Rsa(n, e) => PublicKey::Rsa { n, e },
            PublicParts::P256(x, y) => PublicKey::P256 { x, y },
            PublicParts::Ed25519(x) => PublicKey::Ed25519 { x },
        }
    }
}

impl Signer {
    fn generate(alg: Alg) -> Result<Self, KeyError> {
        let generated = match alg {
            Alg::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048).map(Signer::Rsa),
            Alg::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map(Signer::Ecdsa),
            Alg::EdDsa => Ed25519KeyPair::generate().map(Signer::Ed25519),
        };
        generated.map_err(|_| KeyError::Generation)
    }

    fn from_pkcs8(alg: Alg, der: &[u8]) -> Option<Self> {
        match alg {
            Alg::Rs256 => RsaKeyPair::from_pkcs8(der).ok().map(Signer::Rsa),
            Alg::Es256 => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .ok()
                .map(Signer::Ecdsa),
            Alg::EdDsa => Ed25519KeyPair::from_pkcs8(der).ok().map(Signer::Ed25519),
        }
    }

    /// The private key as PKCS#8, to be sealed.
    fn to_pkcs8(&self) -> Result<Vec<u8>, KeyError> {
        let der = match self {
            Signer::Rsa(pair) => {
                AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(pair).map(|der| der.as_ref().to_vec())
            }
            Signer::Ecdsa(pair) => pair.to_pkcs8v1().map(|doc| doc.as_ref().to_vec()),
            Signer::Ed25519(pair) => pair.to_pkcs8v1().map(|doc| doc.as_ref().to_vec()),
        };
        der.map_err(|_| KeyError::Generation)
    }

    fn alg(&self) -> Alg {
        match self {
            Signer::Rsa(_) => Alg::Rs256,
            Signer::Ecdsa(_) => Alg::Es256,
            Signer::Ed25519(_) => Alg::EdDsa,
        }
    }

    fn public_parts(&self) -> PublicParts {
        match self {
            Signer::Rsa(pair) => {
                let public = pair.public_key();
                PublicParts::Rsa(
                    public.modulus().big_endian_without_leading_zero().to_vec(),
                    public.exponent().big_endian_without_leading_zero().to_vec(),
                )
            }
            Signer::Ecdsa(pair) => {
                // The uncompressed point: 0x04, then x and y, 32 bytes each.
                let point = pair.public_key().as_ref();
                let coordinates = point.get(1..).unwrap_or_default();
                let (x, y) = coordinates.split_at(coordinates.len() / 2);
                PublicParts::P256(x.to_vec(), y.to_vec())
            }
            Signer::Ed25519(pair) => PublicParts::Ed25519(pair.public_key().as_ref().to_vec()),
        }
    }

    /// The JWS signature over `message` (RFC 7518 §3.3, §3.4; RFC 8037 §3.1).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self {
            Signer::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Signing)?;
                Ok(signature)
            }
            Signer::Ecdsa(pair) => pair
                .sign(&rng, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| KeyError::Signing),
            Signer::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

fn public_jwk(alg: Alg, parts: &PublicParts, kid: String) -> Jwk {
    let b64 = |bytes: &[u8]| Some(URL_SAFE_NO_PAD.encode(bytes));
    let mut jwk = Jwk {
        kty: "RSA",
        crv: None,
        use_: "sig",
        alg: alg.as_str(),
        kid,
        n: None,
        e: None,
        x: None,
        y: None,
    };
    match parts {
        PublicParts::Rsa(n, e) => (jwk.n, jwk.e) = (b64(n), b64(e)),
        PublicParts::P256(x, y) => {
            (jwk.kty, jwk.crv) = ("EC", Some("P-256"));
            (jwk.x, jwk.y) = (b64(x), b64(y));
        }
        PublicParts::Ed25519(x) => {
            (jwk.kty, jwk.crv) = ("OKP", Some("Ed25519"));
            jwk.x = b64(x);
        }
    }
    jwk
}

/// How many bytes of the RFC 7638 thumbprint make a new key's `kid`:
/// 8 bytes, 11 base64url characters — unique among one issuer's keys by
/// far, and short in every token header. Keys made before keep theirs.
const KID_BYTES: usize = 8;

/// The `kid` of a new key: the start of its RFC 7638 JWK thumbprint (the
/// SHA-256 of the required members, in lexicographic order, without
/// whitespace).
fn thumbprint_kid(parts: &PublicParts) -> String {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let canonical = match parts {
        PublicParts::Rsa(n, e) => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64(e), b64(n)),
        PublicParts::P256(x, y) => format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            b64(x),
            b64(y)
        ),
        PublicParts::Ed25519(x) => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(x)),
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    b64(&digest.as_ref()[..KID_BYTES])
}

/// A parsed key of the ring.
struct RingKey {
    kid: String,
    signer: Signer,
    activates_at: i64,
}

/// The published keys with the parsed private parts, and the JWKS document
/// rendered once.
pub struct KeyRing {
    keys: Vec<RingKey>,
    jwks: Arc<str>,
    /// The public keys, parsed once, for verifying tokens.
    key_set: Arc<KeySet>,
}

/// The algorithm a stored key is for.
fn record_alg(record: &SigningKeyRecord) -> Result<Alg, KeyError> {
    Alg::parse(&record.alg).ok_or_else(|| KeyError::UnknownAlg {
        kid: record.kid.clone(),
        alg: record.alg.clone(),
    })
}

impl KeyRing {
    /// Opens every unretired key of `records` with the master key.
    pub fn open(records: &[SigningKeyRecord], master: &MasterKey) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for record in records.iter().filter(|r| r.retired_at.is_none()) {
            let alg = record_alg(record)?;
            let der = master
                .open(record.kid.as_bytes(), &record.private_key_sealed)
                .map_err(|_| KeyError::Undecryptable {
                    kid: record.kid.clone(),
                })?;
            let signer = Signer::from_pkcs8(alg, &der).ok_or_else(|| KeyError::Malformed {
                kid: record.kid.clone(),
            })?;
            keys.push(RingKey {
                kid: record.kid.clone(),
                signer,
                activates_at: record.activates_at,
            });
        }
        let publics: Vec<(&str, Alg, PublicParts)> = keys
            .iter()
            .map(|k| (k.kid.as_str(), k.signer.alg(), k.signer.public_parts()))
            .collect();
        let key_set = KeySet::from_keys(publics.iter().map(|(kid, _, parts)| (*kid, parts.key())));
        let jwks = serde_json::json!({
            "keys": publics
                .iter()
                .map(|(kid, alg, parts)| public_jwk(*alg, parts, (*kid).to_owned()))
                .collect::<Vec<_>>()
        })
        .to_string();
        Ok(Self {
            keys,
            jwks: jwks.into(),
            key_set: Arc::new(key_set),
        })
    }

    /// The published public keys, for verifying tokens.
    pub fn key_set(&self) -> Arc<KeySet> {
        Arc::clone(&self.key_set)
    }

    /// The JWKS document (RFC 7517 §5) with every published key.
    pub fn jwks_json(&self) -> Arc<str> {
        Arc::clone(&self.jwks)
    }

    /// The algorithms with a published key, RS256 first.
    pub fn algs(&self) -> Vec<Alg> {
        Alg::ALL
            .into_iter()
            .filter(|alg| self.keys.iter().any(|k| k.signer.alg() == *alg))
            .collect()
    }

    /// The key of `alg` that signs at `now`: the most recently activated
    /// one; before any activation time has come, the earliest due.
    fn active(&self, alg: Alg, now: i64) -> Option<&RingKey> {
        let of_alg = || self.keys.iter().filter(move |k| k.signer.alg() == alg);
        of_alg()
            .filter(|k| k.activates_at <= now)
            .max_by_key(|k| (k.activates_at, k.kid.as_str()))
            .or_else(|| of_alg().min_by_key(|k| k.activates_at))
    }

    /// The kid that signs with `alg` at `now`.
    pub fn active_kid(&self, alg: Alg, now: i64) -> Option<&str> {
        self.active(alg, now).map(|k| k.kid.as_str())
    }

    /// A compact JWS (RFC 7515) over `claims`, signed with `alg` by the
    /// active key of that algorithm, with `typ` and its `kid` in the header.
    pub fn sign_jwt<C: Serialize>(
        &self,
        alg: Alg,
        typ: &str,
        claims: &C,
        now: i64,
    ) -> Result<String, KeyError> {
        let key = self.active(alg, now).ok_or(KeyError::NoActiveKey(alg))?;
        let header = serde_json::json!({ "alg": alg.as_str(), "typ": typ, "kid": key.kid });
        let header = serde_json::to_vec(&header).map_err(|_| KeyError::Signing)?;
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Signing)?;
        let mut jws = String::with_capacity(1024);
        URL_SAFE_NO_PAD.encode_string(header, &mut jws);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut jws);
        let signature = key.signer.sign(jws.as_bytes())?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
        Ok(jws)
    }
}

/// The key ring shared by a server's request handlers; swapped whole on
/// reload, so a reader never sees half a ring.
pub struct Keys {
    ring: RwLock<Arc<KeyRing>>,
    master: MasterKey,
}

impl Keys {
    pub async fn load(store: &dyn Store, master: MasterKey) -> Result<Self, KeyError> {
        let ring = KeyRing::open(&store.list_signing_keys().await?, &master)?;
        Ok(Self {
            ring: RwLock::new(Arc::new(ring)),
            master,
        })
    }

    /// The master key the ring was opened with.
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The current ring.
    pub fn ring(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Makes sure each of `algs` has a key ([`ensure_signing_keys`]) and,
    /// when one was created, reloads the ring so it signs here at once.
    pub async fn ensure(&self, store: &dyn Store, algs: &[Alg], now: i64) -> Result<(), KeyError> {
        let created = ensure_signing_keys(store, &self.master, algs, now).await?;
        if !created.is_empty() {
            self.reload(store).await?;
        }
        Ok(())
    }

    /// Re-reads the keys from storage.
    pub async fn reload(&self, store: &dyn Store) -> Result<(), KeyError> {
        let ring = Arc::new(KeyRing::open(&store.list_signing_keys().await?, &self.master)?);
        match self.ring.write() {
            Ok(mut guard) => *guard = ring,
            Err(poisoned) => *poisoned.into_inner() = ring,
        }
        Ok(())
    }
}

/// Generates a key for `alg` sealed under `master`, published from `now`
/// and signing from `activates_at`. Its `kid` is the start of its RFC 7638
/// thumbprint.
pub fn generate(
    master: &MasterKey,
    alg: Alg,
    now: i64,
    activates_at: i64,
) -> Result<SigningKeyRecord, KeyError> {
    let signer = Signer::generate(alg)?;
    let kid = thumbprint_kid(&signer.public_parts());
    let der = signer.to_pkcs8()?;
    let private_key_sealed = master
        .seal(kid.as_bytes(), &der)
        .map_err(|_| KeyError::Generation)?;
    Ok(SigningKeyRecord {
        kid,
        alg: alg.as_str().to_owned(),
        private_key_sealed,
        created_at: now,
        activates_at,
        retired_at: None,
    })
}

/// Makes sure every algorithm of `algs` has an unretired key, creating one
/// (signing at once) for each that has none — on first start, and when an
/// algorithm comes into use. Proves the master key opens the existing keys.
/// Returns the keys created.
pub async fn ensure_signing_keys(
    store: &dyn Store,
    master: &MasterKey,
    algs: &[Alg],
    now: i64,
) -> Result<Vec<SigningKeyRecord>, KeyError> {
    let records = store.list_signing_keys().await?;
    KeyRing::open(&records, master)?;
    let mut created = Vec::new();
    for &alg in algs {
        let has_key = records
            .iter()
            .chain(&created)
            .any(|r| r.retired_at.is_none() && r.alg == alg.as_str());
        if !has_key {
            let record = generate(master, alg, now, now)?;
            store.insert_signing_key(&record).await?;
            created.push(record);
        }
    }
    Ok(created)
}

/// The algorithms that must have a key: RS256 always (OpenID Connect
/// Discovery requires it for ID tokens), `tokens.signing_alg`, and every
/// algorithm a client asks for its ID tokens. RS256 first.
pub async fn algs_in_use(store: &dyn Store, config: &crate::config::Config) -> Result<Vec<Alg>, KeyError> {
    let clients = store.list_clients().await?;
    Ok(Alg::ALL
        .into_iter()
        .filter(|alg| {
            *alg == Alg::Rs256
                || *alg == config.tokens.signing_alg
                || clients
                    .iter()
                    .any(|c| c.id_token_signed_response_alg == Some(*alg))
        })
        .collect())
}

/// Rotation of one algorithm's key: a new key, published now, signing from
/// `now + lead` — and strictly after the activation of every key of that
/// algorithm already signing, so the new key wins even within the same
/// second (times have one-second resolution). A key scheduled for later
/// keeps its own activation time.
pub async fn rotate(
    store: &dyn Store,
    master: &MasterKey,
    alg: Alg,
    now: i64,
    lead_seconds: i64,
) -> Result<SigningKeyRecord, KeyError> {
    let latest = store
        .list_signing_keys()
        .await?
        .iter()
        .filter(|r| r.retired_at.is_none() && r.activates_at <= now && r.alg == alg.as_str())
        .map(|r| r.activates_at)
        .max();
    let mut activates_at = now.saturating_add(lead_seconds);
    if let Some(latest) = latest {
        activates_at = activates_at.max(latest.saturating_add(1));
    }
    let record = generate(master, alg, now, activates_at)?;
    store.insert_signing_key(&record).await?;
    Ok(record)
}

/// The algorithms that have unretired keys, RS256 first: what `keys
/// rotate` without `--alg` rotates.
pub fn algs_with_keys(records: &[SigningKeyRecord]) -> Vec<Alg> {
    Alg::ALL
        .into_iter()
        .filter(|alg| {
            records
                .iter()
                .any(|r| r.retired_at.is_none() && r.alg == alg.as_str())
        })
        .collect()
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published, not signing yet.
    Pending,
    /// Published and signing.
    Active,
    /// Published, no longer signing: verifies tokens it signed earlier.
    Previous,
    /// No longer published.
    Retired,
}

/// A key with its state at some moment, for `keys list`.
#[derive(Debug, Clone, Serialize)]
pub struct KeyStatus {
    pub kid: String,
    pub alg: String,
    pub state: KeyState,
    pub created_at: i64,
    pub activates_at: i64,
    /// When a newer key took over signing, for previous keys.
    pub signed_until: Option<i64>,
    pub retired_at: Option<i64>,
}

/// The state of every key at `now`. Each algorithm has its own active key.
pub fn describe(records: &[SigningKeyRecord], now: i64) -> Vec<KeyStatus> {
    let live: Vec<&SigningKeyRecord> = records.iter().filter(|r| r.retired_at.is_none()).collect();
    let active_kid = |alg: &str| {
        let of_alg = || live.iter().filter(move |k| k.alg == alg);
        of_alg()
            .filter(|k| k.activates_at <= now)
            .max_by_key(|k| (k.activates_at, k.kid.as_str()))
            .or_else(|| of_alg().min_by_key(|k| k.activates_at))
            .map(|k| k.kid.clone())
    };
    records
        .iter()
        .map(|r| {
            let signed_until = records
                .iter()
                .filter(|other| {
                    other.alg == r.alg && other.activates_at > r.activates_at && other.activates_at <= now
                })
                .map(|other| other.activates_at)
                .min();
            let state = if r.retired_at.is_some() {
                KeyState::Retired
            } else if active_kid(&r.alg).as_deref() == Some(r.kid.as_str()) {
                KeyState::Active
            } else if r.activates_at > now {
                KeyState::Pending
            } else {
                KeyState::Previous
            };
            KeyStatus {
                kid: r.kid.clone(),
                alg: r.alg.clone(),
                state,
                created_at: r.created_at,
                activates_at: r.activates_at,
                signed_until: if state == KeyState::Previous || state == KeyState::Retired {
                    signed_until
                } else {
                    None
                },
                retired_at: r.retired_at,
            }
        })
        .collect()
}

/// Retires a key: it leaves the JWKS. Refused for the active key, and —
/// unless `force` — for a key whose tokens may still be unexpired
/// (`max_token_ttl` after it stopped signing).
pub async fn retire(
    store: &dyn Store,
    kid: &str,
    now: i64,
    max_token_ttl: i64,
    force: bool,
) -> Result<(), KeyError> {
    let records = store.list_signing_keys().await?;
    let status = describe(&records, now)
        .into_iter()
        .find(|s| s.kid == kid && s.state != KeyState::Retired)
        .ok_or_else(|| KeyError::NotFound(kid.to_owned()))?;
    match status.state {
        KeyState::Active => return Err(KeyError::Active(kid.to_owned())),
        KeyState::Previous if !force => {
            let signed_until = status.signed_until.unwrap_or(now);
            let needed_until = signed_until.saturating_add(max_token_ttl);
            if needed_until > now {
                return Err(KeyError::StillNeeded {
                    kid: kid.to_owned(),
                    signed_until,
                    needed_until,
                });
            }
        }
        _ => {}
    }
    if store.retire_signing_key(kid, now).await? {
        Ok(())
    } else {
        Err(KeyError::NotFound(kid.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
    use latchkey_verify::GuardError;

    fn rsa_key(master: &MasterKey, now: i64, activates_at: i64) -> SigningKeyRecord {
        generate(master, Alg::Rs256, now, activates_at).unwrap()
    }

    fn record(kid: &str, activates_at: i64, retired_at: Option<i64>) -> SigningKeyRecord {
        SigningKeyRecord {
            kid: kid.into(),
            alg: ALG_RS256.into(),
            private_key_sealed: vec![],
            created_at: 0,
            activates_at,
            retired_at,
        }
    }

    #[test]
    fn signed_jwt_verifies_with_the_published_jwk() {
        let master = MasterKey::generate();
        let key = rsa_key(&master, 100, 100);
        let ring = KeyRing::open(std::slice::from_ref(&key), &master).unwrap();
        let jwt = ring
            .sign_jwt(Alg::Rs256, "at+jwt", &serde_json::json!({"sub": "u1"}), 200)
            .unwrap();

        let jwks: serde_json::Value = serde_json::from_str(&ring.jwks_json()).unwrap();
        let jwk = &jwks["keys"][0];
        assert_eq!(jwk["kid"], key.kid.as_str());
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["alg"], "RS256");
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
        let (signed, signature) = jwt.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .expect("signature verifies against the JWKS key");
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "RS256", "typ": "at+jwt", "kid": key.kid})
        );
    }

    #[test]
    fn key_set_accepts_own_tokens_and_rejects_tampering() {
        let master = MasterKey::generate();
        let key = rsa_key(&master, 0, 0);
        let ring = KeyRing::open(std::slice::from_ref(&key), &master).unwrap();
        let jwt = ring
            .sign_jwt(Alg::Rs256, "at+jwt", &serde_json::json!({"sub": "u1"}), 1)
            .unwrap();
        let (typ, claims) = ring.key_set().verify(&jwt).unwrap();
        assert_eq!(typ.as_deref(), Some("at+jwt"));
        assert_eq!(claims["sub"], "u1");
        let (head, rest) = jwt.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#);
        let signature = rest.split_once('.').unwrap().1;
        let forged = format!("{head}.{forged_payload}.{signature}");
        assert!(matches!(
            ring.key_set().verify(&forged),
            Err(GuardError::InvalidToken(_))
        ));
        let other = MasterKey::generate();
        let stranger = KeyRing::open(&[rsa_key(&other, 0, 0)], &other).unwrap();
        assert!(matches!(
            stranger.key_set().verify(&jwt),
            Err(GuardError::InvalidToken(_))
        ));
        let jwks = KeySet::from_jwks(&ring.jwks_json()).unwrap();
        assert!(
            jwks.verify(&jwt).is_ok(),
            "the published JWKS verifies the token too"
        );
    }

    #[test]
    fn every_algorithm_signs_with_its_own_key_and_short_kid() {
        let master = MasterKey::generate();
        let records: Vec<SigningKeyRecord> = Alg::ALL
            .into_iter()
            .map(|alg| generate(&master, alg, 0, 0).unwrap())
            .collect();
        let ring = KeyRing::open(&records, &master).unwrap();
        assert_eq!(ring.algs(), Alg::ALL);
        let jwks: serde_json::Value = serde_json::from_str(&ring.jwks_json()).unwrap();
        let from_jwks = KeySet::from_jwks(&ring.jwks_json()).unwrap();
        assert_eq!(from_jwks.len(), 3);
        for (alg, record) in Alg::ALL.into_iter().zip(&records) {
            assert_eq!(record.kid.len(), 11, "8 bytes of thumbprint in base64url");
            assert_eq!(ring.active_kid(alg, 1), Some(record.kid.as_str()));
            let jwt = ring
                .sign_jwt(alg, "at+jwt", &serde_json::json!({"sub": "u1"}), 1)
                .unwrap();
            let header: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap())
                    .unwrap();
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], record.kid.as_str());
            assert_eq!(ring.key_set().verify(&jwt).unwrap().1["sub"], "u1");
            assert!(from_jwks.verify(&jwt).is_ok(), "{alg} verifies from the JWKS");
            let jwk = jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kid"] == record.kid.as_str())
                .unwrap();
            assert_eq!(
                (jwk["alg"].as_str(), jwk["use"].as_str()),
                (Some(alg.as_str()), Some("sig"))
            );
            let members: Vec<&str> = match alg {
                Alg::Rs256 => vec!["n", "e"],
                Alg::Es256 => vec!["crv", "x", "y"],
                Alg::EdDsa => vec!["crv", "x"],
            };
            for member in members {
                assert!(jwk.get(member).is_some(), "{member} missing from {jwk}");
            }
        }
    }

    #[test]
    fn each_algorithm_has_its_own_active_key() {
        let mut es = record("es-old", 0, None);
        es.alg = "ES256".into();
        let mut es_new = record("es-new", 500, None);
        es_new.alg = "ES256".into();
        let records = [record("rs", 0, None), es, es_new];
        let statuses = describe(&records, 600);
        let states: Vec<KeyState> = statuses.iter().map(|s| s.state).collect();
        assert_eq!(states, [KeyState::Active, KeyState::Previous, KeyState::Active]);
        assert_eq!(statuses[1].signed_until, Some(500));
        assert_eq!(algs_with_keys(&records), [Alg::Rs256, Alg::Es256]);
    }

    #[test]
    fn private_key_is_stored_sealed() {
        let master = MasterKey::generate();
        let key = rsa_key(&master, 0, 0);
        let other = MasterKey::generate();
        assert!(matches!(
            KeyRing::open(&[key], &other),
            Err(KeyError::Undecryptable { .. })
        ));
    }

    #[test]
    fn pending_key_is_published_but_does_not_sign_until_due() {
        let statuses = describe(&[record("old", 0, None), record("new", 500, None)], 100);
        assert_eq!(statuses[0].state, KeyState::Active);
        assert_eq!(statuses[1].state, KeyState::Pending);
        let later = describe(&[record("old", 0, None), record("new", 500, None)], 600);
        assert_eq!(later[0].state, KeyState::Previous);
        assert_eq!(later[0].signed_until, Some(500));
        assert_eq!(later[1].state, KeyState::Active);
    }

    #[test]
    fn retired_keys_are_neither_active_nor_published() {
        let statuses = describe(&[record("a", 0, None), record("b", 10, Some(20))], 100);
        assert_eq!(statuses[0].state, KeyState::Active);
        assert_eq!(statuses[1].state, KeyState::Retired);
    }
}
