//! Clients known by the URL of their metadata document
//! (draft-ietf-oauth-client-id-metadata-document): the rules for such a
//! `client_id` (§ "Client Identifier"), and for the JSON document it serves,
//! which becomes the client's registration — a public client (no shared
//! secret can be set up this way) whose redirect URIs, name, homepage and
//! logo come from the document. Fetching, caching and storing are
//! [`crate::oauth::client_id_metadata`]'s; this file only judges.

use serde::Deserialize;
use url::{Host, Url};

use super::redirect_uri;
use crate::config::{ClientIdMetadataPolicy, Config};
use crate::store::ClientRecord;

/// The longest `client_id` URL accepted (it is carried in every token the
/// client gets).
pub const MAX_URL_LENGTH: usize = 512;
const MAX_NAME: usize = 100;
const MAX_REDIRECT_URIS: usize = 20;
const MAX_PAGE_URL: usize = 2000;

/// Whether `client_id` is a URL (an `https://` or `http://` prefix, in any
/// case): such an id is never one Latchkey generates, so it names a
/// metadata document, well-formed or not.
pub fn is_url(client_id: &str) -> bool {
    ["https://", "http://"].iter().any(|scheme| {
        client_id
            .get(..scheme.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
    })
}

/// Where a URL client id lives, as people read it: its host, with the
/// port when it is not the scheme's default; `None` for other ids.
pub fn display_host(client_id: &str) -> Option<String> {
    if !is_url(client_id) {
        return None;
    }
    let url = Url::parse(client_id).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// A `client_id` that passed the URL rules; `as_str` is exactly the text
/// the client sent (the document's `client_id` must equal it).
#[derive(Debug, Clone)]
pub struct ClientIdUrl {
    text: String,
    url: Url,
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl ClientIdUrl {
    /// The draft's §3: `https`, a path, no dot segments, no fragment, no
    /// user name or password (a query is allowed, a port too). `http` only
    /// on a loopback host, and only when `allow_loopback` (development).
    /// The error says what is wrong, for the error page.
    pub fn parse(text: &str, allow_loopback: bool) -> Result<Self, String> {
        let fail = |problem: &str| Err(format!("client_id `{text}` {problem}"));
        if text.len() > MAX_URL_LENGTH {
            return Err(format!(
                "client_id URL is longer than {MAX_URL_LENGTH} characters"
            ));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return fail("must not contain spaces or control characters");
        }
        if text.contains('#') {
            return fail("must not contain a fragment (#)");
        }
        let Ok(url) = Url::parse(text) else {
            return fail("is not a valid URL");
        };
        if !url.username().is_empty() || url.password().is_some() {
            return fail("must not contain a user name or password");
        }
        if url.host().is_none() {
            return fail("has no host");
        }
        match url.scheme() {
            "https" => {}
            "http" if allow_loopback && is_loopback_host(&url) => {}
            _ => return fail("must use https"),
        }
        if has_dot_segment(text) {
            return fail("must not contain `.` or `..` path segments");
        }
        if url.path().is_empty() || url.path() == "/" {
            return fail("must have a path, such as https://app.example/client.json");
        }
        Ok(Self {
            text: text.to_owned(),
            url,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The host, lowercase, as configuration lists blocked hosts.
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or_default().to_owned()
    }
}

/// Whether the path of the URL `text`, as written (the parser would remove
/// them), has a `.` or `..` segment, percent-encoded or not.
fn has_dot_segment(text: &str) -> bool {
    let after_scheme = text.split_once("://").map_or(text, |(_, rest)| rest);
    let Some(path_start) = after_scheme.find('/') else {
        return false;
    };
    let path = &after_scheme[path_start..];
    let path = path.split('?').next().unwrap_or(path);
    path.split('/').any(|segment| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        decoded == "." || decoded == ".."
    })
}

/// The metadata Latchkey reads; every other field is ignored (RFC 7591
/// §2: unknown metadata is ignored), as are null values.
#[derive(Debug, Deserialize)]
struct Document {
    client_id: Option<String>,
    redirect_uris: Option<Vec<String>>,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    scope: Option<String>,
    client_secret: Option<serde_json::Value>,
    client_secret_expires_at: Option<serde_json::Value>,
}

/// The client a fetched document describes, or what is wrong with it (a
/// sentence for the error page).
pub fn client_from_document(
    config: &Config,
    url: &ClientIdUrl,
    body: &[u8],
    now: i64,
) -> Result<ClientRecord, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("is not JSON ({e})"))?;
    if !value.is_object() {
        return Err("is not a JSON object".into());
    }
    let document: Document =
        serde_path_to_error::deserialize(value).map_err(|e| format!("has a malformed field: {e}"))?;
    // § "Client Metadata Document": client_id must equal the URL, by
    // simple string comparison (RFC 3986 §6.2.1).
    match &document.client_id {
        None => return Err("has no client_id".into()),
        Some(id) if id != url.as_str() => {
            return Err(format!(
                "has client_id `{id}`, which does not equal the URL it was fetched from"
            ));
        }
        Some(_) => {}
    }
    if document.client_secret.is_some() || document.client_secret_expires_at.is_some() {
        return Err(
            "must not contain client_secret: a metadata document cannot set up a shared secret".into(),
        );
    }
    check_auth_method(document.token_endpoint_auth_method.as_deref())?;
    if let Some(grant_types) = &document.grant_types
        && !grant_types.iter().any(|g| g == "authorization_code")
    {
        return Err(
            "lists grant_types without authorization_code, the only grant such a client can use".into(),
        );
    }
    if let Some(response_types) = &document.response_types
        && !response_types.iter().any(|r| r == "code")
    {
        return Err("lists response_types without code".into());
    }
    let redirect_uris = check_redirect_uris(document.redirect_uris)?;
    let policy = &config.oauth.client_id_metadata;
    let name = match document.client_name.as_deref().map(str::trim) {
        Some(name) if name.chars().count() > MAX_NAME => {
            return Err(format!("has a client_name longer than {MAX_NAME} characters"));
        }
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => url.host(),
    };
    Ok(ClientRecord {
        client_id: url.as_str().to_owned(),
        secret_digest: None,
        name,
        description: String::new(),
        homepage_url: page_url(policy, "client_uri", document.client_uri)?,
        logo_url: page_url(policy, "logo_uri", document.logo_uri)?,
        redirect_uris,
        allowed_scopes: allowed_scopes(config, document.scope.as_deref())?,
        token_endpoint_auth_method: "none".into(),
        organization_id: None,
        grant_types: crate::oauth::grant_type::GrantType::DEFAULT.to_vec(),
        id_token_signed_response_alg: None,
        enabled: true,
        created_at: now,
        updated_at: now,
        origin: crate::store::ClientOrigin::MetadataDocument,
    })
}

/// § "Client Authentication": no method based on a shared secret; this
/// server takes public clients (`none`, PKCE) only.
fn check_auth_method(method: Option<&str>) -> Result<(), String> {
    match method {
        None | Some("none") => Ok(()),
        Some(method @ ("client_secret_basic" | "client_secret_post" | "client_secret_jwt")) => Err(format!(
            "has token_endpoint_auth_method `{method}`, which needs a shared secret a metadata document cannot set up; use `none` (a public client with PKCE)"
        )),
        Some(method) => Err(format!(
            "has token_endpoint_auth_method `{method}`, which this server does not accept for such clients; use `none` (a public client with PKCE)"
        )),
    }
}

/// § "Redirect URL Registration": the document's redirect URIs are the
/// registered ones, under the rules of every other client.
fn check_redirect_uris(uris: Option<Vec<String>>) -> Result<Vec<String>, String> {
    let uris = uris.unwrap_or_default();
    if uris.is_empty() {
        return Err("has no redirect_uris; it must list at least one".into());
    }
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(format!("lists more than {MAX_REDIRECT_URIS} redirect_uris"));
    }
    let mut seen = std::collections::HashSet::new();
    for uri in &uris {
        redirect_uri::validate(uri).map_err(|e| format!("has an invalid redirect_uris entry: {e}"))?;
        if !seen.insert(uri.as_str()) {
            return Err(format!("lists redirect URI `{uri}` twice"));
        }
    }
    Ok(uris)
}

/// `client_uri` and `logo_uri`, shown on the consent page: https only (a
/// logo's address is fetched by the user's browser), or http on a loopback
/// host when loopback documents are allowed.
fn page_url(
    policy: &ClientIdMetadataPolicy,
    field: &str,
    value: Option<String>,
) -> Result<Option<String>, String> {
    let Some(text) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let url = Url::parse(&text)
        .ok()
        .filter(|_| text.len() <= MAX_PAGE_URL && !text.chars().any(char::is_whitespace));
    let allowed = url.as_ref().is_some_and(|url| {
        url.username().is_empty()
            && url.password().is_none()
            && url.host().is_some()
            && match url.scheme() {
                "https" => true,
                "http" => policy.allow_loopback && is_loopback_host(url),
                _ => false,
            }
    });
    if allowed {
        Ok(Some(text))
    } else {
        Err(format!("has {field} `{text}`, which is not an https URL"))
    }
}

/// The scopes such a client may ask for: the vocabulary's scopes that
/// need no operator approval (not `sensitive`), narrowed to the
/// document's `scope` when it has one (names this server does not know
/// are ignored).
fn allowed_scopes(config: &Config, scope: Option<&str>) -> Result<Vec<String>, String> {
    let offered = config.scopes.iter().filter(|s| !s.sensitive);
    let allowed: Vec<String> = match scope {
        None => offered.map(|s| s.name.clone()).collect(),
        Some(scope) => {
            let asked: Vec<&str> = scope.split_whitespace().collect();
            offered
                .filter(|s| asked.contains(&s.name.as_str()))
                .map(|s| s.name.clone())
                .collect()
        }
    };
    if allowed.is_empty() {
        let names: Vec<&str> = config
            .scopes
            .iter()
            .filter(|s| !s.sensitive)
            .map(|s| s.name.as_str())
            .collect();
        return Err(format!(
            "has a scope naming none of the scopes this server offers such clients ({})",
            names.join(" ")
        ));
    }
    Ok(allowed)
}

/// How long a fetched document is used before it is fetched again: its
/// `Cache-Control` freshness (none when it says nothing), within the
/// configured bounds (§ "Metadata Caching").
pub fn cache_lifetime(policy: &ClientIdMetadataPolicy, max_age: Option<u64>) -> i64 {
    let seconds = max_age
        .unwrap_or(0)
        .clamp(policy.min_cache.as_secs(), policy.max_cache.as_secs());
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const URL: &str = "https://agent.example/oauth/client.json";

    fn config() -> Config {
        Config::default_config().unwrap()
    }

    fn parse(text: &str) -> Result<ClientIdUrl, String> {
        ClientIdUrl::parse(text, false)
    }

    fn judge(document: serde_json::Value) -> Result<ClientRecord, String> {
        let url = parse(URL).unwrap();
        client_from_document(&config(), &url, document.to_string().as_bytes(), 1000)
    }

    fn minimal() -> serde_json::Value {
        json!({"client_id": URL, "redirect_uris": ["https://agent.example/callback"]})
    }

    #[test]
    fn url_ids_are_told_from_generated_ones() {
        assert!(is_url(URL));
        assert!(is_url("HTTPS://agent.example/x"));
        assert!(is_url("http://127.0.0.1:8080/x"));
        assert!(!is_url("client_abc"));
        assert!(!is_url("https:/x"));
        assert!(!is_url(""));
        assert_eq!(display_host(URL).as_deref(), Some("agent.example"));
        assert_eq!(
            display_host("http://127.0.0.1:8080/c.json").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(display_host("client_abc"), None);
    }

    #[test]
    fn client_id_urls_follow_the_drafts_rules() {
        for good in [
            URL,
            "https://agent.example/c",
            "https://agent.example:8443/c.json",
            "https://agent.example/c.json?v=2",
            "https://agent.example/a.b/c..d/...",
        ] {
            assert!(parse(good).is_ok(), "{good}");
        }
        for (bad, problem) in [
            ("http://agent.example/c.json", "https"),
            ("ftp://agent.example/c.json", "https"),
            ("https://agent.example", "path"),
            ("https://agent.example/", "path"),
            ("https://agent.example/?x=1", "path"),
            ("https://agent.example/c.json#x", "fragment"),
            ("https://user:pw@agent.example/c.json", "user name"),
            ("https://user@agent.example/c.json", "user name"),
            ("https://agent.example/a/../c.json", "`..`"),
            ("https://agent.example/./c.json", "`.`"),
            ("https://agent.example/a/%2e%2E/c.json", "`..`"),
            ("https://agent.example/a/.", "`.`"),
            ("https://agent.example/c json", "spaces"),
            ("https://", "valid URL"),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(problem), "{bad}: {error}");
        }
        let long = format!("https://agent.example/{}", "a".repeat(MAX_URL_LENGTH));
        assert!(parse(&long).unwrap_err().contains("longer"));
    }

    #[test]
    fn plain_http_only_on_loopback_and_only_when_allowed() {
        for loopback in [
            "http://127.0.0.1:9000/c.json",
            "http://localhost:9000/c.json",
            "http://[::1]:9000/c.json",
        ] {
            assert!(ClientIdUrl::parse(loopback, true).is_ok(), "{loopback}");
            assert!(ClientIdUrl::parse(loopback, false).unwrap_err().contains("https"));
        }
        assert!(ClientIdUrl::parse("http://agent.example/c.json", true).is_err());
        assert!(ClientIdUrl::parse("http://10.0.0.1/c.json", true).is_err());
    }

    #[test]
    fn a_minimal_document_is_a_public_client_named_by_its_host() {
        let client = judge(minimal()).unwrap();
        assert_eq!(client.client_id, URL);
        assert_eq!(client.name, "agent.example");
        assert_eq!(client.token_endpoint_auth_method, "none");
        assert!(client.secret_digest.is_none());
        assert_eq!(client.redirect_uris, ["https://agent.example/callback"]);
        assert!(client.allowed_scopes.contains(&"openid".to_owned()));
        assert!(client.enabled);
    }

    #[test]
    fn display_metadata_and_scope_come_from_the_document_and_unknown_fields_are_ignored() {
        let mut document = minimal();
        document["client_name"] = json!("  Agent  ");
        document["client_uri"] = json!("https://agent.example");
        document["logo_uri"] = json!("https://agent.example/logo.png");
        document["scope"] = json!("openid email nonsense");
        document["software_statement_extra"] = json!({"anything": [1, 2]});
        document["tos_uri"] = json!(42);
        document["jwks"] = json!(null);
        document["token_endpoint_auth_method"] = json!("none");
        document["grant_types"] = json!(["authorization_code", "refresh_token"]);
        document["response_types"] = json!(["code"]);
        let client = judge(document).unwrap();
        assert_eq!(client.name, "Agent");
        assert_eq!(client.homepage_url.as_deref(), Some("https://agent.example"));
        assert_eq!(client.logo_url.as_deref(), Some("https://agent.example/logo.png"));
        assert_eq!(client.allowed_scopes, ["openid", "email"]);
    }

    #[test]
    fn bad_documents_are_refused_saying_why() {
        // (field, its new value or None to remove it, what the refusal says)
        let cases: Vec<(&str, Option<serde_json::Value>, &str)> = vec![
            (
                "client_id",
                Some(json!("https://other.example/c.json")),
                "does not equal",
            ),
            ("client_id", Some(json!(format!("{URL}/"))), "does not equal"),
            ("client_id", None, "no client_id"),
            ("redirect_uris", None, "no redirect_uris"),
            ("redirect_uris", Some(json!([])), "no redirect_uris"),
            (
                "redirect_uris",
                Some(json!("https://agent.example/cb")),
                "redirect_uris",
            ),
            ("redirect_uris", Some(json!(["http://agent.example/cb"])), "https"),
            (
                "redirect_uris",
                Some(json!(["https://agent.example/cb#x"])),
                "fragment",
            ),
            (
                "redirect_uris",
                Some(json!(["https://a.example/cb", "https://a.example/cb"])),
                "twice",
            ),
            (
                "token_endpoint_auth_method",
                Some(json!("client_secret_basic")),
                "shared secret",
            ),
            (
                "token_endpoint_auth_method",
                Some(json!("client_secret_jwt")),
                "shared secret",
            ),
            (
                "token_endpoint_auth_method",
                Some(json!("private_key_jwt")),
                "`none`",
            ),
            ("client_secret", Some(json!("s3cret")), "client_secret"),
            (
                "grant_types",
                Some(json!(["client_credentials"])),
                "authorization_code",
            ),
            ("response_types", Some(json!(["token"])), "code"),
            ("client_name", Some(json!("x".repeat(101))), "longer"),
            ("client_name", Some(json!(7)), "client_name"),
            (
                "logo_uri",
                Some(json!("http://agent.example/logo.png")),
                "logo_uri",
            ),
            ("logo_uri", Some(json!("javascript:alert(1)")), "logo_uri"),
            ("logo_uri", Some(json!("data:image/png;base64,AAAA")), "logo_uri"),
            ("client_uri", Some(json!("http://agent.example")), "client_uri"),
            ("scope", Some(json!("nonsense")), "scope"),
        ];
        for (field, value, problem) in cases {
            let mut document = minimal();
            match value {
                Some(value) => document[field] = value,
                None => {
                    document.as_object_mut().unwrap().remove(field);
                }
            }
            let error = judge(document.clone()).unwrap_err();
            assert!(error.contains(problem), "{document}: {error}");
        }
        let url = parse(URL).unwrap();
        for (body, problem) in [
            (&b"<html>hello</html>"[..], "not JSON"),
            (&b"[1, 2]"[..], "not a JSON object"),
            (&b"\"text\""[..], "not a JSON object"),
            (&b""[..], "not JSON"),
        ] {
            let error = client_from_document(&config(), &url, body, 0).unwrap_err();
            assert!(error.contains(problem), "{error}");
        }
    }

    #[test]
    fn sensitive_scopes_are_not_offered() {
        let text = "[[scopes]]\nname = \"openid\"\ndescription = \"a\"\n[[scopes]]\nname = \"write\"\ndescription = \"b\"\nsensitive = true";
        let raw: crate::config::RawConfig = figment::Figment::new()
            .merge(<figment::providers::Toml as figment::providers::Format>::string(
                text,
            ))
            .extract()
            .unwrap();
        let config = raw.validate().unwrap();
        let url = parse(URL).unwrap();
        let body = minimal().to_string();
        let client = client_from_document(&config, &url, body.as_bytes(), 0).unwrap();
        assert_eq!(client.allowed_scopes, ["openid"]);
        let mut only_sensitive = minimal();
        only_sensitive["scope"] = json!("write");
        let body = only_sensitive.to_string();
        assert!(client_from_document(&config, &url, body.as_bytes(), 0).is_err());
    }

    #[test]
    fn the_cache_lifetime_is_the_documents_within_the_bounds() {
        let policy = config().oauth.client_id_metadata;
        assert_eq!(cache_lifetime(&policy, None), 300);
        assert_eq!(cache_lifetime(&policy, Some(0)), 300);
        assert_eq!(cache_lifetime(&policy, Some(3600)), 3600);
        assert_eq!(cache_lifetime(&policy, Some(10_000_000)), 86_400);
    }
}
