//! The one outbound HTTP client: Latchkey fetches client metadata
//! documents (draft-ietf-oauth-client-id-metadata-document) and the
//! delegated sign-in's JWKS (`login.delegate_jwks_url`), nothing else. A fetch is one HTTP/1.1 GET (hyper's client, one connection per
//! fetch) bounded in time (resolution, connection, TLS, headers and body
//! together) and in size (the body is read until it passes the limit, then
//! refused); it follows no redirect and uses no proxy; the host is resolved
//! here and every address it resolves to must be public ([`address`]), and
//! the connection goes to one of those checked addresses — the name is not
//! resolved a second time, so DNS rebinding cannot slip a private address
//! in. TLS is rustls on the aws-lc-rs provider (already used for signing)
//! with the Mozilla root store built in (webpki-roots), so the binary needs
//! no system certificate store and nothing process-wide is configured. How many fetches run at once, and caching,
//! are the caller's ([`crate::oauth::client_id_metadata`]).

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Body as _;
use hyper::header::{ACCEPT, CACHE_CONTROL, HOST, HeaderMap, USER_AGENT};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use url::{Host, Url};

pub mod address;

/// The bounds of one fetch.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// The whole fetch: resolution, connection, TLS, headers and body.
    pub timeout: Duration,
    /// The largest body accepted, in bytes.
    pub max_bytes: usize,
    /// Whether loopback addresses may be reached (development and tests).
    pub allow_loopback: bool,
}

/// A fetched `200 OK` body and what its `Cache-Control` allows.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// `max-age` in seconds; `Some(0)` for `no-store` or `no-cache`;
    /// `None` when the answer says nothing.
    pub max_age: Option<u64>,
}

/// Why a fetch failed, in words for an error description (no internal
/// detail: the text may reach the person who started the request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("its host `{host}` resolves to {address}, {kind}; only public addresses are fetched")]
    ForbiddenAddress {
        host: String,
        address: IpAddr,
        kind: &'static str,
    },
    #[error("its host `{0}` could not be resolved")]
    Unresolved(String),
    #[error("its host could not be connected to")]
    Unreachable,
    #[error("its TLS connection failed (a certificate not valid for the host, or no common protocol)")]
    Tls,
    #[error("the HTTP exchange failed")]
    Protocol,
    #[error("it did not answer within the {0}-second limit")]
    Timeout(u64),
    #[error("it answered with a redirect (HTTP {0}); redirects are not followed")]
    Redirect(u16),
    #[error("it answered HTTP {0}; a document must be served with 200 OK")]
    Status(u16),
    #[error("it is larger than {0} bytes")]
    TooLarge(usize),
}

/// Aborts the spawned connection task when the fetch is done or dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The outbound client.
#[derive(Clone)]
pub struct Fetcher {
    tls: tokio_rustls::TlsConnector,
    limits: FetchLimits,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    pub fn new(limits: FetchLimits) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            limits,
        })
    }

    pub fn limits(&self) -> FetchLimits {
        self.limits
    }

    /// GETs `url` (http or https) asking for JSON, within the limits. The
    /// URL's scheme and shape are the caller's to check; its addresses are
    /// checked here.
    pub async fn get_json(&self, url: &Url) -> Result<Fetched, FetchError> {
        let seconds = self.limits.timeout.as_secs().max(1);
        tokio::time::timeout(self.limits.timeout, self.fetch(url))
            .await
            .unwrap_or(Err(FetchError::Timeout(seconds)))
    }

    async fn fetch(&self, url: &Url) -> Result<Fetched, FetchError> {
        let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
            return Err(FetchError::Unreachable);
        };
        let addresses = self.resolve(&host, port).await?;
        let tcp = connect(&addresses).await?;
        if url.scheme() == "https" {
            let name = match host {
                Host::Domain(domain) => {
                    ServerName::try_from(domain.to_owned()).map_err(|_| FetchError::Tls)?
                }
                Host::Ipv4(ip) => ServerName::from(IpAddr::V4(ip)),
                Host::Ipv6(ip) => ServerName::from(IpAddr::V6(ip)),
            };
            let stream = self.tls.connect(name, tcp).await.map_err(|_| FetchError::Tls)?;
            self.exchange(TokioIo::new(stream), url).await
        } else {
            self.exchange(TokioIo::new(tcp), url).await
        }
    }

    /// The addresses of `host`, every one of them a public address (or a
    /// loopback one, when allowed); an address in the URL is not resolved.
    async fn resolve(&self, host: &Host<&str>, port: u16) -> Result<Vec<SocketAddr>, FetchError> {
        let (name, addresses) = match host {
            Host::Ipv4(ip) => (ip.to_string(), vec![SocketAddr::new(IpAddr::V4(*ip), port)]),
            Host::Ipv6(ip) => (ip.to_string(), vec![SocketAddr::new(IpAddr::V6(*ip), port)]),
            Host::Domain(domain) => {
                let found = tokio::net::lookup_host((*domain, port))
                    .await
                    .map_err(|_| FetchError::Unresolved((*domain).to_owned()))?;
                ((*domain).to_owned(), found.collect())
            }
        };
        if addresses.is_empty() {
            return Err(FetchError::Unresolved(name));
        }
        for address in &addresses {
            if let Some(kind) = address::refusal(address.ip(), self.limits.allow_loopback) {
                return Err(FetchError::ForbiddenAddress {
                    host: name,
                    address: address.ip(),
                    kind,
                });
            }
        }
        Ok(addresses)
    }

    /// One HTTP/1.1 GET on an open connection: no redirect followed, the
    /// body read until it passes the limit.
    async fn exchange<T>(&self, io: T, url: &Url) -> Result<Fetched, FetchError>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, String>(io)
            .await
            .map_err(|_| FetchError::Protocol)?;
        let _connection = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let authority = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(FetchError::Unreachable),
        };
        let request = hyper::Request::get(&url[url::Position::BeforePath..url::Position::AfterQuery])
            .header(HOST, authority)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("Latchkey/", env!("CARGO_PKG_VERSION")))
            .body(String::new())
            .map_err(|_| FetchError::Protocol)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|_| FetchError::Protocol)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect(status.as_u16()));
        }
        if status != hyper::StatusCode::OK {
            return Err(FetchError::Status(status.as_u16()));
        }
        let max = self.limits.max_bytes;
        let max_age = max_age(response.headers());
        let mut body = response.into_body();
        // A declared length over the limit is refused before reading.
        if body.size_hint().lower() > max as u64 {
            return Err(FetchError::TooLarge(max));
        }
        let mut bytes = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let frame = frame.map_err(|_| FetchError::Protocol)?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > max {
                    return Err(FetchError::TooLarge(max));
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(Fetched { body: bytes, max_age })
    }
}

/// A connection to the first of `addresses` that answers.
async fn connect(addresses: &[SocketAddr]) -> Result<tokio::net::TcpStream, FetchError> {
    for address in addresses {
        if let Ok(stream) = tokio::net::TcpStream::connect(address).await {
            return Ok(stream);
        }
    }
    Err(FetchError::Unreachable)
}

/// RFC 9111 §5.2.2: the response's freshness from `Cache-Control`:
/// `no-store` and `no-cache` mean none; otherwise `max-age`.
fn max_age(headers: &HeaderMap) -> Option<u64> {
    let mut max_age = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { continue };
        for directive in text.split(',').map(str::trim) {
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(0);
            }
            if name.eq_ignore_ascii_case("max-age") {
                max_age = argument
                    .and_then(|seconds| seconds.parse::<u64>().ok())
                    .or(Some(0));
            }
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;

    use super::*;

    fn cache_control(values: &[&str]) -> Option<u64> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        }
        max_age(&headers)
    }

    #[test]
    fn cache_control_gives_the_freshness() {
        assert_eq!(cache_control(&[]), None);
        assert_eq!(cache_control(&["max-age=3600"]), Some(3600));
        assert_eq!(
            cache_control(&["public, max-age=600, must-revalidate"]),
            Some(600)
        );
        assert_eq!(cache_control(&["Max-Age=\"60\""]), Some(60));
        assert_eq!(cache_control(&["max-age=600", "no-cache"]), Some(0));
        assert_eq!(cache_control(&["no-store, max-age=600"]), Some(0));
        assert_eq!(cache_control(&["max-age=soon"]), Some(0));
        assert_eq!(cache_control(&["public"]), None);
    }
}
