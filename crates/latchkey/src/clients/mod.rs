//! OAuth clients (SPEC 5): the registration rules shared by the admin API,
//! the CLI and the dashboard — field validation, redirect URIs,
//! scopes from the vocabulary, secrets generated here, returned once and
//! stored only as digests — and the changes an operator can make: edit,
//! rotate the secret, disable, enable, delete. Sensitive scopes asked for
//! in the dashboard wait for the operator's approval ([`scope_review`]).

use std::fmt;

use crate::audit::{self, Actor};
use crate::config::Config;
use crate::keys::Alg;
use crate::oauth::grant_type::GrantType;
use crate::secret::{Secret, generate_identifier, generate_token};
use crate::store::{ClientRecord, Store, StoreError};

pub mod initial_access;
pub mod metadata_document;
pub mod redirect_uri;
pub mod registration;
pub mod scope_review;

pub use scope_review::Approval;

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client: no secret, PKCE required.
    None,
}

impl AuthMethod {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a client operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Input that breaks a registration rule; `field` uses the admin API's
    /// field name.
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error("no client has the id `{0}`")]
    NotFound(String),
    /// The client has no pending or denied request for the scope.
    #[error("client `{client_id}` has no request for the scope `{scope}` awaiting a decision")]
    NoScopeRequest { client_id: String, scope: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ClientError {
    ClientError::Invalid {
        field,
        message: message.into(),
    }
}

/// What a new client is registered with.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub name: String,
    pub description: Option<String>,
    pub homepage_url: Option<String>,
    pub logo_url: Option<String>,
    pub redirect_uris: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    /// The owning organization; required with `client_credentials`, whose
    /// tokens act for it.
    pub organization_id: Option<String>,
    /// RFC 7591 §2 grant type names; `None` for [`GrantType::DEFAULT`].
    pub grant_types: Option<Vec<String>>,
    /// OpenID Connect Dynamic Client Registration §2; `None` for the
    /// configured `tokens.signing_alg`.
    pub id_token_signed_response_alg: Option<String>,
    /// Whether sensitive scopes wait for the operator.
    pub approval: Approval,
}

/// A partial update: `None` leaves a field as it is; for the optional URLs,
/// `Some(None)` clears them.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub name: Option<String>,
    pub description: Option<String>,
    pub homepage_url: Option<Option<String>>,
    pub logo_url: Option<Option<String>>,
    pub redirect_uris: Option<Vec<String>>,
    /// The scopes asked for; under [`Approval::ByOperator`], sensitive
    /// ones the client is not allowed yet become pending.
    pub allowed_scopes: Option<Vec<String>>,
    /// `Some(None)` goes back to the configured algorithm.
    pub id_token_signed_response_alg: Option<Option<String>>,
    /// `Some(None)` leaves the client without an owning organization.
    pub organization_id: Option<Option<String>>,
    pub grant_types: Option<Vec<String>>,
    pub approval: Approval,
}

/// A registered client with its secret, which exists only in this value.
#[derive(Debug)]
pub struct Registered {
    pub client: ClientRecord,
    pub client_secret: Option<Secret>,
}

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;
pub(crate) const MAX_REDIRECT_URIS: usize = 20;

/// At most [`MAX_NAME`] characters as sent — an over-long name is refused,
/// never trimmed into shape — then trimmed, and not empty.
fn validate_name(name: &str) -> Result<String, ClientError> {
    if name.chars().count() > MAX_NAME {
        return Err(invalid(
            "name",
            format!("name must be at most {MAX_NAME} characters"),
        ));
    }
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("name", "name must not be empty"));
    }
    Ok(name.to_owned())
}

fn validate_description(description: &str) -> Result<String, ClientError> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(invalid(
            "description",
            format!("description must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(description.trim().to_owned())
}

/// Homepage and logo URLs: shown to users, so https (http only on loopback
/// hosts, for development), and never `javascript:` or `data:`.
fn validate_page_url(field: &'static str, url: Option<&str>) -> Result<Option<String>, ClientError> {
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    match redirect_uri::validate(url) {
        Ok(()) => Ok(Some(url.to_owned())),
        Err(e) => Err(invalid(field, format!("{field} `{url}` {}", e.problem))),
    }
}

/// Redirect URIs; none at all only for a client without the
/// authorization code flow (a machine client).
fn validate_redirect_uris(uris: &[String], grant_types: &[GrantType]) -> Result<Vec<String>, ClientError> {
    if uris.is_empty() && !grant_types.contains(&GrantType::AuthorizationCode) {
        return Ok(Vec::new());
    }
    if uris.is_empty() {
        return Err(invalid(
            "redirectUris",
            "redirectUris must list at least one redirect URI",
        ));
    }
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(invalid(
            "redirectUris",
            format!("redirectUris may list at most {MAX_REDIRECT_URIS} URIs"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for uri in uris {
        redirect_uri::validate(uri).map_err(|e| invalid("redirectUris", e.to_string()))?;
        if !seen.insert(uri.as_str()) {
            return Err(invalid(
                "redirectUris",
                format!("redirect URI `{uri}` is listed twice"),
            ));
        }
    }
    Ok(uris.to_vec())
}

/// Scopes must come from the configured vocabulary.
fn validate_scopes(config: &Config, scopes: &[String]) -> Result<Vec<String>, ClientError> {
    if scopes.is_empty() {
        return Err(invalid(
            "allowed_scopes",
            "allowed_scopes must list at least one scope",
        ));
    }
    let unknown: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| config.scope(s).is_none())
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = config.scopes.iter().map(|s| s.name.as_str()).collect();
        return Err(invalid(
            "allowed_scopes",
            format!(
                "unknown scope{} {} in allowed_scopes; this server's scopes are: {}",
                if unknown.len() > 1 { "s" } else { "" },
                unknown
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                known.join(" ")
            ),
        ));
    }
    // Keep the vocabulary's order, without repeats.
    Ok(config
        .scopes
        .iter()
        .filter(|s| scopes.contains(&s.name))
        .map(|s| s.name.clone())
        .collect())
}

fn validate_auth_method(config: &Config, method: Option<&str>) -> Result<AuthMethod, ClientError> {
    let text = method.unwrap_or("client_secret_basic");
    let method = AuthMethod::parse(text).ok_or_else(|| {
        invalid(
            "tokenEndpointAuthMethod",
            format!("tokenEndpointAuthMethod `{text}` is not supported; use client_secret_basic, client_secret_post or none"),
        )
    })?;
    if !config
        .oauth
        .token_endpoint_auth_methods
        .iter()
        .any(|m| m == method.as_str())
    {
        return Err(invalid(
            "tokenEndpointAuthMethod",
            format!("tokenEndpointAuthMethod `{method}` is not enabled on this server"),
        ));
    }
    Ok(method)
}

/// RFC 7591 §2 `grant_types`: names of grant types Latchkey has, at least
/// one, kept in [`GrantType::ALL`]'s order without repeats. `refresh_token`
/// comes only from a code exchange, so it needs `authorization_code`.
fn validate_grant_types(names: Option<&[String]>) -> Result<Vec<GrantType>, ClientError> {
    let Some(names) = names else {
        return Ok(GrantType::DEFAULT.to_vec());
    };
    let mut grant_types = Vec::new();
    for name in names {
        let grant_type = GrantType::parse(name.trim()).ok_or_else(|| {
            invalid(
                "grantTypes",
                format!("grant type `{name}` is not supported; use {}", GrantType::names()),
            )
        })?;
        grant_types.push(grant_type);
    }
    grant_types.sort();
    grant_types.dedup();
    if grant_types.is_empty() {
        return Err(invalid(
            "grantTypes",
            format!("grantTypes must list at least one of {}", GrantType::names()),
        ));
    }
    if grant_types.contains(&GrantType::RefreshToken) && !grant_types.contains(&GrantType::AuthorizationCode)
    {
        return Err(invalid(
            "grantTypes",
            "grant type refresh_token needs authorization_code: refresh tokens come only from a code exchange",
        ));
    }
    Ok(grant_types)
}

/// RFC 6749 §4.4: `client_credentials` is for confidential clients only,
/// and its tokens act for the client's owning organization.
fn check_client_credentials(
    grant_types: &[GrantType],
    method: AuthMethod,
    organization_id: Option<&str>,
) -> Result<(), ClientError> {
    if !grant_types.contains(&GrantType::ClientCredentials) {
        return Ok(());
    }
    if method == AuthMethod::None {
        return Err(invalid(
            "grantTypes",
            "grant type client_credentials is only for confidential clients; this client is public (tokenEndpointAuthMethod none)",
        ));
    }
    if organization_id.is_none() {
        return Err(invalid(
            "organizationId",
            "organizationId is required when grantTypes includes client_credentials: the client's tokens act for that organization",
        ));
    }
    Ok(())
}

async fn check_organization(store: &dyn Store, organization_id: Option<&str>) -> Result<(), ClientError> {
    if let Some(organization_id) = organization_id
        && store.find_organization(organization_id).await?.is_none()
    {
        return Err(invalid(
            "organizationId",
            format!("no organization has the id `{organization_id}`"),
        ));
    }
    Ok(())
}

/// OpenID Connect Dynamic Client Registration §2: one of the algorithms
/// Latchkey signs with.
fn validate_id_token_alg(alg: Option<&str>) -> Result<Option<Alg>, ClientError> {
    let Some(text) = alg.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    Alg::parse(text).map(Some).ok_or_else(|| {
        invalid(
            "idTokenSignedResponseAlg",
            format!(
                "idTokenSignedResponseAlg `{text}` is not supported; use one of {}",
                Alg::names()
            ),
        )
    })
}

/// The record of a new client whose redirect URIs the caller checked
/// under its own rules (dynamic registration's); every other field is
/// checked here as for any client. `secret` is the confidential client's.
pub(crate) fn validated_record(
    config: &Config,
    registration: Registration,
    client_id: String,
    secret: Option<&Secret>,
    now: i64,
) -> Result<ClientRecord, ClientError> {
    let method = validate_auth_method(config, registration.token_endpoint_auth_method.as_deref())?;
    Ok(ClientRecord {
        client_id,
        secret_digest: secret.filter(|_| method != AuthMethod::None).map(Secret::digest),
        name: validate_name(&registration.name)?,
        description: validate_description(registration.description.as_deref().unwrap_or(""))?,
        homepage_url: validate_page_url("homepageUrl", registration.homepage_url.as_deref())?,
        logo_url: validate_page_url("logoUrl", registration.logo_url.as_deref())?,
        redirect_uris: registration.redirect_uris,
        allowed_scopes: validate_scopes(config, &registration.allowed_scopes)?,
        token_endpoint_auth_method: method.as_str().to_owned(),
        organization_id: None,
        grant_types: validate_grant_types(registration.grant_types.as_deref())?,
        id_token_signed_response_alg: validate_id_token_alg(
            registration.id_token_signed_response_alg.as_deref(),
        )?,
        enabled: true,
        created_at: now,
        updated_at: now,
        origin: crate::store::ClientOrigin::Operator,
    })
}

/// Registers a client. Confidential clients get a secret, returned here
/// once and stored only as its digest.
pub async fn register(
    store: &dyn Store,
    config: &Config,
    registration: Registration,
    now: i64,
) -> Result<Registered, ClientError> {
    let client_id = generate_identifier(&config.prefixes.client_id);
    let secret = generate_token(&config.prefixes.client_secret);
    register_as(store, config, registration, client_id, secret, now).await
}

/// Registers a client under a given id and (for confidential clients)
/// secret; the demo data uses this to keep its printed credentials stable.
pub async fn register_as(
    store: &dyn Store,
    config: &Config,
    registration: Registration,
    client_id: String,
    secret: Secret,
    now: i64,
) -> Result<Registered, ClientError> {
    let name = validate_name(&registration.name)?;
    let description = validate_description(registration.description.as_deref().unwrap_or(""))?;
    let homepage_url = validate_page_url("homepageUrl", registration.homepage_url.as_deref())?;
    let logo_url = validate_page_url("logoUrl", registration.logo_url.as_deref())?;
    let grant_types = validate_grant_types(registration.grant_types.as_deref())?;
    let redirect_uris = validate_redirect_uris(&registration.redirect_uris, &grant_types)?;
    let requested_scopes = validate_scopes(config, &registration.allowed_scopes)?;
    let method = validate_auth_method(config, registration.token_endpoint_auth_method.as_deref())?;
    let id_token_signed_response_alg =
        validate_id_token_alg(registration.id_token_signed_response_alg.as_deref())?;
    let organization_id = registration
        .organization_id
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty());
    check_client_credentials(&grant_types, method, organization_id.as_deref())?;
    check_organization(store, organization_id.as_deref()).await?;
    let client_secret = (method != AuthMethod::None).then_some(secret);
    let (allowed_scopes, reviews) = scope_review::split(
        config,
        registration.approval,
        &requested_scopes,
        &[],
        &[],
        &client_id,
        now,
    );
    let client = ClientRecord {
        client_id,
        secret_digest: client_secret.as_ref().map(Secret::digest),
        name,
        description,
        homepage_url,
        logo_url,
        redirect_uris,
        allowed_scopes,
        token_endpoint_auth_method: method.as_str().to_owned(),
        organization_id,
        grant_types,
        id_token_signed_response_alg,
        enabled: true,
        created_at: now,
        updated_at: now,
        origin: crate::store::ClientOrigin::Operator,
    };
    if reviews.is_empty() {
        store.insert_client(&client).await?;
    } else {
        store.insert_client_with_reviews(&client, &reviews).await?;
    }
    Ok(Registered {
        client,
        client_secret,
    })
}

pub async fn find(store: &dyn Store, client_id: &str) -> Result<ClientRecord, ClientError> {
    store
        .find_client(client_id)
        .await?
        .ok_or_else(|| ClientError::NotFound(client_id.to_owned()))
}

/// Applies a partial update under the registration rules.
pub async fn update(
    store: &dyn Store,
    config: &Config,
    client_id: &str,
    changes: Changes,
    now: i64,
) -> Result<ClientRecord, ClientError> {
    let mut client = find(store, client_id).await?;
    if let Some(name) = changes.name {
        client.name = validate_name(&name)?;
    }
    if let Some(description) = changes.description {
        client.description = validate_description(&description)?;
    }
    if let Some(homepage_url) = changes.homepage_url {
        client.homepage_url = validate_page_url("homepageUrl", homepage_url.as_deref())?;
    }
    if let Some(logo_url) = changes.logo_url {
        client.logo_url = validate_page_url("logoUrl", logo_url.as_deref())?;
    }
    let had_client_credentials = client.grant_types.contains(&GrantType::ClientCredentials);
    let previous_organization = client.organization_id.clone();
    if let Some(names) = &changes.grant_types {
        client.grant_types = validate_grant_types(Some(names))?;
    }
    if let Some(uris) = changes.redirect_uris {
        client.redirect_uris = validate_redirect_uris(&uris, &client.grant_types)?;
    } else if changes.grant_types.is_some() {
        client.redirect_uris = validate_redirect_uris(&client.redirect_uris, &client.grant_types)?;
    }
    if let Some(alg) = changes.id_token_signed_response_alg {
        client.id_token_signed_response_alg = validate_id_token_alg(alg.as_deref())?;
    }
    if let Some(organization_id) = changes.organization_id {
        let organization_id = organization_id
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty());
        check_organization(store, organization_id.as_deref()).await?;
        client.organization_id = organization_id;
    }
    let method = AuthMethod::parse(&client.token_endpoint_auth_method).unwrap_or(AuthMethod::None);
    check_client_credentials(&client.grant_types, method, client.organization_id.as_deref())?;
    let mut reviews = None;
    if let Some(scopes) = changes.allowed_scopes {
        let requested = validate_scopes(config, &scopes)?;
        let reviews_now = match changes.approval {
            Approval::AsRegistered => Vec::new(),
            Approval::ByOperator => store.list_client_scope_reviews(client_id).await?,
        };
        let (allowed, new_reviews) = scope_review::split(
            config,
            changes.approval,
            &requested,
            &client.allowed_scopes,
            &reviews_now,
            client_id,
            now,
        );
        client.allowed_scopes = allowed;
        reviews = Some(new_reviews);
    }
    client.updated_at = now;
    let updated = match &reviews {
        Some(reviews) => store.update_client_with_reviews(&client, reviews).await?,
        None => store.update_client_details(&client).await?,
    };
    if !updated {
        return Err(ClientError::NotFound(client_id.to_owned()));
    }
    // client_credentials tokens end when the client loses the grant type
    // or leaves their organization (their check compares organizations as
    // well, and coming back revives none).
    let lost = !client.grant_types.contains(&GrantType::ClientCredentials)
        || client.organization_id != previous_organization;
    if had_client_credentials && lost {
        store.revoke_client_credentials_grants(client_id, now).await?;
    }
    Ok(client)
}

/// Issues a new secret; the old one stops working at once. Users' grants
/// are untouched.
pub async fn rotate_secret(
    store: &dyn Store,
    config: &Config,
    client_id: &str,
    actor: &Actor,
    now: i64,
) -> Result<Secret, ClientError> {
    let client = find(store, client_id).await?;
    if client.secret_digest.is_none() {
        return Err(invalid(
            "clientId",
            format!(
                "client `{client_id}` is public (token_endpoint_auth_method none) and has no secret to rotate"
            ),
        ));
    }
    let secret = generate_token(&config.prefixes.client_secret);
    if !store.set_client_secret(client_id, &secret.digest(), now).await? {
        return Err(ClientError::NotFound(client_id.to_owned()));
    }
    record(store, actor, "client.secret_rotated", client_id, now).await;
    Ok(secret)
}

/// Disables or enables a client. Disabling refuses new authorizations and
/// ends every grant it holds at once; enabling again revives none of them.
pub async fn set_enabled(
    store: &dyn Store,
    client_id: &str,
    enabled: bool,
    actor: &Actor,
    now: i64,
) -> Result<ClientRecord, ClientError> {
    if !store.set_client_enabled(client_id, enabled, now).await? {
        return Err(ClientError::NotFound(client_id.to_owned()));
    }
    let action = if enabled {
        "client.enabled"
    } else {
        "client.disabled"
    };
    record(store, actor, action, client_id, now).await;
    find(store, client_id).await
}

/// Deletes a client with its grants, codes, consents and tokens.
pub async fn delete(store: &dyn Store, client_id: &str, actor: &Actor, now: i64) -> Result<(), ClientError> {
    if !store.delete_client(client_id).await? {
        return Err(ClientError::NotFound(client_id.to_owned()));
    }
    record(store, actor, "client.deleted", client_id, now).await;
    Ok(())
}

/// Audits an operator's change to a client.
async fn record(store: &dyn Store, actor: &Actor, action: &str, client_id: &str, now: i64) {
    let subject = audit::Subject {
        client_id: Some(client_id),
        ..Default::default()
    };
    audit::record(store, actor, action, subject, serde_json::json!({}), now).await;
}
