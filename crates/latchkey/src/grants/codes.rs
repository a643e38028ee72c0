//! Authorization codes (RFC 6749 §4.1.2): random, single use, short-lived,
//! bound to the client, redirect URI, PKCE challenge, nonce, scopes,
//! resources (RFC 8707), organization, user, `auth_time` and how the user
//! authenticated (`amr`). Only the digest is stored.

use crate::config::{Config, seconds};
use crate::oauth::authorize::AuthorizationRequest;
use crate::secret::{Secret, generate_token};
use crate::store::{AuthorizationCodeRecord, SessionRecord, Store, StoreError};

/// Issues a code for an approved request, for the user of `session`,
/// saying when and how they authenticated.
pub async fn issue(
    store: &dyn Store,
    config: &Config,
    request: &AuthorizationRequest,
    session: &SessionRecord,
    organization_id: &str,
    now: i64,
) -> Result<Secret, StoreError> {
    let code = generate_token(&config.prefixes.authorization_code);
    let ttl = seconds(config.tokens.authorization_code_ttl);
    let record = AuthorizationCodeRecord {
        code_digest: code.digest(),
        client_id: request.client.client_id.clone(),
        user_id: session.user_id.clone(),
        organization_id: organization_id.to_owned(),
        redirect_uri: request.redirect_uri.clone(),
        redirect_uri_given: request.redirect_uri_given,
        scopes: request.scopes.to_vec(),
        code_challenge: request.code_challenge.as_ref().map(|(c, _)| c.clone()),
        code_challenge_method: request
            .code_challenge
            .as_ref()
            .map(|(_, m)| m.as_str().to_owned()),
        nonce: request.nonce.clone(),
        resources: request.resources.clone(),
        auth_time: session.auth_time,
        amr: session.amr.clone(),
        created_at: now,
        expires_at: now + ttl,
        consumed_at: None,
        grant_id: None,
    };
    store.insert_authorization_code(&record).await?;
    Ok(code)
}
