//! What one client can hold of the listener (SPEC 13, bounded work): a
//! request's headers must arrive within `server.header_timeout_seconds`,
//! and beyond `server.max_connections` new connections are closed at once.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, Options, TestApp};

async fn app_with(max_connections: usize, header_timeout_seconds: u64) -> TestApp {
    let options = Options {
        tweak: Some(Box::new(move |raw| {
            raw.server.max_connections = Some(max_connections);
            raw.server.header_timeout_seconds = Some(header_timeout_seconds);
        })),
        ..Options::default()
    };
    TestApp::spawn_with(Backend::Sqlite, options).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base_url.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; what it sent.
async fn read_until_closed(stream: &mut TcpStream, patience: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(patience, stream.read_to_end(&mut received)).await;
    assert!(
        read.is_ok(),
        "the server kept the connection open past {patience:?}"
    );
    received
}

async fn health(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    String::from_utf8_lossy(&read_until_closed(stream, Duration::from_secs(5)).await).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_that_trickle_in_are_cut_off_at_the_header_timeout() {
    let app = app_with(64, 1).await;
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let started = Instant::now();
    let received = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed too early: {waited:?}"
    );
    let text = String::from_utf8_lossy(&received);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");

    // An idle keep-alive connection is closed the same way.
    let mut idle = connect(&app).await;
    read_until_closed(&mut idle, Duration::from_secs(5)).await;
    // Others are served meanwhile.
    assert!(health(&mut connect(&app).await).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed_at_once() {
    let app = app_with(4, 30).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&app).await;
        // A request started and not finished keeps the connection busy.
        stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut refused = connect(&app).await;
    let started = Instant::now();
    let received = read_until_closed(&mut refused, Duration::from_secs(5)).await;
    assert!(received.is_empty() && started.elapsed() < Duration::from_secs(2));

    // A freed place serves the next connection.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(health(&mut connect(&app).await).await.starts_with("HTTP/1.1 200"));
}
