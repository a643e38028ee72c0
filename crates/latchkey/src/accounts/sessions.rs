//! Browser sessions (SPEC 4): an opaque random id in a cookie, only its
//! digest stored, with the time the user authenticated (`auth_time`).
//! Signing in checks the password with argon2id; any wrong credential gets
//! the same answer, and a missing user costs the same hash as a wrong
//! password so timing does not reveal which emails exist.

use std::sync::OnceLock;

use super::password;
use crate::secret::{Secret, generate_token};
use crate::store::{SessionRecord, Store, StoreError, UserRecord};

/// How long a session lasts without signing in again.
pub const SESSION_TTL_SECONDS: i64 = 12 * 3600;
const SESSION_PREFIX: &str = "ses_";

/// A hash to verify against when the email is unknown.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        use argon2::{Argon2, PasswordHasher};
        Argon2::default()
            .hash_password(b"decoy password for unknown users")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// The user whose email and password these are, or `None`.
pub async fn check_credentials(
    store: &dyn Store,
    email: &str,
    password_attempt: Secret,
) -> Result<Option<UserRecord>, StoreError> {
    let user = store.find_user_by_email(email.trim()).await?;
    let hash = user
        .as_ref()
        .map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
    let matches = password::verify(password_attempt, hash).await;
    Ok(user.filter(|_| matches))
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
