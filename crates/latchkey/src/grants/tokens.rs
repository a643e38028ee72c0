//! The tokens a grant yields: JWT access tokens (RFC 9068, `typ: at+jwt`)
//! and ID tokens (OpenID Connect Core §2), both RS256 with the active key,
//! carrying the configured tenant and role claims; and the check of an
//! access token presented back to Latchkey (signature, `typ`, issuer,
//! expiry, and a live grant — SPEC 7).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::config::{Config, seconds};
use crate::keys::{KeyError, KeyRing};
use crate::oauth::scope::ScopeSet;
use crate::secret::{Secret, generate_identifier, random_bytes};
use crate::store::{OrganizationRecord, Store, UserRecord};

pub use latchkey_verify::ACCESS_TOKEN_TYP;
/// The claim naming the grant, checked for liveness on every use.
pub const GRANT_CLAIM: &str = "grant_id";

/// Who a token speaks for: the user, the organization the grant acts on,
/// and the user's role there.
#[derive(Debug, Clone)]
pub struct Subject {
    pub user: UserRecord,
    pub organization: OrganizationRecord,
    pub role: Option<String>,
}

impl Subject {
    /// Loads the subject of a grant; `None` when the user or organization
    /// is gone.
    pub async fn load(
        store: &dyn Store,
        user_id: &str,
        organization_id: &str,
    ) -> Result<Option<Self>, crate::store::StoreError> {
        let Some(user) = store.find_user(user_id).await? else {
            return Ok(None);
        };
        let Some(organization) = store.find_organization(organization_id).await? else {
            return Ok(None);
        };
        let role = store
            .list_memberships(user_id)
            .await?
            .into_iter()
            .find(|m| m.organization_id == organization_id)
            .map(|m| m.role);
        Ok(Some(Self {
            user,
            organization,
            role,
        }))
    }

    /// The tenant and role claims under their configured names.
    fn tenant_claims(&self, config: &Config, claims: &mut Map<String, Value>) {
        claims.insert(
            config.claims.tenant_id.clone(),
            self.organization.id.clone().into(),
        );
        if let Some(name) = &config.claims.tenant_name {
            claims.insert(name.clone(), self.organization.name.clone().into());
        }
        if let (Some(name), Some(role)) = (&config.claims.role, &self.role) {
            claims.insert(name.clone(), role.clone().into());
        }
    }

    /// The identity claims the scopes allow (OpenID Connect Core §5.4).
    pub fn profile_claims(&self, config: &Config, scopes: &ScopeSet, claims: &mut Map<String, Value>) {
        if scopes.contains("email") {
            claims.insert("email".into(), self.user.email.clone().into());
            claims.insert("email_verified".into(), self.user.email_verified.into());
        }
        if scopes.contains("profile") {
            claims.insert("name".into(), self.user.name.clone().into());
        }
        self.tenant_claims(config, claims);
    }
}

/// RFC 9068 §2.2: `iss`, `exp`, `aud`, `sub`, `client_id`, `iat`, `jti`,
/// `scope`, plus the tenant claims, `email`/`name` as scoped, and the grant.
pub fn access_token(
    config: &Config,
    ring: &KeyRing,
    subject: &Subject,
    client_id: &str,
    scopes: &ScopeSet,
    grant_id: &str,
    now: i64,
) -> Result<String, KeyError> {
    let mut claims = Map::new();
    claims.insert("iss".into(), config.issuer.clone().into());
    claims.insert("sub".into(), subject.user.id.clone().into());
    claims.insert("aud".into(), config.issuer.clone().into());
    claims.insert("client_id".into(), client_id.into());
    claims.insert("scope".into(), config.scope_string(scopes).into());
    claims.insert("iat".into(), now.into());
    claims.insert(
        "exp".into(),
        (now + seconds(config.tokens.access_token_ttl)).into(),
    );
    claims.insert("jti".into(), generate_identifier("").into());
    claims.insert(GRANT_CLAIM.into(), grant_id.into());
    subject.profile_claims(config, scopes, &mut claims);
    ring.sign_jwt(ACCESS_TOKEN_TYP, &claims, now)
}

/// What an ID token says beyond the subject.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenContext<'a> {
    pub client_id: &'a str,
    pub scopes: &'a ScopeSet,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    pub access_token: &'a Secret,
}

/// OpenID Connect Core §2 and §3.1.3.6: `iss`, `sub`, `aud`, `azp`, `exp`,
/// `iat`, `auth_time`, `nonce`, `at_hash`, and the scoped claims.
pub fn id_token(
    config: &Config,
    ring: &KeyRing,
    subject: &Subject,
    context: IdTokenContext<'_>,
    now: i64,
) -> Result<String, KeyError> {
    let mut claims = Map::new();
    claims.insert("iss".into(), config.issuer.clone().into());
    claims.insert("sub".into(), subject.user.id.clone().into());
    claims.insert("aud".into(), context.client_id.into());
    claims.insert("azp".into(), context.client_id.into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + seconds(config.tokens.id_token_ttl)).into());
    claims.insert("auth_time".into(), context.auth_time.into());
    if let Some(nonce) = context.nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    claims.insert("at_hash".into(), at_hash(context.access_token.expose()).into());
    subject.profile_claims(config, context.scopes, &mut claims);
    ring.sign_jwt("JWT", &claims, now)
}

/// OpenID Connect Core §3.1.3.6: base64url of the left half of SHA-256.
fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

/// A fresh grant id.
pub fn new_grant_id() -> String {
    let mut id = String::from("grant_");
    URL_SAFE_NO_PAD.encode_string(random_bytes::<16>(), &mut id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_sha256_in_base64url() {
        // Expected value computed independently (Python hashlib).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnUGdfRhmJJbT3p8FsIkdN2"),
            "cntjgcdnO0Dq-v3jFMjYQA"
        );
    }
}
