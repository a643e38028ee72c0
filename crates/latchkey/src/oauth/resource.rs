//! Resource indicators (RFC 8707): which protected resource an
//! authorization or an access token is for. The configured resources
//! (`[[resources]]`, and the example API's own) are the only targets; an
//! access token is for exactly one of them, named in its `aud`.
//!
//! The rules, in one place for every grant:
//! - [`for_authorization`]: the resources an authorization request names
//!   are remembered with its code and grant; each requested scope must be
//!   one of theirs (or an OpenID Connect scope).
//! - [`for_token`]: the one resource a token request (code exchange,
//!   refresh, or a grant without a prior authorization) gets a token for,
//!   and the scopes that token carries.
//!
//! A request that names no resource anywhere keeps the behaviour from
//! before resource indicators: the token's audience is the example API's
//! identifier (the issuer unless configured) and it carries every granted
//! scope.

use url::Url;

use super::error::{ErrorCode, OAuthError};
use super::scope::{ScopeSet, is_openid_scope};
use crate::config::{Config, Resource};

/// The request parameter (RFC 8707 §2); it may be repeated.
pub const PARAMETER: &str = "resource";

/// The longest part of a presented value an error description repeats.
const ECHO_LIMIT: usize = 120;

/// The form in which identifiers are compared: parsed as a URL (scheme and
/// host in lower case, a default port dropped) and without a trailing `/`,
/// so `https://MCP.example.com/` names `https://mcp.example.com`. The
/// problem, when the text is not an absolute URI without a fragment
/// (RFC 8707 §2), is phrased to follow the value.
pub fn canonical(text: &str) -> Result<String, &'static str> {
    if text.contains('#') {
        return Err("must not have a fragment");
    }
    let url = Url::parse(text).map_err(|_| "is not an absolute URI")?;
    let mut canonical = url.to_string();
    if url.query().is_none() && canonical.ends_with('/') {
        canonical.pop();
    }
    Ok(canonical)
}

/// The value as an error description may quote it.
fn echo(value: &str) -> String {
    match value.char_indices().nth(ECHO_LIMIT) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

fn invalid_target(description: String) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidTarget, description)
}

/// The configured resource a presented `resource` value names.
fn known<'c>(config: &'c Config, value: &str) -> Result<&'c Resource, OAuthError> {
    let canonical = canonical(value)
        .map_err(|problem| invalid_target(format!("resource `{}` {problem} (RFC 8707 §2)", echo(value))))?;
    config.resources.find(&canonical).ok_or_else(|| {
        invalid_target(format!(
            "resource `{}` is not a resource this server issues tokens for",
            echo(value)
        ))
    })
}

/// RFC 8707 §2.1: the resources an authorization request names, as their
/// configured identifiers, in the order asked and each once. Every
/// requested scope must belong to one of them (an OpenID Connect scope
/// goes with any): otherwise `invalid_scope` naming it, rather than a
/// token that silently lacks it. No `resource` at all: none, and the
/// scopes are not checked against resources.
pub fn for_authorization(
    config: &Config,
    values: &[&str],
    scopes: &ScopeSet,
) -> Result<Vec<String>, OAuthError> {
    let mut named: Vec<&Resource> = Vec::with_capacity(values.len());
    for value in values {
        let resource = known(config, value)?;
        if !named.iter().any(|r| r.identifier == resource.identifier) {
            named.push(resource);
        }
    }
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let stray = scopes
        .iter()
        .find(|scope| !is_openid_scope(scope) && !named.iter().any(|r| config.resources.belongs(r, scope)));
    if let Some(scope) = stray {
        let names: Vec<&str> = named.iter().map(|r| r.identifier.as_str()).collect();
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!(
                "scope `{scope}` does not belong to the resource requested ({}); ask for it with its own resource, or leave it out",
                names.join(", ")
            ),
        ));
    }
    Ok(named.into_iter().map(|r| r.identifier.clone()).collect())
}

/// The resources a token request may choose from.
#[derive(Debug, Clone, Copy)]
pub enum Granted<'a> {
    /// What an authorization granted (its code, then its grant, remember
    /// them); empty when it named none, which means the example API.
    Grant(&'a [String]),
    /// A grant without a prior authorization (client credentials): any
    /// configured resource.
    Any,
}

/// The audience of one access token and the scopes it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub audience: String,
    pub scopes: ScopeSet,
}

/// RFC 8707 §2.2: the one resource a token request gets an access token
/// for, from the `resource` values it sent (at most one), among `granted`:
/// - one named: it must be granted (`invalid_target` otherwise);
/// - none named: the only granted resource; with several granted the
///   request must choose (`invalid_target` saying so); with none granted,
///   the example API with every scope, as before resource indicators.
///
/// The token carries the scopes of `scopes` that belong to its resource.
pub fn for_token(
    config: &Config,
    granted: Granted<'_>,
    values: &[&str],
    scopes: &ScopeSet,
) -> Result<Target, OAuthError> {
    let resources = &config.resources;
    let resource = match (values, granted) {
        ([], Granted::Any | Granted::Grant([])) => {
            return Ok(Target {
                audience: resources.api().identifier.clone(),
                scopes: scopes.clone(),
            });
        }
        ([], Granted::Grant([only])) => resources.by_identifier(only).ok_or_else(|| {
            invalid_target(format!(
                "resource `{only}` of this grant is no longer served; authorize again"
            ))
        })?,
        ([], Granted::Grant(several)) => {
            return Err(invalid_target(format!(
                "this grant covers several resources ({}); name the one this token is for with the resource parameter",
                several.join(", ")
            )));
        }
        ([value], granted) => {
            let resource = known(config, value)?;
            let allowed = match granted {
                Granted::Any => true,
                Granted::Grant([]) => resource.identifier == resources.api().identifier,
                Granted::Grant(list) => list.contains(&resource.identifier),
            };
            if !allowed {
                return Err(invalid_target(format!(
                    "resource `{}` was not granted by this authorization; ask for it in the authorization request",
                    echo(value)
                )));
            }
            resource
        }
        (_, _) => {
            return Err(invalid_target(
                "an access token is for one resource: send at most one resource parameter per token request"
                    .to_owned(),
            ));
        }
    };
    let narrowed = scopes.iter().filter(|scope| resources.belongs(resource, scope));
    Ok(Target {
        audience: resource.identifier.clone(),
        scopes: ScopeSet::from_tokens(narrowed).map_err(OAuthError::server_error)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;

    const MCP: &str = "https://mcp.example.com";
    const BILLING: &str = "https://billing.example.com/api";

    /// Two configured resources beside the implicit example API.
    fn config() -> Config {
        let text = format!(
            r#"
            issuer = "https://id.example.com"
            [[resources]]
            identifier = "{MCP}"
            name = "Case assistant"
            scopes = ["cases:read"]
            [[resources]]
            identifier = "{BILLING}"
            name = "Billing"
            scopes = ["firm:read", "cases:write"]
            "#
        );
        let raw: RawConfig = figment::Figment::new()
            .merge(<figment::providers::Toml as figment::providers::Format>::string(
                &text,
            ))
            .extract()
            .unwrap();
        raw.validate().unwrap()
    }

    fn scopes(list: &str) -> ScopeSet {
        ScopeSet::parse(list).unwrap()
    }

    #[test]
    fn identifiers_compare_in_their_canonical_form() {
        assert_eq!(canonical("HTTPS://MCP.Example.com:443/").unwrap(), MCP);
        assert_eq!(
            canonical("https://h.example/api/v1/").unwrap(),
            "https://h.example/api/v1"
        );
        assert_eq!(
            canonical("https://h.example/a#b"),
            Err("must not have a fragment")
        );
        assert_eq!(canonical("/relative"), Err("is not an absolute URI"));
    }

    #[test]
    fn an_authorization_remembers_known_resources_once_in_order() {
        let config = config();
        let found = for_authorization(
            &config,
            &[BILLING, "https://MCP.example.com/", MCP],
            &scopes("openid cases:read"),
        )
        .unwrap();
        assert_eq!(found, [BILLING, MCP]);
        assert!(
            for_authorization(&config, &[], &scopes("anything"))
                .unwrap()
                .is_empty()
        );
        // The example API is a resource too: the issuer.
        let api = for_authorization(&config, &["https://id.example.com"], &scopes("user:read")).unwrap();
        assert_eq!(api, ["https://id.example.com"]);
    }

    #[test]
    fn unknown_relative_and_fragment_resources_are_invalid_targets() {
        let config = config();
        for value in [
            "https://elsewhere.example",
            "/api/v1",
            "https://mcp.example.com#x",
            "not a uri",
        ] {
            let error = for_authorization(&config, &[value], &ScopeSet::default()).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidTarget, "{value}");
            assert!(error.description.contains("resource `"), "{}", error.description);
        }
    }

    #[test]
    fn scopes_must_belong_to_a_requested_resource() {
        let config = config();
        let error = for_authorization(&config, &[MCP], &scopes("openid cases:read firm:read")).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidScope);
        assert!(error.description.contains("`firm:read`"), "{}", error.description);
        assert!(for_authorization(&config, &[MCP, BILLING], &scopes("openid cases:read firm:read")).is_ok());
        // The example API declares no scopes: it takes every scope no other
        // resource declares, but not theirs.
        let api = "https://id.example.com";
        assert!(for_authorization(&config, &[api], &scopes("user:read offline_access")).is_ok());
        let error = for_authorization(&config, &[api], &scopes("cases:read")).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidScope);
    }

    #[test]
    fn a_token_is_for_one_granted_resource_with_its_scopes() {
        let config = config();
        let granted = [MCP.to_owned(), BILLING.to_owned()];
        let all = scopes("openid cases:read cases:write firm:read");
        let target = for_token(&config, Granted::Grant(&granted), &[BILLING], &all).unwrap();
        assert_eq!(target.audience, BILLING);
        assert_eq!(target.scopes, scopes("cases:write firm:read"));
        let target = for_token(&config, Granted::Grant(&granted[..1]), &[], &all).unwrap();
        assert_eq!(
            (target.audience.as_str(), target.scopes),
            (MCP, scopes("cases:read"))
        );

        let several = for_token(&config, Granted::Grant(&granted), &[], &all).unwrap_err();
        assert_eq!(several.code, ErrorCode::InvalidTarget);
        assert!(several.description.contains("several resources"));
        let not_granted = for_token(&config, Granted::Grant(&granted[..1]), &[BILLING], &all).unwrap_err();
        assert!(
            not_granted.description.contains("was not granted"),
            "{}",
            not_granted.description
        );
        let two = for_token(&config, Granted::Grant(&granted), &[MCP, BILLING], &all).unwrap_err();
        assert_eq!(two.code, ErrorCode::InvalidTarget);
    }

    #[test]
    fn without_resources_the_token_is_the_example_apis_as_before() {
        let config = config();
        let all = scopes("openid cases:read user:read");
        let target = for_token(&config, Granted::Grant(&[]), &[], &all).unwrap();
        assert_eq!(
            (target.audience.as_str(), &target.scopes),
            ("https://id.example.com", &all)
        );
        // Naming the example API explicitly narrows to its scopes.
        let target = for_token(&config, Granted::Grant(&[]), &["https://id.example.com/"], &all).unwrap();
        assert_eq!(target.scopes, scopes("openid user:read"));
        let error = for_token(&config, Granted::Grant(&[]), &[MCP], &all).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidTarget);
        // Without a prior authorization any configured resource may be named.
        let target = for_token(&config, Granted::Any, &[MCP], &all).unwrap();
        assert_eq!(target.scopes, scopes("cases:read"));
    }
}
