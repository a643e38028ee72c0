//! Configuration in two steps: [`RawConfig`] (every key optional, read from an
//! optional TOML file and then from `LATCHKEY_*` environment variables, the
//! environment winning) is validated into the typed [`Config`] that the rest
//! of the server receives explicitly. Nothing here reads configuration
//! anywhere else, and there is no global configuration.
//!
//! Nested keys map to environment variables with `__` between the parts:
//! `[tokens] access_token_ttl_seconds` is `LATCHKEY_TOKENS__ACCESS_TOKEN_TTL_SECONDS`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::secret::{MasterKey, Secret};

/// A configuration problem, phrased for the operator: it names the key and
/// says what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

fn invalid(key: &str, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("`{key}` {problem}"))
}

mod login;
mod raw;
mod smtp;

/// A configured duration in whole seconds, as token claims and stored
/// times count them.
pub fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

pub use login::*;
pub use raw::*;
pub use smtp::*;

/// Whether refresh tokens come with every code exchange or only when the
/// `offline_access` scope was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshTokenPolicy {
    Always,
    OfflineAccess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteSynchronous {
    Normal,
    Full,
}

#[derive(Debug, Clone)]
pub struct Branding {
    pub product_name: String,
    pub logo_url: Option<String>,
    /// The word the pages use for an organization ("firm", "organization").
    pub tenant_word: String,
    /// The color of buttons and links on every page (`#rrggbb`).
    pub accent_color: String,
}

/// Who may do what in the dashboard.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Membership roles (compared case-insensitively) whose holders manage
    /// their organization's OAuth apps and API keys.
    pub admin_roles: Vec<String>,
}

impl Dashboard {
    /// Whether a member with `role` administers the organization.
    pub fn is_admin_role(&self, role: &str) -> bool {
        self.admin_roles
            .iter()
            .any(|admin| admin.eq_ignore_ascii_case(role.trim()))
    }
}

/// Paths of the protocol endpoints, each starting with `/`.
#[derive(Debug, Clone)]
pub struct Paths {
    pub authorize: String,
    pub token: String,
    pub userinfo: String,
    pub revoke: String,
    pub introspect: String,
    pub jwks: String,
    pub settings: String,
    /// The sign-in page.
    pub login: String,
    pub logout: String,
    /// Where the consent form posts.
    pub consent: String,
    /// The dynamic client registration endpoint (RFC 7591); each
    /// registered client's configuration endpoint (RFC 7592) is below it.
    pub register: String,
}

/// One scope of the vocabulary with the sentence the consent screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDefinition {
    pub name: String,
    pub description: String,
    /// An app made in the dashboard that asks for this scope gets it only
    /// once the platform operator approved it.
    pub sensitive: bool,
}

/// A protected resource access tokens may be issued for (RFC 8707): one
/// `[[resources]]` table, or the example API's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The absolute URL clients name in `resource` and tokens carry in
    /// `aud`, as configured.
    pub identifier: String,
    /// Shown on the consent screen.
    pub name: String,
    /// The scopes that belong to it; empty: every scope no other resource
    /// declares.
    pub scopes: Vec<String>,
    /// `identifier` as requests are compared with it
    /// ([`crate::oauth::resource::canonical`]).
    canonical: String,
}

impl Resource {
    /// The identifier's host (and port), as the consent screen shows it.
    pub fn host(&self) -> String {
        match url::Url::parse(&self.identifier) {
            Ok(url) => match (url.host_str(), url.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_owned(),
                (None, _) => self.identifier.clone(),
            },
            Err(_) => self.identifier.clone(),
        }
    }
}

/// Every resource tokens may be issued for: the configured ones and the
/// example API (`/api/v1`), which is the configured resource whose
/// identifier is the issuer or the issuer's `/api/v1` URL, or else an
/// implicit one identified by the issuer — the audience of every token
/// before resource indicators, and still of tokens whose requests name no
/// resource.
#[derive(Debug, Clone)]
pub struct Resources {
    all: Vec<Resource>,
    api: usize,
    configured: bool,
}

impl Resources {
    /// The example API's resource: the default audience.
    pub fn api(&self) -> &Resource {
        &self.all[self.api]
    }

    /// Every resource, the example API's included.
    pub fn iter(&self) -> impl Iterator<Item = &Resource> {
        self.all.iter()
    }

    /// Whether `[[resources]]` was configured at all.
    pub fn configured(&self) -> bool {
        self.configured
    }

    /// The resource a canonical identifier names.
    pub fn find(&self, canonical: &str) -> Option<&Resource> {
        self.all.iter().find(|r| r.canonical == canonical)
    }

    /// The resource with exactly this configured identifier (as grants
    /// remember it).
    pub fn by_identifier(&self, identifier: &str) -> Option<&Resource> {
        self.all.iter().find(|r| r.identifier == identifier)
    }

    /// Whether an access token for `resource` may carry `scope`: one of
    /// its declared scopes, or, when it declares none, any scope that no
    /// other resource declares.
    pub fn belongs(&self, resource: &Resource, scope: &str) -> bool {
        if resource.scopes.is_empty() {
            !self.all.iter().any(|other| {
                other.identifier != resource.identifier && other.scopes.iter().any(|s| s == scope)
            })
        } else {
            resource.scopes.iter().any(|s| s == scope)
        }
    }

    /// The scopes of the vocabulary that belong to `resource`, OpenID
    /// Connect's excepted: what its metadata lists as `scopes_supported`.
    pub fn scopes_of(&self, resource: &Resource, vocabulary: &[ScopeDefinition]) -> Vec<String> {
        vocabulary
            .iter()
            .map(|s| s.name.as_str())
            .filter(|name| !crate::oauth::scope::is_openid_scope(name) && self.belongs(resource, name))
            .map(str::to_owned)
            .collect()
    }
}

/// Names of the claims that carry the tenant and the member's role.
#[derive(Debug, Clone)]
pub struct ClaimNames {
    pub tenant_id: String,
    pub tenant_name: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub access_token_ttl: Duration,
    pub id_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub authorization_code_ttl: Duration,
    pub refresh_tokens: RefreshTokenPolicy,
    /// How long after its rotation a confidential client's refresh token
    /// may be presented again and answered as a retry instead of revoking
    /// its grant as theft.
    pub refresh_token_grace: Duration,
    /// The same for public clients (no secret: agents, native and browser
    /// apps).
    pub public_client_refresh_token_grace: Duration,
    /// Clock skew tolerated on `exp` and `nbf` when checking tokens.
    pub leeway: Duration,
    /// Whether a refresh response carries a new ID token (OpenID Connect
    /// Core §12.2 allows either); code exchanges always do under `openid`.
    pub id_token_on_refresh: bool,
    /// The algorithm of access tokens, and of ID tokens unless the client
    /// asked for another (`id_token_signed_response_alg`).
    pub signing_alg: latchkey_verify::Alg,
    /// Which optional claims access tokens carry.
    pub access_token_claims: AccessTokenClaims,
}

/// The optional claims of an access token (`tokens.access_token_claims`).
/// The RFC 9068 claims (`iss`, `sub`, `aud`, `client_id`, `scope`, `iat`,
/// `exp`, `jti`) and the tenant id claim are always present; `email`,
/// `email_verified` and `name` also need their scope (`email`, `profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub email: bool,
    pub email_verified: bool,
    pub name: bool,
    /// The organization name, under `claims.tenant_name`.
    pub tenant_name: bool,
    /// The member's role, under `claims.role`.
    pub role: bool,
}

impl AccessTokenClaims {
    /// The names `tokens.access_token_claims` accepts.
    pub const NAMES: [&'static str; 5] = ["email", "email_verified", "name", "tenant_name", "role"];

    /// The default: what SPEC 6 and the CaseXchange guide's sample access
    /// token show — `email`, `name` and `role` beside the tenant id.
    pub fn default_set() -> Self {
        Self {
            email: true,
            email_verified: false,
            name: true,
            tenant_name: false,
            role: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Prefixes {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    pub authorization_code: String,
    pub api_key: String,
    pub admin_api_key: String,
    pub registration_access_token: String,
    pub initial_access_token: String,
}

#[derive(Debug, Clone)]
pub struct OAuthPolicy {
    pub require_pkce_for_all: bool,
    /// Advertised in discovery, in this order; `none` allows public clients.
    pub token_endpoint_auth_methods: Vec<String>,
    /// Dynamic client registration (RFC 7591 / RFC 7592) and its policy.
    pub registration: RegistrationPolicy,
    /// Clients known by the URL of their metadata document.
    pub client_id_metadata: ClientIdMetadataPolicy,
}

/// Whether clients may register themselves (`oauth.dynamic_client_registration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationMode {
    /// No registration endpoint (the default).
    Off,
    /// Anyone may register, within the rate limit.
    Open,
    /// A registration needs an initial access token issued by the operator.
    InitialAccessToken,
}

impl RegistrationMode {
    pub fn is_enabled(self) -> bool {
        self != Self::Off
    }
}

/// What a self-registered client may be.
#[derive(Debug, Clone)]
pub struct RegistrationPolicy {
    pub mode: RegistrationMode,
    /// The scopes a registered client may get, in vocabulary order; the
    /// ones it asks for outside them are dropped.
    pub scopes: Vec<String>,
    /// Private-use URI schemes (RFC 8252 §7.1) allowed in redirect URIs,
    /// lowercase; an entry ending in `*` allows every scheme it begins.
    pub private_use_schemes: Vec<String>,
    /// How long a registration may stay unused (no code, grant or
    /// consent) before housekeeping deletes it.
    pub unused_lifetime: Duration,
}

impl RegistrationPolicy {
    /// Whether `scheme` (any case) is an allowed private-use scheme.
    pub fn allows_scheme(&self, scheme: &str) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        self.private_use_schemes
            .iter()
            .any(|allowed| match allowed.strip_suffix('*') {
                Some(prefix) => scheme.starts_with(prefix),
                None => *allowed == scheme,
            })
    }
}

/// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
/// whether an https `client_id` is fetched as the client's registration,
/// and the bounds of those fetches.
#[derive(Debug, Clone)]
pub struct ClientIdMetadataPolicy {
    pub enabled: bool,
    /// Lets `http://127.0.0.1:PORT/…`, `http://localhost:PORT/…` and
    /// loopback addresses through (development and tests only).
    pub allow_loopback: bool,
    /// Hosts whose documents are refused: a name blocks its subdomains
    /// too; lowercase.
    pub blocked_hosts: Vec<String>,
    /// The whole fetch (connection, TLS, headers, body).
    pub timeout: Duration,
    /// The largest document accepted, in bytes.
    pub max_bytes: usize,
    /// Bounds on how long a fetched document is used before it is fetched
    /// again, whatever its `Cache-Control` says.
    pub min_cache: Duration,
    pub max_cache: Duration,
}

impl ClientIdMetadataPolicy {
    /// Whether `host` (lowercase, as a URL's host) is blocked: listed, or a
    /// subdomain of a listed name.
    pub fn is_blocked(&self, host: &str) -> bool {
        self.blocked_hosts.iter().any(|blocked| {
            host == blocked
                || host
                    .strip_suffix(blocked.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }
}

#[derive(Debug, Clone)]
pub struct SigningPolicy {
    /// How long a rotated-in key is published before it starts signing.
    pub rotation_lead: Duration,
    /// How often a running server re-reads the signing keys from storage.
    pub reload_interval: Duration,
}

/// SQLite's page cache per connection unless configured, in KiB: a quarter
/// of SQLite's own default (2000), so eight pooled connections hold at
/// most 4 MiB of cache, not 16; the operating system caches the file too.
pub const DEFAULT_SQLITE_CACHE_KIB: u32 = 512;

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `sqlite://path` or `postgres://user:password@host/db`: secret, as it
    /// may carry the database password.
    pub url: Secret,
    pub max_connections: u32,
    /// SQLite's page cache per pooled connection, in KiB (`cache_size`):
    /// times `max_connections`, the most the caches hold together.
    pub sqlite_cache_kib: u32,
    pub sqlite_synchronous: SqliteSynchronous,
    /// The longest a request waits for a pooled connection.
    pub acquire_timeout: Duration,
    /// The longest one statement may run (PostgreSQL `statement_timeout`)
    /// or wait for SQLite's write lock (`busy_timeout`).
    pub statement_timeout: Duration,
    /// The longest any request may take before it is answered 503: the
    /// bound that holds even when the database stops answering at all.
    pub request_timeout: Duration,
}

impl DatabaseSettings {
    /// The settings for `url` with every default, as the configuration
    /// would have them.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: Secret::new(url.into()),
            max_connections: 8,
            sqlite_cache_kib: DEFAULT_SQLITE_CACHE_KIB,
            sqlite_synchronous: SqliteSynchronous::Normal,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Requests per minute; 0 disables a limit.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub authorize_per_minute: u32,
    pub token_per_minute: u32,
    pub userinfo_per_minute: u32,
    pub revoke_per_minute: u32,
    /// Dynamic client registrations, per client IP.
    pub register_per_minute: u32,
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// The password-hashing workers: how many argon2id computations run at
/// once (each holds 12 MiB) and how many may wait (a waiting check holds
/// almost nothing); beyond that sign-in answers "try again shortly" at once.
#[derive(Debug, Clone)]
pub struct PasswordPool {
    pub workers: usize,
    pub queue: usize,
}

/// Background purging of expired rows.
#[derive(Debug, Clone)]
pub struct Housekeeping {
    pub interval: Duration,
    pub audit_retention: Duration,
}

impl TokenPolicy {
    /// How long a signed token (access or ID) may stay valid, in seconds:
    /// how long a key or grant must outlive the last token it covers.
    pub fn longest_token_lifetime(&self) -> i64 {
        seconds(self.access_token_ttl.max(self.id_token_ttl))
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// Given in configuration.
    Configured(MasterKey),
    /// Read from this file, or generated into it on first start.
    File(PathBuf),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Absolute URL without a trailing `/`.
    pub issuer: String,
    pub bind: SocketAddr,
    pub database: DatabaseSettings,
    pub admin_api_keys: Vec<Secret>,
    pub master_key: MasterKeySource,
    pub branding: Branding,
    pub paths: Paths,
    pub scopes: Vec<ScopeDefinition>,
    /// The protected resources (RFC 8707), the example API's included.
    pub resources: Resources,
    pub claims: ClaimNames,
    pub tokens: TokenPolicy,
    pub prefixes: Prefixes,
    pub oauth: OAuthPolicy,
    pub signing: SigningPolicy,
    pub rate_limits: RateLimits,
    pub housekeeping: Housekeeping,
    pub passwords: PasswordPool,
    pub dashboard: Dashboard,
    pub server: ServerLimits,
    pub metrics: MetricsSettings,
    /// How people sign in: Latchkey's page or the platform's login.
    pub login: Login,
    /// The mail server of reset and verification links; `None`: no mail.
    pub smtp: Option<Smtp>,
}

/// Where `GET /metrics` is served; `None` (the default) serves it nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsSettings {
    /// A separate address from `bind`, usually a loopback or private one.
    pub bind: Option<SocketAddr>,
}

/// What one client can hold of the listener.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Connections open at once; beyond that new ones are closed at once.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers (and
    /// how long an idle keep-alive connection stays open).
    pub header_timeout: Duration,
}

/// The default vocabulary: OpenID Connect's scopes and the example API's.
fn default_scopes() -> Vec<ScopeDefinition> {
    [
        ("openid", "Sign you in and know who you are"),
        ("email", "See your email address"),
        ("profile", "See your name and role"),
        ("offline_access", "Stay connected when you are not using it"),
        ("cases:read", "Read cases, referrals, firms and routing"),
        ("cases:write", "Create, update and re-refer cases"),
        ("user:read", "Read your user profile"),
        ("firm:read", "Read your firm's information"),
    ]
    .into_iter()
    .map(|(name, description)| ScopeDefinition {
        name: name.to_owned(),
        description: description.to_owned(),
        sensitive: false,
    })
    .collect()
}

const AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "none"];

impl Config {
    /// Loads and validates: the one entry point the binary uses.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        RawConfig::load(file)?.validate()
    }

    /// The configuration with nothing configured.
    pub fn default_config() -> Result<Self, ConfigError> {
        RawConfig::default().validate()
    }

    /// The scope definition of `name`, if the vocabulary has it.
    pub fn scope(&self, name: &str) -> Option<&ScopeDefinition> {
        self.scopes.iter().find(|s| s.name == name)
    }

    /// A scope set as a space-separated list in vocabulary order (the
    /// order discovery lists), as tokens and token responses carry it.
    pub fn scope_string(&self, scopes: &crate::oauth::scope::ScopeSet) -> String {
        let mut ordered: Vec<&str> = self
            .scopes
            .iter()
            .map(|s| s.name.as_str())
            .filter(|name| scopes.contains(name))
            .collect();
        ordered.extend(scopes.iter().filter(|name| self.scope(name).is_none()));
        ordered.join(" ")
    }

    /// `issuer` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Whether public clients (`token_endpoint_auth_method=none`) may exist.
    pub fn allows_public_clients(&self) -> bool {
        self.oauth.token_endpoint_auth_methods.iter().any(|m| m == "none")
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Toml};

    use super::raw::describe_figment_error;
    use super::*;

    fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = Figment::new()
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError(describe_figment_error(e)))?;
        raw.validate()
    }

    #[test]
    fn empty_configuration_gives_the_documented_defaults() {
        let config = from_toml("").unwrap();
        assert_eq!(config.issuer, "http://localhost:3001");
        assert_eq!(config.bind.to_string(), "127.0.0.1:3001");
        assert_eq!(config.database.url.expose(), "sqlite://latchkey.db");
        assert_eq!(config.database.sqlite_cache_kib, 512);
        assert_eq!(config.passwords.queue, 64);
        assert!(config.metrics.bind.is_none());
        assert_eq!(config.paths.token, "/api/oauth/token");
        assert_eq!(config.claims.tenant_id, "firm_id");
        assert_eq!(config.tokens.access_token_ttl, Duration::from_secs(3600));
        assert_eq!(config.tokens.refresh_token_grace, Duration::ZERO);
        assert_eq!(
            config.tokens.public_client_refresh_token_grace,
            Duration::from_secs(30)
        );
        assert!(
            matches!(config.master_key, MasterKeySource::File(ref p) if p == Path::new("latchkey.db.master-key"))
        );
    }

    /// Lists given as one comma-separated string (as an environment
    /// variable gives them) read like TOML arrays.
    #[test]
    fn auth_methods_and_trusted_proxies_read_from_one_string() {
        let config = from_toml(
            "[oauth]\ntoken_endpoint_auth_methods = \"client_secret_basic, client_secret_post\"\n\
             [rate_limits]\ntrusted_proxies = \"10.0.0.1,10.0.0.2\"",
        )
        .unwrap();
        assert_eq!(config.oauth.token_endpoint_auth_methods.len(), 2);
        assert!(
            !config
                .oauth
                .token_endpoint_auth_methods
                .iter()
                .any(|m| m.as_str() == "none")
        );
        assert_eq!(config.rate_limits.trusted_proxies.len(), 2);
    }

    #[test]
    fn issuer_with_trailing_slash_is_refused_naming_the_key() {
        let error = from_toml(r#"issuer = "https://example.com/""#).unwrap_err();
        assert!(error.to_string().contains("`issuer`"), "{error}");
        assert!(error.to_string().contains("must not end with `/`"), "{error}");
    }

    #[test]
    fn plain_http_issuer_is_refused_unless_loopback() {
        assert!(from_toml(r#"issuer = "http://example.com""#).is_err());
        assert!(from_toml(r#"issuer = "http://127.0.0.1:4000""#).is_ok());
    }

    #[test]
    fn unknown_key_is_named() {
        let error = from_toml("isuer = \"https://x.example\"").unwrap_err();
        assert!(error.to_string().contains("isuer"), "{error}");
    }

    #[test]
    fn wrong_type_is_named_with_its_key() {
        let error = from_toml("[tokens]\naccess_token_ttl_seconds = \"soon\"").unwrap_err();
        assert!(
            error.to_string().contains("tokens.access_token_ttl_seconds"),
            "{error}"
        );
    }

    #[test]
    fn admin_keys_accept_a_comma_separated_string() {
        let config = from_toml(r#"admin_api_keys = "first-key-0123456789, second-key-0123456789""#).unwrap();
        assert_eq!(config.admin_api_keys.len(), 2);
        assert_eq!(config.admin_api_keys[1].expose(), "second-key-0123456789");
    }

    #[test]
    fn scope_vocabulary_must_be_well_formed() {
        let duplicate =
            "[[scopes]]\nname=\"openid\"\ndescription=\"a\"\n[[scopes]]\nname=\"openid\"\ndescription=\"b\"";
        assert!(from_toml(duplicate).unwrap_err().to_string().contains("twice"));
        let no_openid = "[[scopes]]\nname=\"read\"\ndescription=\"a\"";
        assert!(from_toml(no_openid).unwrap_err().to_string().contains("openid"));
        let bad_name =
            "[[scopes]]\nname=\"openid\"\ndescription=\"a\"\n[[scopes]]\nname=\"a b\"\ndescription=\"b\"";
        assert!(from_toml(bad_name).is_err());
    }

    const MCP: &str = "[[resources]]\nidentifier = \"https://mcp.example.com\"\nname = \"Case assistant\"\nscopes = [\"cases:read\"]\n";

    #[test]
    fn without_resources_the_example_api_is_the_issuer() {
        let config = from_toml("").unwrap();
        let api = config.resources.api();
        assert_eq!(api.identifier, "http://localhost:3001");
        assert_eq!(api.name, "Latchkey API");
        assert!(!config.resources.configured());
        let config = from_toml(MCP).unwrap();
        assert!(config.resources.configured());
        assert_eq!(config.resources.iter().count(), 2);
        assert_eq!(config.resources.api().identifier, "http://localhost:3001");
        assert_eq!(
            config.resources.find("https://mcp.example.com").unwrap().name,
            "Case assistant"
        );
    }

    #[test]
    fn a_resource_at_the_api_path_is_the_example_api() {
        let text = "[[resources]]\nidentifier = \"http://localhost:3001/api/v1\"\nname = \"Cases API\"\nscopes = \"cases:read, cases:write\"\n";
        let config = from_toml(text).unwrap();
        let api = config.resources.api();
        assert_eq!(
            (api.identifier.as_str(), api.name.as_str()),
            ("http://localhost:3001/api/v1", "Cases API")
        );
        assert_eq!(api.scopes, ["cases:read", "cases:write"]);
        assert_eq!(config.resources.iter().count(), 1, "no implicit one beside it");
        let both = format!("{text}[[resources]]\nidentifier = \"http://localhost:3001/\"\nname = \"x\"\n");
        assert!(
            from_toml(&both)
                .unwrap_err()
                .to_string()
                .contains("example API twice")
        );
    }

    #[test]
    fn bad_resources_are_refused_naming_the_problem() {
        for (text, problem) in [
            ("identifier = \"/mcp\"\nname = \"x\"", "not an absolute URL"),
            (
                "identifier = \"https://mcp.example.com/#a\"\nname = \"x\"",
                "no query or fragment",
            ),
            (
                "identifier = \"https://mcp.example.com/?a=b\"\nname = \"x\"",
                "no query or fragment",
            ),
            (
                "identifier = \"http://mcp.example.com\"\nname = \"x\"",
                "must use https",
            ),
            (
                "identifier = \"https://m.example.com\"\nname = \" \"",
                "empty `name`",
            ),
            (
                "identifier = \"https://m.example.com\"\nname = \"x\"\nscopes = [\"nope\"]",
                "not in `scopes`",
            ),
            (
                "identifier = \"https://m.example.com\"\nname = \"x\"\nscopes = [\"openid\"]",
                "OpenID Connect scope",
            ),
            (
                "identifier = \"https://MCP.example.com/\"\nname = \"x\"",
                "listed twice",
            ),
        ] {
            let error = from_toml(&format!("{MCP}[[resources]]\n{text}"))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("`resources`") && error.contains(problem),
                "{text}: {error}"
            );
        }
        let missing = from_toml("[[resources]]\nidentifier = \"https://m.example.com\"").unwrap_err();
        assert!(missing.to_string().contains("name"), "{missing}");
    }

    #[test]
    fn scopes_belong_to_the_resources_that_declare_them() {
        let config = from_toml(MCP).unwrap();
        let resources = &config.resources;
        let mcp = resources.find("https://mcp.example.com").unwrap();
        let api = resources.api();
        assert!(resources.belongs(mcp, "cases:read") && !resources.belongs(mcp, "user:read"));
        assert!(!resources.belongs(api, "cases:read") && resources.belongs(api, "user:read"));
        assert_eq!(resources.scopes_of(mcp, &config.scopes), ["cases:read"]);
        assert_eq!(
            resources.scopes_of(api, &config.scopes),
            ["cases:write", "user:read", "firm:read"]
        );
        assert_eq!(mcp.host(), "mcp.example.com");
    }

    #[test]
    fn client_id_metadata_documents_are_off_by_default_with_documented_bounds() {
        let policy = from_toml("").unwrap().oauth.client_id_metadata;
        assert!(!policy.enabled);
        assert!(!policy.allow_loopback);
        assert!(policy.blocked_hosts.is_empty());
        assert_eq!(policy.timeout, Duration::from_secs(5));
        assert_eq!(policy.max_bytes, 5120);
        assert_eq!(policy.min_cache, Duration::from_secs(300));
        assert_eq!(policy.max_cache, Duration::from_secs(86_400));
    }

    #[test]
    fn client_id_metadata_settings_are_checked() {
        let on = "[oauth]\nclient_id_metadata_documents = true\n";
        assert!(from_toml(on).unwrap().oauth.client_id_metadata.enabled);
        let without_none = format!("{on}token_endpoint_auth_methods = [\"client_secret_basic\"]");
        let error = from_toml(&without_none).unwrap_err().to_string();
        assert!(
            error.contains("oauth.client_id_metadata_documents") && error.contains("none"),
            "{error}"
        );
        for (setting, key) in [
            (
                "client_id_metadata_max_bytes = 100",
                "client_id_metadata_max_bytes",
            ),
            (
                "client_id_metadata_max_bytes = 1000000",
                "client_id_metadata_max_bytes",
            ),
            (
                "client_id_metadata_timeout_seconds = 0",
                "client_id_metadata_timeout_seconds",
            ),
            (
                "client_id_metadata_timeout_seconds = 60",
                "client_id_metadata_timeout_seconds",
            ),
            (
                "client_id_metadata_min_cache_seconds = 600\nclient_id_metadata_max_cache_seconds = 60",
                "client_id_metadata_min_cache_seconds",
            ),
            (
                "client_id_metadata_blocked_hosts = [\"https://evil.example/\"]",
                "client_id_metadata_blocked_hosts",
            ),
            (
                "client_id_metadata_blocked_hosts = [\"\"]",
                "client_id_metadata_blocked_hosts",
            ),
        ] {
            let error = from_toml(&format!("{on}{setting}")).unwrap_err().to_string();
            assert!(error.contains(key), "{setting}: {error}");
        }
    }

    #[test]
    fn blocked_hosts_block_their_subdomains_too() {
        let text = "[oauth]\nclient_id_metadata_blocked_hosts = [\"Evil.Example\", \"203.0.113.9\", \"[2001:db8::1]\"]";
        let policy = from_toml(text).unwrap().oauth.client_id_metadata;
        assert_eq!(
            policy.blocked_hosts,
            ["evil.example", "203.0.113.9", "[2001:db8::1]"]
        );
        assert!(policy.is_blocked("evil.example"));
        assert!(policy.is_blocked("agents.evil.example"));
        assert!(!policy.is_blocked("notevil.example"));
        assert!(!policy.is_blocked("evil.example.org"));
        assert!(policy.is_blocked("203.0.113.9"));
        assert!(policy.is_blocked("[2001:db8::1]"));
    }

    #[test]
    fn colliding_paths_are_refused() {
        let error = from_toml("[paths]\ntoken = \"/api/oauth/authorize\"").unwrap_err();
        assert!(error.to_string().contains("already used"), "{error}");
    }

    #[test]
    fn offline_access_policy_needs_the_scope() {
        let text =
            "[tokens]\nrefresh_tokens = \"offline_access\"\n[[scopes]]\nname=\"openid\"\ndescription=\"a\"";
        assert!(
            from_toml(text)
                .unwrap_err()
                .to_string()
                .contains("offline_access")
        );
    }

    #[test]
    fn debug_output_of_the_configuration_shows_no_secret_setting() {
        let text = r#"
            database_url = "postgres://latchkey:db-sEcReT@localhost/latchkey"
            admin_api_keys = ["admin-key-sEcReT-0123456789"]
            master_key = "c0VjUmVUc0VjUmVUc0VjUmVUc0VjUmVUc0VjUmVUMDE="
        "#;
        let raw: RawConfig = Figment::new().merge(Toml::string(text)).extract().unwrap();
        let printed = format!("{raw:?}");
        assert!(printed.contains("admin_api_keys"), "{printed}");
        for secret in ["db-sEcReT", "admin-key-sEcReT", "c0VjUmVU"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        let config = raw.validate().unwrap();
        assert_eq!(
            config.database.url.expose(),
            "postgres://latchkey:db-sEcReT@localhost/latchkey"
        );
        let printed = format!("{config:?}");
        for secret in ["db-sEcReT", "admin-key-sEcReT", "c0VjUmVU"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }

    #[test]
    fn lifetimes_longer_than_ten_years_are_refused() {
        for text in [
            "[tokens]\naccess_token_ttl_seconds = 9223372036854775807",
            "[tokens]\nrefresh_token_ttl_seconds = 315360001",
            "[tokens]\nrefresh_token_grace_seconds = 9223372036854775807",
            "[tokens]\npublic_client_refresh_token_grace_seconds = 315360001",
            "[signing]\nrotation_lead_seconds = 999999999999",
        ] {
            let error = from_toml(text).unwrap_err();
            assert!(error.to_string().contains("ten years"), "{error}");
        }
        assert!(from_toml("[tokens]\nrefresh_token_ttl_seconds = 315360000").is_ok());
    }

    #[test]
    fn dynamic_registration_is_off_by_default_with_the_oidc_scopes() {
        let registration = from_toml("").unwrap().oauth.registration;
        assert_eq!(registration.mode, RegistrationMode::Off);
        assert_eq!(
            registration.scopes,
            ["openid", "email", "profile", "offline_access"]
        );
        assert!(registration.private_use_schemes.is_empty());
        assert_eq!(registration.unused_lifetime, Duration::from_secs(86_400));
        let open = from_toml("[oauth]\ndynamic_client_registration = \"open\"").unwrap();
        assert_eq!(open.oauth.registration.mode, RegistrationMode::Open);
        let guarded = from_toml("[oauth]\ndynamic_client_registration = \"initial_access_token\"").unwrap();
        assert_eq!(
            guarded.oauth.registration.mode,
            RegistrationMode::InitialAccessToken
        );
    }

    #[test]
    fn registration_policy_keys_are_checked_and_named() {
        for (text, mentions) in [
            (
                "dynamic_client_registration = \"on\"",
                "oauth.dynamic_client_registration",
            ),
            (
                "registration_scopes = [\"admin:all\"]",
                "oauth.registration_scopes",
            ),
            ("registration_scopes = []", "oauth.registration_scopes"),
            (
                "registration_private_use_schemes = [\"https\"]",
                "oauth.registration_private_use_schemes",
            ),
            (
                "registration_private_use_schemes = [\"javascript\"]",
                "oauth.registration_private_use_schemes",
            ),
            (
                "registration_private_use_schemes = [\"*\"]",
                "oauth.registration_private_use_schemes",
            ),
            (
                "registration_private_use_schemes = [\"1app\"]",
                "oauth.registration_private_use_schemes",
            ),
            (
                "registration_unused_lifetime_seconds = 0",
                "oauth.registration_unused_lifetime_seconds",
            ),
        ] {
            let error = from_toml(&format!("[oauth]\n{text}")).unwrap_err();
            assert!(error.to_string().contains(mentions), "{text}: {error}");
        }
        let policy = from_toml(
            "[oauth]\nregistration_scopes = \"cases:read, openid\"\nregistration_private_use_schemes = [\"Cursor\", \"com.example.*\"]",
        )
        .unwrap()
        .oauth
        .registration;
        assert_eq!(policy.scopes, ["openid", "cases:read"], "vocabulary order");
        assert!(policy.allows_scheme("cursor") && policy.allows_scheme("CURSOR"));
        assert!(policy.allows_scheme("com.example.app"));
        assert!(!policy.allows_scheme("com.other.app") && !policy.allows_scheme("vscode"));
    }

    #[test]
    fn bad_master_key_is_refused() {
        let error = from_toml(r#"master_key = "short""#).unwrap_err();
        assert!(error.to_string().contains("`master_key`"), "{error}");
    }
}
