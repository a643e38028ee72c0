//! The UserInfo response (OpenID Connect Core §5.3): `sub` and the claims
//! the access token's scopes allow, from current data.

use serde_json::{Map, Value};

use super::error::{ErrorCode, OAuthError};
use crate::config::Config;
use latchkey_verify::TokenClaims;

use super::scope::ScopeSet;
use crate::grants::tokens::Subject;
use crate::store::Store;

/// The claims for a verified access token; it must carry `openid`.
pub async fn claims(
    store: &dyn Store,
    config: &Config,
    token: &TokenClaims,
) -> Result<Map<String, Value>, OAuthError> {
    if !token.has_scope("openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the userinfo endpoint needs an access token with the openid scope",
        ));
    }
    let subject = Subject::load(store, &token.subject, &token.organization_id)
        .await?
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidToken, "the token's user no longer exists"))?;
    let mut claims = Map::new();
    claims.insert("sub".into(), subject.user.id.clone().into());
    let scopes = ScopeSet::from_tokens(&token.scopes)
        .map_err(|_| OAuthError::new(ErrorCode::InvalidToken, "the token's scope is malformed"))?;
    subject.profile_claims(config, &scopes, &mut claims);
    Ok(claims)
}
