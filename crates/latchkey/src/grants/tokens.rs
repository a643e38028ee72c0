//! The tokens a grant yields: JWT access tokens (RFC 9068, `typ: at+jwt`),
//! signed with `tokens.signing_alg`, and ID tokens (OpenID Connect Core
//! §2), signed with the client's `id_token_signed_response_alg` or that
//! default, each with the active key of its algorithm and carrying the
//! configured tenant and role claims.
//!
//! Access tokens are kept compact (an integration stores them in a
//! 1000-character field): one claim, `jti`, names both the token and its
//! grant (the grant id followed by [`JTI_TOKEN_PART_LEN`] characters of the
//! token's own), and the optional claims are those of
//! `tokens.access_token_claims`. Checking them is latchkey-verify's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::accounts::amr;
use crate::config::{AccessTokenClaims, Config, seconds};
use crate::keys::{Alg, KeyError, KeyRing};
use crate::oauth::resource::Target;
use crate::oauth::scope::ScopeSet;
use crate::secret::{Secret, random_bytes};
use crate::store::{OrganizationRecord, Store, SubjectRecord, UserRecord};

pub use latchkey_verify::{ACCESS_TOKEN_TYP, JTI_TOKEN_PART_LEN};

/// Who a token speaks for: the user, the organization the grant acts on,
/// and the user's role there.
#[derive(Debug, Clone)]
pub struct Subject {
    pub user: UserRecord,
    pub organization: OrganizationRecord,
    pub role: Option<String>,
}

impl From<SubjectRecord> for Subject {
    fn from(found: SubjectRecord) -> Self {
        Self {
            user: found.user,
            organization: found.organization,
            role: found.role,
        }
    }
}

impl Subject {
    /// Loads the subject of a grant; `None` when the user or organization
    /// is gone.
    pub async fn load(
        store: &dyn Store,
        user_id: &str,
        organization_id: &str,
    ) -> Result<Option<Self>, crate::store::StoreError> {
        Ok(store
            .find_subject(user_id, organization_id)
            .await?
            .map(Self::from))
    }

    /// The identity claims the scopes allow (OpenID Connect Core §5.4),
    /// and the tenant and role claims under their configured names: every
    /// one, as ID tokens carry them.
    pub fn profile_claims(&self, config: &Config, scopes: &ScopeSet, claims: &mut Map<String, Value>) {
        self.selected_claims(config, scopes, &ALL_CLAIMS, claims);
    }

    /// The tenant id claim, and of the optional claims those `selected`
    /// (the identity ones only under their scope).
    fn selected_claims(
        &self,
        config: &Config,
        scopes: &ScopeSet,
        selected: &AccessTokenClaims,
        claims: &mut Map<String, Value>,
    ) {
        if scopes.contains("email") {
            if selected.email {
                claims.insert("email".into(), self.user.email.clone().into());
            }
            if selected.email_verified {
                claims.insert("email_verified".into(), self.user.email_verified.into());
            }
        }
        if scopes.contains("profile") && selected.name {
            claims.insert("name".into(), self.user.name.clone().into());
        }
        claims.insert(
            config.claims.tenant_id.clone(),
            self.organization.id.clone().into(),
        );
        if let (Some(name), true) = (&config.claims.tenant_name, selected.tenant_name) {
            claims.insert(name.clone(), self.organization.name.clone().into());
        }
        if let (Some(name), Some(role), true) = (&config.claims.role, &self.role, selected.role) {
            claims.insert(name.clone(), role.clone().into());
        }
    }
}

/// Every optional claim: what ID tokens carry.
const ALL_CLAIMS: AccessTokenClaims = AccessTokenClaims {
    email: true,
    email_verified: true,
    name: true,
    tenant_name: true,
    role: true,
};

/// RFC 9068 §2.2: `iss`, `exp`, `aud`, `sub`, `client_id`, `iat`, `jti`,
/// `scope`, plus the tenant id claim and the optional claims configured;
/// `target` (RFC 8707) is the one resource the token is for (`aud`) and
/// the scopes it carries.
/// The `jti` is the grant id followed by characters of the token's own, so
/// the guard finds the grant for its liveness check (SPEC 7) without a
/// second claim.
pub fn access_token(
    config: &Config,
    ring: &KeyRing,
    subject: &Subject,
    client_id: &str,
    target: &Target,
    grant_id: &str,
    now: i64,
) -> Result<String, KeyError> {
    let Target { audience, scopes } = target;
    let mut claims = Map::new();
    claims.insert("iss".into(), config.issuer.clone().into());
    claims.insert("sub".into(), subject.user.id.clone().into());
    claims.insert("aud".into(), audience.as_str().into());
    claims.insert("client_id".into(), client_id.into());
    claims.insert("scope".into(), config.scope_string(scopes).into());
    claims.insert("iat".into(), now.into());
    claims.insert(
        "exp".into(),
        (now + seconds(config.tokens.access_token_ttl)).into(),
    );
    claims.insert("jti".into(), compact_jti(grant_id).into());
    subject.selected_claims(config, scopes, &config.tokens.access_token_claims, &mut claims);
    ring.sign_jwt(config.tokens.signing_alg, ACCESS_TOKEN_TYP, &claims, now)
}

/// A `jti` naming the grant and the token: the grant id, then
/// [`JTI_TOKEN_PART_LEN`] random base64url characters (24 bits). Two tokens
/// of one grant sharing a `jti` would only mean that revoking one revokes
/// the other, which RFC 7009 §2.1 allows for a whole grant anyway.
pub(crate) fn compact_jti(grant_id: &str) -> String {
    let mut jti = String::with_capacity(grant_id.len() + JTI_TOKEN_PART_LEN);
    jti.push_str(grant_id);
    URL_SAFE_NO_PAD.encode_string(random_bytes::<3>(), &mut jti);
    jti
}

/// What an ID token says beyond the subject.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenContext<'a> {
    pub client_id: &'a str,
    pub scopes: &'a ScopeSet,
    pub auth_time: i64,
    /// How the user authenticated (RFC 8176); empty when not recorded.
    pub amr: &'a [String],
    pub nonce: Option<&'a str>,
    pub access_token: &'a Secret,
    /// The client's `id_token_signed_response_alg`, or `tokens.signing_alg`.
    pub alg: Alg,
}

/// OpenID Connect Core §2 and §3.1.3.6: `iss`, `sub`, `aud`, `azp`, `exp`,
/// `iat`, `auth_time`, `amr` and `acr` (when recorded), `nonce`,
/// `at_hash`, and the scoped claims.
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
    if let Some(acr) = amr::acr(context.amr) {
        claims.insert("amr".into(), context.amr.into());
        claims.insert("acr".into(), acr.into());
    }
    if let Some(nonce) = context.nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    claims.insert("at_hash".into(), at_hash(context.access_token.expose()).into());
    subject.profile_claims(config, context.scopes, &mut claims);
    ring.sign_jwt(context.alg, "JWT", &claims, now)
}

/// OpenID Connect Core §3.1.3.6: base64url of the left half of SHA-256.
fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

/// A fresh grant id: 48 random bits, 8 base64url characters — short, as
/// every access token carries it in its `jti`. Grant ids are not secrets
/// (tokens are signed); they need only be unique, which the store's key
/// enforces. Grants made before keep their longer `grant_…` ids.
pub fn new_grant_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<6>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grant_is_found_again_in_the_jti() {
        for grant in [new_grant_id(), "grant_Zm9vYmFyYmF6cXV4cXV1eA".to_owned()] {
            let jti = compact_jti(&grant);
            assert_eq!(jti.len(), grant.len() + JTI_TOKEN_PART_LEN);
            assert_eq!(latchkey_verify::grant_in_jti(&jti), Some(grant.as_str()));
        }
        assert_eq!(new_grant_id().len(), 8);
        assert_ne!(compact_jti("g"), compact_jti("g"));
    }

    #[test]
    fn at_hash_is_the_left_half_of_sha256_in_base64url() {
        // Expected value computed independently (Python hashlib).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnUGdfRhmJJbT3p8FsIkdN2"),
            "cntjgcdnO0Dq-v3jFMjYQA"
        );
    }
}
