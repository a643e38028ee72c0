//! Request bodies over the 64 KiB limit, sent over a raw TCP connection so
//! the test sees what a client sees: the whole body is written without a
//! reset, a complete 413 with a JSON error comes back, and the connection
//! stays usable when the body was drained. Bodies within the limit are
//! answered as before, chunked or not.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::backend_tests;
use crate::helpers::{ADMIN_KEY, Backend, TestApp};

backend_tests!(
    oversize_body_with_content_length_is_drained_and_answered_413,
    oversize_chunked_body_is_drained_and_answered_413,
    body_beyond_the_drain_bound_gets_413_and_connection_close,
    oversize_admin_body_gets_the_admin_error_shape,
    bodies_within_the_limit_are_unaffected,
);

const LIMIT: usize = 64 * 1024;

/// How long one read or write may take before the test fails instead of
/// hanging (a server that stops reading leaves the client blocked).
const PATIENCE: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, work: impl Future<Output = std::io::Result<T>>) -> T {
    match tokio::time::timeout(PATIENCE, work).await {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => panic!("{what} failed: {error}"),
        Err(_) => panic!("{what} did not finish in {PATIENCE:?}"),
    }
}

fn too_large() -> Value {
    json!({"error": "invalid_request", "error_description": "the request body is larger than 65536 bytes"})
}

/// One HTTP/1.1 connection to the test server.
struct Connection {
    stream: BufReader<TcpStream>,
}

/// A response as read off the wire.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Connection {
    async fn open(app: &TestApp) -> Self {
        let address = app.base_url.trim_start_matches("http://");
        let stream = within("connect", TcpStream::connect(address)).await;
        Self {
            stream: BufReader::new(stream),
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        within("writing the request", self.stream.get_mut().write_all(bytes)).await;
    }

    /// Writes a request head with the given extra header lines.
    async fn head(&mut self, method: &str, path: &str, headers: &[String]) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
        for line in headers {
            head.push_str(line);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        self.write(head.as_bytes()).await;
    }

    /// A request with a `Content-Length` body, written in full.
    async fn send(&mut self, method: &str, path: &str, headers: &[String], body: &[u8]) {
        let mut headers = headers.to_vec();
        headers.push(format!("Content-Length: {}", body.len()));
        self.head(method, path, &headers).await;
        for piece in body.chunks(64 * 1024) {
            self.write(piece).await;
        }
    }

    /// A request with a chunked body, written in full.
    async fn send_chunked(&mut self, path: &str, headers: &[String], body: &[u8], chunk: usize) {
        let mut headers = headers.to_vec();
        headers.push("Transfer-Encoding: chunked".to_owned());
        self.head("POST", path, &headers).await;
        for piece in body.chunks(chunk) {
            self.write(format!("{:x}\r\n", piece.len()).as_bytes()).await;
            self.write(piece).await;
            self.write(b"\r\n").await;
        }
        self.write(b"0\r\n\r\n").await;
    }

    /// Reads one response with a `Content-Length` body.
    async fn read(&mut self) -> RawResponse {
        let mut status_line = String::new();
        within("reading the status line", self.stream.read_line(&mut status_line)).await;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("no status line: {status_line:?}"))
            .parse()
            .unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            within("reading a header", self.stream.read_line(&mut line)).await;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or_else(|| panic!("no Content-Length in {headers:?}"));
        let mut body = vec![0; length];
        within("reading the body", self.stream.read_exact(&mut body)).await;
        let body = serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("status {status}, not JSON: {}", String::from_utf8_lossy(&body)));
        RawResponse {
            status,
            headers,
            body,
        }
    }

    /// The connection still answers: a health check on it gets 200.
    async fn still_usable(&mut self) {
        self.head("GET", "/healthz", &[]).await;
        let response = self.read().await;
        assert_eq!(response.status, 200, "{response:?}");
    }
}

fn form_headers() -> Vec<String> {
    vec!["Content-Type: application/x-www-form-urlencoded".to_owned()]
}

/// A token request padded to `size` bytes.
fn token_form(size: usize) -> Vec<u8> {
    let mut body = b"grant_type=refresh_token&refresh_token=refresh_x&client_id=c&pad=".to_vec();
    body.resize(size, b'a');
    body
}

async fn oversize_body_with_content_length_is_drained_and_answered_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut connection = Connection::open(&app).await;
    let path = &app.state.config.paths.token;
    connection
        .send("POST", path, &form_headers(), &token_form(2 * 1024 * 1024))
        .await;
    let response = connection.read().await;
    assert_eq!(response.status, 413, "{response:?}");
    assert_eq!(response.body, too_large());
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_ne!(response.header("connection"), Some("close"));
    connection.still_usable().await;
}

async fn oversize_chunked_body_is_drained_and_answered_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut connection = Connection::open(&app).await;
    let path = &app.state.config.paths.token;
    connection
        .send_chunked(path, &form_headers(), &token_form(1024 * 1024), 16 * 1024)
        .await;
    let response = connection.read().await;
    assert_eq!(response.status, 413, "{response:?}");
    assert_eq!(response.body, too_large());
    connection.still_usable().await;

    // One byte over the limit is over it.
    connection
        .send_chunked(path, &form_headers(), &token_form(LIMIT + 1), 1000)
        .await;
    let response = connection.read().await;
    assert_eq!((response.status, response.body.clone()), (413, too_large()));
}

async fn body_beyond_the_drain_bound_gets_413_and_connection_close(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut connection = Connection::open(&app).await;
    let path = &app.state.config.paths.token;
    let mut headers = form_headers();
    headers.push(format!("Content-Length: {}", 100 * 1024 * 1024));
    connection.head("POST", path, &headers).await;
    connection.write(&token_form(LIMIT)).await;
    let response = connection.read().await;
    assert_eq!(response.status, 413, "{response:?}");
    assert_eq!(response.body, too_large());
    assert_eq!(response.header("connection"), Some("close"));
}

async fn oversize_admin_body_gets_the_admin_error_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = br#"{"name": ""#.to_vec();
    body.resize(2 * 1024 * 1024, b'x');
    body.extend_from_slice(br#""}"#);
    let headers = [
        "Content-Type: application/json".to_owned(),
        format!("x-admin-api-key: {ADMIN_KEY}"),
    ];
    let mut connection = Connection::open(&app).await;
    connection
        .send("POST", "/api/v1/admin/organizations", &headers, &body)
        .await;
    let response = connection.read().await;
    assert_eq!(response.status, 413, "{response:?}");
    assert_eq!(
        response.body,
        json!({"success": false, "error": {"code": "payload_too_large", "message": "the request body is larger than 65536 bytes"}})
    );
    connection.still_usable().await;
    connection
        .send_chunked("/api/v1/admin/organizations", &headers, &body, 32 * 1024)
        .await;
    let response = connection.read().await;
    assert_eq!(
        (response.status, &response.body["error"]["code"]),
        (413, &json!("payload_too_large"))
    );
    // Without a key the body is still read before the answer, so the
    // client is not reset while sending.
    connection
        .send("POST", "/api/v1/admin/organizations", &headers[..1], &body)
        .await;
    let response = connection.read().await;
    assert_eq!(response.status, 413, "{response:?}");
    connection.still_usable().await;
    let (_, listed) = app.admin(reqwest::Method::GET, "/organizations", None).await;
    assert_eq!(listed["data"], json!([]), "nothing was created");
}

async fn bodies_within_the_limit_are_unaffected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut connection = Connection::open(&app).await;
    let path = app.state.config.paths.token.clone();
    // Exactly at the limit, with a length and chunked: the token endpoint
    // reads the request and judges the client.
    connection
        .send("POST", &path, &form_headers(), &token_form(LIMIT))
        .await;
    let response = connection.read().await;
    assert_eq!(
        (response.status, &response.body["error"]),
        (401, &json!("invalid_client")),
        "{response:?}"
    );
    connection
        .send_chunked(&path, &form_headers(), &token_form(LIMIT), 4096)
        .await;
    let response = connection.read().await;
    assert_eq!(
        (response.status, &response.body["error"]),
        (401, &json!("invalid_client")),
        "{response:?}"
    );
    // A chunked admin request is read whole and handled.
    let headers = [
        "Content-Type: application/json".to_owned(),
        format!("x-admin-api-key: {ADMIN_KEY}"),
    ];
    connection
        .send_chunked(
            "/api/v1/admin/organizations",
            &headers,
            br#"{"name": "Chunked & Partners"}"#,
            5,
        )
        .await;
    let response = connection.read().await;
    assert_eq!(response.status, 201, "{response:?}");
    assert_eq!(response.body["data"]["name"], "Chunked & Partners");
    connection.still_usable().await;
}

/// A client that sends a small body too slowly (a slow-loris) holds a task
/// only for the drain bound, then gets 408 and a closed connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_in_gets_408_within_the_bound() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut connection = Connection::open(&app).await;
    let mut headers = form_headers();
    headers.push("Content-Length: 100".to_owned());
    connection
        .head("POST", &app.state.config.paths.token, &headers)
        .await;
    connection.write(b"grant_type=").await;
    let started = std::time::Instant::now();
    let response = connection.read().await;
    assert_eq!(response.status, 408, "{response:?}");
    assert_eq!(response.body["error"], "invalid_request");
    assert_eq!(response.header("connection"), Some("close"));
    let waited = started.elapsed();
    assert!(
        waited < latchkey::http::body_limit::DRAIN_MAX_TIME + Duration::from_secs(3),
        "{waited:?}"
    );
}
