//! Connected Apps (SPEC 9, the seeds' "Settings → Connected Apps"): the
//! apps a user authorized, per organization, and revoking one — its tokens
//! stop working at once, its refresh tokens are deleted, and the next
//! authorization asks for consent again.

use crate::audit::{self, Actor};
use crate::store::{ConnectedApp, Store, StoreError};

pub async fn list(store: &dyn Store, user_id: &str) -> Result<Vec<ConnectedApp>, StoreError> {
    store.list_connected_apps(user_id).await
}

/// Revokes the app for the user in the organization; `false` when it was
/// not connected.
pub async fn revoke(
    store: &dyn Store,
    actor: &Actor,
    user_id: &str,
    organization_id: &str,
    client_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let revoked = store
        .revoke_connected_app(user_id, organization_id, client_id, now)
        .await?;
    if revoked {
        let subject = audit::Subject {
            client_id: Some(client_id),
            user_id: Some(user_id),
            organization_id: Some(organization_id),
            grant_id: None,
        };
        let details = serde_json::json!({"reason": "connected app revoked"});
        audit::record(store, actor, "grant.revoked", subject, details, now).await;
    }
    Ok(revoked)
}
