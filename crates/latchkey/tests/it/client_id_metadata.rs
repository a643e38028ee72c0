//! Clients known by the URL of their metadata document
//! (draft-ietf-oauth-client-id-metadata-document), against a local document
//! server on 127.0.0.1 (with `oauth.client_id_metadata_allow_loopback`):
//! the code flow with PKCE driven by `openidconnect` with the URL as client
//! id, refresh, Connected Apps; every refusal shown on the error page with
//! nothing stored; HTTP caching and the token endpoint's refetch; shared
//! and remembered fetches; the feature off; discovery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Options, TestApp};
use crate::relying_party::{http_client, jwt_claims};
use crate::user_agent::{ALICE, UserAgent, query_of};

backend_tests!(
    a_client_known_by_its_document_completes_the_code_flow_and_shows_in_connected_apps,
    bad_documents_and_addresses_are_refused_on_the_error_page_and_nothing_is_stored,
    a_redirect_uri_the_document_does_not_list_is_refused_and_nothing_is_stored,
    a_document_within_its_max_age_is_not_fetched_again,
    an_expired_document_is_fetched_again_at_the_token_endpoint,
    concurrent_requests_share_one_fetch_and_a_refusal_is_remembered,
    metadata_document_clients_must_use_s256,
);

pub const REDIRECT_URI: &str = "http://localhost:3000/callback";

/// What the document server answers on a path.
#[derive(Clone)]
pub enum Serve {
    /// 200 with this JSON and `Cache-Control` (if any).
    Json(Value, Option<&'static str>),
    /// Any status, content type and body.
    Raw(u16, &'static str, Vec<u8>),
    /// A redirect to another path of this server.
    Redirect(String),
    /// A good answer, after this long.
    Slow(Duration, Value),
}

type Routes = Arc<Mutex<HashMap<String, Serve>>>;
type Hits = Arc<Mutex<HashMap<String, usize>>>;

/// A tiny HTTP server on 127.0.0.1 serving metadata documents, counting
/// the requests each path gets.
pub struct DocumentServer {
    pub base: String,
    routes: Routes,
    hits: Hits,
    accepts: Arc<Mutex<Vec<String>>>,
}

impl DocumentServer {
    pub async fn start() -> Self {
        let routes: Routes = Arc::default();
        let hits: Hits = Arc::default();
        let accepts: Arc<Mutex<Vec<String>>> = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback({
            let (routes, hits, accepts) = (routes.clone(), hits.clone(), accepts.clone());
            move |uri: Uri, headers: HeaderMap| {
                let (routes, hits, accepts) = (routes.clone(), hits.clone(), accepts.clone());
                async move { answer(&routes, &hits, &accepts, uri, headers).await }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base,
            routes,
            hits,
            accepts,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn serve(&self, path: &str, what: Serve) {
        self.routes.lock().unwrap().insert(path.to_owned(), what);
    }

    /// Serves a good document for `path` (its `client_id` its own URL),
    /// with `Cache-Control: max-age=3600`; returns the URL.
    pub fn serve_document(&self, path: &str, extra: Value) -> String {
        let url = self.url(path);
        let mut document = json!({
            "client_id": url,
            "client_name": "Test Agent",
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
        });
        for (key, value) in extra.as_object().unwrap() {
            document[key] = value.clone();
        }
        self.serve(path, Serve::Json(document, Some("max-age=3600")));
        url
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// The `Accept` headers requests came with.
    pub fn accepts(&self) -> Vec<String> {
        self.accepts.lock().unwrap().clone()
    }
}

async fn answer(
    routes: &Routes,
    hits: &Hits,
    accepts: &Mutex<Vec<String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_owned();
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    if let Some(accept) = headers.get(header::ACCEPT) {
        accepts.lock().unwrap().push(accept.to_str().unwrap().to_owned());
    }
    let served = routes.lock().unwrap().get(&path).cloned();
    match served {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(Serve::Json(body, cache_control)) => {
            let mut response = axum::Json(body).into_response();
            if let Some(value) = cache_control {
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, value.parse().unwrap());
            }
            response
        }
        Some(Serve::Raw(status, content_type, body)) => (
            StatusCode::from_u16(status).unwrap(),
            [(header::CONTENT_TYPE, content_type)],
            body,
        )
            .into_response(),
        Some(Serve::Redirect(to)) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        Some(Serve::Slow(delay, body)) => {
            tokio::time::sleep(delay).await;
            axum::Json(body).into_response()
        }
    }
}

/// A server that answers 200 with a chunked body (no `Content-Length`)
/// that never ends within the limit: `size` bytes of JSON-looking text.
async fn chunked_server(size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head =
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                let mut sent = 0;
                while sent < size {
                    let frame = format!("{:x}\r\n", chunk.len());
                    if socket.write_all(frame.as_bytes()).await.is_err()
                        || socket.write_all(&chunk).await.is_err()
                        || socket.write_all(b"\r\n").await.is_err()
                    {
                        return;
                    }
                    sent += chunk.len();
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    base
}

/// Options with metadata documents on and loopback allowed, then `tweak`.
pub fn cimd_options(tweak: impl FnOnce(&mut latchkey::config::RawConfig) + Send + 'static) -> Options {
    Options {
        tweak: Some(Box::new(move |raw| {
            raw.oauth.client_id_metadata_documents = Some(true);
            raw.oauth.client_id_metadata_allow_loopback = Some(true);
            tweak(raw);
        })),
        ..Options::default()
    }
}

/// An authorization URL for `client_id` with PKCE S256.
pub fn authorization_url(app: &TestApp, client_id: &str) -> String {
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let mut url = url::Url::parse(&app.url(&app.state.config.paths.authorize)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid email")
        .append_pair("state", "s1")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

/// An HTTP client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Asserts the authorization request for `client_id` is refused on the
/// error page (never redirected) with a description containing `problem`,
/// and that no client with that id exists afterwards.
async fn assert_refused(app: &TestApp, client_id: &str, problem: &str) {
    let response = no_redirects()
        .get(authorization_url(app, client_id))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert!(
        response.headers().get(header::LOCATION).is_none(),
        "{client_id}: redirected"
    );
    let body = crate::user_agent::unescape(&response.text().await.unwrap());
    assert_eq!(status, 400, "{client_id}: {body}");
    assert!(
        body.contains(problem),
        "{client_id}: expected {problem:?} in {body}"
    );
    assert_nothing_stored(app, client_id).await;
}

async fn assert_nothing_stored(app: &TestApp, client_id: &str) {
    assert_eq!(
        app.state.store.find_client(client_id).await.unwrap(),
        None,
        "{client_id} was stored"
    );
    let (status, listing) = app.admin(reqwest::Method::GET, "/oauth-clients", None).await;
    assert_eq!(status, 200);
    assert!(
        !listing.to_string().contains(client_id),
        "{client_id} is listed: {listing}"
    );
}

async fn a_client_known_by_its_document_completes_the_code_flow_and_shows_in_connected_apps(
    backend: Backend,
) {
    let documents = DocumentServer::start().await;
    let client_id = documents.serve_document(
        "/agent/client.json",
        json!({
            "client_uri": documents.url("/"),
            "logo_uri": documents.url("/logo.svg"),
            "grant_types": ["authorization_code", "refresh_token"],
            "software_id": "ignored-unknown-field",
        }),
    );
    let app = TestApp::spawn_with(backend, cimd_options(|_| {})).await;
    app.seed_demo().await;

    let issuer = IssuerUrl::new(app.state.config.issuer.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http_client)
        .await
        .unwrap();
    let (_, discovery) = app.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(discovery["client_id_metadata_document_supported"], true);
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.clone()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).unwrap())
        .set_auth_type(AuthType::RequestBody);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The consent screen: the document's name, homepage and logo, where it
    // describes itself, where the answer goes, and the warning.
    let mut agent = UserAgent::new(&app.base_url);
    let first = agent.get(url.as_str()).await;
    let login = agent.follow(first).await;
    let signed_in = agent.sign_in(&login, ALICE.0, ALICE.1).await;
    let consent = agent.follow(signed_in).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    let shown = crate::user_agent::unescape(&consent.body);
    let host = client_id.trim_start_matches("http://").split('/').next().unwrap();
    assert!(shown.contains("<h1>Test Agent</h1>"), "{shown}");
    assert!(shown.contains("Latchkey has not verified this app"), "{shown}");
    assert!(
        shown.contains(&format!("<strong>{host}</strong> says about itself")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("src=\"{}\"", documents.url("/logo.svg"))),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("href=\"{}\"", documents.url("/"))),
        "{shown}"
    );
    assert!(
        shown.contains("You will be sent to <strong>localhost:3000</strong>"),
        "{shown}"
    );

    let done = agent.consent(&consent, "approve", None).await;
    let location = done.location.expect("redirected back to the client");
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let query = query_of(&location);
    assert_eq!(query["state"], *csrf.secret());
    assert_eq!(query["iss"], app.state.config.issuer);

    // The token endpoint: `none` + the PKCE verifier.
    let tokens = client
        .exchange_code(AuthorizationCode::new(query["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http_client)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token for openid");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token verifies, its audience the URL");
    assert_eq!(claims.audiences()[0].as_str(), client_id);
    let access = jwt_claims(tokens.access_token().secret());
    assert_eq!(access["client_id"], client_id.as_str());
    assert_eq!(app.userinfo_status(tokens.access_token().secret()).await, 200);

    // Refresh, as for any public client: rotated.
    let refresh_token = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed = client
        .exchange_refresh_token(&refresh_token)
        .unwrap()
        .request_async(&http_client)
        .await
        .expect("the refresh token works");
    assert_ne!(
        refreshed.refresh_token().map(|t| t.secret()),
        Some(refresh_token.secret())
    );
    assert_eq!(
        documents.hits("/agent/client.json"),
        1,
        "fetched once: the authorization, consent and tokens used the stored copy"
    );
    assert!(
        documents.accepts().iter().all(|a| a == "application/json"),
        "{:?}",
        documents.accepts()
    );

    // Stored as a public client named by the document.
    let stored = app.state.store.find_client(&client_id).await.unwrap().unwrap();
    assert_eq!(stored.name, "Test Agent");
    assert_eq!(stored.token_endpoint_auth_method, "none");
    assert!(stored.secret_digest.is_none());
    assert_eq!(stored.redirect_uris, [REDIRECT_URI]);

    // Connected Apps shows it with its name and host, and revokes it.
    let page = agent.get("/settings/connected-apps").await;
    let shown = crate::user_agent::unescape(&page.body);
    assert!(shown.contains("Test Agent"), "{shown}");
    assert!(shown.contains(&format!("({host})")), "{shown}");
    let form = crate::user_agent::form_inputs(&page.body, "/settings/connected-apps/revoke");
    let revoked = agent.post_form("/settings/connected-apps/revoke", &form).await;
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    assert_eq!(app.userinfo_status(refreshed.access_token().secret()).await, 401);
}

async fn bad_documents_and_addresses_are_refused_on_the_error_page_and_nothing_is_stored(backend: Backend) {
    let documents = DocumentServer::start().await;
    let chunked = chunked_server(10 * 1024 * 1024).await;
    let app = TestApp::spawn_with(
        backend,
        cimd_options(|raw| {
            raw.oauth.client_id_metadata_timeout_seconds = Some(1);
            raw.oauth.client_id_metadata_blocked_hosts = Some(vec!["localhost".into()]);
        }),
    )
    .await;

    let mismatched = documents.url("/mismatched.json");
    documents.serve(
        "/mismatched.json",
        Serve::Json(
            json!({"client_id": documents.url("/other.json"), "redirect_uris": [REDIRECT_URI]}),
            None,
        ),
    );
    let huge = documents.url("/huge.json");
    documents.serve(
        "/huge.json",
        Serve::Raw(200, "application/json", vec![b' '; 10 * 1024 * 1024]),
    );
    let slow = documents.url("/slow.json");
    documents.serve(
        "/slow.json",
        Serve::Slow(
            Duration::from_secs(30),
            json!({"client_id": slow, "redirect_uris": [REDIRECT_URI]}),
        ),
    );
    let html = documents.url("/page.html");
    documents.serve(
        "/page.html",
        Serve::Raw(200, "text/html", b"<html><body>hello</body></html>".to_vec()),
    );
    let moved = documents.url("/moved.json");
    let target = documents.serve_document("/target.json", json!({}));
    documents.serve("/moved.json", Serve::Redirect(target.clone()));
    let missing = documents.url("/missing.json");
    let keyed = documents.serve_document(
        "/keyed.json",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": documents.url("/jwks.json")}),
    );
    let secret = documents.serve_document(
        "/secret.json",
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    );
    let port = documents.base.rsplit(':').next().unwrap().to_owned();

    let started = Instant::now();
    assert_refused(&app, &slow, "did not answer within the 1-second limit").await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the slow document took {:?}",
        started.elapsed()
    );
    for (client_id, problem) in [
        (
            mismatched.as_str(),
            "which does not equal the URL it was fetched from",
        ),
        (huge.as_str(), "is larger than 5120 bytes"),
        (&format!("{chunked}/stream.json"), "is larger than 5120 bytes"),
        (html.as_str(), "is not JSON"),
        (
            moved.as_str(),
            "answered with a redirect (HTTP 302); redirects are not followed",
        ),
        (missing.as_str(), "answered HTTP 404"),
        (keyed.as_str(), "token_endpoint_auth_method `private_key_jwt`"),
        (secret.as_str(), "needs a shared secret"),
        ("https://10.0.0.1/client.json", "10.0.0.1, a private address"),
        (
            "https://169.254.169.254/latest/meta-data",
            "169.254.169.254, a link-local address",
        ),
        ("https://[fd00::1]/client.json", "fd00::1, a unique-local address"),
        ("https://[::ffff:192.168.0.1]/client.json", "a private address"),
        ("https://100.64.0.1/client.json", "carrier-grade NAT"),
        (
            &format!("http://localhost:{port}/target.json"),
            "client_id host `localhost` is blocked",
        ),
        (
            &format!("https://127.0.0.1:{port}/target.json"),
            "its TLS connection failed",
        ),
        ("http://example.com/client.json", "must use https"),
        ("https://example.com", "must have a path"),
        (
            "https://example.com/a/../client.json",
            "must not contain `.` or `..` path segments",
        ),
        (
            "https://user:pw@example.com/client.json",
            "must not contain a user name or password",
        ),
        (
            "https://example.com/client.json#frag",
            "must not contain a fragment",
        ),
    ] {
        assert_refused(&app, client_id, problem).await;
    }
    assert_eq!(documents.hits("/target.json"), 0, "the redirect was not followed");

    // The error page says what happened in words, naming the host.
    let page = app
        .http
        .get(authorization_url(&app, &mismatched))
        .send()
        .await
        .unwrap();
    let body = crate::user_agent::unescape(&page.text().await.unwrap());
    assert!(body.contains("This app could not be verified"), "{body}");
    assert!(body.contains(&format!("at 127.0.0.1:{port}")), "{body}");
    assert!(body.contains("invalid_client"), "{body}");

    // Loopback off: plain http is refused by the https rule, and a host
    // name resolving to loopback is refused before any connection.
    let strict = TestApp::spawn_with(
        backend,
        Options {
            tweak: Some(Box::new(|raw| {
                raw.oauth.client_id_metadata_documents = Some(true)
            })),
            ..Options::default()
        },
    )
    .await;
    let before = documents.hits("/target.json");
    assert_refused(&strict, &target, "must use https").await;
    assert_refused(
        &strict,
        &format!("https://localhost:{port}/target.json"),
        "resolves to",
    )
    .await;
    assert_refused(
        &strict,
        "https://127.0.0.1/client.json",
        "127.0.0.1, a loopback address",
    )
    .await;
    assert_eq!(documents.hits("/target.json"), before, "nothing was fetched");
}

async fn a_redirect_uri_the_document_does_not_list_is_refused_and_nothing_is_stored(backend: Backend) {
    let documents = DocumentServer::start().await;
    let client_id = documents.serve_document(
        "/two.json",
        json!({"redirect_uris": [REDIRECT_URI, "http://localhost:3000/other"]}),
    );
    let app = TestApp::spawn_with(backend, cimd_options(|_| {})).await;
    let mut url = url::Url::parse(&authorization_url(&app, &client_id)).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "redirect_uri" {
                (k, "https://attacker.example/cb".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(&pairs);
    let response = no_redirects().get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get(header::LOCATION).is_none());
    let body = crate::user_agent::unescape(&response.text().await.unwrap());
    assert!(
        body.contains("redirect_uri is not registered for this client: it is not among the redirect_uris of the client's metadata document"),
        "{body}"
    );
    assert_nothing_stored(&app, &client_id).await;

    // Omitted while the document lists two: refused as well.
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "redirect_uri").collect();
    url.query_pairs_mut().clear().extend_pairs(&pairs);
    let response = no_redirects().get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("lists several"));
    assert_nothing_stored(&app, &client_id).await;

    // Given twice, even with listed URIs: refused before anything is fetched.
    let mut twice = pairs.clone();
    twice.push(("redirect_uri".into(), REDIRECT_URI.into()));
    twice.push(("redirect_uri".into(), "http://localhost:3000/other".into()));
    url.query_pairs_mut().clear().extend_pairs(&twice);
    let fetched = documents.hits("/two.json");
    let response = no_redirects().get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("redirect_uri is given more than once")
    );
    assert_eq!(documents.hits("/two.json"), fetched);
    assert_nothing_stored(&app, &client_id).await;
}

/// The sign-in redirect an authorization request for a good client gets.
async fn assert_accepted(app: &TestApp, client_id: &str) {
    let response = no_redirects()
        .get(authorization_url(app, client_id))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        status == 303 && location.as_deref().is_some_and(|l| l.starts_with("/login")),
        "{client_id}: {status} {location:?} {}",
        response.text().await.unwrap()
    );
}

async fn a_document_within_its_max_age_is_not_fetched_again(backend: Backend) {
    let documents = DocumentServer::start().await;
    let cached = documents.serve_document("/cached.json", json!({}));
    let uncached = documents.url("/uncached.json");
    documents.serve(
        "/uncached.json",
        Serve::Json(
            json!({"client_id": uncached, "redirect_uris": [REDIRECT_URI]}),
            Some("no-store"),
        ),
    );
    let app = TestApp::spawn_with(
        backend,
        cimd_options(|raw| raw.oauth.client_id_metadata_min_cache_seconds = Some(0)),
    )
    .await;
    for _ in 0..3 {
        assert_accepted(&app, &cached).await;
        assert_accepted(&app, &uncached).await;
    }
    assert_eq!(documents.hits("/cached.json"), 1, "max-age=3600 is honoured");
    assert_eq!(
        documents.hits("/uncached.json"),
        3,
        "no-store is fetched every time"
    );
    let document = app
        .state
        .store
        .find_client_document(&cached)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(document.expires_at - document.fetched_at, 3600);

    // The upper bound clamps a long max-age.
    let long = documents.url("/long.json");
    documents.serve(
        "/long.json",
        Serve::Json(
            json!({"client_id": long, "redirect_uris": [REDIRECT_URI]}),
            Some("max-age=31536000"),
        ),
    );
    assert_accepted(&app, &long).await;
    let document = app
        .state
        .store
        .find_client_document(&long)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(document.expires_at - document.fetched_at, 86_400);
}

/// With a document that is never fresh, the token endpoint fetches it
/// again: changed to something invalid, the client cannot authenticate.
async fn an_expired_document_is_fetched_again_at_the_token_endpoint(backend: Backend) {
    let documents = DocumentServer::start().await;
    let client_id = documents.url("/agent.json");
    let good = json!({"client_id": client_id, "client_name": "Agent", "redirect_uris": [REDIRECT_URI]});
    documents.serve("/agent.json", Serve::Json(good.clone(), Some("max-age=0")));
    let app = TestApp::spawn_with(
        backend,
        cimd_options(|raw| raw.oauth.client_id_metadata_min_cache_seconds = Some(0)),
    )
    .await;
    app.seed_demo().await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut url = url::Url::parse(&app.url(&app.state.config.paths.authorize)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let mut agent = UserAgent::new(&app.base_url);
    let done = agent.authorize(url.as_str(), ALICE, "approve", None).await;
    let location = done.location.expect("redirected back");
    let code = query_of(&location)["code"].clone();
    let fetched = documents.hits("/agent.json");
    assert!(fetched >= 2, "fetched at each step when never fresh: {fetched}");

    documents.serve(
        "/agent.json",
        Serve::Json(
            json!({"client_id": documents.url("/elsewhere.json"), "redirect_uris": [REDIRECT_URI]}),
            Some("max-age=0"),
        ),
    );
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", client_id.as_str()),
        ("code_verifier", verifier.secret().as_str()),
    ];
    let response = app
        .http
        .post(app.url(&app.state.config.paths.token))
        .form(&form)
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::read_json(response).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("which does not equal the URL"),
        "{body}"
    );
    assert_eq!(documents.hits("/agent.json"), fetched + 1);

    // Fixed again, the same code is exchanged (it was not consumed).
    documents.serve("/agent.json", Serve::Json(good, Some("max-age=0")));
    // The refusal is remembered for a few seconds.
    tokio::time::sleep(Duration::from_secs(
        latchkey::oauth::client_id_metadata::REFUSAL_MEMORY_SECONDS as u64 + 1,
    ))
    .await;
    let response = app
        .http
        .post(app.url(&app.state.config.paths.token))
        .form(&form)
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::read_json(response).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
}

async fn concurrent_requests_share_one_fetch_and_a_refusal_is_remembered(backend: Backend) {
    let documents = DocumentServer::start().await;
    let slow = documents.url("/slow.json");
    documents.serve(
        "/slow.json",
        Serve::Slow(
            Duration::from_millis(700),
            json!({"client_id": slow, "redirect_uris": [REDIRECT_URI]}),
        ),
    );
    let app = TestApp::spawn_with(backend, cimd_options(|_| {})).await;
    let requests = (0..6).map(|_| assert_accepted(&app, &slow));
    futures_join_all(requests).await;
    assert_eq!(documents.hits("/slow.json"), 1, "one fetch served every request");

    let missing = documents.url("/missing.json");
    for _ in 0..3 {
        assert_refused(&app, &missing, "answered HTTP 404").await;
    }
    assert_eq!(documents.hits("/missing.json"), 1, "the refusal was remembered");
}

/// Runs the futures at once and waits for them all.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set = Vec::new();
    for future in futures {
        set.push(future);
    }
    let mut pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pinned.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pinned.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

async fn metadata_document_clients_must_use_s256(backend: Backend) {
    let documents = DocumentServer::start().await;
    let client_id = documents.serve_document("/agent.json", json!({}));
    let app = TestApp::spawn_with(backend, cimd_options(|_| {})).await;
    for (extra, problem) in [
        (
            vec![
                ("code_challenge", "a".repeat(43)),
                ("code_challenge_method", "plain".into()),
            ],
            "must be S256",
        ),
        (vec![("code_challenge", "a".repeat(43))], "must be S256"),
        (vec![], "public clients must use PKCE"),
    ] {
        let mut url = url::Url::parse(&app.url(&app.state.config.paths.authorize)).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("state", "s");
        for (name, value) in &extra {
            url.query_pairs_mut().append_pair(name, value);
        }
        let response = no_redirects().get(url.as_str()).send().await.unwrap();
        assert_eq!(response.status(), 303);
        let location = response.headers()[header::LOCATION].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        let query = query_of(&location);
        assert_eq!(query["error"], "invalid_request");
        assert!(query["error_description"].contains(problem), "{query:?}");
    }
}

/// The feature off: a URL client id is an unknown client, nothing is
/// fetched, and discovery does not mention it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_a_url_client_id_is_just_an_unknown_client() {
    let documents = DocumentServer::start().await;
    let client_id = documents.serve_document("/agent.json", json!({}));
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .http
        .get(authorization_url(&app, &client_id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("client_id is not a registered client")
    );
    assert_eq!(documents.hits("/agent.json"), 0);
    let (_, discovery) = app.get_json("/.well-known/openid-configuration").await;
    assert!(discovery.get("client_id_metadata_document_supported").is_none());
}

/// On: both metadata documents say so and list `none`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_advertises_metadata_documents_and_none_when_on() {
    let app = TestApp::spawn_with(Backend::Sqlite, cimd_options(|_| {})).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let (status, discovery) = app.get_json(path).await;
        assert_eq!(status, 200);
        assert_eq!(discovery["client_id_metadata_document_supported"], true, "{path}");
        assert!(
            discovery["token_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("none")),
            "{path}"
        );
    }
}
