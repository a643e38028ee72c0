//! Signing keys: generation (RSA-2048 for RS256, through aws-lc-rs), the
//! master key that seals private keys at rest, the key ring a running server
//! signs with, the JWKS it publishes, and the rotation rules (SPEC 6
//! "Tokens"): a new key is published before it signs, and an old key stays
//! published until the tokens it signed have expired.
//!
//! The key ring holds parsed key pairs, so signing never re-parses a key.
//! Servers reload it from storage periodically, which is how a key rotated
//! by the CLI or by another instance reaches every instance before it is
//! due to sign.

use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_verify::KeySet;
use serde::Serialize;

use crate::secret::MasterKey;
use crate::store::{SigningKeyRecord, Store, StoreError};

mod master;

pub use master::{MasterKeyError, resolve_master_key};

pub const ALG_RS256: &str = "RS256";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no signing key is active")]
    NoActiveKey,
    #[error("signing key {kid} cannot be decrypted with the configured master key")]
    Undecryptable { kid: String },
    #[error("signing key {kid} is not a valid RSA private key")]
    Malformed { kid: String },
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

/// A public key in JWK form (RFC 7517), as the JWKS publishes it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
    pub kid: String,
    pub n: String,
    pub e: String,
}

fn public_jwk(key_pair: &KeyPair, kid: String) -> Jwk {
    let public = key_pair.public_key();
    Jwk {
        kty: "RSA",
        use_: "sig",
        alg: ALG_RS256,
        kid,
        n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    }
}

/// RFC 7638 JWK thumbprint of an RSA public key, used as its `kid`.
fn thumbprint(key_pair: &KeyPair) -> String {
    let jwk = public_jwk(key_pair, String::new());
    let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, jwk.e, jwk.n);
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.as_bytes(),
    ))
}

/// A parsed key of the ring.
struct RingKey {
    kid: String,
    key_pair: KeyPair,
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

impl KeyRing {
    /// Opens every unretired key of `records` with the master key.
    pub fn open(records: &[SigningKeyRecord], master: &MasterKey) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for record in records.iter().filter(|r| r.retired_at.is_none()) {
            let der = master
                .open(record.kid.as_bytes(), &record.private_key_sealed)
                .map_err(|_| KeyError::Undecryptable {
                    kid: record.kid.clone(),
                })?;
            let malformed = || KeyError::Malformed {
                kid: record.kid.clone(),
            };
            let key_pair = KeyPair::from_pkcs8(&der).map_err(|_| malformed())?;
            keys.push(RingKey {
                kid: record.kid.clone(),
                key_pair,
                activates_at: record.activates_at,
            });
        }
        let components: Vec<(String, Vec<u8>, Vec<u8>)> = keys
            .iter()
            .map(|k| {
                let public = k.key_pair.public_key();
                (
                    k.kid.clone(),
                    public.modulus().big_endian_without_leading_zero().to_vec(),
                    public.exponent().big_endian_without_leading_zero().to_vec(),
                )
            })
            .collect();
        let key_set = KeySet::from_rsa_components(
            components
                .iter()
                .map(|(kid, n, e)| (kid.as_str(), n.as_slice(), e.as_slice())),
        );
        let jwks = serde_json::json!({
            "keys": keys.iter().map(|k| public_jwk(&k.key_pair, k.kid.clone())).collect::<Vec<_>>()
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

    /// The key that signs at `now`: the most recently activated one; before
    /// any activation time has come, the earliest due.
    fn active(&self, now: i64) -> Option<&RingKey> {
        self.keys
            .iter()
            .filter(|k| k.activates_at <= now)
            .max_by_key(|k| (k.activates_at, k.kid.as_str()))
            .or_else(|| self.keys.iter().min_by_key(|k| k.activates_at))
    }

    /// The kid that signs at `now`.
    pub fn active_kid(&self, now: i64) -> Option<&str> {
        self.active(now).map(|k| k.kid.as_str())
    }

    /// A compact JWS (RFC 7515) over `claims`, RS256, with `typ` and the
    /// active key's `kid` in the header.
    pub fn sign_jwt<C: Serialize>(&self, typ: &str, claims: &C, now: i64) -> Result<String, KeyError> {
        let key = self.active(now).ok_or(KeyError::NoActiveKey)?;
        let header = serde_json::json!({ "alg": ALG_RS256, "typ": typ, "kid": key.kid });
        let header = serde_json::to_vec(&header).map_err(|_| KeyError::Signing)?;
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Signing)?;
        let mut jws = String::with_capacity(1024);
        URL_SAFE_NO_PAD.encode_string(header, &mut jws);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut jws);
        let mut signature = vec![0u8; key.key_pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        key.key_pair
            .sign(&RSA_PKCS1_SHA256, &rng, jws.as_bytes(), &mut signature)
            .map_err(|_| KeyError::Signing)?;
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

/// Generates an RSA-2048 key sealed under `master`, published from `now`
/// and signing from `activates_at`.
pub fn generate(master: &MasterKey, now: i64, activates_at: i64) -> Result<SigningKeyRecord, KeyError> {
    let key_pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generation)?;
    let kid = thumbprint(&key_pair);
    let der =
        AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key_pair).map_err(|_| KeyError::Generation)?;
    let private_key_sealed = master
        .seal(kid.as_bytes(), der.as_ref())
        .map_err(|_| KeyError::Generation)?;
    Ok(SigningKeyRecord {
        kid,
        alg: ALG_RS256.to_owned(),
        private_key_sealed,
        created_at: now,
        activates_at,
        retired_at: None,
    })
}

/// Creates a signing key on first start: when no unretired key exists.
/// Returns the kid created, if any.
pub async fn ensure_signing_key(
    store: &dyn Store,
    master: &MasterKey,
    now: i64,
) -> Result<Option<String>, KeyError> {
    let records = store.list_signing_keys().await?;
    if records.iter().any(|r| r.retired_at.is_none()) {
        // Prove the master key opens them before the server starts.
        KeyRing::open(&records, master)?;
        return Ok(None);
    }
    let record = generate(master, now, now)?;
    store.insert_signing_key(&record).await?;
    Ok(Some(record.kid))
}

/// Rotation: a new key, published now, signing from `now + lead` — and
/// strictly after the activation of every key already signing, so the new
/// key wins even within the same second (times have one-second resolution).
/// A key scheduled for later keeps its own activation time.
pub async fn rotate(
    store: &dyn Store,
    master: &MasterKey,
    now: i64,
    lead_seconds: i64,
) -> Result<SigningKeyRecord, KeyError> {
    let latest = store
        .list_signing_keys()
        .await?
        .iter()
        .filter(|r| r.retired_at.is_none() && r.activates_at <= now)
        .map(|r| r.activates_at)
        .max();
    let mut activates_at = now.saturating_add(lead_seconds);
    if let Some(latest) = latest {
        activates_at = activates_at.max(latest.saturating_add(1));
    }
    let record = generate(master, now, activates_at)?;
    store.insert_signing_key(&record).await?;
    Ok(record)
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

/// The state of every key at `now`.
pub fn describe(records: &[SigningKeyRecord], now: i64) -> Vec<KeyStatus> {
    let live: Vec<&SigningKeyRecord> = records.iter().filter(|r| r.retired_at.is_none()).collect();
    let active_kid = live
        .iter()
        .filter(|k| k.activates_at <= now)
        .max_by_key(|k| (k.activates_at, k.kid.as_str()))
        .or_else(|| live.iter().min_by_key(|k| k.activates_at))
        .map(|k| k.kid.clone());
    records
        .iter()
        .map(|r| {
            let signed_until = records
                .iter()
                .filter(|other| other.activates_at > r.activates_at && other.activates_at <= now)
                .map(|other| other.activates_at)
                .min();
            let state = if r.retired_at.is_some() {
                KeyState::Retired
            } else if active_kid.as_deref() == Some(r.kid.as_str()) {
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
        let key = generate(&master, 100, 100).unwrap();
        let ring = KeyRing::open(std::slice::from_ref(&key), &master).unwrap();
        let jwt = ring
            .sign_jwt("at+jwt", &serde_json::json!({"sub": "u1"}), 200)
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
        let key = generate(&master, 0, 0).unwrap();
        let ring = KeyRing::open(std::slice::from_ref(&key), &master).unwrap();
        let jwt = ring
            .sign_jwt("at+jwt", &serde_json::json!({"sub": "u1"}), 1)
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
        let stranger = KeyRing::open(&[generate(&other, 0, 0).unwrap()], &other).unwrap();
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
    fn private_key_is_stored_sealed() {
        let master = MasterKey::generate();
        let key = generate(&master, 0, 0).unwrap();
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
