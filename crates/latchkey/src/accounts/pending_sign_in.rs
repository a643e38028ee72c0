//! A sign-in half done: the password was right and a second factor is
//! still due (or, for a member of an organization that requires one, must
//! first be set up). No session exists yet; the browser holds this state
//! in a cookie sealed with the master key (AES-256-GCM, so it can be
//! neither read nor altered), living [`PENDING_TTL_SECONDS`]: who, the
//! methods used so far, where to continue, and until when.
//!
//! Whoever holds the cookie still needs the second factor; a wrong code
//! is throttled per user and address like a wrong password, and a code is
//! accepted once whatever cookie carries it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::secret::MasterKey;

/// How long the second step may take.
pub const PENDING_TTL_SECONDS: i64 = 5 * 60;
const CONTEXT: &[u8] = b"pending sign-in v1";

/// What is due before the session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Due {
    /// A second factor the user has.
    SecondFactor,
    /// Setting one up: an organization of the user requires it.
    Enrolment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub user_id: String,
    /// RFC 8176 methods used so far (`pwd`).
    pub amr: Vec<String>,
    /// The same-origin path to continue to.
    pub return_to: String,
    pub due: Due,
    pub expires_at: i64,
}

impl PendingSignIn {
    pub fn new(user_id: &str, amr: Vec<String>, return_to: &str, due: Due, now: i64) -> Self {
        Self {
            user_id: user_id.to_owned(),
            amr,
            return_to: return_to.to_owned(),
            due,
            expires_at: now + PENDING_TTL_SECONDS,
        }
    }

    /// The methods of the session this sign-in becomes once `method` (an
    /// RFC 8176 value) completed it.
    pub fn completed_by(&self, method: &str) -> Vec<String> {
        let mut used: Vec<&str> = self.amr.iter().map(String::as_str).collect();
        used.push(method);
        super::amr::of(&used)
    }

    /// The cookie value: the state sealed, in base64url.
    pub fn seal(&self, master: &MasterKey) -> Option<String> {
        let json = serde_json::to_vec(self).ok()?;
        let sealed = master.seal(CONTEXT, &json).ok()?;
        Some(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The state a cookie value holds, when it was sealed by this server
    /// and has not expired at `now`.
    pub fn open(master: &MasterKey, value: &str, now: i64) -> Option<Self> {
        let sealed = URL_SAFE_NO_PAD.decode(value).ok()?;
        let json = master.open(CONTEXT, &sealed).ok()?;
        let pending: Self = serde_json::from_slice(&json).ok()?;
        (pending.expires_at > now).then_some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_state_opens_with_its_key_until_it_expires() {
        let master = MasterKey::generate();
        // A user id long enough not to turn up in random base64url by chance
        // (a two-character one did, one run in twenty).
        let user_id = "user-3f1c2a10-alice";
        let pending = PendingSignIn::new(
            user_id,
            vec!["pwd".into()],
            "/authorize?x=1",
            Due::SecondFactor,
            100,
        );
        let value = pending.seal(&master).unwrap();
        assert!(!value.contains(user_id));
        assert_eq!(PendingSignIn::open(&master, &value, 101), Some(pending));
        assert_eq!(
            PendingSignIn::open(&master, &value, 100 + PENDING_TTL_SECONDS),
            None
        );
        assert_eq!(PendingSignIn::open(&MasterKey::generate(), &value, 101), None);
        let mut altered = value.into_bytes();
        altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            PendingSignIn::open(&master, &String::from_utf8(altered).unwrap(), 101),
            None
        );
    }
}
