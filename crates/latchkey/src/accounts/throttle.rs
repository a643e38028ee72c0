//! Throttling of failed sign-ins (SPEC 8): after a few wrong passwords for
//! one email, further attempts are refused for a while without checking the
//! password. Per instance, in memory; sign-in is not a hot path, so a mutex
//! over a small map is enough.

use std::collections::HashMap;
use std::sync::Mutex;

/// Failures allowed inside one window before attempts are refused.
pub const MAX_FAILURES: u32 = 5;
/// The window, in seconds.
pub const WINDOW_SECONDS: i64 = 15 * 60;
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, i64)>>,
}

impl LoginThrottle {
    fn key(email: &str) -> String {
        email.trim().to_lowercase()
    }

    /// Whether `email` may try to sign in at `now`.
    pub fn allows(&self, email: &str, now: i64) -> bool {
        let Ok(failures) = self.failures.lock() else {
            return true;
        };
        match failures.get(&Self::key(email)) {
            Some((count, since)) => *count < MAX_FAILURES || now - since >= WINDOW_SECONDS,
            None => true,
        }
    }

    pub fn record_failure(&self, email: &str, now: i64) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, since)| now - *since < WINDOW_SECONDS);
        }
        let entry = failures.entry(Self::key(email)).or_insert((0, now));
        if now - entry.1 >= WINDOW_SECONDS {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    pub fn record_success(&self, email: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&Self::key(email));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_too_many_failures_until_the_window_passes() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES {
            assert!(throttle.allows("A@example.com", 100));
            throttle.record_failure("a@example.com", 100);
        }
        assert!(!throttle.allows("a@EXAMPLE.com", 101));
        assert!(throttle.allows("a@example.com", 100 + WINDOW_SECONDS));
        throttle.record_success("a@example.com");
        assert!(throttle.allows("a@example.com", 101));
    }
}
