//! Passkeys (WebAuthn): enrolment on the Passkeys settings page, and
//! authentication — password-free (the browser names a discoverable
//! credential) or for a known user (a second factor). Every check of a
//! ceremony is webauthn-rs's; this module keeps its state, finds the
//! credentials and records their use.
//!
//! - The relying party is the issuer: its host is the RP id, its origin the
//!   only origin accepted, the brand's product name the RP name. An issuer
//!   whose host is an IP address has no passkeys (WebAuthn needs a domain),
//!   and neither does delegated sign-in (the platform signs people in).
//! - A ceremony's state is stored under the digest of a random id the
//!   browser keeps in a cookie, for [`CEREMONY_TTL_SECONDS`]; the answer
//!   takes (deletes) it, so each state serves one answer.
//! - The WebAuthn user handle is a random UUID per user, never the email.
//! - User verification is required, so a passkey is two factors in one:
//!   the session records `hwk` when the authenticator says the key cannot
//!   leave it (not backup eligible), `swk` when it may be synced (backup
//!   eligible), with `mfa`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Credential, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url,
    Uuid, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use super::amr;
use super::user_agent;
use crate::audit::{self, Actor, Subject};
use crate::config::{Config, LoginMode};
use crate::secret::{Secret, generate_token};
use crate::store::{PasskeyCeremonyRecord, PasskeyRecord, Store, StoreError, UserRecord};

/// How long a ceremony's state waits for the browser's answer.
pub const CEREMONY_TTL_SECONDS: i64 = 5 * 60;
/// The longest name a user may give a passkey, in characters.
pub const MAX_NAME_CHARS: usize = 60;
const CEREMONY_PREFIX: &str = "pkc_";

/// Why a passkey operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// This server offers no passkeys (delegated sign-in, or an issuer
    /// without a domain name).
    #[error("passkeys are not available on this server")]
    NotAvailable,
    /// No ceremony under this id: never begun, already used, expired, or
    /// begun for another user or purpose.
    #[error("this passkey request has expired or was already used; start again")]
    UnknownCeremony,
    /// The browser's answer names no passkey stored here.
    #[error("this passkey is not registered here")]
    UnknownCredential,
    /// The passkey is already registered (to this or another account).
    #[error("this passkey is already registered")]
    AlreadyRegistered,
    /// webauthn-rs refused the answer (signature, challenge, origin, user
    /// verification…); the reason is for the log.
    #[error("the passkey could not be verified")]
    Rejected(String),
    #[error("{0}")]
    InvalidName(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A successful passkey authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyUse {
    pub user_id: String,
    /// [`amr::HARDWARE_KEY`] or [`amr::SOFTWARE_KEY`].
    pub method: &'static str,
    pub credential_id: String,
}

impl PasskeyUse {
    /// The methods a session started by this passkey alone records: the
    /// key and `mfa` (user verification is the second factor).
    pub fn amr(&self) -> Vec<String> {
        amr::of(&[self.method, amr::MULTIPLE_FACTORS])
    }
}

/// The state kept between the options and the browser's answer.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", content = "state", rename_all = "snake_case")]
enum CeremonyState {
    Registration(PasskeyRegistration),
    /// A known user's passkeys were offered.
    Authentication(PasskeyAuthentication),
    /// The browser chooses a discoverable credential.
    Discoverable(DiscoverableAuthentication),
}

/// The relying party this configuration describes, or `None` when
/// passkeys are not offered.
pub fn relying_party(config: &Config) -> Option<Webauthn> {
    if let LoginMode::Delegate(_) = config.login.mode {
        return None;
    }
    let origin = Url::parse(&config.issuer).ok()?;
    let rp_id = origin.domain()?.to_owned();
    WebauthnBuilder::new(&rp_id, &origin)
        .ok()?
        .rp_name(&config.branding.product_name)
        .build()
        .ok()
}

/// The name a passkey gets when its user gives none: "Passkey (Chrome on
/// Linux)".
pub fn default_name(user_agent: Option<&str>) -> String {
    format!("Passkey ({})", user_agent::describe(user_agent))
}

fn credential_id(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rejected(error: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Rejected(error.to_string())
}

fn to_json(value: &impl Serialize) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(rejected)
}

async fn save_ceremony(
    store: &dyn Store,
    user_id: Option<&str>,
    state: &CeremonyState,
    now: i64,
) -> Result<Secret, PasskeyError> {
    let id = generate_token(CEREMONY_PREFIX);
    store
        .insert_passkey_ceremony(&PasskeyCeremonyRecord {
            id_digest: id.digest(),
            user_id: user_id.map(str::to_owned),
            state: to_json(state)?,
            created_at: now,
            expires_at: now + CEREMONY_TTL_SECONDS,
        })
        .await?;
    Ok(id)
}

/// Takes the ceremony the browser's cookie names: deleted whatever
/// follows, so its state serves one answer.
async fn take_ceremony(
    store: &dyn Store,
    ceremony_id: &str,
    now: i64,
) -> Result<(Option<String>, CeremonyState), PasskeyError> {
    let record = store
        .take_passkey_ceremony(&Secret::new(ceremony_id).digest(), now)
        .await?
        .ok_or(PasskeyError::UnknownCeremony)?;
    let state = serde_json::from_str(&record.state).map_err(|_| PasskeyError::UnknownCeremony)?;
    Ok((record.user_id, state))
}

fn parse_passkey(record: &PasskeyRecord) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(&record.passkey).map_err(rejected)
}

/// Begins enrolling a passkey for `user`: the options for
/// `navigator.credentials.create` (a discoverable credential, user
/// verification required, the user's passkeys excluded) and the id of the
/// ceremony for the browser's cookie.
pub async fn begin_registration(
    store: &dyn Store,
    rp: &Webauthn,
    user: &UserRecord,
    now: i64,
) -> Result<(CreationChallengeResponse, Secret), PasskeyError> {
    let candidate = Uuid::new_v4().to_string();
    let handle = store.passkey_user_handle(&user.id, &candidate).await?;
    let handle = Uuid::parse_str(&handle).map_err(rejected)?;
    let existing = store.list_passkeys(&user.id).await?;
    let exclude = existing
        .iter()
        .map(|record| parse_passkey(record).map(|p| p.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut options, state) = rp
        .start_passkey_registration(handle, &user.email, &user.name, Some(exclude))
        .map_err(rejected)?;
    // Password-free sign-in needs the key to be discoverable (the browser
    // finds it without being told whose it is).
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
    }
    let id = save_ceremony(store, Some(&user.id), &CeremonyState::Registration(state), now).await?;
    Ok((options, id))
}

/// The browser's answer to an enrolment, with what names the new passkey.
pub struct Enrolment<'a> {
    pub response: &'a RegisterPublicKeyCredential,
    /// The name the user gave, if any.
    pub name: Option<&'a str>,
    /// The browser's `User-Agent`, for a default name.
    pub user_agent: Option<&'a str>,
}

/// Finishes enrolling: webauthn-rs verifies the browser's answer against
/// the ceremony's state; the passkey is stored under `name` (or a name
/// from the browser's `User-Agent`) and the addition audited.
pub async fn finish_registration(
    store: &dyn Store,
    rp: &Webauthn,
    user: &UserRecord,
    ceremony_id: &str,
    answer: Enrolment<'_>,
    now: i64,
) -> Result<PasskeyRecord, PasskeyError> {
    let Enrolment {
        response,
        name,
        user_agent,
    } = answer;
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) => {
            return Err(PasskeyError::InvalidName(format!(
                "a passkey's name has at most {MAX_NAME_CHARS} characters, none of them control characters"
            )));
        }
        Some(name) => name.to_owned(),
        None => default_name(user_agent),
    };
    let (owner, state) = take_ceremony(store, ceremony_id, now).await?;
    let CeremonyState::Registration(state) = state else {
        return Err(PasskeyError::UnknownCeremony);
    };
    if owner.as_deref() != Some(user.id.as_str()) {
        return Err(PasskeyError::UnknownCeremony);
    }
    let passkey = rp
        .finish_passkey_registration(response, &state)
        .map_err(rejected)?;
    let credential: Credential = passkey.clone().into();
    let record = PasskeyRecord {
        credential_id: credential_id(passkey.cred_id().as_ref()),
        user_id: user.id.clone(),
        passkey: to_json(&passkey)?,
        name,
        backup_eligible: credential.backup_eligible,
        backup_state: credential.backup_state,
        created_at: now,
        last_used_at: None,
    };
    match store.insert_passkey(&record).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(PasskeyError::AlreadyRegistered),
        Err(error) => return Err(error.into()),
    }
    audit::record(
        store,
        &Actor::User(user.id.clone()),
        "user.passkey_added",
        Subject {
            user_id: Some(&user.id),
            ..Subject::default()
        },
        serde_json::json!({"credential_id": record.credential_id, "name": record.name}),
        now,
    )
    .await;
    Ok(record)
}

/// Begins an authentication: for `Some(user)` (a second factor after the
/// password) with that user's passkeys offered; for `None` (password-free
/// sign-in) with none, the browser choosing a discoverable one. The
/// options for `navigator.credentials.get` and the ceremony's id.
pub async fn begin_authentication(
    store: &dyn Store,
    rp: &Webauthn,
    user: Option<&UserRecord>,
    now: i64,
) -> Result<(RequestChallengeResponse, Secret), PasskeyError> {
    let (options, state) = match user {
        Some(user) => {
            let passkeys = store
                .list_passkeys(&user.id)
                .await?
                .iter()
                .map(parse_passkey)
                .collect::<Result<Vec<_>, _>>()?;
            if passkeys.is_empty() {
                return Err(PasskeyError::UnknownCredential);
            }
            let (options, state) = rp.start_passkey_authentication(&passkeys).map_err(rejected)?;
            (options, CeremonyState::Authentication(state))
        }
        None => {
            let (mut options, state) = rp.start_discoverable_authentication().map_err(rejected)?;
            // Asked for by a button, not offered by the browser's autofill.
            options.mediation = None;
            (options, CeremonyState::Discoverable(state))
        }
    };
    let id = save_ceremony(store, user.map(|u| u.id.as_str()), &state, now).await?;
    Ok((options, id))
}

/// Finishes an authentication: webauthn-rs verifies the browser's answer
/// (challenge, origin, signature, user verification, counter) against the
/// ceremony's state and the stored passkey, whose counter and backup flags
/// are then updated and its use recorded. A discoverable answer must name
/// the user handle of the passkey's own user; an answer to a known user's
/// ceremony, one of that user's passkeys.
pub async fn finish_authentication(
    store: &dyn Store,
    rp: &Webauthn,
    ceremony_id: &str,
    response: &PublicKeyCredential,
    now: i64,
) -> Result<PasskeyUse, PasskeyError> {
    let (owner, state) = take_ceremony(store, ceremony_id, now).await?;
    let id = credential_id(response.get_credential_id());
    let record = store
        .find_passkey(&id)
        .await?
        .ok_or(PasskeyError::UnknownCredential)?;
    let mut passkey = parse_passkey(&record)?;
    let result = match state {
        CeremonyState::Discoverable(state) => {
            let (handle, _) = rp
                .identify_discoverable_authentication(response)
                .map_err(rejected)?;
            let stored = store.find_passkey_user_handle(&record.user_id).await?;
            if stored.and_then(|s| Uuid::parse_str(&s).ok()) != Some(handle) {
                return Err(PasskeyError::UnknownCredential);
            }
            rp.finish_discoverable_authentication_v2(response, state, &passkey)
                .map_err(rejected)?
        }
        CeremonyState::Authentication(state) => {
            if owner.as_deref() != Some(record.user_id.as_str()) {
                return Err(PasskeyError::UnknownCredential);
            }
            rp.finish_passkey_authentication(response, &state)
                .map_err(rejected)?
        }
        CeremonyState::Registration(_) => return Err(PasskeyError::UnknownCeremony),
    };
    if !result.user_verified() {
        return Err(PasskeyError::Rejected(
            "user verification was not performed".into(),
        ));
    }
    passkey.update_credential(&result);
    store
        .record_passkey_use(
            &record.credential_id,
            &to_json(&passkey)?,
            result.backup_eligible(),
            result.backup_state(),
            now,
        )
        .await?;
    Ok(PasskeyUse {
        user_id: record.user_id,
        method: key_method(result.backup_eligible()),
        credential_id: record.credential_id,
    })
}

/// The RFC 8176 method a passkey counts as: `swk` when the authenticator
/// may copy it to other devices (backup eligible: synced), `hwk` when it
/// cannot leave the authenticator.
pub fn key_method(backup_eligible: bool) -> &'static str {
    if backup_eligible {
        amr::SOFTWARE_KEY
    } else {
        amr::HARDWARE_KEY
    }
}

/// The user's passkeys, oldest first.
pub async fn list(store: &dyn Store, user_id: &str) -> Result<Vec<PasskeyRecord>, StoreError> {
    store.list_passkeys(user_id).await
}

/// Removes the user's passkey `credential_id`, audited; `false` when the
/// user has none such (another user's is "not found" and stays).
pub async fn remove(
    store: &dyn Store,
    user_id: &str,
    credential_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let removed = store.delete_passkey(user_id, credential_id).await?;
    if removed {
        audit::record(
            store,
            &Actor::User(user_id.to_owned()),
            "user.passkey_removed",
            Subject {
                user_id: Some(user_id),
                ..Subject::default()
            },
            serde_json::json!({"credential_id": credential_id}),
            now,
        )
        .await;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;
    use crate::secret::MasterKey;

    fn config(issuer: &str) -> Config {
        let raw = RawConfig {
            issuer: Some(issuer.to_owned()),
            master_key: Some(Secret::new(MasterKey::generate().to_base64())),
            ..RawConfig::default()
        };
        raw.validate().unwrap()
    }

    #[test]
    fn a_domain_issuer_is_the_relying_party_and_an_address_is_none() {
        assert!(relying_party(&config("https://id.example.com")).is_some());
        assert!(relying_party(&config("http://localhost:3001")).is_some());
        assert!(relying_party(&config("http://127.0.0.1:3001")).is_none());
    }

    #[test]
    fn a_passkey_used_alone_is_two_factors() {
        let used = PasskeyUse {
            user_id: "u".into(),
            method: amr::HARDWARE_KEY,
            credential_id: "c".into(),
        };
        assert_eq!(used.amr(), ["hwk", "mfa"]);
        assert_eq!(amr::acr(&used.amr()), Some(amr::ACR_PHISHING_RESISTANT));
    }

    #[test]
    fn the_default_name_says_which_browser() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(default_name(Some(chrome)), "Passkey (Chrome on Linux)");
    }
}
