//! The client credentials grant (RFC 6749 §4.4): a confidential client
//! allowed it gets an access token for its owning organization, with no
//! user — `sub` is the client id (RFC 9068 §2.2) beside the configured
//! tenant claim — no refresh token and no ID token. Each issuance is a
//! grant of its own (`client_credentials_grants`) that the token names in
//! `jti`, so the guard checks it on every request like any other token
//! ([`access_token_is_live`]).

use serde_json::Map;

use latchkey_verify::TokenClaims;

use crate::audit::{self, Actor};
use crate::config::{Config, seconds};
use crate::keys::KeyRing;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::grant_type::{self, GrantType};
use crate::oauth::resource::{self, Granted, Target};
use crate::oauth::scope::ScopeSet;
use crate::oauth::token::TokenResponse;
use crate::secret::Secret;
use crate::store::{ClientCredentialsGrantRecord, ClientRecord, Store, StoreError};

use super::tokens::{self, ACCESS_TOKEN_TYP};

/// OpenID Connect's scopes (Core §5.4, §11): they are about a user, and a
/// client_credentials token has none.
pub const OIDC_SCOPES: [&str; 6] = ["openid", "profile", "email", "address", "phone", "offline_access"];

/// The client's allowed API scopes: its allowed scopes but OpenID
/// Connect's.
pub fn api_scopes(client: &ClientRecord) -> Vec<&str> {
    client
        .allowed_scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !OIDC_SCOPES.contains(s))
        .collect()
}

/// RFC 6749 §4.4.2 `scope`: any subset of the client's API scopes; none
/// (or an empty one) means all of them. OpenID Connect scopes and scopes
/// beyond the allowed ones are `invalid_scope`, naming them.
fn requested_scopes(client: &ClientRecord, scope: Option<&str>) -> Result<ScopeSet, OAuthError> {
    let invalid = |description: String| OAuthError::new(ErrorCode::InvalidScope, description);
    let allowed = api_scopes(client);
    let allowed_set = ScopeSet::from_tokens(&allowed).map_err(OAuthError::server_error)?;
    let requested = match scope {
        Some(text) => ScopeSet::parse(text).map_err(|e| invalid(format!("scope is malformed: {e}")))?,
        None => ScopeSet::default(),
    };
    let user_scopes: Vec<&str> = requested.iter().filter(|s| OIDC_SCOPES.contains(s)).collect();
    if !user_scopes.is_empty() {
        return Err(invalid(format!(
            "OpenID Connect scopes ({}) need a user; a client_credentials token carries API scopes only",
            user_scopes.join(", ")
        )));
    }
    if let Some(extra) = requested.missing_from(&allowed_set).next() {
        return Err(invalid(format!(
            "scope `{extra}` is not allowed for this client; its API scopes are: {}",
            if allowed.is_empty() {
                "(none)".to_owned()
            } else {
                allowed.join(" ")
            }
        )));
    }
    let granted = if requested.is_empty() {
        allowed_set
    } else {
        requested
    };
    if granted.is_empty() {
        return Err(invalid(
            "this client is allowed no API scopes; an administrator can add some to its allowed scopes"
                .to_owned(),
        ));
    }
    Ok(granted)
}

/// Issues a client_credentials access token to an authenticated `client`
/// for the resource its request names (RFC 8707 `resource`, at most one;
/// none means the example API): checks, then the grant row committed,
/// then signing. Audited as `grant.created`.
pub async fn issue(
    store: &dyn Store,
    config: &Config,
    ring: &KeyRing,
    client: &ClientRecord,
    scope: Option<&str>,
    resources: &[String],
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    grant_type::require_allowed(client, GrantType::ClientCredentials)?;
    // RFC 6749 §4.4: the client credentials grant type MUST only be used
    // by confidential clients.
    if client.secret_digest.is_none() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "grant_type=client_credentials is only for confidential clients",
        ));
    }
    let organization = match &client.organization_id {
        Some(id) => store.find_organization(id).await?,
        None => None,
    }
    .ok_or_else(|| {
        OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client has no owning organization for its tokens to act for",
        )
    })?;
    let requested = requested_scopes(client, scope)?;
    let values: Vec<&str> = resources.iter().map(String::as_str).collect();
    let Target { audience, scopes } = resource::for_token(config, Granted::Any, &values, &requested)?;
    if let Some(other) = requested.missing_from(&scopes).next().filter(|_| scope.is_some()) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!(
                "scope `{other}` does not belong to resource `{audience}`; ask for it without this resource or in a token of its own"
            ),
        ));
    }
    if scopes.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("none of this client's API scopes belongs to resource `{audience}`"),
        ));
    }
    let ttl = seconds(config.tokens.access_token_ttl);
    let grant = ClientCredentialsGrantRecord {
        id: tokens::new_grant_id(),
        client_id: client.client_id.clone(),
        organization_id: organization.id.clone(),
        scopes: scopes.to_vec(),
        created_at: now,
        expires_at: now + ttl,
        revoked_at: None,
    };
    store.insert_client_credentials_grant(&grant).await?;
    audit::record(
        store,
        &Actor::Client(client.client_id.clone()),
        "grant.created",
        audit::Subject {
            client_id: Some(&client.client_id),
            organization_id: Some(&grant.organization_id),
            grant_id: Some(&grant.id),
            ..Default::default()
        },
        serde_json::json!({"grant_type": "client_credentials", "scopes": grant.scopes}),
        now,
    )
    .await;

    // RFC 9068 §2.2: with no resource owner, `sub` is the client id.
    let mut claims = Map::new();
    claims.insert("iss".into(), config.issuer.clone().into());
    claims.insert("sub".into(), client.client_id.clone().into());
    claims.insert("aud".into(), audience.clone().into());
    claims.insert("client_id".into(), client.client_id.clone().into());
    claims.insert("scope".into(), config.scope_string(&scopes).into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), grant.expires_at.into());
    claims.insert("jti".into(), tokens::compact_jti(&grant.id).into());
    claims.insert(config.claims.tenant_id.clone(), organization.id.clone().into());
    if let (Some(name), true) = (
        &config.claims.tenant_name,
        config.tokens.access_token_claims.tenant_name,
    ) {
        claims.insert(name.clone(), organization.name.clone().into());
    }
    let access_token = ring.sign_jwt(config.tokens.signing_alg, ACCESS_TOKEN_TYP, &claims, now)?;
    Ok(TokenResponse {
        access_token: Secret::new(access_token),
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token: None,
        scope: config.scope_string(&scopes),
        id_token: None,
    })
}

/// Whether a verified access token speaks for a client rather than a user
/// (RFC 9068 §2.2: `sub` is then the client id; user ids never are).
pub fn is_client_token(claims: &TokenClaims) -> bool {
    claims.subject == claims.client_id
}

/// The liveness of any access token, one indexed query either way: a
/// client's token is checked against its client_credentials grant, a
/// user's against its grant (SPEC 7, nothing cached).
pub async fn access_token_is_live(store: &dyn Store, claims: &TokenClaims) -> Result<bool, StoreError> {
    if is_client_token(claims) {
        store
            .client_credentials_token_is_live(&claims.grant_id, &claims.jti)
            .await
    } else {
        store.access_token_is_live(&claims.grant_id, &claims.jti).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(scopes: &[&str]) -> ClientRecord {
        ClientRecord {
            client_id: "client_m".into(),
            secret_digest: Some(crate::secret::TokenDigest::of("s")),
            name: "Machine".into(),
            description: String::new(),
            homepage_url: None,
            logo_url: None,
            redirect_uris: Vec::new(),
            allowed_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            token_endpoint_auth_method: "client_secret_basic".into(),
            organization_id: Some("o1".into()),
            grant_types: vec![GrantType::ClientCredentials],
            id_token_signed_response_alg: None,
            enabled: true,
            created_at: 0,
            updated_at: 0,
            origin: crate::store::ClientOrigin::Operator,
        }
    }

    #[test]
    fn no_scope_means_every_allowed_api_scope() {
        let granted = requested_scopes(&client(&["openid", "cases:read", "firm:read"]), None).unwrap();
        assert_eq!(granted.to_vec(), ["cases:read", "firm:read"]);
        let empty = requested_scopes(&client(&["cases:read"]), Some(" ")).unwrap();
        assert_eq!(empty.to_vec(), ["cases:read"]);
    }

    #[test]
    fn a_subset_is_granted_as_asked() {
        let granted = requested_scopes(&client(&["cases:read", "firm:read"]), Some("firm:read")).unwrap();
        assert_eq!(granted.to_vec(), ["firm:read"]);
    }

    #[test]
    fn oidc_and_unallowed_scopes_are_invalid_and_named() {
        let c = client(&["openid", "cases:read"]);
        let oidc = requested_scopes(&c, Some("openid offline_access cases:read")).unwrap_err();
        assert_eq!(oidc.code, ErrorCode::InvalidScope);
        assert!(
            oidc.description.contains("offline_access, openid"),
            "{}",
            oidc.description
        );
        let extra = requested_scopes(&c, Some("cases:write")).unwrap_err();
        assert_eq!(extra.code, ErrorCode::InvalidScope);
        assert!(
            extra.description.contains("`cases:write`"),
            "{}",
            extra.description
        );
        let none = requested_scopes(&client(&["openid"]), None).unwrap_err();
        assert!(none.description.contains("no API scopes"), "{}", none.description);
    }
}
