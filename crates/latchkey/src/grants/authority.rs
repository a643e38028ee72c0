//! Latchkey as the [`Authority`] of its own token guard: the current
//! signing keys, the grant-liveness lookup (one indexed query, no cache —
//! SPEC 7), and API keys.

use std::sync::Arc;

use latchkey_verify::{Authority, GuardError, KeySet, Principal, TokenClaims};

use crate::accounts::api_keys;
use crate::keys::Keys;
use crate::store::Store;

pub struct StoreAuthority {
    pub store: Arc<dyn Store>,
    pub keys: Arc<Keys>,
}

fn unavailable(error: impl std::fmt::Display) -> GuardError {
    tracing::error!(%error, "token check failed");
    GuardError::Unavailable
}

#[async_trait::async_trait]
impl Authority for StoreAuthority {
    fn keys(&self) -> Arc<KeySet> {
        self.keys.ring().key_set()
    }

    async fn token_is_live(&self, claims: &TokenClaims) -> Result<bool, GuardError> {
        super::client_credentials::access_token_is_live(self.store.as_ref(), claims)
            .await
            .map_err(unavailable)
    }

    async fn api_key(&self, key: &str, now: i64) -> Result<Option<Principal>, GuardError> {
        api_keys::authenticate(self.store.as_ref(), key, now)
            .await
            .map_err(unavailable)
    }
}
