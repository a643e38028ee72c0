//! Revocation (RFC 7009) and introspection (RFC 7662) of the tokens a
//! grant yields. Revoking a refresh token ends its grant — every access
//! and refresh token of it; revoking an access token ends that token. A
//! client can revoke only its own tokens; anything else is quietly ignored,
//! so the answer reveals nothing about tokens it does not own.

use serde_json::{Map, Value};

use latchkey_verify::{Guard, TokenClaims, read_access_token};

use crate::audit::{self, Actor};
use crate::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::revoke::TokenHint;
use crate::oauth::scope::ScopeSet;
use crate::secret::Secret;
use crate::store::{ClientRecord, RefreshTokenRecord, Store};

/// A presented token, resolved to what it is.
enum Resolved {
    Access(TokenClaims),
    Refresh(RefreshTokenRecord),
    Unknown,
}

/// Finds the token, trying the hinted kind first (RFC 7009 §2.1: the hint
/// only speeds the lookup up).
async fn resolve(
    store: &dyn Store,
    guard: &Guard,
    token: &Secret,
    hint: TokenHint,
) -> Result<Resolved, OAuthError> {
    // Expired access tokens are still recognized: revoking one is harmless.
    // So are tokens for every resource (RFC 8707), not only the example
    // API's audience the guard checks: this server issued them all.
    let policy = latchkey_verify::Policy {
        audience: None,
        ..guard.policy.clone()
    };
    let as_access = || {
        read_access_token(&policy, &guard.authority.keys(), token.expose())
            .ok()
            .map(Resolved::Access)
    };
    if hint != TokenHint::RefreshToken
        && let Some(access) = as_access()
    {
        return Ok(access);
    }
    if let Some(refresh) = store.find_refresh_token(&token.digest()).await? {
        return Ok(Resolved::Refresh(refresh));
    }
    Ok(as_access().unwrap_or(Resolved::Unknown))
}

/// Revokes `token` if `client` owns it.
pub async fn revoke(
    store: &dyn Store,
    guard: &Guard,
    client: &ClientRecord,
    token: &Secret,
    hint: TokenHint,
    now: i64,
) -> Result<(), OAuthError> {
    let actor = Actor::Client(client.client_id.clone());
    match resolve(store, guard, token, hint).await? {
        Resolved::Refresh(refresh) if refresh.client_id == client.client_id => {
            if store.revoke_grant(&refresh.grant_id, now).await? {
                let subject = audit::Subject {
                    client_id: Some(&client.client_id),
                    grant_id: Some(&refresh.grant_id),
                    ..Default::default()
                };
                let details = serde_json::json!({"reason": "refresh token revoked by the client"});
                audit::record(store, &actor, "grant.revoked", subject, details, now).await;
            }
        }
        Resolved::Access(access) if access.client_id == client.client_id => {
            store
                .revoke_access_token(&access.jti, &access.grant_id, access.exp, now)
                .await?;
        }
        Resolved::Refresh(_) | Resolved::Access(_) | Resolved::Unknown => {}
    }
    Ok(())
}

/// RFC 7662 §2.1: the caller must be authorized to introspect. A public
/// client cannot authenticate (RFC 6749 §2.1), so only a client with a
/// secret may ask; revocation stays open to public clients for their own
/// tokens.
fn require_confidential(client: &ClientRecord) -> Result<(), OAuthError> {
    match client.secret_digest {
        Some(_) => Ok(()),
        None => Err(OAuthError::invalid_client(
            "introspection requires client authentication with a secret; a public client cannot introspect tokens",
        )),
    }
}

/// RFC 7662 §2.2: the token's claims when it is active, else only
/// `active: false`. Refresh tokens are described only to their own client,
/// and only confidential clients are answered at all.
pub async fn introspect(
    store: &dyn Store,
    config: &Config,
    guard: &Guard,
    client: &ClientRecord,
    token: &Secret,
    hint: TokenHint,
    now: i64,
) -> Result<Map<String, Value>, OAuthError> {
    require_confidential(client)?;
    let mut answer = Map::new();
    match resolve(store, guard, token, hint).await? {
        Resolved::Access(access)
            if access.exp > now
                && super::client_credentials::access_token_is_live(store, &access).await? =>
        {
            answer = access.claims;
            answer.insert("active".into(), true.into());
            answer.insert("token_type".into(), "Bearer".into());
        }
        Resolved::Refresh(refresh)
            if refresh.client_id == client.client_id
                && refresh.used_at.is_none()
                && refresh.expires_at > now =>
        {
            let grant = store.find_grant(&refresh.grant_id).await?;
            let client_enabled = store
                .find_client(&refresh.client_id)
                .await?
                .is_some_and(|c| c.enabled);
            if let Some(grant) = grant.filter(|g| g.revoked_at.is_none() && client_enabled) {
                answer.insert("active".into(), true.into());
                answer.insert("token_type".into(), "refresh_token".into());
                answer.insert("client_id".into(), refresh.client_id.into());
                let scopes = ScopeSet::from_tokens(&refresh.scopes).map_err(OAuthError::server_error)?;
                answer.insert("scope".into(), config.scope_string(&scopes).into());
                answer.insert("sub".into(), grant.user_id.into());
                answer.insert(config.claims.tenant_id.clone(), grant.organization_id.into());
                answer.insert("iss".into(), config.issuer.clone().into());
                answer.insert("iat".into(), refresh.created_at.into());
                answer.insert("exp".into(), refresh.expires_at.into());
            }
        }
        Resolved::Access(_) | Resolved::Refresh(_) | Resolved::Unknown => {}
    }
    if answer.is_empty() {
        answer.insert("active".into(), false.into());
    }
    Ok(answer)
}
