//! Browser sessions (SPEC 4): an opaque random id in a cookie, only its
//! digest stored, with the time the user authenticated (`auth_time`).
//! Signing in checks the password with argon2id; any wrong credential gets
//! the same answer, and a missing user costs the same hash as a wrong
//! password so timing does not reveal which emails exist.

use super::password::{HashError, Passwords};
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

/// The user whose email and password these are, or `None`.
pub async fn check_credentials(
    store: &dyn Store,
    passwords: &Passwords,
    email: &str,
    password_attempt: Secret,
) -> Result<Option<UserRecord>, CheckError> {
    let user = store.find_user_by_email(email.trim()).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    match passwords.verify(password_attempt, hash).await {
        Ok(matches) => Ok(user.filter(|_| matches)),
        Err(HashError::Busy) => Err(CheckError::Busy),
        Err(HashError::Failed) => Err(CheckError::Hashing),
    }
}

/// Starts a session for `user_id`; the returned secret goes in the cookie.
pub async fn start(store: &dyn Store, user_id: &str, now: i64) -> Result<Secret, StoreError> {
    let (id, session) = new_session(user_id, now, now);
    store.insert_session(&session).await?;
    Ok(id)
}

/// A session, not stored yet, for `user_id` who authenticated at
/// `auth_time`: the secret for the cookie and the record to store.
pub fn new_session(user_id: &str, auth_time: i64, now: i64) -> (Secret, SessionRecord) {
    let id = generate_token(SESSION_PREFIX);
    let session = SessionRecord {
        id_digest: id.digest(),
        user_id: user_id.to_owned(),
        auth_time,
        created_at: now,
        expires_at: now + SESSION_TTL_SECONDS,
    };
    (id, session)
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
