//! Rate limits (SPEC 12), per instance: fixed one-minute windows counted in
//! memory, keyed by client IP (authorization, registration, the delegated
//! sign-in's return, passkey sign-in options), client id (token, revocation) or access token
//! (userinfo). A limit of 0 turns one off. The
//! counters are sharded so concurrent requests rarely wait on each other.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::config::RateLimits;
use crate::secret::TokenDigest;

const SHARDS: usize = 16;
const WINDOW_SECONDS: i64 = 60;
const MAX_KEYS_PER_SHARD: usize = 10_000;

/// The limited endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Authorize,
    Token,
    Userinfo,
    Revoke,
    /// Dynamic client registration: each one may create a client.
    Register,
    /// The browser's return from the platform's login in delegated sign-in
    /// (each verifies a signature and may write a user): counted apart
    /// from, but within the same limit as, the authorization endpoint,
    /// which each of them follows.
    DelegatedReturn,
    /// The options of a password-free passkey sign-in (each stores a
    /// ceremony): counted apart, within the authorization endpoint's limit.
    PasskeySignIn,
}

type Counters = HashMap<(Endpoint, TokenDigest), (i64, u32)>;

pub struct RateLimiter {
    limits: RateLimits,
    shards: Vec<Mutex<Counters>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn limit(&self, endpoint: Endpoint) -> u32 {
        match endpoint {
            Endpoint::Authorize | Endpoint::DelegatedReturn | Endpoint::PasskeySignIn => {
                self.limits.authorize_per_minute
            }
            Endpoint::Token => self.limits.token_per_minute,
            Endpoint::Userinfo => self.limits.userinfo_per_minute,
            Endpoint::Revoke => self.limits.revoke_per_minute,
            Endpoint::Register => self.limits.register_per_minute,
        }
    }

    /// Counts one request for `key`; over the limit, the seconds until the
    /// window ends.
    pub fn check(&self, endpoint: Endpoint, key: &str, now: i64) -> Result<(), i64> {
        let limit = self.limit(endpoint);
        if limit == 0 {
            return Ok(());
        }
        // The key is hashed so no token or secret is kept in memory.
        let digest = TokenDigest::of(key);
        let shard = &self.shards[usize::from(digest.0[0]) % SHARDS];
        let Ok(mut counters) = shard.lock() else {
            return Ok(());
        };
        let window = now - now.rem_euclid(WINDOW_SECONDS);
        if counters.len() >= MAX_KEYS_PER_SHARD {
            counters.retain(|_, (start, _)| *start == window);
        }
        let entry = counters.entry((endpoint, digest)).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= limit {
            return Err(window + WINDOW_SECONDS - now);
        }
        entry.1 += 1;
        Ok(())
    }

    /// The client's address: the peer's, or — when the peer is a trusted
    /// proxy — the last address in `X-Forwarded-For` that is not one.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let trusted = &self.limits.trusted_proxies;
        if !trusted.contains(&peer.ip()) {
            return peer.ip();
        }
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer.ip())
    }
}

/// `429 Too Many Requests` with `Retry-After` and an OAuth-style body.
pub fn too_many_requests(retry_after: i64) -> Response {
    let body = serde_json::json!({
        "error": "rate_limit_exceeded",
        "error_description": format!("too many requests; retry after {retry_after} seconds"),
    });
    let mut response = super::json_response(StatusCode::TOO_MANY_REQUESTS, &body);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
        headers.insert(header::RETRY_AFTER, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, trusted: Vec<IpAddr>) -> RateLimiter {
        RateLimiter::new(RateLimits {
            authorize_per_minute: per_minute,
            token_per_minute: per_minute,
            userinfo_per_minute: per_minute,
            revoke_per_minute: 0,
            register_per_minute: per_minute,
            trusted_proxies: trusted,
        })
    }

    #[test]
    fn counts_per_key_per_window() {
        let limiter = limiter(2, vec![]);
        assert_eq!(limiter.check(Endpoint::Token, "c1", 120), Ok(()));
        assert_eq!(limiter.check(Endpoint::Token, "c1", 130), Ok(()));
        assert_eq!(limiter.check(Endpoint::Token, "c1", 150), Err(30));
        assert_eq!(limiter.check(Endpoint::Token, "c2", 150), Ok(()), "another key");
        assert_eq!(
            limiter.check(Endpoint::Userinfo, "c1", 150),
            Ok(()),
            "another endpoint"
        );
        assert_eq!(limiter.check(Endpoint::Token, "c1", 180), Ok(()), "a new window");
        assert_eq!(
            limiter.check(Endpoint::DelegatedReturn, "c1", 150),
            Ok(()),
            "counted apart"
        );
        for _ in 0..100 {
            assert_eq!(limiter.check(Endpoint::Revoke, "c1", 150), Ok(()), "0 disables");
        }
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let limiter = limiter(1, vec![proxy]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 10.0.0.1"),
        );
        assert_eq!(
            limiter
                .client_ip("10.0.0.1:443".parse().unwrap(), &headers)
                .to_string(),
            "203.0.113.9"
        );
        assert_eq!(
            limiter
                .client_ip("198.51.100.7:443".parse().unwrap(), &headers)
                .to_string(),
            "198.51.100.7"
        );
    }
}
