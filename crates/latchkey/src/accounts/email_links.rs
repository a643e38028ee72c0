//! One-time links sent by mail: password reset and email verification.
//! A link carries a random token (prefix `rst_` or `vfy_`); only its
//! SHA-256 digest is stored, with its user, purpose, the address it went
//! to, its expiry and when it was used. Using a link is one transaction
//! (`UserTokenStore::complete_*`), so a link works once.
//!
//! A reset sets the new password's argon2id hash (on the bounded
//! workers), marks the user's other reset links used, ends every session
//! of the user (the person at the browser signs in again with the new
//! password), and is audited; a verification sets `email_verified` while
//! the user's email is still the one the link was sent to. Composing and
//! sending the letters is [`crate::mail`]'s; this module never sees SMTP.

use super::password::{HashError, Passwords};
use super::{AccountError, validate_password};
use crate::audit::{self, Actor, Subject};
use crate::secret::{Secret, generate_token};
use crate::store::{Store, StoreError, TokenPurpose, UserRecord, UserTokenRecord};

const RESET_PREFIX: &str = "rst_";
const VERIFY_PREFIX: &str = "vfy_";

fn prefix(purpose: TokenPurpose) -> &'static str {
    match purpose {
        TokenPurpose::PasswordReset => RESET_PREFIX,
        TokenPurpose::VerifyEmail => VERIFY_PREFIX,
    }
}

fn subject(user_id: &str) -> Subject<'_> {
    Subject {
        user_id: Some(user_id),
        ..Subject::default()
    }
}

/// Stores a new link for `user` and returns its token (for the letter
/// only).
async fn issue(
    store: &dyn Store,
    user: &UserRecord,
    purpose: TokenPurpose,
    ttl_seconds: i64,
    now: i64,
) -> Result<Secret, StoreError> {
    let token = generate_token(prefix(purpose));
    let record = UserTokenRecord {
        token_digest: token.digest(),
        user_id: user.id.clone(),
        purpose,
        email: user.email.clone(),
        created_at: now,
        expires_at: now + ttl_seconds,
        used_at: None,
    };
    store.insert_user_token(&record, now).await?;
    Ok(token)
}

/// A reset link for the user whose email this is, or `None` when there is
/// none (the caller answers the same either way). Audited as
/// `user.password_reset_requested`, without the token.
pub async fn request_reset(
    store: &dyn Store,
    email: &str,
    ttl_seconds: i64,
    now: i64,
) -> Result<Option<(UserRecord, Secret)>, StoreError> {
    let Some(user) = store.find_user_by_email(email.trim()).await? else {
        return Ok(None);
    };
    let token = issue(store, &user, TokenPurpose::PasswordReset, ttl_seconds, now).await?;
    audit::record(
        store,
        &Actor::User(user.id.clone()),
        "user.password_reset_requested",
        subject(&user.id),
        serde_json::json!({"expires_at": now + ttl_seconds}),
        now,
    )
    .await;
    Ok(Some((user, token)))
}

/// A verification link for `user`'s current email, audited as
/// `user.email_verification_sent` by `actor`.
pub async fn request_verification(
    store: &dyn Store,
    actor: &Actor,
    user: &UserRecord,
    ttl_seconds: i64,
    now: i64,
) -> Result<Secret, StoreError> {
    let token = issue(store, user, TokenPurpose::VerifyEmail, ttl_seconds, now).await?;
    audit::record(
        store,
        actor,
        "user.email_verification_sent",
        subject(&user.id),
        serde_json::json!({"expires_at": now + ttl_seconds}),
        now,
    )
    .await;
    Ok(token)
}

/// The link `token` names when it is for `purpose`, unused and unexpired;
/// `None` for any other token (the page says the same in every case).
pub async fn usable(
    store: &dyn Store,
    token: &str,
    purpose: TokenPurpose,
    now: i64,
) -> Result<Option<UserTokenRecord>, StoreError> {
    if !token.starts_with(prefix(purpose)) {
        return Ok(None);
    }
    let found = store.find_user_token(&Secret::new(token).digest()).await?;
    Ok(found.filter(|link| link.purpose == purpose && link.used_at.is_none() && link.expires_at > now))
}

/// Sets the password of the reset link's user to `new_password` and ends
/// all their sessions. `Ok(None)` when the link is not usable (unknown,
/// used, expired); `Invalid` when the password breaks the rules (the link
/// stays usable).
pub async fn reset_password(
    store: &dyn Store,
    passwords: &Passwords,
    token: &str,
    new_password: Secret,
    now: i64,
) -> Result<Option<String>, AccountError> {
    if usable(store, token, TokenPurpose::PasswordReset, now)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    validate_password(&new_password)?;
    let hash = passwords.hash(new_password).await.map_err(|error| match error {
        HashError::Busy => AccountError::HashingBusy,
        HashError::Failed => AccountError::Hashing,
    })?;
    let digest = Secret::new(token).digest();
    let Some(user_id) = store.complete_password_reset(&digest, &hash, now).await? else {
        return Ok(None);
    };
    audit::record(
        store,
        &Actor::User(user_id.clone()),
        "user.password_reset",
        subject(&user_id),
        serde_json::json!({"sessions_ended": "all"}),
        now,
    )
    .await;
    Ok(Some(user_id))
}

/// Marks the verification link's user's email verified. `None` when the
/// link is not usable, or the user's email changed since it was sent.
pub async fn verify_email(store: &dyn Store, token: &str, now: i64) -> Result<Option<String>, StoreError> {
    if !token.starts_with(VERIFY_PREFIX) {
        return Ok(None);
    }
    let digest = Secret::new(token).digest();
    let Some(user_id) = store.complete_email_verification(&digest, now).await? else {
        return Ok(None);
    };
    audit::record(
        store,
        &Actor::User(user_id.clone()),
        "user.email_verified",
        subject(&user_id),
        serde_json::json!({}),
        now,
    )
    .await;
    Ok(Some(user_id))
}
