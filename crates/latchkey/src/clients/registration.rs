//! Dynamic client registration (RFC 7591) and its management (RFC 7592):
//! a client registers itself with its metadata, under the configured policy
//! (`oauth.dynamic_client_registration` and the `oauth.registration_*`
//! keys), and later reads, replaces or deletes its registration with the
//! registration access token it got. Metadata is checked with the same
//! rules as the operator's clients, plus the policy's: the scopes a
//! registered client may get, the private-use redirect schemes allowed,
//! and the lifetime of registrations never used. Wire shapes are
//! `http::oauth::register`'s; this module decides.
//!
//! Choices where the RFCs leave room (README "Dynamic client registration"):
//! a requested scope outside the policy is dropped (RFC 7591 §2 lets the
//! server replace requested values; the response says what was
//! registered), and refused only when none is left; every registered client
//! must use PKCE with S256; `token_endpoint_auth_method` cannot change
//! after registration; the registration access token does not rotate, so
//! the read and update responses carry the token the request presented.

use serde_json::{Map, Value};

use super::{AuthMethod, Registration, redirect_uri};
use crate::audit::{self, Actor};
use crate::clients::ClientError;
use crate::config::{Config, RegistrationPolicy, seconds};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::scope::ScopeSet;
use crate::secret::{Secret, generate_identifier, generate_token};
use crate::store::{ClientOrigin, ClientRecord, RegistrationRecord, Store};

/// The grant and response types a registered client has (RFC 7591 §2.1).
pub const GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];
pub const RESPONSE_TYPES: [&str; 1] = ["code"];

const MAX_SOFTWARE_TEXT: usize = 200;

fn metadata_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

fn redirect_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, description)
}

fn invalid_token(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, description)
}

/// Client metadata as a registration or update request states it (RFC
/// 7591 §2); fields Latchkey does not use are ignored.
#[derive(Debug, Default)]
pub struct Metadata {
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: Option<AuthMethod>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub scope: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    /// RFC 7592 §2.2: an update names its client, and may repeat its secret.
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
}

/// A text member; `null` counts as absent (RFC 7592 §2.2 lets the server
/// ignore null values). No text with a NUL reaches storage.
fn text(object: &Map<String, Value>, field: &str) -> Result<Option<String>, OAuthError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.contains('\0') => Err(metadata_error(format!(
            "{field} must not contain the NUL character"
        ))),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(metadata_error(format!("{field} must be a string"))),
    }
}

/// A list-of-strings member.
fn list(
    object: &Map<String, Value>,
    field: &str,
    code: ErrorCode,
) -> Result<Option<Vec<String>>, OAuthError> {
    let items = match object.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(OAuthError::new(
                code,
                format!("{field} must be an array of strings"),
            ));
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(text) if !text.contains('\0') => Ok(text.clone()),
            _ => Err(OAuthError::new(
                code,
                format!("{field} must be an array of strings"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn bounded(field: &str, value: Option<String>) -> Result<Option<String>, OAuthError> {
    match value {
        Some(text) if text.chars().count() > MAX_SOFTWARE_TEXT => Err(metadata_error(format!(
            "{field} must be at most {MAX_SOFTWARE_TEXT} characters"
        ))),
        other => Ok(other.filter(|t| !t.trim().is_empty())),
    }
}

impl Metadata {
    /// Reads the metadata of a registration or update request body (a JSON
    /// object). Unknown members are ignored; known ones of the wrong type,
    /// or asking for what Latchkey cannot do, are refused naming the field.
    pub fn from_json(object: &Map<String, Value>) -> Result<Self, OAuthError> {
        let redirect_uris = list(object, "redirect_uris", ErrorCode::InvalidRedirectUri)?
            .ok_or_else(|| redirect_error("redirect_uris is required: list the app's redirect URIs"))?;
        let token_endpoint_auth_method = text(object, "token_endpoint_auth_method")?
            .map(|text| {
                AuthMethod::parse(&text).ok_or_else(|| {
                    metadata_error(format!(
                        "token_endpoint_auth_method `{text}` is not supported; use none, client_secret_basic or client_secret_post"
                    ))
                })
            })
            .transpose()?;
        if let Some(grant_types) = list(object, "grant_types", ErrorCode::InvalidClientMetadata)? {
            if let Some(other) = grant_types.iter().find(|g| !GRANT_TYPES.contains(&g.as_str())) {
                return Err(metadata_error(format!(
                    "grant_types has `{other}`, which registered clients cannot use; use authorization_code and refresh_token"
                )));
            }
            // RFC 7591 §2.1: `code` needs the authorization_code grant.
            if !grant_types.is_empty() && !grant_types.iter().any(|g| g == "authorization_code") {
                return Err(metadata_error(
                    "grant_types must include authorization_code (the response type code needs it)",
                ));
            }
        }
        if let Some(response_types) = list(object, "response_types", ErrorCode::InvalidClientMetadata)?
            && let Some(other) = response_types
                .iter()
                .find(|r| !RESPONSE_TYPES.contains(&r.as_str()))
        {
            return Err(metadata_error(format!(
                "response_types has `{other}`, which is not supported; use code"
            )));
        }
        Ok(Self {
            redirect_uris,
            token_endpoint_auth_method,
            client_name: text(object, "client_name")?,
            client_uri: text(object, "client_uri")?,
            logo_uri: text(object, "logo_uri")?,
            scope: text(object, "scope")?,
            software_id: bounded("software_id", text(object, "software_id")?)?,
            software_version: bounded("software_version", text(object, "software_version")?)?,
            id_token_signed_response_alg: text(object, "id_token_signed_response_alg")?,
            client_id: text(object, "client_id")?,
            client_secret: text(object, "client_secret")?.map(Secret::new),
        })
    }
}

/// The redirect URIs under the registration rules: a bad one among several
/// refuses the whole registration, naming it.
fn checked_redirect_uris(policy: &RegistrationPolicy, uris: &[String]) -> Result<Vec<String>, OAuthError> {
    if uris.is_empty() {
        return Err(redirect_error(
            "redirect_uris must list at least one redirect URI",
        ));
    }
    if uris.len() > super::MAX_REDIRECT_URIS {
        return Err(redirect_error(format!(
            "redirect_uris may list at most {} URIs",
            super::MAX_REDIRECT_URIS
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for uri in uris {
        redirect_uri::validate_for_registration(uri, |scheme| policy.allows_scheme(scheme))
            .map_err(|e| redirect_error(e.to_string()))?;
        if !seen.insert(uri.as_str()) {
            return Err(redirect_error(format!("redirect URI `{uri}` is listed twice")));
        }
    }
    Ok(uris.to_vec())
}

/// RFC 7591 §2 `scope`: the requested scopes the policy allows, in
/// vocabulary order; all of the policy's when none is requested. Scopes
/// outside the policy are dropped; none left is refused.
fn granted_scopes(policy: &RegistrationPolicy, scope: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let Some(scope) = scope.filter(|s| !s.trim().is_empty()) else {
        return Ok(policy.scopes.clone());
    };
    let requested = ScopeSet::parse(scope).map_err(|e| metadata_error(format!("scope is malformed: {e}")))?;
    let granted: Vec<String> = policy
        .scopes
        .iter()
        .filter(|s| requested.contains(s))
        .cloned()
        .collect();
    if granted.is_empty() {
        return Err(metadata_error(format!(
            "scope: none of the requested scopes may be registered here; registered clients may have: {}",
            policy.scopes.join(" ")
        )));
    }
    Ok(granted)
}

/// The name shown on the consent screen: `client_name`, or else the host
/// (or private-use scheme) of the first redirect URI.
fn display_name(name: Option<&str>, redirect_uris: &[String]) -> String {
    if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    let first = redirect_uris.first().map(String::as_str).unwrap_or_default();
    match url::Url::parse(first) {
        Ok(url) => url
            .host_str()
            .map_or_else(|| url.scheme().to_owned(), str::to_owned),
        Err(_) => "Unnamed app".to_owned(),
    }
}

/// Maps the shared rules' refusals to RFC 7591 §3.2.2 codes, naming the
/// RFC 7591 field.
fn from_client_error(error: ClientError) -> OAuthError {
    match error {
        ClientError::Invalid { field, message } => {
            let (name, code) = match field {
                "name" => ("client_name", ErrorCode::InvalidClientMetadata),
                "homepageUrl" => ("client_uri", ErrorCode::InvalidClientMetadata),
                "logoUrl" => ("logo_uri", ErrorCode::InvalidClientMetadata),
                "redirectUris" => ("redirect_uris", ErrorCode::InvalidRedirectUri),
                "tokenEndpointAuthMethod" => ("token_endpoint_auth_method", ErrorCode::InvalidClientMetadata),
                "idTokenSignedResponseAlg" => {
                    ("id_token_signed_response_alg", ErrorCode::InvalidClientMetadata)
                }
                other => (other, ErrorCode::InvalidClientMetadata),
            };
            let message = message
                .replace("homepageUrl", "client_uri")
                .replace("logoUrl", "logo_uri")
                .replace("tokenEndpointAuthMethod", "token_endpoint_auth_method")
                .replace("idTokenSignedResponseAlg", "id_token_signed_response_alg");
            let message = if message.starts_with(name) {
                message
            } else {
                format!("{name}: {message}")
            };
            OAuthError::new(code, message)
        }
        ClientError::Store(e) => e.into(),
        ClientError::NotFound(_) | ClientError::NoScopeRequest { .. } => OAuthError::server_error(error),
    }
}

/// A client just registered, with its credentials, which exist only here.
#[derive(Debug)]
pub struct Registered {
    pub client: ClientRecord,
    pub registration: RegistrationRecord,
    pub client_secret: Option<Secret>,
    pub registration_access_token: Secret,
}

/// RFC 7591 §3: registers a client from its metadata. Under
/// `initial_access_token` mode the request's bearer token must be a usable
/// initial access token; one use of it is counted with the registration.
pub async fn register(
    store: &dyn Store,
    config: &Config,
    metadata: Metadata,
    bearer: Option<&str>,
    now: i64,
) -> Result<Registered, OAuthError> {
    let policy = &config.oauth.registration;
    let initial_access_token = match policy.mode {
        crate::config::RegistrationMode::InitialAccessToken => {
            Some(super::initial_access::check(store, bearer, now).await?)
        }
        crate::config::RegistrationMode::Open | crate::config::RegistrationMode::Off => None,
    };
    let redirect_uris = checked_redirect_uris(policy, &metadata.redirect_uris)?;
    let allowed_scopes = granted_scopes(policy, metadata.scope.as_deref())?;
    let method = metadata
        .token_endpoint_auth_method
        .unwrap_or(AuthMethod::ClientSecretBasic);
    let registration = Registration {
        name: display_name(metadata.client_name.as_deref(), &redirect_uris),
        description: None,
        homepage_url: metadata.client_uri,
        logo_url: metadata.logo_uri,
        redirect_uris,
        allowed_scopes,
        token_endpoint_auth_method: Some(method.as_str().to_owned()),
        organization_id: None,
        grant_types: None,
        id_token_signed_response_alg: metadata.id_token_signed_response_alg,
        approval: super::Approval::AsRegistered,
    };
    let client_id = generate_identifier(&config.prefixes.client_id);
    let client_secret = (method != AuthMethod::None).then(|| generate_token(&config.prefixes.client_secret));
    let client = super::validated_record(config, registration, client_id, client_secret.as_ref(), now)
        .map_err(from_client_error)?;
    let client = ClientRecord {
        origin: ClientOrigin::Dynamic,
        ..client
    };
    let registration_access_token = generate_token(&config.prefixes.registration_access_token);
    let registration = RegistrationRecord {
        client_id: client.client_id.clone(),
        access_token_digest: registration_access_token.digest(),
        software_id: metadata.software_id,
        software_version: metadata.software_version,
        initial_access_token_id: initial_access_token.as_ref().map(|t| t.id.clone()),
        created_at: now,
    };
    if !store
        .insert_registered_client(&client, &registration, now)
        .await?
    {
        return Err(invalid_token(
            "the initial access token can register no more clients (it expired, was revoked or was used up)",
        ));
    }
    let details = serde_json::json!({
        "origin": ClientOrigin::Dynamic.as_str(),
        "initialAccessTokenId": registration.initial_access_token_id,
        "softwareId": registration.software_id,
        "redirectUris": client.redirect_uris,
    });
    record(store, &client.client_id, "client.registered", details, now).await;
    Ok(Registered {
        client,
        registration,
        client_secret,
        registration_access_token,
    })
}

/// RFC 7592 §2: the registered client a registration access token opens.
/// A missing or wrong token, and a client that does not exist (any more),
/// are alike `invalid_token` (§2.1: 401).
pub async fn authorize(
    store: &dyn Store,
    client_id: &str,
    bearer: Option<&str>,
) -> Result<(ClientRecord, RegistrationRecord), OAuthError> {
    let Some(presented) = bearer else {
        return Err(invalid_token(
            "send the registration access token as Authorization: Bearer",
        ));
    };
    let refused = || invalid_token("the registration access token is not valid for this client");
    let registration = store.find_registration(client_id).await?.ok_or_else(refused)?;
    if !registration
        .access_token_digest
        .matches(&Secret::new(presented).digest())
    {
        return Err(refused());
    }
    let client = store.find_client(client_id).await?.ok_or_else(refused)?;
    Ok((client, registration))
}

/// RFC 7592 §2.2: replaces a registered client's metadata, under the same
/// rules as a registration. The client id and secret stay; so does the
/// token endpoint authentication method.
pub async fn update(
    store: &dyn Store,
    config: &Config,
    client: ClientRecord,
    registration: RegistrationRecord,
    metadata: Metadata,
    now: i64,
) -> Result<(ClientRecord, RegistrationRecord), OAuthError> {
    let policy = &config.oauth.registration;
    if metadata
        .client_id
        .as_deref()
        .is_some_and(|id| id != client.client_id)
    {
        return Err(metadata_error(format!(
            "client_id must be this client's id, `{}`",
            client.client_id
        )));
    }
    if let Some(secret) = &metadata.client_secret {
        let matches = client
            .secret_digest
            .as_ref()
            .is_some_and(|stored| stored.matches(&secret.digest()));
        if !matches {
            return Err(metadata_error(
                "client_secret must be the client's current secret; a client cannot choose its own",
            ));
        }
    }
    if let Some(method) = metadata.token_endpoint_auth_method
        && method.as_str() != client.token_endpoint_auth_method
    {
        return Err(metadata_error(format!(
            "token_endpoint_auth_method cannot change after registration (it is `{}`); register a new client instead",
            client.token_endpoint_auth_method
        )));
    }
    let redirect_uris = checked_redirect_uris(policy, &metadata.redirect_uris)?;
    let allowed_scopes = granted_scopes(policy, metadata.scope.as_deref())?;
    let replacement = Registration {
        name: display_name(metadata.client_name.as_deref(), &redirect_uris),
        description: None,
        homepage_url: metadata.client_uri,
        logo_url: metadata.logo_uri,
        redirect_uris,
        allowed_scopes,
        token_endpoint_auth_method: Some(client.token_endpoint_auth_method.clone()),
        organization_id: None,
        grant_types: None,
        id_token_signed_response_alg: metadata.id_token_signed_response_alg,
        approval: super::Approval::AsRegistered,
    };
    let checked = super::validated_record(config, replacement, client.client_id.clone(), None, now)
        .map_err(from_client_error)?;
    let updated = ClientRecord {
        name: checked.name,
        homepage_url: checked.homepage_url,
        logo_url: checked.logo_url,
        redirect_uris: checked.redirect_uris,
        allowed_scopes: checked.allowed_scopes,
        id_token_signed_response_alg: checked.id_token_signed_response_alg,
        updated_at: now,
        ..client
    };
    let registration = RegistrationRecord {
        software_id: metadata.software_id,
        software_version: metadata.software_version,
        ..registration
    };
    if !store.update_registered_client(&updated, &registration).await? {
        return Err(invalid_token(
            "the registration access token is not valid for this client",
        ));
    }
    let details =
        serde_json::json!({"redirectUris": updated.redirect_uris, "scopes": updated.allowed_scopes});
    record(
        store,
        &updated.client_id,
        "client.registration_updated",
        details,
        now,
    )
    .await;
    Ok((updated, registration))
}

/// RFC 7592 §2.3: deletes a registered client with its grants, codes,
/// consents and tokens.
pub async fn delete(store: &dyn Store, client: &ClientRecord, now: i64) -> Result<(), OAuthError> {
    let actor = Actor::Client(client.client_id.clone());
    match super::delete(store, &client.client_id, &actor, now).await {
        Ok(()) => Ok(()),
        Err(ClientError::NotFound(_)) => Err(invalid_token(
            "the registration access token is not valid for this client",
        )),
        Err(error) => Err(from_client_error(error)),
    }
}

/// Deletes the registrations left unused for `oauth.registration_unused_lifetime_seconds`;
/// housekeeping runs it. Returns how many it deleted.
pub async fn purge_unused(store: &dyn Store, config: &Config, now: i64) -> Result<u64, OAuthError> {
    let lifetime = seconds(config.oauth.registration.unused_lifetime);
    let purged = store
        .purge_unused_registrations(now.saturating_sub(lifetime))
        .await?;
    if purged > 0 {
        audit::record(
            store,
            &Actor::System,
            "client.unused_registrations_purged",
            audit::Subject::default(),
            serde_json::json!({"count": purged}),
            now,
        )
        .await;
    }
    Ok(purged)
}

async fn record(store: &dyn Store, client_id: &str, action: &str, details: serde_json::Value, now: i64) {
    let subject = audit::Subject {
        client_id: Some(client_id),
        ..Default::default()
    };
    let actor = Actor::Client(client_id.to_owned());
    audit::record(store, &actor, action, subject, details, now).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(scopes: &[&str], schemes: &[&str]) -> RegistrationPolicy {
        RegistrationPolicy {
            mode: crate::config::RegistrationMode::Open,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            private_use_schemes: schemes.iter().map(|s| (*s).to_owned()).collect(),
            unused_lifetime: std::time::Duration::from_secs(60),
        }
    }

    #[test]
    fn scopes_outside_the_policy_are_dropped_and_none_left_is_refused() {
        let policy = policy(&["openid", "email", "cases:read"], &[]);
        assert_eq!(
            granted_scopes(&policy, Some("email openid admin")).unwrap(),
            ["openid", "email"]
        );
        assert_eq!(
            granted_scopes(&policy, None).unwrap(),
            ["openid", "email", "cases:read"]
        );
        let error = granted_scopes(&policy, Some("admin root")).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidClientMetadata);
        assert!(error.description.starts_with("scope:"), "{}", error.description);
        assert!(granted_scopes(&policy, Some("bad\"scope")).is_err());
    }

    #[test]
    fn a_bad_redirect_uri_among_good_ones_is_named() {
        let policy = policy(&["openid"], &["cursor"]);
        let uris = [
            "http://127.0.0.1:3000/cb".to_owned(),
            "cursor://anysphere.cursor-retrieval/oauth/callback".to_owned(),
            "http://evil.example/cb".to_owned(),
        ];
        let error = checked_redirect_uris(&policy, &uris).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRedirectUri);
        assert!(
            error.description.contains("http://evil.example/cb"),
            "{}",
            error.description
        );
        assert!(checked_redirect_uris(&policy, &uris[..2]).is_ok());
    }

    #[test]
    fn the_name_falls_back_to_the_redirect_host() {
        let uris = ["https://app.example/cb".to_owned()];
        assert_eq!(display_name(Some("  Cursor "), &uris), "Cursor");
        assert_eq!(display_name(None, &uris), "app.example");
        assert_eq!(
            display_name(Some(""), &["com.example.app:/cb".to_owned()]),
            "com.example.app"
        );
    }

    #[test]
    fn metadata_ignores_unknown_fields_and_names_bad_ones() {
        let object = |value: Value| value.as_object().cloned().unwrap_or_default();
        let metadata = Metadata::from_json(&object(serde_json::json!({
            "redirect_uris": ["https://app.example/cb"],
            "client_name": "App",
            "unknown_field": {"nested": true},
            "tos_uri": 5,
            "logo_uri": null,
        })))
        .unwrap();
        assert_eq!(metadata.client_name.as_deref(), Some("App"));
        assert!(metadata.logo_uri.is_none());
        for (body, code, field) in [
            (
                serde_json::json!({}),
                ErrorCode::InvalidRedirectUri,
                "redirect_uris",
            ),
            (
                serde_json::json!({"redirect_uris": "https://a.example/cb"}),
                ErrorCode::InvalidRedirectUri,
                "redirect_uris",
            ),
            (
                serde_json::json!({"redirect_uris": [], "client_name": 7}),
                ErrorCode::InvalidClientMetadata,
                "client_name",
            ),
            (
                serde_json::json!({"redirect_uris": [], "token_endpoint_auth_method": "private_key_jwt"}),
                ErrorCode::InvalidClientMetadata,
                "token_endpoint_auth_method",
            ),
            (
                serde_json::json!({"redirect_uris": [], "grant_types": ["implicit"]}),
                ErrorCode::InvalidClientMetadata,
                "grant_types",
            ),
            (
                serde_json::json!({"redirect_uris": [], "response_types": ["token"]}),
                ErrorCode::InvalidClientMetadata,
                "response_types",
            ),
            (
                serde_json::json!({"redirect_uris": [], "client_name": "a\u{0}b"}),
                ErrorCode::InvalidClientMetadata,
                "client_name",
            ),
        ] {
            let error = Metadata::from_json(&object(body.clone())).unwrap_err();
            assert_eq!(error.code, code, "{body}");
            assert!(error.description.contains(field), "{body}: {}", error.description);
        }
    }
}
