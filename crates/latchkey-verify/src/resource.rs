//! What a protected resource tells clients about itself: its RFC 9728
//! metadata document ([`ProtectedResource`]) and the RFC 6750 §3 bearer
//! challenge of its refusals ([`Challenge`]), which points to that document
//! (`resource_metadata`, RFC 9728 §5.1) — what MCP clients and other
//! agents read to find the authorization server and the scopes to ask for.
//!
//! A [`GuardError`] answers with a challenge of its own, without the
//! document's address (the guard does not know where it is published);
//! [`add_resource_metadata`], run over a router's responses, adds it to
//! every refusal the guard produced, whichever handler returned it.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, middleware, routing::get};
//! use latchkey_verify::{GuardError, ProtectedResource, add_resource_metadata};
//!
//! let resource = ProtectedResource::new("https://mcp.example.com/mcp", "https://id.example.com")
//!     .resource_name("Case assistant")
//!     .scopes_supported(["cases:read", "cases:write"]);
//! assert_eq!(
//!     resource.metadata_url(),
//!     "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
//! );
//! let document = resource.document();
//! assert_eq!(document["resource"], "https://mcp.example.com/mcp");
//! assert_eq!(document["authorization_servers"][0], "https://id.example.com");
//! assert_eq!(document["bearer_methods_supported"][0], "header");
//!
//! // A request without a token is told where the metadata is…
//! assert_eq!(
//!     resource.challenge(&GuardError::Missing).to_string(),
//!     r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#
//! );
//! // …and one lacking a scope, which scope it needs.
//! let refusal = resource.challenge(&GuardError::InsufficientScope("cases:write".into()));
//! assert!(refusal.to_string().contains(r#"scope="cases:write""#));
//!
//! // In a service: publish the document, and add `resource_metadata` to
//! // every refusal of the guarded routes.
//! let resource = Arc::new(resource);
//! let document = Arc::clone(&resource);
//! let app: Router = Router::new()
//!     .route("/mcp", get(|| async { "guarded handlers go here" }))
//!     .layer(middleware::map_response_with_state(Arc::clone(&resource), add_resource_metadata))
//!     .route(&resource.metadata_path(), get(move || async move { document.metadata_response() }));
//! # drop(app);
//! ```

use std::fmt;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::GuardError;

/// RFC 9728 §3: the well-known path segment of protected resource metadata.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// A protected resource's metadata (RFC 9728 §2): its identifier, the
/// authorization servers that issue its tokens, the scopes it knows, how
/// it takes bearer tokens (the `Authorization` header only) and a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedResource {
    resource: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    resource_name: Option<String>,
}

#[derive(Serialize)]
struct Document<'a> {
    resource: &'a str,
    authorization_servers: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    scopes_supported: &'a [String],
    bearer_methods_supported: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_name: Option<&'a str>,
}

impl ProtectedResource {
    /// A resource identified by `resource` (the URL clients send as RFC
    /// 8707 `resource` and tokens carry as `aud`), whose tokens
    /// `authorization_server` (an issuer) issues.
    pub fn new(resource: impl Into<String>, authorization_server: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: vec![authorization_server.into()],
            scopes_supported: Vec::new(),
            resource_name: None,
        }
    }

    /// Another authorization server whose tokens the resource accepts.
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The scopes clients may ask for to reach the resource.
    pub fn scopes_supported<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The name people are shown for the resource.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// The resource identifier.
    pub fn identifier(&self) -> &str {
        &self.resource
    }

    /// The identifier split into origin and path (`""` for none or `/`).
    fn origin_and_path(&self) -> (&str, &str) {
        let after_scheme = self.resource.find("://").map_or(0, |i| i + 3);
        let (origin, path) = match self.resource[after_scheme..].find(['/', '?', '#']) {
            Some(end) => self.resource.split_at(after_scheme + end),
            None => (self.resource.as_str(), ""),
        };
        (origin, if path == "/" { "" } else { path })
    }

    /// RFC 9728 §3.1: the metadata's URL, the well-known segment inserted
    /// between the identifier's host and its path —
    /// `https://h/.well-known/oauth-protected-resource/api/v1` for
    /// `https://h/api/v1`.
    pub fn metadata_url(&self) -> String {
        let (origin, path) = self.origin_and_path();
        format!("{origin}{WELL_KNOWN_PATH}{path}")
    }

    /// The path of [`metadata_url`](Self::metadata_url) on the resource's
    /// host: what a router serves the document at.
    pub fn metadata_path(&self) -> String {
        let (_, path) = self.origin_and_path();
        format!("{WELL_KNOWN_PATH}{path}")
    }

    /// The metadata document (RFC 9728 §2).
    pub fn document(&self) -> serde_json::Value {
        let document = Document {
            resource: &self.resource,
            authorization_servers: &self.authorization_servers,
            scopes_supported: &self.scopes_supported,
            bearer_methods_supported: ["header"],
            resource_name: self.resource_name.as_deref(),
        };
        serde_json::to_value(document).unwrap_or_default()
    }

    /// The document as an HTTP answer: JSON, cacheable for five minutes
    /// (RFC 9728 §3.2).
    pub fn metadata_response(&self) -> Response {
        (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            self.document().to_string(),
        )
            .into_response()
    }

    /// The challenge for a refusal of the guard, pointing to the metadata.
    pub fn challenge(&self, error: &GuardError) -> Challenge {
        error.challenge().resource_metadata(self.metadata_url())
    }
}

/// A `WWW-Authenticate: Bearer` challenge (RFC 6750 §3) with the RFC 9728
/// `resource_metadata` parameter; `Display` gives the header's value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    error: Option<(String, String)>,
    scope: Option<String>,
    resource_metadata: Option<String>,
}

impl Challenge {
    /// A bare `Bearer` challenge: what a request without a token gets.
    pub fn bearer() -> Self {
        Self::default()
    }

    /// The error code (`invalid_token`, `insufficient_scope`, …) and a
    /// description for the caller.
    pub fn error(mut self, code: impl Into<String>, description: impl Into<String>) -> Self {
        self.error = Some((code.into(), description.into()));
        self
    }

    /// The scopes the request needs (space-separated).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Where the resource's metadata document is (RFC 9728 §5.1).
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// The header value; `None` only if a part holds a character no
    /// header may carry.
    pub fn header_value(&self) -> Option<HeaderValue> {
        HeaderValue::from_str(&self.to_string()).ok()
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Quoted strings carry neither `"` nor `\` (RFC 6750 §3).
        let quoted = |text: &str| text.replace(['"', '\\'], "'");
        let mut parameters = Vec::new();
        if let Some((code, description)) = &self.error {
            parameters.push(format!("error=\"{}\"", quoted(code)));
            parameters.push(format!("error_description=\"{}\"", quoted(description)));
        }
        if let Some(scope) = &self.scope {
            parameters.push(format!("scope=\"{}\"", quoted(scope)));
        }
        if let Some(url) = &self.resource_metadata {
            parameters.push(format!("resource_metadata=\"{}\"", quoted(url)));
        }
        if parameters.is_empty() {
            f.write_str("Bearer")
        } else {
            write!(f, "Bearer {}", parameters.join(", "))
        }
    }
}

/// Run over a router's responses (`axum::middleware::map_response_with_state`):
/// a 401 or 403 that the guard produced gets its challenge again, now with
/// `resource_metadata` pointing to `resource`'s document. Other responses
/// pass unchanged.
pub async fn add_resource_metadata(
    State(resource): State<Arc<ProtectedResource>>,
    mut response: Response,
) -> Response {
    let refused = matches!(
        response.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    );
    let challenge = match response.extensions().get::<GuardError>() {
        Some(error) if refused => resource.challenge(error).header_value(),
        _ => None,
    };
    if let Some(value) = challenge {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_url_inserts_the_well_known_segment_before_the_path() {
        for (identifier, url, path) in [
            (
                "https://api.example.com",
                "https://api.example.com/.well-known/oauth-protected-resource",
                "/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/",
                "https://api.example.com/.well-known/oauth-protected-resource",
                "/.well-known/oauth-protected-resource",
            ),
            (
                "http://127.0.0.1:8080/api/v1",
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource/api/v1",
                "/.well-known/oauth-protected-resource/api/v1",
            ),
        ] {
            let resource = ProtectedResource::new(identifier, "https://id.example.com");
            assert_eq!(resource.metadata_url(), url);
            assert_eq!(resource.metadata_path(), path);
        }
    }

    #[test]
    fn the_document_has_the_rfc_9728_fields() {
        let resource = ProtectedResource::new("https://api.example.com", "https://id.example.com")
            .authorization_server("https://other.example.com")
            .scopes_supported(["a", "b"])
            .resource_name("API");
        assert_eq!(
            resource.document(),
            serde_json::json!({
                "resource": "https://api.example.com",
                "authorization_servers": ["https://id.example.com", "https://other.example.com"],
                "scopes_supported": ["a", "b"],
                "bearer_methods_supported": ["header"],
                "resource_name": "API",
            })
        );
        let bare = ProtectedResource::new("https://api.example.com", "https://id.example.com").document();
        assert!(bare.get("scopes_supported").is_none() && bare.get("resource_name").is_none());
    }

    #[test]
    fn challenges_carry_error_scope_and_metadata() {
        let resource = ProtectedResource::new("https://api.example.com", "https://id.example.com");
        let url = "https://api.example.com/.well-known/oauth-protected-resource";
        assert_eq!(
            resource.challenge(&GuardError::Missing).to_string(),
            format!("Bearer resource_metadata=\"{url}\"")
        );
        assert_eq!(
            resource
                .challenge(&GuardError::InvalidToken("the \"token\" is bad".into()))
                .to_string(),
            format!(
                "Bearer error=\"invalid_token\", error_description=\"the 'token' is bad\", resource_metadata=\"{url}\""
            )
        );
        let forbidden = resource.challenge(&GuardError::InsufficientScope("cases:write".into()));
        assert_eq!(
            forbidden.to_string(),
            format!(
                "Bearer error=\"insufficient_scope\", error_description=\"this request needs the cases:write scope\", scope=\"cases:write\", resource_metadata=\"{url}\""
            )
        );
        assert_eq!(Challenge::bearer().to_string(), "Bearer");
    }

    #[tokio::test]
    async fn the_response_mapper_adds_the_metadata_to_the_guards_refusals_only() {
        let resource = Arc::new(ProtectedResource::new(
            "https://api.example.com",
            "https://id.example.com",
        ));
        let refused =
            add_resource_metadata(State(Arc::clone(&resource)), GuardError::Missing.into_response()).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            refused.headers()[header::WWW_AUTHENTICATE],
            "Bearer resource_metadata=\"https://api.example.com/.well-known/oauth-protected-resource\""
        );
        let other = (StatusCode::UNAUTHORIZED, "not the guard's").into_response();
        let passed = add_resource_metadata(State(resource), other).await;
        assert!(passed.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
