//! Server metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414 §2. Both
//! documents are built once from configuration; every URL is absolute and
//! built from the issuer.

use serde::Serialize;

use crate::accounts::amr;
use crate::config::Config;
use crate::keys::Alg;
use crate::oauth::grant_type::GrantType;

/// The metadata both documents share (SPEC 6 "Discovery").
#[derive(Debug, Clone, Serialize)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub jwks_uri: String,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub scopes_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// The secret methods only: a public client cannot authenticate, so it
    /// may not introspect. Left out when no secret method is enabled.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    pub subject_types_supported: Vec<&'static str>,
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub claims_supported: Vec<String>,
    /// The authentication context classes an ID token's `acr` may name
    /// (see [`amr`]).
    pub acr_values_supported: Vec<&'static str>,
    pub prompt_values_supported: Vec<&'static str>,
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 7591 §3 / RFC 8414 §2: only when clients may register themselves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// RFC 9728 §4: the resources tokens may be issued for (RFC 8707
    /// `resource`); listed only when `[[resources]]` is configured.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protected_resources: Vec<String>,
    /// draft-ietf-oauth-client-id-metadata-document § "Authorization Server
    /// Metadata": present (true) only when URL client ids are accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id_metadata_document_supported: Option<bool>,
}

/// Claims Latchkey can put in ID tokens and userinfo, the configured tenant
/// and role claims included.
fn claims_supported(config: &Config) -> Vec<String> {
    let mut claims: Vec<String> = [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "amr",
        "acr",
        "nonce",
        "azp",
        "at_hash",
        "email",
        "email_verified",
        "name",
    ]
    .iter()
    .map(|c| (*c).to_owned())
    .collect();
    claims.push(config.claims.tenant_id.clone());
    claims.extend(config.claims.tenant_name.iter().cloned());
    claims.extend(config.claims.role.iter().cloned());
    claims
}

impl ServerMetadata {
    /// The metadata of `config`, with `algs` (the algorithms that have
    /// signing keys, RS256 first) as the ID token algorithms.
    pub fn from_config(config: &Config, algs: &[Alg]) -> Self {
        let methods = config.oauth.token_endpoint_auth_methods.clone();
        let secret_methods = methods.iter().filter(|m| *m != "none").cloned().collect();
        Self {
            issuer: config.issuer.clone(),
            authorization_endpoint: config.url(&config.paths.authorize),
            token_endpoint: config.url(&config.paths.token),
            userinfo_endpoint: config.url(&config.paths.userinfo),
            revocation_endpoint: config.url(&config.paths.revoke),
            introspection_endpoint: config.url(&config.paths.introspect),
            jwks_uri: config.url(&config.paths.jwks),
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query"],
            grant_types_supported: GrantType::ALL.iter().map(|g| g.as_str()).collect(),
            code_challenge_methods_supported: vec!["S256", "plain"],
            scopes_supported: config.scopes.iter().map(|s| s.name.clone()).collect(),
            token_endpoint_auth_methods_supported: methods.clone(),
            revocation_endpoint_auth_methods_supported: methods.clone(),
            introspection_endpoint_auth_methods_supported: secret_methods,
            subject_types_supported: vec!["public"],
            id_token_signing_alg_values_supported: algs.iter().map(|alg| alg.as_str()).collect(),
            claims_supported: claims_supported(config),
            acr_values_supported: amr::ACR_VALUES.to_vec(),
            prompt_values_supported: vec!["none", "login", "consent"],
            authorization_response_iss_parameter_supported: true,
            registration_endpoint: config
                .oauth
                .registration
                .mode
                .is_enabled()
                .then(|| config.url(&config.paths.register)),
            protected_resources: if config.resources.configured() {
                config.resources.iter().map(|r| r.identifier.clone()).collect()
            } else {
                Vec::new()
            },
            client_id_metadata_document_supported: config.oauth.client_id_metadata.enabled.then_some(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_from_the_issuer_and_configured_paths() {
        let config = Config::default_config().unwrap();
        let metadata = ServerMetadata::from_config(&config, &[Alg::Rs256]);
        assert_eq!(metadata.issuer, "http://localhost:3001");
        assert_eq!(metadata.token_endpoint, "http://localhost:3001/api/oauth/token");
        assert_eq!(metadata.jwks_uri, "http://localhost:3001/.well-known/jwks.json");
        assert!(metadata.claims_supported.contains(&"firm_id".to_owned()));
    }

    #[test]
    fn client_id_metadata_documents_are_advertised_only_when_on() {
        let mut config = Config::default_config().unwrap();
        let off = serde_json::to_value(ServerMetadata::from_config(&config, &[Alg::Rs256])).unwrap();
        assert!(off.get("client_id_metadata_document_supported").is_none());
        config.oauth.client_id_metadata.enabled = true;
        let on = serde_json::to_value(ServerMetadata::from_config(&config, &[Alg::Rs256])).unwrap();
        assert_eq!(on["client_id_metadata_document_supported"], true);
        assert!(
            on["token_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap()
                .contains(&"none".into())
        );
    }

    #[test]
    fn introspection_does_not_advertise_public_clients() {
        let config = Config::default_config().unwrap();
        let metadata = ServerMetadata::from_config(&config, &[Alg::Rs256]);
        assert_eq!(
            metadata.introspection_endpoint_auth_methods_supported,
            ["client_secret_basic", "client_secret_post"]
        );
        assert!(
            metadata
                .revocation_endpoint_auth_methods_supported
                .contains(&"none".to_owned())
        );
    }
}
