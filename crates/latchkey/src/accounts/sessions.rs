//! Browser sessions (SPEC 4): an opaque random id in a cookie, only its
//! digest stored, with the time the user authenticated (`auth_time`).
//! Signing in checks the password with argon2id (or the algorithm of an
//! imported hash, then replaced by argon2id); any wrong credential gets
//! the same answer, and a missing user costs the same hash as a wrong
//! password so timing does not reveal which emails exist.
//!
//! The user sees their live sessions (the browser each began in, when, and
//! when it was last used — recorded at most once a minute) and ends any of
//! the others, or all of them. A session is named on the page by a public
//! id derived from its digest, which tells nothing about the cookie.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::hash_formats;
use super::password::{HashError, Passwords};
use super::user_agent;
use crate::audit::{self, Actor, Subject};
use crate::secret::{Secret, TokenDigest, generate_token};
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

/// How long a session's recorded last use may lag behind.
pub const LAST_SEEN_GRANULARITY_SECONDS: i64 = 60;

/// Starts a session for `user_id`, who authenticated with the methods
/// `amr` (RFC 8176), in the browser whose `User-Agent` header this is; the
/// returned secret goes in the cookie.
pub async fn start(
    store: &dyn Store,
    user_id: &str,
    user_agent: Option<&str>,
    amr: Vec<String>,
    now: i64,
) -> Result<Secret, StoreError> {
    let (id, session) = new_session(user_id, user_agent, amr, now, now);
    store.insert_session(&session).await?;
    Ok(id)
}

/// A session, not stored yet, for `user_id` who authenticated with `amr`
/// at `auth_time` in the browser whose `User-Agent` header this is: the
/// secret for the cookie and the record to store.
pub fn new_session(
    user_id: &str,
    user_agent: Option<&str>,
    amr: Vec<String>,
    auth_time: i64,
    now: i64,
) -> (Secret, SessionRecord) {
    let id = generate_token(SESSION_PREFIX);
    let session = SessionRecord {
        id_digest: id.digest(),
        user_id: user_id.to_owned(),
        auth_time,
        created_at: now,
        expires_at: now + SESSION_TTL_SECONDS,
        user_agent: user_agent.and_then(user_agent::for_storage),
        last_seen_at: None,
        amr,
    };
    (id, session)
}

/// The live session a cookie value names, with its user. Records the use
/// when the last one recorded is a minute old or more (a failure to record
/// it is logged; the session stands).
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
    let last_seen = session.last_seen_at.unwrap_or(session.created_at);
    if now - last_seen >= LAST_SEEN_GRANULARITY_SECONDS
        && let Err(error) = store.touch_session(&session.id_digest, now).await
    {
        tracing::warn!(%error, "recording a session's use failed");
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

/// The name of a session on the account page: derived from its digest
/// (so nothing is stored for it), and no help in finding the cookie.
pub fn public_id(id_digest: &TokenDigest) -> String {
    let derived = TokenDigest::of(&format!(
        "session-public-id:{}",
        URL_SAFE_NO_PAD.encode(id_digest.0)
    ));
    URL_SAFE_NO_PAD.encode(&derived.0[..16])
}

/// A live session as its user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    pub public_id: String,
    /// Browser and system ("Firefox on Linux").
    pub device: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The session of the browser asking.
    pub current: bool,
}

/// The user's live sessions, the current one first, then the most
/// recently used.
pub async fn list(
    store: &dyn Store,
    user_id: &str,
    current: &TokenDigest,
    now: i64,
) -> Result<Vec<ActiveSession>, StoreError> {
    let mut sessions: Vec<ActiveSession> = store
        .list_user_sessions(user_id, now)
        .await?
        .into_iter()
        .map(|session| ActiveSession {
            public_id: public_id(&session.id_digest),
            device: user_agent::describe(session.user_agent.as_deref()),
            created_at: session.created_at,
            last_seen_at: session.last_seen_at.unwrap_or(session.created_at),
            current: session.id_digest.matches(current),
        })
        .collect();
    sessions.sort_by_key(|session| !session.current);
    Ok(sessions)
}

/// Ends the user's session named `public_id`, which must be another than
/// `current`; `false` (nothing changes) when the user has no such other
/// live session. Audited.
pub async fn end_other(
    store: &dyn Store,
    user_id: &str,
    current: &TokenDigest,
    public_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let target = store
        .list_user_sessions(user_id, now)
        .await?
        .into_iter()
        .find(|session| {
            !session.id_digest.matches(current) && self::public_id(&session.id_digest) == public_id
        });
    let Some(target) = target else {
        return Ok(false);
    };
    let ended = store.delete_user_session(user_id, &target.id_digest).await?;
    if ended {
        let details = serde_json::json!({
            "session": public_id,
            "reason": "signed out from another session",
        });
        record_ended(store, user_id, details, now).await;
    }
    Ok(ended)
}

/// Ends every session of the user except `current`; how many. Audited
/// when any ended.
pub async fn end_all_others(
    store: &dyn Store,
    user_id: &str,
    current: &TokenDigest,
    now: i64,
) -> Result<u64, StoreError> {
    let ended = store.delete_other_sessions(user_id, current).await?;
    if ended > 0 {
        let details = serde_json::json!({
            "count": ended,
            "reason": "signed out of all other sessions",
        });
        record_ended(store, user_id, details, now).await;
    }
    Ok(ended)
}

async fn record_ended(store: &dyn Store, user_id: &str, details: serde_json::Value, now: i64) {
    let subject = audit::Subject {
        user_id: Some(user_id),
        ..audit::Subject::default()
    };
    let actor = Actor::User(user_id.to_owned());
    audit::record(store, &actor, "session.ended", subject, details, now).await;
}
