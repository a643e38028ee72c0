//! The platform's keys from its JWKS URL (`login.delegate_jwks_url`): the
//! set is fetched through the outbound client (bounded in time and size,
//! public addresses only — loopback only when the URL itself names a
//! loopback host, for development), kept for five minutes, and fetched
//! again early when an assertion names a key the set does not have (at
//! most every 30 s, so assertions with made-up `kid`s cannot make the
//! server hammer the platform). A failed fetch keeps the keys it had. The
//! signature check is `latchkey_verify::KeySet`'s: the key is found by
//! `kid`, and the header's `alg` must be that key's algorithm.

use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_verify::{GuardError, KeySet};
use serde_json::{Map, Value};
use url::Url;

use super::assertion::Refused;
use crate::outbound::{FetchLimits, Fetcher};

/// How long a fetched key set is used before it is fetched again.
const FRESH_FOR: Duration = Duration::from_secs(300);
/// The shortest time between two fetches (an unknown `kid`, a failure).
const REFETCH_AFTER: Duration = Duration::from_secs(30);

pub struct RemoteKeys {
    url: Url,
    fetcher: Fetcher,
    cache: tokio::sync::Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    keys: Option<Arc<KeySet>>,
    /// When the last fetch was tried, whatever it gave.
    tried_at: Option<Instant>,
    /// When the keys held were fetched.
    fetched_at: Option<Instant>,
}

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteKeys({})", self.url)
    }
}

impl RemoteKeys {
    /// Keys to be fetched from `url` (https, or http on a loopback host).
    pub fn new(url: Url) -> Result<Self, String> {
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        let fetcher = Fetcher::new(FetchLimits {
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
            allow_loopback: loopback,
        })?;
        Ok(Self {
            url,
            fetcher,
            cache: tokio::sync::Mutex::default(),
        })
    }

    /// Verifies a compact JWS with the platform's published keys; its
    /// claims.
    pub async fn verify(&self, token: &str) -> Result<Map<String, Value>, Refused> {
        let keys = self.keys(false).await?;
        match keys.verify(token) {
            Ok((_, claims)) => Ok(claims),
            // A key the set does not have yet: the platform may have
            // rotated; fetch again (within bounds) and try once more.
            Err(GuardError::InvalidToken(text)) if text.contains("not signed by a published key") => {
                let keys = self.keys(true).await?;
                keys.verify(token).map(|(_, claims)| claims).map_err(refused)
            }
            Err(error) => Err(refused(error)),
        }
    }

    async fn keys(&self, unknown_kid: bool) -> Result<Arc<KeySet>, Refused> {
        let mut cache = self.cache.lock().await;
        let fresh = cache.fetched_at.is_some_and(|at| at.elapsed() < FRESH_FOR);
        let may_fetch = cache.tried_at.is_none_or(|at| at.elapsed() >= REFETCH_AFTER);
        if (!fresh || unknown_kid) && (may_fetch || cache.keys.is_none()) {
            cache.tried_at = Some(Instant::now());
            match self.fetch().await {
                Ok(keys) => {
                    cache.keys = Some(Arc::new(keys));
                    cache.fetched_at = Some(Instant::now());
                }
                Err(problem) if cache.keys.is_none() => return Err(Refused(problem)),
                Err(problem) => {
                    tracing::warn!(url = %self.url, %problem, "the platform's keys could not be fetched again; keeping the ones held")
                }
            }
        }
        cache
            .keys
            .clone()
            .ok_or_else(|| Refused(format!("The platform's keys at {} are not available.", self.url)))
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let fetched = self.fetcher.get_json(&self.url).await.map_err(|error| {
            format!(
                "The platform's keys could not be fetched from {}: {error}.",
                self.url
            )
        })?;
        let text = String::from_utf8(fetched.body)
            .map_err(|_| format!("The platform's keys at {} are not UTF-8 JSON.", self.url))?;
        let keys = KeySet::from_jwks(&text).map_err(|error| {
            format!(
                "The platform's keys at {} are not a usable JWKS: {error}.",
                self.url
            )
        })?;
        if keys.is_empty() {
            return Err(format!(
                "The platform's JWKS at {} has no key this server can use.",
                self.url
            ));
        }
        Ok(keys)
    }
}

fn refused(error: GuardError) -> Refused {
    Refused(format!(
        "The sign-in assertion was not accepted with the platform's published keys: {error}."
    ))
}
