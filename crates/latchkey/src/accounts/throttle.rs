//! Throttling of failed sign-ins (SPEC 8), and with its own limits of
//! password-reset requests ([`RESET_REQUESTS`]). Failures are counted in one
//! window per key, and a key over its limit is refused until its window
//! ends, without checking the password (so a refused attempt costs no
//! argon2 work):
//!
//! - per email and client IP: [`MAX_FAILURES`] — the guessing of one
//!   account from one place;
//! - per client IP: [`MAX_FAILURES_PER_IP`] — one place trying many
//!   accounts;
//! - per email from everywhere: [`MAX_FAILURES_PER_EMAIL`] — guessing one
//!   account from many places.
//!
//! A sign-in that names no email (a passkey) counts per client IP only.
//!
//! The per-email limit is high on purpose: an attacker who fails on
//! someone else's account from their own address only locks that pair,
//! so the account's owner keeps signing in from theirs; locking an account
//! for everyone takes many addresses, and lasts one window.
//!
//! Per instance, in memory, bounded in size; sign-in is not a hot path, so
//! a mutex over a small map is enough.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failures allowed for one email from one client IP inside one window.
pub const MAX_FAILURES: u32 = 5;
/// Failures allowed from one client IP, whatever the email.
pub const MAX_FAILURES_PER_IP: u32 = 30;
/// Failures allowed for one email, whatever the client IP.
pub const MAX_FAILURES_PER_EMAIL: u32 = 50;
/// The window, in seconds.
pub const WINDOW_SECONDS: i64 = 15 * 60;
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, IpAddr),
    Ip(IpAddr),
    Email(String),
}

/// How many counted events each key allows inside one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_email_and_ip: u32,
    pub per_ip: u32,
    pub per_email: u32,
}

/// The sign-in limits: failed attempts.
pub const SIGN_IN: Limits = Limits {
    per_email_and_ip: MAX_FAILURES,
    per_ip: MAX_FAILURES_PER_IP,
    per_email: MAX_FAILURES_PER_EMAIL,
};

/// The limits of password-reset requests (every request counts, known
/// email or not): a few links per address, so nobody's mailbox is flooded.
pub const RESET_REQUESTS: Limits = Limits {
    per_email_and_ip: 3,
    per_ip: 20,
    per_email: 5,
};

impl Limits {
    fn of(&self, key: &Key) -> u32 {
        match key {
            Key::Pair(..) => self.per_email_and_ip,
            Key::Ip(_) => self.per_ip,
            Key::Email(_) => self.per_email,
        }
    }
}

fn keys(email: &str, ip: IpAddr) -> [Key; 3] {
    let email = email.trim().to_lowercase();
    [Key::Pair(email.clone(), ip), Key::Ip(ip), Key::Email(email)]
}

#[derive(Debug)]
pub struct LoginThrottle {
    /// Failures and the start of their window, per key.
    failures: Mutex<HashMap<Key, (u32, i64)>>,
    limits: Limits,
}

/// The sign-in throttle ([`SIGN_IN`]).
impl Default for LoginThrottle {
    fn default() -> Self {
        Self::with_limits(SIGN_IN)
    }
}

impl LoginThrottle {
    /// A throttle counting events against `limits` (the same windows and
    /// bounds as sign-in's).
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            failures: Mutex::default(),
            limits,
        }
    }

    /// Whether `email` may try to sign in from `ip` at `now`.
    pub fn allows(&self, email: &str, ip: IpAddr, now: i64) -> bool {
        self.allows_all(&keys(email, ip), now)
    }

    pub fn record_failure(&self, email: &str, ip: IpAddr, now: i64) {
        self.count(keys(email, ip), now);
    }

    /// Whether `ip` may try a sign-in that names no email (a passkey) at
    /// `now`: only the per-address count applies.
    pub fn allows_ip(&self, ip: IpAddr, now: i64) -> bool {
        self.allows_all(&[Key::Ip(ip)], now)
    }

    /// Counts a failed sign-in that names no email (a passkey) against `ip`.
    pub fn record_ip_failure(&self, ip: IpAddr, now: i64) {
        self.count([Key::Ip(ip)], now);
    }

    /// Whether every one of `keys` is under its limit at `now`.
    fn allows_all(&self, keys: &[Key], now: i64) -> bool {
        let Ok(failures) = self.failures.lock() else {
            return true;
        };
        keys.iter().all(|key| match failures.get(key) {
            Some((count, since)) => *count < self.limits.of(key) || now - since >= WINDOW_SECONDS,
            None => true,
        })
    }

    /// Counts one event against each of `keys`, within the size bound.
    fn count<const N: usize>(&self, keys: [Key; N], now: i64) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, since)| now - *since < WINDOW_SECONDS);
            if failures.len() >= MAX_TRACKED {
                // Still full inside one window: forget the oldest half
                // rather than grow (a flood from many addresses).
                let mut starts: Vec<i64> = failures.values().map(|(_, since)| *since).collect();
                starts.sort_unstable();
                let cutoff = starts[starts.len() / 2];
                failures.retain(|_, (_, since)| *since > cutoff);
            }
        }
        for key in keys {
            let entry = failures.entry(key).or_insert((0, now));
            if now - entry.1 >= WINDOW_SECONDS {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    /// A successful sign-in clears the account's counts (not the
    /// address's: one right password does not excuse many wrong ones).
    pub fn record_success(&self, email: &str, ip: IpAddr) {
        if let Ok(mut failures) = self.failures.lock() {
            let [pair, _, email] = keys(email, ip);
            failures.remove(&pair);
            failures.remove(&email);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const ATTACKER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    #[test]
    fn refuses_after_too_many_failures_until_the_window_passes() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES {
            assert!(throttle.allows("A@example.com", HOME, 100));
            throttle.record_failure("a@example.com", HOME, 100);
        }
        assert!(!throttle.allows("a@EXAMPLE.com", HOME, 101));
        assert!(throttle.allows("a@example.com", HOME, 100 + WINDOW_SECONDS));
        throttle.record_success("a@example.com", HOME);
        assert!(throttle.allows("a@example.com", HOME, 101));
    }

    #[test]
    fn an_attacker_elsewhere_does_not_lock_the_owner_out() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES * 2 {
            throttle.record_failure("victim@example.com", ATTACKER, 100);
        }
        assert!(!throttle.allows("victim@example.com", ATTACKER, 101));
        assert!(throttle.allows("victim@example.com", HOME, 101));
    }

    #[test]
    fn one_address_trying_many_accounts_is_refused() {
        let throttle = LoginThrottle::default();
        for n in 0..MAX_FAILURES_PER_IP {
            let email = format!("user{n}@example.com");
            assert!(throttle.allows(&email, ATTACKER, 100));
            throttle.record_failure(&email, ATTACKER, 100);
        }
        assert!(!throttle.allows("someone-new@example.com", ATTACKER, 101));
        assert!(throttle.allows("someone-new@example.com", HOME, 101));
    }

    #[test]
    fn many_addresses_guessing_one_account_are_refused() {
        let throttle = LoginThrottle::default();
        for n in 0..MAX_FAILURES_PER_EMAIL {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            throttle.record_failure("target@example.com", ip, 100);
        }
        assert!(!throttle.allows("target@example.com", HOME, 101));
        assert!(throttle.allows("target@example.com", HOME, 100 + WINDOW_SECONDS));
    }

    #[test]
    fn failed_passkeys_count_against_the_address_only() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES_PER_IP {
            assert!(throttle.allows_ip(ATTACKER, 100));
            throttle.record_ip_failure(ATTACKER, 100);
        }
        assert!(!throttle.allows_ip(ATTACKER, 101));
        assert!(
            !throttle.allows("anyone@example.com", ATTACKER, 101),
            "passwords too"
        );
        assert!(throttle.allows_ip(HOME, 101));
        assert!(throttle.allows_ip(ATTACKER, 100 + WINDOW_SECONDS));
    }
}
