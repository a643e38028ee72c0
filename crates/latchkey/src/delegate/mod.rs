//! Delegated sign-in (`login.mode = "delegate"`): the platform signs
//! people in its own way and vouches for them with a short-lived signed
//! assertion. This module owns the round trip's rules: [`start`] makes a
//! one-time login challenge bound to the browser (a secret in a cookie,
//! whose digest is stored with the challenge's digest and the page to
//! return to); [`complete`] verifies the assertion ([`assertion`]), checks
//! its challenge against this browser and its `jti` against replay, finds
//! or creates the user and their organizations, and starts a session —
//! all written in one transaction, so a refusal creates nothing. It knows
//! nothing of HTTP: the front end builds the redirect and reads the
//! cookie.
//!
//! Users are matched by the platform's `sub` (`users.external_id`), then —
//! only when the assertion says `email_verified` — by email, which links
//! that existing user to the `sub`. Organizations are named by `id`
//! (created with that id when missing, renamed to `name` when given) or by
//! `name` (the oldest of that name, created when missing); when the
//! assertion has `organizations`, the user's memberships become exactly
//! those.

use crate::accounts::amr;
use crate::accounts::sessions::new_session;
use crate::accounts::{MAX_LABEL_CHARS, MAX_NAME_CHARS, validate_email, validate_label};
use crate::audit::{self, Actor, Subject};
use crate::config::DelegateLogin;
use crate::secret::{Secret, TokenDigest, generate_token};
use crate::store::{
    DelegatedMembership, DelegatedOutcome, DelegatedSignIn, LoginChallengeRecord, OrganizationRecord, Store,
    StoreError, UserRecord,
};

pub mod assertion;
pub mod jwks;

use assertion::{Assertion, Expected, Refused, VerifyingKey};

/// How long the platform has to send the person back, in seconds.
pub const CHALLENGE_TTL_SECONDS: i64 = 300;

/// The password hash of users who sign in only at the platform: not a PHC
/// string, so no password ever matches it.
pub const NO_PASSWORD: &str = "!delegated";

/// The shortest browser secret taken from a cookie (generated ones are
/// longer).
const MIN_BROWSER_SECRET: usize = 32;

/// The longest `sub` accepted.
const MAX_SUBJECT_CHARS: usize = 255;

/// A started delegated sign-in.
#[derive(Debug)]
pub struct Started {
    /// The one-time challenge for the platform (`login_challenge`).
    pub challenge: Secret,
    /// The browser's secret: the cookie's value, kept or new.
    pub browser: Secret,
}

/// Starts a sign-in at the platform that comes back to `return_to` (a
/// checked same-origin path): a new challenge bound to this browser's
/// secret (`browser`, the cookie's value, or a new one).
pub async fn start(
    store: &dyn Store,
    browser: Option<&str>,
    return_to: &str,
    now: i64,
) -> Result<Started, StoreError> {
    let browser = match browser.filter(|b| b.len() >= MIN_BROWSER_SECRET) {
        Some(existing) => Secret::new(existing),
        None => generate_token(""),
    };
    let challenge = generate_token("lc_");
    let record = LoginChallengeRecord {
        challenge_digest: challenge.digest(),
        browser_digest: browser.digest(),
        return_to: return_to.to_owned(),
        created_at: now,
        expires_at: now + CHALLENGE_TTL_SECONDS,
    };
    store.insert_login_challenge(&record, now).await?;
    Ok(Started { challenge, browser })
}

/// A finished delegated sign-in.
#[derive(Debug)]
pub struct Completed {
    /// The new session's secret, for the session cookie.
    pub session: Secret,
    pub user_id: String,
    /// Where to continue: the page that asked for the sign-in.
    pub return_to: String,
}

/// Why a delegated sign-in did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DelegateError {
    /// The assertion or the round trip was refused; the text says why.
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn refused(text: impl Into<String>) -> DelegateError {
    DelegateError::Refused(Refused(text.into()))
}

const START_AGAIN: &str = "Go back to the app and sign in again.";

/// The browser a sign-in completes in: its secret from the cookie, and its
/// `User-Agent` (for the session list).
#[derive(Debug, Clone, Copy, Default)]
pub struct Browser<'a> {
    pub secret: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// Completes a sign-in with the platform's `token`, in `browser`:
/// verifies it against `settings` and `issuer`
/// (Latchkey's, the audience), then writes the user, their memberships and
/// a session in one transaction, and audits it.
pub async fn complete(
    store: &dyn Store,
    settings: &DelegateLogin,
    issuer: &str,
    leeway: i64,
    token: &str,
    browser: Browser<'_>,
    now: i64,
) -> Result<Completed, DelegateError> {
    let expected = Expected {
        issuer: &settings.issuer,
        audience: issuer,
        leeway,
    };
    let assertion = match &settings.key {
        VerifyingKey::Jwks(remote) => assertion::verify_published(remote, expected, token, now).await?,
        key => assertion::verify(key, expected, token, now)?,
    };
    let challenge = bound_challenge(store, &assertion, browser.secret, now).await?;
    let (user, create_user) = user_for(store, &assertion, now).await?;
    let memberships = match &assertion.organizations {
        Some(listed) => Some(memberships_for(store, listed, now).await?),
        None => None,
    };
    let (session_secret, session) = new_session(
        &user.id,
        browser.user_agent,
        amr::registered(&assertion.amr),
        assertion.auth_time,
        now,
    );
    let sign_in = DelegatedSignIn {
        challenge_digest: challenge.challenge_digest,
        jti_digest: TokenDigest::of(&assertion.jti),
        jti_expires_at: assertion.expires_at + leeway,
        user,
        create_user,
        external_id: assertion.subject.clone(),
        memberships,
        session,
        now,
    };
    let outcome = match store.complete_delegated_sign_in(&sign_in).await {
        Ok(outcome) => outcome,
        Err(StoreError::Conflict) => {
            return Err(refused(format!(
                "The email `{}` belongs to another account here, so this sign-in cannot use it. Ask the platform's administrators to resolve it.",
                sign_in.user.email
            )));
        }
        Err(error) => return Err(error.into()),
    };
    match outcome {
        DelegatedOutcome::Completed => {}
        DelegatedOutcome::ChallengeSpent => {
            return Err(refused(format!(
                "This sign-in was already completed or has expired. {START_AGAIN}"
            )));
        }
        DelegatedOutcome::AssertionReplayed => {
            return Err(refused(format!(
                "This sign-in assertion was used before (its `jti` was seen already). {START_AGAIN}"
            )));
        }
        DelegatedOutcome::UserNotLinkable => {
            return Err(refused(format!(
                "The account for `{}` is linked to another platform identity. Ask the platform's administrators to resolve it.",
                sign_in.user.email
            )));
        }
    }
    let details = serde_json::json!({
        "method": "delegate",
        "created": create_user,
        "amr": assertion.amr,
        "auth_time": assertion.auth_time,
        "organizations": sign_in.memberships.as_ref().map(Vec::len),
    });
    let subject = Subject {
        user_id: Some(&sign_in.user.id),
        ..Subject::default()
    };
    let actor = Actor::User(sign_in.user.id.clone());
    audit::record(store, &actor, "user.signed_in", subject, details, now).await;
    Ok(Completed {
        session: session_secret,
        user_id: sign_in.user.id,
        return_to: challenge.return_to,
    })
}

/// The stored challenge the assertion names, when it is live and bound to
/// this browser.
async fn bound_challenge(
    store: &dyn Store,
    assertion: &Assertion,
    browser: Option<&str>,
    now: i64,
) -> Result<LoginChallengeRecord, DelegateError> {
    let Some(browser) = browser else {
        return Err(refused(format!(
            "This browser did not start this sign-in (it has no sign-in cookie). {START_AGAIN}"
        )));
    };
    let digest = assertion.login_challenge.digest();
    let Some(challenge) = store.find_login_challenge(&digest).await? else {
        return Err(refused(format!(
            "The sign-in assertion's `login_challenge` is unknown or was used already. {START_AGAIN}"
        )));
    };
    if challenge.expires_at <= now {
        return Err(refused(format!(
            "The sign-in took too long and its challenge has expired. {START_AGAIN}"
        )));
    }
    if !challenge.browser_digest.matches(&TokenDigest::of(browser)) {
        return Err(refused(format!(
            "This sign-in was started in another browser, so it cannot finish in this one. {START_AGAIN}"
        )));
    }
    Ok(challenge)
}

fn invalid_claim(error: crate::accounts::AccountError) -> DelegateError {
    refused(format!("The sign-in assertion's claims are not usable: {error}."))
}

/// The user the assertion speaks for, as they should be, and whether they
/// are new: found by `sub`, else by a verified email, else created.
async fn user_for(
    store: &dyn Store,
    assertion: &Assertion,
    now: i64,
) -> Result<(UserRecord, bool), DelegateError> {
    if assertion.subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(refused(format!(
            "The sign-in assertion's `sub` is longer than {MAX_SUBJECT_CHARS} characters."
        )));
    }
    let email = validate_email(&assertion.email).map_err(invalid_claim)?;
    let name = match &assertion.name {
        Some(name) => validate_label("name", name, MAX_NAME_CHARS).map_err(invalid_claim)?,
        None => email.clone(),
    };
    let existing = match store.find_user_by_external_id(&assertion.subject).await? {
        Some(user) => Some(user),
        None => match store.find_user_by_email(&email).await? {
            Some(_) if !assertion.email_verified => {
                return Err(refused(format!(
                    "An account with the email `{email}` exists here; the platform must assert `email_verified: true` to sign in to it."
                )));
            }
            found => found,
        },
    };
    Ok(match existing {
        Some(user) => (
            UserRecord {
                email,
                name,
                email_verified: assertion.email_verified,
                updated_at: now,
                ..user
            },
            false,
        ),
        None => (
            UserRecord {
                id: uuid::Uuid::new_v4().to_string(),
                email,
                name,
                email_verified: assertion.email_verified,
                password_hash: NO_PASSWORD.to_owned(),
                created_at: now,
                updated_at: now,
            },
            true,
        ),
    })
}

/// The memberships the assertion lists, each with its organization
/// (existing, or new).
async fn memberships_for(
    store: &dyn Store,
    listed: &[assertion::AssertedOrganization],
    now: i64,
) -> Result<Vec<DelegatedMembership>, DelegateError> {
    let mut memberships: Vec<DelegatedMembership> = Vec::with_capacity(listed.len());
    for entry in listed {
        let role = validate_label("role", &entry.role, MAX_LABEL_CHARS).map_err(invalid_claim)?;
        let name = entry
            .name
            .as_deref()
            .map(|name| validate_label("name", name, MAX_NAME_CHARS))
            .transpose()
            .map_err(invalid_claim)?;
        let membership = match (&entry.id, name) {
            (Some(id), name) => {
                let id = validate_label("id", id, MAX_NAME_CHARS).map_err(invalid_claim)?;
                let existing = store.find_organization(&id).await?;
                let rename = name.is_some();
                let name = name
                    .or_else(|| existing.as_ref().map(|o| o.name.clone()))
                    .unwrap_or_else(|| id.clone());
                DelegatedMembership {
                    organization: OrganizationRecord {
                        id,
                        name,
                        created_at: now,
                    },
                    rename,
                    role,
                }
            }
            (None, Some(name)) => {
                let organization = match store.find_organization_by_name(&name).await? {
                    Some(organization) => organization,
                    None => OrganizationRecord {
                        id: uuid::Uuid::new_v4().to_string(),
                        name,
                        created_at: now,
                    },
                };
                DelegatedMembership {
                    organization,
                    rename: false,
                    role,
                }
            }
            (None, None) => unreachable_entry()?,
        };
        if memberships
            .iter()
            .any(|m| m.organization.id == membership.organization.id)
        {
            return Err(refused(format!(
                "The sign-in assertion lists the organization `{}` twice.",
                membership.organization.name
            )));
        }
        memberships.push(membership);
    }
    Ok(memberships)
}

/// An entry with neither id nor name (refused when the claims were read).
fn unreachable_entry() -> Result<DelegatedMembership, DelegateError> {
    Err(refused(
        "An entry of the sign-in assertion's `organizations` has neither `id` nor `name`.",
    ))
}
