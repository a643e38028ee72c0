//! Browser sessions (SPEC 4): an opaque random id in a cookie, only its
//! digest stored, with the time the user authenticated (`auth_time`).
//! Signing in checks the password with argon2id (or the algorithm of an
//! imported hash, then replaced by argon2id); any wrong credential gets
//! the same answer, and a missing user costs the same hash as a wrong
//! password so timing does not reveal which emails exist.

use super::hash_formats;
use super::password::{HashError, Passwords};
use crate::audit::{self, Actor, Subject};
use crate::secret::{Secret, generate_token};
use crate::store::{SessionRecord, Store, StoreError, UserRecord};

/// How long a session lasts without signing in again.
pub const SESSION_TTL_SECONDS: i64 = 12 * 3600;
const SESSION_PREFIX: &str = "ses_";

/// Why credentials could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The password workers are saturated: retry shortly.
    #[error("password checks are at capacity")]
    Busy,
    #[error("password check failed")]
    Hashing,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The user whose email and password these are, or `None`. A matching
/// hash that is not current (imported from another system, or made with
/// older parameters) is replaced by the password's argon2id hash, and the
/// replacement audited (never the hash); failing to store it leaves the
/// old hash, and the sign-in stands. A wrong password changes nothing.
pub async fn check_credentials(
    store: &dyn Store,
    passwords: &Passwords,
    email: &str,
    password_attempt: Secret,
    now: i64,
) -> Result<Option<UserRecord>, CheckError> {
    let user = store.find_user_by_email(email.trim()).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let verified = match passwords.verify_and_upgrade(password_attempt, hash).await {
        Ok(verified) => verified,
        Err(HashError::Busy) => return Err(CheckError::Busy),
        Err(HashError::Failed) => return Err(CheckError::Hashing),
    };
    let Some(mut user) = user.filter(|_| verified.matches) else {
        return Ok(None);
    };
    if let Some(upgraded) = verified.upgraded {
        upgrade_hash(store, &mut user, upgraded, now).await;
    }
    Ok(Some(user))
}

/// Stores `upgraded` in place of the user's hash, if nobody changed it
/// meanwhile, and audits it.
async fn upgrade_hash(store: &dyn Store, user: &mut UserRecord, upgraded: String, now: i64) {
    let from = hash_formats::check(&user.password_hash).map_or("unknown", |algorithm| algorithm.label());
    match store
        .replace_password_hash(&user.id, &user.password_hash, &upgraded, now)
        .await
    {
        Ok(true) => {
            user.password_hash = upgraded;
            user.updated_at = now;
            audit::record(
                store,
                &Actor::User(user.id.clone()),
                "user.password_rehashed",
                Subject {
                    user_id: Some(&user.id),
                    ..Subject::default()
                },
                serde_json::json!({"from": from, "to": "argon2id"}),
                now,
            )
            .await;
        }
        Ok(false) => {}
        Err(error) => tracing::warn!(%error, "storing a rehashed password failed; the old hash stays"),
    }
}

/// Starts a session for `user_id`; the returned secret goes in the cookie.
pub async fn start(store: &dyn Store, user_id: &str, now: i64) -> Result<Secret, StoreError> {
    let id = generate_token(SESSION_PREFIX);
    let session = SessionRecord {
        id_digest: id.digest(),
        user_id: user_id.to_owned(),
        auth_time: now,
        created_at: now,
        expires_at: now + SESSION_TTL_SECONDS,
    };
    store.insert_session(&session).await?;
    Ok(id)
}

/// The live session a cookie value names, with its user.
pub async fn resume(
    store: &dyn Store,
    cookie_value: &str,
    now: i64,
) -> Result<Option<(SessionRecord, UserRecord)>, StoreError> {
    let Some(session) = store.find_session(&Secret::new(cookie_value).digest()).await? else {
        return Ok(None);
    };
    if session.expires_at <= now {
        return Ok(None);
    }
    Ok(store
        .find_user(&session.user_id)
        .await?
        .map(|user| (session, user)))
}

/// Ends the session a cookie value names.
pub async fn end(store: &dyn Store, cookie_value: &str) -> Result<(), StoreError> {
    store.delete_session(&Secret::new(cookie_value).digest()).await?;
    Ok(())
}
