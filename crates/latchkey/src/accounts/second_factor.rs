//! The second factor at sign-in: an authenticator app (TOTP, RFC 6238:
//! HMAC-SHA-1, 6 digits, 30-second steps, one step of clock drift either
//! way) and one-time recovery codes; enrolment, removal, and the check at
//! the second step of a sign-in. The code arithmetic is `totp-rs`'s, the
//! QR code `qrcode`'s; this module keeps the rules:
//!
//! - the secret (20 random bytes) is stored sealed with the master key,
//!   bound to the user id, and lives in memory as [`TotpSecret`], whose
//!   `Debug` prints nothing of it;
//! - an enrolment is pending until the user types a code from the app;
//! - a code is accepted once: the time step of the last accepted code is
//!   stored, and a code of that step or an earlier one is refused;
//! - recovery codes (10, shown once) are stored as SHA-256 digests, each
//!   usable once.
//!
//! Throttling of wrong codes is the caller's (`throttle.rs`, as for
//! passwords); which methods a user may use is [`methods`].

use totp_rs::{Algorithm, Totp};

use crate::audit::{self, Actor, Subject};
use crate::secret::{MasterKey, SealError, Secret, TokenDigest, random_bytes};
use crate::store::{Store, StoreError, UserRecord};

/// Digits of a code.
pub const CODE_DIGITS: u8 = 6;
/// Seconds of a time step.
pub const STEP_SECONDS: u64 = 30;
/// Steps of clock drift accepted either way.
pub const SKEW_STEPS: u16 = 1;
/// How many recovery codes a user gets at a time.
pub const RECOVERY_CODE_COUNT: usize = 10;
const SECRET_BYTES: usize = 20;
/// The characters of a recovery code: lower case letters and digits
/// without those read alike (o, i, l, 1): 32, so a random byte's low five
/// bits choose one without bias.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz234567890";
const RECOVERY_CODE_CHARS: usize = 10;

/// A way to complete the second step of a sign-in, in the order the step
/// offers them: a passkey first (it cannot be phished), then the
/// authenticator app, then a recovery code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// One of the user's passkeys (checked by `accounts::passkeys`).
    Passkey,
    /// A code from the authenticator app.
    Totp,
    /// One of the one-time recovery codes.
    RecoveryCode,
}

impl Method {
    /// The method's name in forms and links.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passkey => "passkey",
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery-code",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Passkey, Self::Totp, Self::RecoveryCode]
            .into_iter()
            .find(|method| method.as_str() == text)
    }

    /// Whether the method is a code typed into the step's form (a passkey
    /// answers through the browser instead).
    pub fn takes_a_code(self) -> bool {
        !matches!(self, Self::Passkey)
    }
}

/// Why a second-factor operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored secret does not open with this master key.
    #[error(transparent)]
    Sealed(#[from] SealError),
}

/// A TOTP secret in memory.
#[derive(Clone)]
pub struct TotpSecret([u8; SECRET_BYTES]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

fn seal_context(user_id: &str) -> Vec<u8> {
    format!("totp-secret:{user_id}").into_bytes()
}

impl TotpSecret {
    pub fn generate() -> Self {
        Self(random_bytes::<SECRET_BYTES>())
    }

    fn seal(&self, master: &MasterKey, user_id: &str) -> Result<Vec<u8>, SealError> {
        master.seal(&seal_context(user_id), &self.0)
    }

    fn open(master: &MasterKey, user_id: &str, sealed: &[u8]) -> Result<Self, SealError> {
        let bytes = master.open(&seal_context(user_id), sealed)?;
        bytes.try_into().map(Self).map_err(|_| SealError)
    }

    /// The code generator, labelled `issuer:account` for the app (a
    /// colon, which the label format reserves, becomes a space).
    fn totp(&self, issuer: &str, account: &str) -> Totp {
        totp_rs::Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(CODE_DIGITS)
            .with_skew(SKEW_STEPS)
            .with_step_duration(STEP_SECONDS)
            .with_secret(self.0)
            .with_issuer(Some(issuer.replace(':', " ")))
            .with_account_name(account.replace(':', " "))
            .build_noncompliant()
    }

    /// The time step `code` belongs to, when it is the app's code for the
    /// step of `now` or the one before or after.
    pub fn check(&self, code: &str, now: i64) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != usize::from(CODE_DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = u64::try_from(now).ok()?;
        let step = self.totp("", "").check(&code, now)?;
        i64::try_from(step).ok()
    }
}

/// What the enrolment page shows: the secret to type (base32 in groups of
/// four), the `otpauth://` URI, and that URI as a QR code (an SVG image).
#[derive(Clone)]
pub struct Enrolment {
    pub secret_text: String,
    pub uri: String,
    pub qr_svg: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment([redacted])")
    }
}

impl Enrolment {
    fn new(secret: &TotpSecret, issuer: &str, account: &str) -> Self {
        let totp = secret.totp(issuer, account);
        let base32 = totp.secret().to_base32();
        let secret_text = base32
            .as_bytes()
            .chunks(4)
            .map(|group| String::from_utf8_lossy(group).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let uri = totp.to_url().unwrap_or_default();
        Self {
            secret_text,
            qr_svg: qr_svg(&uri),
            uri,
        }
    }
}

/// `text` as a QR code in SVG, ready to inline in a page (without the
/// XML declaration), labelled for screen readers; empty if it cannot be
/// encoded.
fn qr_svg(text: &str) -> String {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
        return String::new();
    };
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    let Some(start) = svg.find("<svg") else {
        return String::new();
    };
    svg[start..].replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"QR code to scan with your authenticator app\" class=\"qr\" ",
        1,
    )
}

/// The methods `user_id` can complete a sign-in's second step with, in
/// the order the step offers them (passkeys only when `passkeys` are
/// offered here); empty when the user has no second factor.
pub async fn methods(store: &dyn Store, user_id: &str, passkeys: bool) -> Result<Vec<Method>, StoreError> {
    let mut methods = Vec::with_capacity(3);
    if passkeys && !store.list_passkeys(user_id).await?.is_empty() {
        methods.push(Method::Passkey);
    }
    let app = store
        .find_totp(user_id)
        .await?
        .is_some_and(|totp| totp.confirmed_at.is_some());
    if app {
        methods.extend([Method::Totp, Method::RecoveryCode]);
    }
    Ok(methods)
}

/// The state of a user's authenticator app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticatorState {
    None,
    Pending,
    Active { since: i64, recovery_codes_left: u64 },
}

pub async fn app_state(store: &dyn Store, user_id: &str) -> Result<AuthenticatorState, StoreError> {
    Ok(match store.find_totp(user_id).await? {
        None => AuthenticatorState::None,
        Some(totp) => match totp.confirmed_at {
            None => AuthenticatorState::Pending,
            Some(since) => AuthenticatorState::Active {
                since,
                recovery_codes_left: store.count_recovery_codes(user_id).await?,
            },
        },
    })
}

/// Starts (or restarts) an enrolment with a new secret; `false` when the
/// user has an active app already.
pub async fn begin_enrolment(
    store: &dyn Store,
    master: &MasterKey,
    user_id: &str,
    now: i64,
) -> Result<bool, SecondFactorError> {
    let sealed = TotpSecret::generate().seal(master, user_id)?;
    Ok(store.put_pending_totp(user_id, &sealed, now).await?)
}

/// The pending enrolment of `user`, as the page shows it: labelled with
/// `issuer` (the product's name) and the user's email.
pub async fn pending_enrolment(
    store: &dyn Store,
    master: &MasterKey,
    user: &UserRecord,
    issuer: &str,
) -> Result<Option<Enrolment>, SecondFactorError> {
    match store.find_totp(&user.id).await? {
        Some(totp) if totp.confirmed_at.is_none() => {
            let secret = TotpSecret::open(master, &user.id, &totp.secret_sealed)?;
            Ok(Some(Enrolment::new(&secret, issuer, &user.email)))
        }
        _ => Ok(None),
    }
}

/// Activates the pending enrolment when `code` is the app's current code:
/// the new recovery codes (to show once), or `None` (a wrong code, or no
/// pending enrolment). Audited as `user.totp_enabled`.
pub async fn confirm_enrolment(
    store: &dyn Store,
    master: &MasterKey,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<Option<Vec<Secret>>, SecondFactorError> {
    let Some(totp) = store
        .find_totp(user_id)
        .await?
        .filter(|t| t.confirmed_at.is_none())
    else {
        return Ok(None);
    };
    let secret = TotpSecret::open(master, user_id, &totp.secret_sealed)?;
    let Some(step) = secret.check(code, now) else {
        return Ok(None);
    };
    let codes = generate_recovery_codes();
    let digests: Vec<TokenDigest> = codes.iter().map(recovery_digest).collect();
    if !store.confirm_totp(user_id, step, &digests, now).await? {
        return Ok(None);
    }
    record(store, user_id, "user.totp_enabled", serde_json::json!({}), now).await;
    Ok(Some(codes))
}

/// Removes the authenticator app and the recovery codes; whether there
/// was one. Audited as `user.totp_removed`.
pub async fn remove(store: &dyn Store, user_id: &str, now: i64) -> Result<bool, StoreError> {
    let removed = store.delete_totp(user_id).await?;
    if removed {
        record(store, user_id, "user.totp_removed", serde_json::json!({}), now).await;
    }
    Ok(removed)
}

/// What [`reset_all`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset {
    /// The authenticator app (with its recovery codes) was on or pending.
    pub authenticator_app: bool,
    pub passkeys: u64,
}

/// An operator's way back in for a user who lost every second factor (the
/// phone and the recovery codes): removes the authenticator app, its
/// recovery codes and every passkey of `user_id`, so the next sign-in is
/// with the password alone (or, in an organization that requires a second
/// factor, sets a new one up first). Sessions already open stay.
/// Audited as `user.second_factors_reset` by `actor`.
pub async fn reset_all(
    store: &dyn Store,
    actor: &Actor,
    user_id: &str,
    now: i64,
) -> Result<Reset, StoreError> {
    let authenticator_app = store.delete_totp(user_id).await?;
    let mut passkeys = 0;
    for passkey in store.list_passkeys(user_id).await? {
        if store.delete_passkey(user_id, &passkey.credential_id).await? {
            passkeys += 1;
        }
    }
    let subject = Subject {
        user_id: Some(user_id),
        ..Subject::default()
    };
    let details = serde_json::json!({"authenticatorApp": authenticator_app, "passkeys": passkeys});
    audit::record(store, actor, "user.second_factors_reset", subject, details, now).await;
    Ok(Reset {
        authenticator_app,
        passkeys,
    })
}

/// Replaces the user's recovery codes with new ones (to show once).
/// Audited as `user.recovery_codes_created`.
pub async fn replace_recovery_codes(
    store: &dyn Store,
    user_id: &str,
    now: i64,
) -> Result<Vec<Secret>, StoreError> {
    let codes = generate_recovery_codes();
    let digests: Vec<TokenDigest> = codes.iter().map(recovery_digest).collect();
    store.replace_recovery_codes(user_id, &digests, now).await?;
    record(
        store,
        user_id,
        "user.recovery_codes_created",
        serde_json::json!({"count": codes.len()}),
        now,
    )
    .await;
    Ok(codes)
}

/// Whether `code` completes the second step for `user_id` with `method`:
/// the app's code of a step not used before, or an unused recovery code
/// (then used up, and audited as `user.recovery_code_used`). A passkey is
/// no code: never.
pub async fn verify(
    store: &dyn Store,
    master: &MasterKey,
    user_id: &str,
    method: Method,
    code: &str,
    now: i64,
) -> Result<bool, SecondFactorError> {
    match method {
        Method::Passkey => Ok(false),
        Method::Totp => {
            let Some(totp) = store
                .find_totp(user_id)
                .await?
                .filter(|t| t.confirmed_at.is_some())
            else {
                return Ok(false);
            };
            let secret = TotpSecret::open(master, user_id, &totp.secret_sealed)?;
            match secret.check(code, now) {
                Some(step) => Ok(store.use_totp_step(user_id, step).await?),
                None => Ok(false),
            }
        }
        Method::RecoveryCode => {
            let digest = recovery_digest(&Secret::new(code));
            if !store.use_recovery_code(user_id, &digest, now).await? {
                return Ok(false);
            }
            let left = store.count_recovery_codes(user_id).await?;
            let details = serde_json::json!({"remaining": left});
            record(store, user_id, "user.recovery_code_used", details, now).await;
            Ok(true)
        }
    }
}

/// Sets whether the members of `organization_id` must use a second
/// factor; `false` when there is no such organization. Audited as
/// `organization.second_factor_rule_changed`.
pub async fn set_organization_rule(
    store: &dyn Store,
    actor: &Actor,
    organization_id: &str,
    required: bool,
    now: i64,
) -> Result<bool, StoreError> {
    if !store
        .set_organization_second_factor(organization_id, required)
        .await?
    {
        return Ok(false);
    }
    let subject = Subject {
        organization_id: Some(organization_id),
        ..Subject::default()
    };
    let details = serde_json::json!({"requireSecondFactor": required});
    audit::record(
        store,
        actor,
        "organization.second_factor_rule_changed",
        subject,
        details,
        now,
    )
    .await;
    Ok(true)
}

/// The names of the user's organizations whose members must use a second
/// factor (empty when none does).
pub async fn organizations_requiring(store: &dyn Store, user_id: &str) -> Result<Vec<String>, StoreError> {
    let ids: Vec<String> = store
        .list_memberships(user_id)
        .await?
        .into_iter()
        .map(|m| m.organization_id)
        .collect();
    let mut names = Vec::new();
    for id in store.organizations_requiring_second_factor(&ids).await? {
        if let Some(organization) = store.find_organization(&id).await? {
            names.push(organization.name);
        }
    }
    Ok(names)
}

/// New recovery codes, `xxxxx-xxxxx` (50 random bits each).
fn generate_recovery_codes() -> Vec<Secret> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let bytes = random_bytes::<RECOVERY_CODE_CHARS>();
            let chars: String = bytes
                .iter()
                .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b & 31)]))
                .collect();
            Secret::new(format!("{}-{}", &chars[..5], &chars[5..]))
        })
        .collect()
}

/// The stored form of a recovery code as typed: case, spaces and dashes
/// do not matter.
fn recovery_digest(code: &Secret) -> TokenDigest {
    let normalized: String = code
        .expose()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    TokenDigest::of(&format!("recovery-code:{normalized}"))
}

async fn record(store: &dyn Store, user_id: &str, action: &str, details: serde_json::Value, now: i64) {
    let subject = Subject {
        user_id: Some(user_id),
        ..Subject::default()
    };
    audit::record(
        store,
        &Actor::User(user_id.to_owned()),
        action,
        subject,
        details,
        now,
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 key, the first 20 bytes.
    const RFC_KEY: &[u8; 20] = b"12345678901234567890";

    #[test]
    fn codes_follow_rfc_6238_and_allow_one_step_of_drift() {
        let secret = TotpSecret(*RFC_KEY);
        // RFC 6238 Appendix B: T = 59 gives 94287082 (8 digits); 6 digits
        // are its last six.
        assert_eq!(secret.check("287082", 59), Some(1));
        assert_eq!(secret.check("287 082", 59 + 30), Some(1), "a step late");
        assert_eq!(secret.check("287082", 59 + 60), None, "two steps late");
        assert_eq!(secret.check("28708", 59), None);
        assert_eq!(secret.check("2870821", 59), None);
        assert_eq!(secret.check("abcdef", 59), None);
    }

    #[test]
    fn secrets_open_only_for_their_user_and_key() {
        let master = MasterKey::generate();
        let secret = TotpSecret::generate();
        let sealed = secret.seal(&master, "u1").unwrap();
        assert_eq!(TotpSecret::open(&master, "u1", &sealed).unwrap().0, secret.0);
        assert!(TotpSecret::open(&master, "u2", &sealed).is_err());
        assert!(TotpSecret::open(&MasterKey::generate(), "u1", &sealed).is_err());
        assert_eq!(format!("{secret:?}"), "TotpSecret([redacted])");
    }

    #[test]
    fn the_enrolment_names_the_product_and_the_user() {
        let enrolment = Enrolment::new(&TotpSecret(*RFC_KEY), "Acme: ID", "a@example.com");
        assert_eq!(enrolment.secret_text, "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
        assert!(
            enrolment
                .uri
                .starts_with("otpauth://totp/Acme%20%20ID:a%40example.com?"),
            "{}",
            enrolment.uri
        );
        assert!(enrolment.uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        assert!(enrolment.uri.contains("issuer=Acme%20%20ID"));
        assert!(
            enrolment.qr_svg.starts_with("<svg role=\"img\""),
            "{}",
            &enrolment.qr_svg[..60]
        );
        assert!(!format!("{enrolment:?}").contains("GEZD"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_typed_loosely() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        let digests: std::collections::HashSet<[u8; 32]> =
            codes.iter().map(|c| recovery_digest(c).0).collect();
        assert_eq!(digests.len(), RECOVERY_CODE_COUNT);
        let code = codes[0].expose();
        assert_eq!(code.len(), 11);
        let typed = Secret::new(format!(" {} ", code.replace('-', "").to_uppercase()));
        assert!(recovery_digest(&typed).matches(&recovery_digest(&codes[0])));
    }

    #[test]
    fn methods_parse_from_their_names() {
        for method in [Method::Passkey, Method::Totp, Method::RecoveryCode] {
            assert_eq!(Method::parse(method.as_str()), Some(method));
            assert_eq!(method.takes_a_code(), method != Method::Passkey);
        }
        assert_eq!(Method::parse("sms"), None);
    }
}
