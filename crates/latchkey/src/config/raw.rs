//! The raw configuration — every key optional, exactly as an operator
//! writes it in TOML or `LATCHKEY_*` variables — and its validation into
//! [`Config`]: defaults filled in, every rule checked, each problem named by
//! its key.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;
use url::Url;

use super::*;
use crate::oauth::scope::is_valid_scope_token;
use crate::secret::{MasterKey, Secret};

/// Every setting, all optional, exactly as an operator writes them. The
/// admin keys, the master key and the database URL (which may carry a
/// password) are [`Secret`]s from the moment they are read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub issuer: Option<String>,
    pub bind: Option<String>,
    pub database_url: Option<Secret>,
    #[serde(default, deserialize_with = "secret_list")]
    pub admin_api_keys: Option<Vec<Secret>>,
    pub master_key: Option<Secret>,
    pub master_key_file: Option<PathBuf>,
    #[serde(default)]
    pub branding: RawBranding,
    #[serde(default)]
    pub paths: RawPaths,
    pub scopes: Option<Vec<RawScope>>,
    /// `[[resources]]`: the protected resources of RFC 8707.
    pub resources: Option<Vec<RawResource>>,
    #[serde(default)]
    pub claims: RawClaims,
    #[serde(default)]
    pub tokens: RawTokens,
    #[serde(default)]
    pub prefixes: RawPrefixes,
    #[serde(default)]
    pub oauth: RawOAuth,
    #[serde(default)]
    pub signing: RawSigning,
    #[serde(default)]
    pub database: RawDatabase,
    #[serde(default)]
    pub rate_limits: RawRateLimits,
    #[serde(default)]
    pub housekeeping: RawHousekeeping,
    #[serde(default)]
    pub passwords: RawPasswords,
    #[serde(default)]
    pub dashboard: RawDashboard,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub login: RawLogin,
    #[serde(default)]
    pub smtp: RawSmtp,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub bind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub max_connections: Option<usize>,
    pub header_timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPasswords {
    pub workers: Option<usize>,
    pub queue: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHousekeeping {
    pub interval_seconds: Option<u64>,
    pub audit_retention_days: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBranding {
    pub product_name: Option<String>,
    pub logo_url: Option<String>,
    pub tenant_word: Option<String>,
    pub accent_color: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDashboard {
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub admin_roles: Option<Vec<String>>,
}

impl RawDashboard {
    fn validate(self) -> Result<Dashboard, ConfigError> {
        let admin_roles = self
            .admin_roles
            .unwrap_or_else(|| vec!["FIRM_ADMIN".into(), "admin".into(), "owner".into()]);
        if admin_roles.iter().any(|role| role.trim().is_empty()) {
            return Err(invalid("dashboard.admin_roles", "must not contain an empty role"));
        }
        Ok(Dashboard { admin_roles })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPaths {
    pub authorize: Option<String>,
    pub token: Option<String>,
    pub userinfo: Option<String>,
    pub revoke: Option<String>,
    pub introspect: Option<String>,
    pub jwks: Option<String>,
    pub settings: Option<String>,
    pub login: Option<String>,
    pub logout: Option<String>,
    pub consent: Option<String>,
    pub register: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScope {
    pub name: String,
    pub description: String,
    /// Dashboard-created apps get this scope only after the operator's
    /// approval; `false` when absent.
    #[serde(default)]
    pub sensitive: bool,
}

/// One `[[resources]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResource {
    pub identifier: String,
    pub name: String,
    /// A TOML list, or comma-separated; absent or empty: every scope no
    /// other resource declares.
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaims {
    pub tenant_id: Option<String>,
    pub tenant_name: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokens {
    pub access_token_ttl_seconds: Option<u64>,
    pub id_token_ttl_seconds: Option<u64>,
    pub refresh_token_ttl_seconds: Option<u64>,
    pub authorization_code_ttl_seconds: Option<u64>,
    pub refresh_tokens: Option<String>,
    pub refresh_token_grace_seconds: Option<u64>,
    pub public_client_refresh_token_grace_seconds: Option<u64>,
    pub leeway_seconds: Option<u64>,
    pub id_token_on_refresh: Option<bool>,
    pub signing_alg: Option<String>,
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub access_token_claims: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrefixes {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub refresh_token: Option<String>,
    pub authorization_code: Option<String>,
    pub api_key: Option<String>,
    pub admin_api_key: Option<String>,
    pub registration_access_token: Option<String>,
    pub initial_access_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth {
    pub require_pkce_for_all: Option<bool>,
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub token_endpoint_auth_methods: Option<Vec<String>>,
    /// `off` (default), `open` or `initial_access_token`.
    pub dynamic_client_registration: Option<String>,
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub registration_scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub registration_private_use_schemes: Option<Vec<String>>,
    pub registration_unused_lifetime_seconds: Option<u64>,
    pub client_id_metadata_documents: Option<bool>,
    pub client_id_metadata_allow_loopback: Option<bool>,
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub client_id_metadata_blocked_hosts: Option<Vec<String>>,
    pub client_id_metadata_timeout_seconds: Option<u64>,
    pub client_id_metadata_max_bytes: Option<usize>,
    pub client_id_metadata_min_cache_seconds: Option<u64>,
    pub client_id_metadata_max_cache_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSigning {
    pub rotation_lead_seconds: Option<u64>,
    pub reload_interval_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub max_connections: Option<u32>,
    pub sqlite_synchronous: Option<String>,
    pub sqlite_cache_kib: Option<u32>,
    pub acquire_timeout_seconds: Option<u64>,
    pub statement_timeout_seconds: Option<u64>,
    pub request_timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimits {
    pub authorize_per_minute: Option<u32>,
    pub token_per_minute: Option<u32>,
    pub userinfo_per_minute: Option<u32>,
    pub revoke_per_minute: Option<u32>,
    pub register_per_minute: Option<u32>,
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub trusted_proxies: Option<Vec<String>>,
}

/// Accepts `["a", "b"]` from a file and `a,b` from an environment variable.
fn list_or_comma_string<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    Ok(match Option::<ListOrString>::deserialize(deserializer)? {
        None => None,
        Some(ListOrString::List(list)) => Some(list),
        Some(ListOrString::String(joined)) => Some(
            joined
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
    })
}

/// [`list_or_comma_string`] for secrets (admin API keys).
fn secret_list<'de, D>(deserializer: D) -> Result<Option<Vec<Secret>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(list_or_comma_string(deserializer)?.map(|list| list.into_iter().map(Secret::new).collect()))
}

impl RawConfig {
    /// Reads the optional TOML file, then `LATCHKEY_*` environment
    /// variables on top of it.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::extract(file, true)
    }

    /// Reads only the TOML file, ignoring the environment (for tests and
    /// tools that must not depend on the process environment).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        Self::extract(Some(path), false)
    }

    fn extract(file: Option<&Path>, with_env: bool) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "configuration file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        if with_env {
            figment = figment.merge(Env::prefixed("LATCHKEY_").split("__"));
        }
        figment
            .extract()
            .map_err(|error| ConfigError(describe_figment_error(error)))
    }
}

pub(super) fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{source}", e.kind)
            } else {
                format!("`{key}`: {}{source}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl RawConfig {
    pub fn validate(self) -> Result<Config, ConfigError> {
        let issuer = validate_issuer(self.issuer.as_deref().unwrap_or("http://localhost:3001"))?;
        let bind_text = self.bind.as_deref().unwrap_or("127.0.0.1:3001");
        let bind: SocketAddr = bind_text.parse().map_err(|_| {
            invalid(
                "bind",
                format!("is `{bind_text}`, expected an address and port such as 127.0.0.1:3001"),
            )
        })?;
        let database_url = self
            .database_url
            .unwrap_or_else(|| Secret::new("sqlite://latchkey.db"));
        let url = database_url.expose();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite:// or postgres://",
            ));
        }
        let admin_api_keys = self
            .admin_api_keys
            .unwrap_or_default()
            .into_iter()
            .map(|key| {
                if key.expose().len() < 16 {
                    Err(invalid(
                        "admin_api_keys",
                        "holds a key shorter than 16 characters",
                    ))
                } else {
                    Ok(key)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let master_key = match (self.master_key, self.master_key_file) {
            (Some(encoded), _) => MasterKeySource::Configured(
                MasterKey::from_base64(encoded.expose().trim())
                    .map_err(|problem| invalid("master_key", problem))?,
            ),
            (None, Some(path)) => MasterKeySource::File(path),
            (None, None) => MasterKeySource::File(default_master_key_file(database_url.expose())),
        };
        let branding = RawBranding::validate(self.branding)?;
        let paths = self.paths.validate()?;
        let scopes = validate_scopes(self.scopes)?;
        let resources = validate_resources(self.resources, &issuer, &scopes, &branding)?;
        let claims = self.claims.validate()?;
        let tokens = self.tokens.validate()?;
        let prefixes = self.prefixes.validate()?;
        let oauth = self.oauth.validate(&scopes)?;
        let signing = SigningPolicy {
            rotation_lead: at_most_ten_years(
                "signing.rotation_lead_seconds",
                self.signing.rotation_lead_seconds.unwrap_or(3600),
            )?,
            reload_interval: Duration::from_secs(self.signing.reload_interval_seconds.unwrap_or(60).max(1)),
        };
        let database = DatabaseSettings {
            url: database_url,
            max_connections: match self.database.max_connections {
                Some(0) => return Err(invalid("database.max_connections", "must be at least 1")),
                Some(n) => n,
                None => 8,
            },
            sqlite_cache_kib: match self.database.sqlite_cache_kib {
                None => DEFAULT_SQLITE_CACHE_KIB,
                Some(n) if n < 64 => return Err(invalid("database.sqlite_cache_kib", "must be at least 64")),
                Some(n) if n > 1024 * 1024 => {
                    return Err(invalid(
                        "database.sqlite_cache_kib",
                        "must be at most 1048576 (1 GiB)",
                    ));
                }
                Some(n) => n,
            },
            sqlite_synchronous: match self.database.sqlite_synchronous.as_deref() {
                None | Some("normal") | Some("NORMAL") => SqliteSynchronous::Normal,
                Some("full") | Some("FULL") => SqliteSynchronous::Full,
                Some(other) => {
                    return Err(invalid(
                        "database.sqlite_synchronous",
                        format!("is `{other}`, expected `normal` or `full`"),
                    ));
                }
            },
            acquire_timeout: ttl(
                "database.acquire_timeout_seconds",
                self.database.acquire_timeout_seconds,
                3,
            )?,
            statement_timeout: ttl(
                "database.statement_timeout_seconds",
                self.database.statement_timeout_seconds,
                5,
            )?,
            request_timeout: ttl(
                "database.request_timeout_seconds",
                self.database.request_timeout_seconds,
                10,
            )?,
        };
        let rate_limits = self.rate_limits.validate()?;
        let housekeeping = Housekeeping {
            interval: ttl(
                "housekeeping.interval_seconds",
                self.housekeeping.interval_seconds,
                600,
            )?,
            audit_retention: Duration::from_secs(
                self.housekeeping
                    .audit_retention_days
                    .unwrap_or(365)
                    .saturating_mul(86_400),
            ),
        };
        let passwords = PasswordPool {
            workers: match self.passwords.workers {
                None | Some(0) => crate::accounts::password::default_workers(),
                Some(n) if n > 64 => return Err(invalid("passwords.workers", "must be at most 64")),
                Some(n) => n,
            },
            queue: match self.passwords.queue {
                None => 64,
                Some(0) => return Err(invalid("passwords.queue", "must be at least 1")),
                Some(n) if n > 1024 => return Err(invalid("passwords.queue", "must be at most 1024")),
                Some(n) => n,
            },
        };
        if scopes.iter().all(|s| s.name != "offline_access")
            && tokens.refresh_tokens == RefreshTokenPolicy::OfflineAccess
        {
            return Err(invalid(
                "tokens.refresh_tokens",
                "is `offline_access`, but the scope vocabulary has no `offline_access` scope",
            ));
        }
        let metrics = MetricsSettings {
            bind: match self.metrics.bind.as_deref() {
                None | Some("") => None,
                Some(text) => {
                    let address: SocketAddr = text.parse().map_err(|_| {
                        invalid(
                            "metrics.bind",
                            format!("is `{text}`, expected an address and port such as 127.0.0.1:9464"),
                        )
                    })?;
                    if address == bind && address.port() != 0 {
                        return Err(invalid(
                            "metrics.bind",
                            "must differ from `bind`: metrics are never served on the public listener",
                        ));
                    }
                    Some(address)
                }
            },
        };
        Ok(Config {
            issuer,
            bind,
            metrics,
            database,
            admin_api_keys,
            master_key,
            branding,
            paths,
            scopes,
            resources,
            claims,
            tokens,
            prefixes,
            oauth,
            signing,
            rate_limits,
            housekeeping,
            passwords,
            dashboard: self.dashboard.validate()?,
            login: self.login.validate()?,
            smtp: self.smtp.validate()?,
            server: ServerLimits {
                max_connections: match self.server.max_connections {
                    None => 1024,
                    Some(0) => return Err(invalid("server.max_connections", "must be at least 1")),
                    Some(n) => n,
                },
                header_timeout: ttl(
                    "server.header_timeout_seconds",
                    self.server.header_timeout_seconds,
                    10,
                )?,
            },
        })
    }
}

fn default_master_key_file(database_url: &str) -> PathBuf {
    let sqlite_path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|path| !path.is_empty() && *path != ":memory:");
    match sqlite_path {
        Some(path) => PathBuf::from(format!("{path}.master-key")),
        None => PathBuf::from("latchkey.master-key"),
    }
}

fn is_loopback_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

fn validate_issuer(text: &str) -> Result<String, ConfigError> {
    let url =
        Url::parse(text).map_err(|e| invalid("issuer", format!("is `{text}`, not an absolute URL ({e})")))?;
    if text.ends_with('/') {
        return Err(invalid(
            "issuer",
            format!("is `{text}`; it must not end with `/`"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "issuer",
            format!("is `{text}`; it must have no query or fragment"),
        ));
    }
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        _ => {
            return Err(invalid(
                "issuer",
                format!("is `{text}`; it must use https (http only for localhost, 127.0.0.1 or [::1])"),
            ));
        }
    }
    Ok(text.to_owned())
}

impl RawBranding {
    fn validate(self) -> Result<Branding, ConfigError> {
        let product_name = self.product_name.unwrap_or_else(|| "Latchkey".to_owned());
        if product_name.trim().is_empty() {
            return Err(invalid("branding.product_name", "must not be empty"));
        }
        if let Some(logo) = &self.logo_url
            && !(logo.starts_with("https://") || logo.starts_with("http://") || logo.starts_with('/'))
        {
            return Err(invalid(
                "branding.logo_url",
                "must be an http(s) URL or a path starting with `/`",
            ));
        }
        let accent_color = self.accent_color.unwrap_or_else(|| "#2457c5".to_owned());
        let is_hex_color = accent_color.len() == 7
            && accent_color.starts_with('#')
            && accent_color[1..].chars().all(|c| c.is_ascii_hexdigit());
        if !is_hex_color {
            return Err(invalid(
                "branding.accent_color",
                format!("is `{accent_color}`, expected a color like `#2457c5`"),
            ));
        }
        Ok(Branding {
            product_name,
            logo_url: self.logo_url,
            tenant_word: self.tenant_word.unwrap_or_else(|| "organization".to_owned()),
            accent_color,
        })
    }
}

impl RawPaths {
    fn validate(self) -> Result<Paths, ConfigError> {
        let paths = Paths {
            authorize: self
                .authorize
                .unwrap_or_else(|| "/api/oauth/authorize".to_owned()),
            token: self.token.unwrap_or_else(|| "/api/oauth/token".to_owned()),
            userinfo: self.userinfo.unwrap_or_else(|| "/api/oauth/userinfo".to_owned()),
            revoke: self.revoke.unwrap_or_else(|| "/api/oauth/revoke".to_owned()),
            introspect: self
                .introspect
                .unwrap_or_else(|| "/api/oauth/introspect".to_owned()),
            jwks: self.jwks.unwrap_or_else(|| "/.well-known/jwks.json".to_owned()),
            settings: self.settings.unwrap_or_else(|| "/settings".to_owned()),
            login: self.login.unwrap_or_else(|| "/login".to_owned()),
            logout: self.logout.unwrap_or_else(|| "/logout".to_owned()),
            consent: self.consent.unwrap_or_else(|| "/consent".to_owned()),
            register: self.register.unwrap_or_else(|| "/api/oauth/register".to_owned()),
        };
        let named = [
            ("paths.authorize", &paths.authorize),
            ("paths.token", &paths.token),
            ("paths.userinfo", &paths.userinfo),
            ("paths.revoke", &paths.revoke),
            ("paths.introspect", &paths.introspect),
            ("paths.jwks", &paths.jwks),
            ("paths.settings", &paths.settings),
            ("paths.login", &paths.login),
            ("paths.logout", &paths.logout),
            ("paths.consent", &paths.consent),
            ("paths.register", &paths.register),
        ];
        let reserved = [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
            "/healthz",
            "/readyz",
            crate::demo::CALLBACK_PATH,
        ];
        let mut seen = HashSet::new();
        for (key, path) in named {
            let well_formed = path.starts_with('/')
                && path.len() > 1
                && !path.ends_with('/')
                && !path.contains(['?', '#', '{', '}', '*', ' ']);
            if !well_formed {
                return Err(invalid(
                    key,
                    format!(
                        "is `{path}`; a path starts with `/`, does not end with `/` and has no `?`, `#`, `{{`, `}}`, `*` or spaces"
                    ),
                ));
            }
            if reserved.contains(&path.as_str())
                || path.starts_with(latchkey_verify::resource::WELL_KNOWN_PATH)
                || path.starts_with("/api/v1/")
                || path.starts_with("/static/")
            {
                return Err(invalid(
                    key,
                    format!("is `{path}`, a path Latchkey serves itself"),
                ));
            }
            if !seen.insert(path.as_str()) {
                return Err(invalid(
                    key,
                    format!("is `{path}`, already used by another endpoint"),
                ));
            }
        }
        Ok(paths)
    }
}

fn validate_scopes(raw: Option<Vec<RawScope>>) -> Result<Vec<ScopeDefinition>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(default_scopes());
    };
    let mut seen = HashSet::new();
    let mut scopes = Vec::with_capacity(raw.len());
    for scope in raw {
        if !is_valid_scope_token(&scope.name) {
            return Err(invalid(
                "scopes",
                format!(
                    "has the name `{}`, which is not a valid scope token (RFC 6749 §3.3)",
                    scope.name
                ),
            ));
        }
        if scope.description.trim().is_empty() {
            return Err(invalid(
                "scopes",
                format!("has no description for `{}`", scope.name),
            ));
        }
        if !seen.insert(scope.name.clone()) {
            return Err(invalid("scopes", format!("lists `{}` twice", scope.name)));
        }
        scopes.push(ScopeDefinition {
            name: scope.name,
            description: scope.description,
            sensitive: scope.sensitive,
        });
    }
    if !seen.contains("openid") {
        return Err(invalid("scopes", "must include `openid`"));
    }
    Ok(scopes)
}

/// `[[resources]]`: absolute http(s) URLs without query or fragment (http
/// only on loopback hosts, as for the issuer), each once, named, with
/// scopes of the vocabulary (OpenID Connect's scopes belong to no
/// resource). The example API is the one whose identifier is the issuer or
/// its `/api/v1` URL; without one, an implicit resource named after the
/// product stands for it, identified by the issuer.
fn validate_resources(
    raw: Option<Vec<RawResource>>,
    issuer: &str,
    vocabulary: &[ScopeDefinition],
    branding: &Branding,
) -> Result<Resources, ConfigError> {
    use crate::oauth::resource::canonical;
    let configured = raw.is_some();
    let mut all: Vec<Resource> = Vec::new();
    for resource in raw.unwrap_or_default() {
        let identifier = resource.identifier.trim().to_owned();
        let problem = |what: &str| {
            invalid(
                "resources",
                format!("has the identifier `{identifier}`, which {what}"),
            )
        };
        let url = Url::parse(&identifier).map_err(|_| problem("is not an absolute URL"))?;
        if url.query().is_some() || url.fragment().is_some() || identifier.contains('#') {
            return Err(problem("must have no query or fragment (RFC 8707 §2)"));
        }
        let loopback = is_loopback_host(url.host_str().unwrap_or_default());
        if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) || url.host_str().is_none() {
            return Err(problem(
                "must use https (http only for localhost, 127.0.0.1 or [::1])",
            ));
        }
        let canonical = canonical(&identifier).map_err(problem)?;
        if all.iter().any(|r| r.canonical == canonical) {
            return Err(problem("is listed twice"));
        }
        if resource.name.trim().is_empty() {
            return Err(problem("has an empty `name` (the consent screen shows it)"));
        }
        let scopes = resource.scopes.unwrap_or_default();
        for scope in &scopes {
            if crate::oauth::scope::is_openid_scope(scope) {
                return Err(problem(&format!(
                    "lists `{scope}`, an OpenID Connect scope: those belong to no resource"
                )));
            }
            if vocabulary.iter().all(|s| s.name != *scope) {
                return Err(problem(&format!("lists `{scope}`, which is not in `scopes`")));
            }
        }
        all.push(Resource {
            identifier,
            name: resource.name.trim().to_owned(),
            scopes,
            canonical,
        });
    }
    let api_urls = [canonical(issuer), canonical(&format!("{issuer}{API_PATH}"))];
    let mut api_resources = all
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            api_urls
                .iter()
                .any(|url| url.as_deref() == Ok(r.canonical.as_str()))
        })
        .map(|(index, _)| index);
    let api = match (api_resources.next(), api_resources.next()) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "resources",
                format!("names the example API twice: use either `{issuer}` or `{issuer}{API_PATH}`"),
            ));
        }
        (Some(index), None) => index,
        (None, _) => {
            all.push(Resource {
                identifier: issuer.to_owned(),
                name: format!("{} API", branding.product_name),
                scopes: Vec::new(),
                canonical: canonical(issuer).unwrap_or_else(|_| issuer.to_owned()),
            });
            all.len() - 1
        }
    };
    Ok(Resources { all, api, configured })
}

/// Where the example API is served, below the issuer.
pub const API_PATH: &str = "/api/v1";

impl RawClaims {
    fn validate(self) -> Result<ClaimNames, ConfigError> {
        const REGISTERED: [&str; 21] = [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "nbf",
            "jti",
            "auth_time",
            "nonce",
            "azp",
            "at_hash",
            "scope",
            "client_id",
            "email",
            "email_verified",
            "name",
            "typ",
            "sid",
            "grant_id",
            "acr",
            "amr",
        ];
        let tenant_id = self.tenant_id.unwrap_or_else(|| "firm_id".to_owned());
        let tenant_name = match self.tenant_name {
            None => Some("firm_name".to_owned()),
            Some(name) if name.is_empty() => None,
            Some(name) => Some(name),
        };
        let role = match self.role {
            None => Some("role".to_owned()),
            Some(name) if name.is_empty() => None,
            Some(name) => Some(name),
        };
        let mut seen = HashSet::new();
        for (key, name) in [
            ("claims.tenant_id", Some(&tenant_id)),
            ("claims.tenant_name", tenant_name.as_ref()),
            ("claims.role", role.as_ref()),
        ] {
            let Some(name) = name else { continue };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(key, format!("is `{name}`; use letters, digits and `_`")));
            }
            if REGISTERED.contains(&name.as_str()) {
                return Err(invalid(key, format!("is `{name}`, a claim Latchkey sets itself")));
            }
            if !seen.insert(name.clone()) {
                return Err(invalid(
                    key,
                    format!("is `{name}`, already used by another claim"),
                ));
            }
        }
        Ok(ClaimNames {
            tenant_id,
            tenant_name,
            role,
        })
    }
}

/// The longest configurable lifetime: ten years. Times are added to the
/// current Unix time, and a larger value would overflow the sum.
const MAX_SECONDS: u64 = 10 * 365 * 86_400;

fn ttl(key: &str, value: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
    match value.unwrap_or(default) {
        0 => Err(invalid(key, "must be at least 1 second")),
        seconds => at_most_ten_years(key, seconds),
    }
}

fn at_most_ten_years(key: &str, seconds: u64) -> Result<Duration, ConfigError> {
    if seconds > MAX_SECONDS {
        return Err(invalid(
            key,
            format!("is {seconds}; it must be at most {MAX_SECONDS} seconds (ten years)"),
        ));
    }
    Ok(Duration::from_secs(seconds))
}

/// How long a rotated refresh token may come back without revoking its
/// grant, unless configured: long enough for a client to retry a refresh
/// whose answer it lost, or to race itself.
const DEFAULT_REFRESH_TOKEN_GRACE_SECONDS: u64 = 0;

/// The same for public clients (OAuth 2.1 §4.3.1 has their refresh tokens
/// rotate): agents and native apps hold no secret, keep their tokens in
/// places several of their processes read, and race themselves; without a
/// window, the first race revokes the user's grant.
const DEFAULT_PUBLIC_CLIENT_REFRESH_TOKEN_GRACE_SECONDS: u64 = 30;

impl RawTokens {
    fn validate(self) -> Result<TokenPolicy, ConfigError> {
        let refresh_tokens = match self.refresh_tokens.as_deref() {
            None | Some("always") => RefreshTokenPolicy::Always,
            Some("offline_access") => RefreshTokenPolicy::OfflineAccess,
            Some(other) => {
                return Err(invalid(
                    "tokens.refresh_tokens",
                    format!("is `{other}`, expected `always` or `offline_access`"),
                ));
            }
        };
        Ok(TokenPolicy {
            access_token_ttl: ttl(
                "tokens.access_token_ttl_seconds",
                self.access_token_ttl_seconds,
                3600,
            )?,
            id_token_ttl: ttl("tokens.id_token_ttl_seconds", self.id_token_ttl_seconds, 3600)?,
            refresh_token_ttl: ttl(
                "tokens.refresh_token_ttl_seconds",
                self.refresh_token_ttl_seconds,
                30 * 24 * 3600,
            )?,
            authorization_code_ttl: ttl(
                "tokens.authorization_code_ttl_seconds",
                self.authorization_code_ttl_seconds,
                600,
            )?,
            refresh_tokens,
            refresh_token_grace: at_most_ten_years(
                "tokens.refresh_token_grace_seconds",
                self.refresh_token_grace_seconds
                    .unwrap_or(DEFAULT_REFRESH_TOKEN_GRACE_SECONDS),
            )?,
            public_client_refresh_token_grace: at_most_ten_years(
                "tokens.public_client_refresh_token_grace_seconds",
                self.public_client_refresh_token_grace_seconds
                    .unwrap_or(DEFAULT_PUBLIC_CLIENT_REFRESH_TOKEN_GRACE_SECONDS),
            )?,
            leeway: Duration::from_secs(self.leeway_seconds.unwrap_or(30).min(300)),
            id_token_on_refresh: self.id_token_on_refresh.unwrap_or(false),
            signing_alg: match self.signing_alg.as_deref() {
                None => latchkey_verify::Alg::Rs256,
                Some(name) => latchkey_verify::Alg::parse(name.trim()).ok_or_else(|| {
                    invalid(
                        "tokens.signing_alg",
                        format!("is `{name}`, expected one of {}", latchkey_verify::Alg::names()),
                    )
                })?,
            },
            access_token_claims: access_token_claims(self.access_token_claims)?,
        })
    }
}

/// `tokens.access_token_claims`: a list of [`AccessTokenClaims::NAMES`];
/// absent, the default set.
fn access_token_claims(names: Option<Vec<String>>) -> Result<AccessTokenClaims, ConfigError> {
    let Some(names) = names else {
        return Ok(AccessTokenClaims::default_set());
    };
    let mut claims = AccessTokenClaims {
        email: false,
        email_verified: false,
        name: false,
        tenant_name: false,
        role: false,
    };
    for name in &names {
        let flag = match name.trim() {
            "email" => &mut claims.email,
            "email_verified" => &mut claims.email_verified,
            "name" => &mut claims.name,
            "tenant_name" => &mut claims.tenant_name,
            "role" => &mut claims.role,
            other => {
                return Err(invalid(
                    "tokens.access_token_claims",
                    format!(
                        "has `{other}`; the optional claims are {}",
                        AccessTokenClaims::NAMES.join(", ")
                    ),
                ));
            }
        };
        *flag = true;
    }
    Ok(claims)
}

impl RawPrefixes {
    fn validate(self) -> Result<Prefixes, ConfigError> {
        let prefixes = Prefixes {
            client_id: self.client_id.unwrap_or_else(|| "client_".to_owned()),
            client_secret: self.client_secret.unwrap_or_else(|| "secret_".to_owned()),
            refresh_token: self.refresh_token.unwrap_or_else(|| "refresh_".to_owned()),
            authorization_code: self.authorization_code.unwrap_or_else(|| "code_".to_owned()),
            api_key: self.api_key.unwrap_or_else(|| "key_".to_owned()),
            admin_api_key: self.admin_api_key.unwrap_or_else(|| "admin_".to_owned()),
            registration_access_token: self
                .registration_access_token
                .unwrap_or_else(|| "reg_".to_owned()),
            initial_access_token: self.initial_access_token.unwrap_or_else(|| "iat_".to_owned()),
        };
        for (key, prefix) in [
            ("prefixes.client_id", &prefixes.client_id),
            ("prefixes.client_secret", &prefixes.client_secret),
            ("prefixes.refresh_token", &prefixes.refresh_token),
            ("prefixes.authorization_code", &prefixes.authorization_code),
            ("prefixes.api_key", &prefixes.api_key),
            ("prefixes.admin_api_key", &prefixes.admin_api_key),
            (
                "prefixes.registration_access_token",
                &prefixes.registration_access_token,
            ),
            ("prefixes.initial_access_token", &prefixes.initial_access_token),
        ] {
            if prefix.len() > 32
                || !prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Err(invalid(
                    key,
                    format!("is `{prefix}`; use at most 32 letters, digits, `_`, `-` or `.`"),
                ));
            }
        }
        Ok(prefixes)
    }
}

impl RawOAuth {
    fn validate(self, scopes: &[ScopeDefinition]) -> Result<OAuthPolicy, ConfigError> {
        let methods = self
            .token_endpoint_auth_methods
            .unwrap_or_else(|| AUTH_METHODS.iter().map(|m| (*m).to_owned()).collect());
        if methods.is_empty() {
            return Err(invalid("oauth.token_endpoint_auth_methods", "must not be empty"));
        }
        let mut seen = HashSet::new();
        for method in &methods {
            if !AUTH_METHODS.contains(&method.as_str()) {
                return Err(invalid(
                    "oauth.token_endpoint_auth_methods",
                    format!("has `{method}`; supported are client_secret_basic, client_secret_post and none"),
                ));
            }
            if !seen.insert(method.as_str()) {
                return Err(invalid(
                    "oauth.token_endpoint_auth_methods",
                    format!("lists `{method}` twice"),
                ));
            }
        }
        let registration = RegistrationPolicy {
            mode: match self.dynamic_client_registration.as_deref().map(str::trim) {
                None | Some("off") => RegistrationMode::Off,
                Some("open") => RegistrationMode::Open,
                Some("initial_access_token") => RegistrationMode::InitialAccessToken,
                Some(other) => {
                    return Err(invalid(
                        "oauth.dynamic_client_registration",
                        format!("is `{other}`, expected `off`, `open` or `initial_access_token`"),
                    ));
                }
            },
            scopes: registration_scopes(self.registration_scopes, scopes)?,
            private_use_schemes: private_use_schemes(self.registration_private_use_schemes)?,
            unused_lifetime: ttl(
                "oauth.registration_unused_lifetime_seconds",
                self.registration_unused_lifetime_seconds,
                86_400,
            )?,
        };
        let client_id_metadata = ClientIdMetadataPolicy {
            enabled: self.client_id_metadata_documents.unwrap_or(false),
            allow_loopback: self.client_id_metadata_allow_loopback.unwrap_or(false),
            blocked_hosts: blocked_hosts(self.client_id_metadata_blocked_hosts.unwrap_or_default())?,
            timeout: Duration::from_secs(within(
                "oauth.client_id_metadata_timeout_seconds",
                self.client_id_metadata_timeout_seconds.unwrap_or(5),
                1..=30,
            )?),
            max_bytes: within(
                "oauth.client_id_metadata_max_bytes",
                self.client_id_metadata_max_bytes.unwrap_or(5 * 1024),
                1024..=64 * 1024,
            )?,
            min_cache: Duration::from_secs(within(
                "oauth.client_id_metadata_min_cache_seconds",
                self.client_id_metadata_min_cache_seconds.unwrap_or(300),
                0..=86_400,
            )?),
            max_cache: Duration::from_secs(within(
                "oauth.client_id_metadata_max_cache_seconds",
                self.client_id_metadata_max_cache_seconds.unwrap_or(86_400),
                0..=604_800,
            )?),
        };
        if client_id_metadata.min_cache > client_id_metadata.max_cache {
            return Err(invalid(
                "oauth.client_id_metadata_min_cache_seconds",
                "must not exceed oauth.client_id_metadata_max_cache_seconds",
            ));
        }
        // Metadata-document clients are public clients: discovery must
        // list `none` for MCP clients to use them, and they must be able
        // to authenticate with it.
        if client_id_metadata.enabled && !methods.iter().any(|m| m == "none") {
            return Err(invalid(
                "oauth.client_id_metadata_documents",
                "needs `none` in oauth.token_endpoint_auth_methods: clients known by a metadata document are public clients",
            ));
        }
        Ok(OAuthPolicy {
            require_pkce_for_all: self.require_pkce_for_all.unwrap_or(false),
            token_endpoint_auth_methods: methods,
            registration,
            client_id_metadata,
        })
    }
}

/// The scopes OpenID Connect defines, which a registered client gets by
/// default (those of them the vocabulary has).
const OIDC_SCOPES: [&str; 4] = ["openid", "email", "profile", "offline_access"];

/// `oauth.registration_scopes`: scopes of the vocabulary, kept in its
/// order; absent, the vocabulary's OpenID Connect scopes.
fn registration_scopes(
    listed: Option<Vec<String>>,
    vocabulary: &[ScopeDefinition],
) -> Result<Vec<String>, ConfigError> {
    const KEY: &str = "oauth.registration_scopes";
    let listed = match listed {
        None => OIDC_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        Some(listed) if listed.is_empty() => {
            return Err(invalid(KEY, "must list at least one scope"));
        }
        Some(listed) => {
            let unknown = listed
                .iter()
                .find(|name| vocabulary.iter().all(|s| s.name != **name));
            if let Some(unknown) = unknown {
                return Err(invalid(
                    KEY,
                    format!("has `{unknown}`, which is not in the scope vocabulary (`scopes`)"),
                ));
            }
            listed
        }
    };
    Ok(vocabulary
        .iter()
        .filter(|s| listed.contains(&s.name))
        .map(|s| s.name.clone())
        .collect())
}

/// `oauth.registration_private_use_schemes`: scheme names (RFC 3986 §3.1)
/// or prefixes ending in `*` (`com.example.*`), lowercased.
fn private_use_schemes(listed: Option<Vec<String>>) -> Result<Vec<String>, ConfigError> {
    const KEY: &str = "oauth.registration_private_use_schemes";
    let mut schemes = Vec::new();
    for entry in listed.unwrap_or_default() {
        let lowered = entry.trim().to_ascii_lowercase();
        let name = lowered.strip_suffix('*').unwrap_or(&lowered);
        let well_formed = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !well_formed {
            return Err(invalid(
                KEY,
                format!(
                    "has `{entry}`; list URI schemes such as `cursor` or `com.example.app`, or prefixes such as `com.example.*`"
                ),
            ));
        }
        if crate::clients::redirect_uri::NEVER_PRIVATE_USE.contains(&lowered.as_str()) {
            return Err(invalid(
                KEY,
                format!("has `{entry}`, which is not a private-use scheme"),
            ));
        }
        schemes.push(lowered);
    }
    Ok(schemes)
}

/// `value` when it lies in `range`, else an error naming `key` and the range.
fn within<T: PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            key,
            format!("is {value}; it must be from {} to {}", range.start(), range.end()),
        ))
    }
}

/// Blocked hosts: each a host name (which blocks its subdomains too) or an
/// IP address, as a URL would write it; kept lowercase.
fn blocked_hosts(entries: Vec<String>) -> Result<Vec<String>, ConfigError> {
    const KEY: &str = "oauth.client_id_metadata_blocked_hosts";
    entries
        .iter()
        .map(|entry| {
            let text = entry.trim().trim_end_matches('.').to_ascii_lowercase();
            let host = url::Host::parse(&text).map_err(|_| {
                invalid(
                    KEY,
                    format!("has `{entry}`, which is not a host name or IP address (write `example.com`, not a URL)"),
                )
            })?;
            let host = host.to_string();
            if host != text || text.is_empty() {
                return Err(invalid(
                    KEY,
                    format!("has `{entry}`, which is not a host name or IP address (write `example.com`, not a URL)"),
                ));
            }
            Ok(host)
        })
        .collect()
}

impl RawRateLimits {
    fn validate(self) -> Result<RateLimits, ConfigError> {
        let trusted_proxies = self
            .trusted_proxies
            .unwrap_or_default()
            .iter()
            .map(|text| {
                text.parse().map_err(|_| {
                    invalid(
                        "rate_limits.trusted_proxies",
                        format!("has `{text}`, not an IP address"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RateLimits {
            authorize_per_minute: self.authorize_per_minute.unwrap_or(100),
            token_per_minute: self.token_per_minute.unwrap_or(60),
            userinfo_per_minute: self.userinfo_per_minute.unwrap_or(120),
            revoke_per_minute: self.revoke_per_minute.unwrap_or(60),
            register_per_minute: self.register_per_minute.unwrap_or(20),
            trusted_proxies,
        })
    }
}
