//! The request-body limit, as one middleware in front of every route.
//! A body over [`MAX_BODY_BYTES`] is refused with 413, but only after the
//! rest of it has been read and thrown away: a server that answers while
//! the client is still sending closes a connection with unread data, and
//! the client then sees a reset instead of the answer. Draining is bounded
//! in bytes and time; past either bound the 413 goes out at once with
//! `Connection: close`. Bodies within the limit are read here in full and
//! handed on, so an early answer never leaves unread data behind either.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::MAX_BODY_BYTES;
use super::admin_api::ApiError;

/// How much of an oversize body is read and discarded so the client gets
/// the 413; a body declared or found larger than this is not read further
/// and the connection is closed after the answer.
pub const DRAIN_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// How long draining an oversize body may take before the 413 is sent
/// with `Connection: close`, so a slow sender cannot hold a task forever.
pub const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

/// The prefix of the routes that answer in the admin API's envelope (the
/// admin API and the example API).
const ENVELOPE_PREFIX: &str = "/api/v1/";

/// Whether the connection can carry another request after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    KeepAlive,
    Close,
}

/// What reading a body found.
enum Buffered {
    /// The whole body, within the limit.
    Within(Bytes),
    /// Over the limit; the rest was drained or abandoned.
    Over(Connection),
    /// The body broke off before its end.
    Broken,
    /// The body did not arrive within [`DRAIN_MAX_TIME`] (a slow sender).
    Slow,
}

/// Reads every request body before the handler runs: a body within
/// [`MAX_BODY_BYTES`] is handed on in full, so no answer (a 401 before the
/// body is parsed, say) leaves unread data behind; a larger one is drained
/// and refused with 413.
pub async fn limit(request: Request, next: Next) -> Response {
    let max = MAX_BODY_BYTES as u64;
    let envelope = request.uri().path().starts_with(ENVELOPE_PREFIX);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > DRAIN_MAX_BYTES => too_large(envelope, Connection::Close),
        Some(length) if length > max => {
            let connection = drain(request.into_body(), 0).await;
            too_large(envelope, connection)
        }
        _ if request.body().is_end_stream() => next.run(request).await,
        _ => {
            let (parts, body) = request.into_parts();
            let buffered = tokio::time::timeout(DRAIN_MAX_TIME, buffer(body))
                .await
                .unwrap_or(Buffered::Slow);
            match buffered {
                Buffered::Within(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
                Buffered::Over(connection) => too_large(envelope, connection),
                Buffered::Broken => unreadable(
                    envelope,
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read",
                ),
                Buffered::Slow => unreadable(
                    envelope,
                    StatusCode::REQUEST_TIMEOUT,
                    "the request body did not arrive in time",
                ),
            }
        }
    }
}

/// Reads a body up to the limit; past it, drains the rest.
async fn buffer(mut body: Body) -> Buffered {
    let mut bytes = Vec::new();
    while let Some(chunk) = next_chunk(&mut body).await {
        let Ok(chunk) = chunk else {
            return Buffered::Broken;
        };
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_BODY_BYTES {
            return Buffered::Over(drain(body, bytes.len() as u64).await);
        }
    }
    Buffered::Within(Bytes::from(bytes))
}

/// Reads and discards the rest of a body, `already` bytes of which were
/// read, within [`DRAIN_MAX_BYTES`] and [`DRAIN_MAX_TIME`].
async fn drain(mut body: Body, already: u64) -> Connection {
    let discard = async {
        let mut read = already;
        while let Some(chunk) = next_chunk(&mut body).await {
            let Ok(chunk) = chunk else {
                return Connection::Close;
            };
            read += chunk.len() as u64;
            if read > DRAIN_MAX_BYTES {
                return Connection::Close;
            }
        }
        Connection::KeepAlive
    };
    tokio::time::timeout(DRAIN_MAX_TIME, discard)
        .await
        .unwrap_or(Connection::Close)
}

/// The next piece of body data (empty for a trailers frame), an error when
/// the body broke off, or `None` at its end.
async fn next_chunk(body: &mut Body) -> Option<Result<Bytes, axum::Error>> {
    let frame = poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
    Some(frame.map(|frame| frame.into_data().unwrap_or_default()))
}

/// The 413 in the shape of the route: the admin API's envelope under
/// `/api/v1/`, the OAuth error object (RFC 6749 §5.2) elsewhere.
fn too_large(envelope: bool, connection: Connection) -> Response {
    let description = format!("the request body is larger than {MAX_BODY_BYTES} bytes");
    let mut response = if envelope {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", description).into_response()
    } else {
        let body = serde_json::json!({"error": "invalid_request", "error_description": description});
        let mut response = super::json_response(StatusCode::PAYLOAD_TOO_LARGE, &body);
        super::oauth::no_store(response.headers_mut());
        response
    };
    match connection {
        Connection::KeepAlive => {}
        Connection::Close => {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response
}

/// A body that broke off or came too slowly: the answer, then the
/// connection is closed.
fn unreadable(envelope: bool, status: StatusCode, description: &str) -> Response {
    let mut response = if envelope {
        ApiError::new(status, "invalid_request", description).into_response()
    } else {
        let body = serde_json::json!({"error": "invalid_request", "error_description": description});
        super::json_response(status, &body)
    };
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
