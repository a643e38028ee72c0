//! A signed-in user changes their password: the current one is checked on
//! the bounded password workers (failures counted by the caller's sign-in
//! throttle), the new one must follow the same rules as any other, its
//! argon2id hash replaces the old one only if nobody changed it meanwhile,
//! and — when asked — every other session of the user ends. Reset links
//! already mailed stop working (whoever asked for one, the password they
//! would replace is gone). Audited as `user.password_changed` (never a
//! password or hash).

use super::password::{HashError, Passwords};
use super::{AccountError, sessions, validate_password};
use crate::audit::{self, Actor, Subject};
use crate::secret::{Secret, TokenDigest};
use crate::store::{Store, StoreError, UserRecord};

/// Why a password was not changed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The current password given is not the user's.
    #[error("the current password is incorrect")]
    WrongPassword,
    /// The new password breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The password workers are saturated: retry shortly.
    #[error("password checks are at capacity")]
    Busy,
    #[error("password hashing failed")]
    Hashing,
    /// The password changed meanwhile (another browser, a reset).
    #[error("the password was changed meanwhile")]
    Changed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<HashError> for ChangeError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => Self::Busy,
            HashError::Failed => Self::Hashing,
        }
    }
}

/// Replaces `user`'s password with `new_password` after checking
/// `current_password`. With `end_others_than` given, ends every session of
/// the user but that one; returns how many ended.
pub async fn change_password(
    store: &dyn Store,
    passwords: &Passwords,
    user: &UserRecord,
    current_password: Secret,
    new_password: Secret,
    end_others_than: Option<&TokenDigest>,
    now: i64,
) -> Result<u64, ChangeError> {
    if let Err(error) = validate_password(&new_password) {
        return Err(match error {
            AccountError::Invalid { message, .. } => ChangeError::Invalid(message),
            other => ChangeError::Invalid(other.to_string()),
        });
    }
    let hash = Some(user.password_hash.clone()).filter(|hash| !hash.is_empty());
    if !passwords.verify(current_password, hash).await? {
        return Err(ChangeError::WrongPassword);
    }
    let new_hash = passwords.hash(new_password).await?;
    if !store
        .replace_password_hash(&user.id, &user.password_hash, &new_hash, now)
        .await?
    {
        return Err(ChangeError::Changed);
    }
    store.spend_password_resets(&user.id, now).await?;
    let ended = match end_others_than {
        Some(current) => sessions::end_all_others(store, &user.id, current, now).await?,
        None => 0,
    };
    audit::record(
        store,
        &Actor::User(user.id.clone()),
        "user.password_changed",
        Subject {
            user_id: Some(&user.id),
            ..Subject::default()
        },
        serde_json::json!({"other_sessions_ended": ended}),
        now,
    )
    .await;
    Ok(ended)
}
