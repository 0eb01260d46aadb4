//! No routes: the credential checks in front of the webhook and the operator API
//! (constant-time, case-insensitive scheme), the bounded and timed body read that follows
//! them, and the JSON error body every refusal carries.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::listen;

/// Compares digests in constant time: neither the content nor the length of the
/// expected secret leaks through timing.
fn ct_eq(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    bool::from(Sha256::digest(a.as_bytes()).ct_eq(&Sha256::digest(b.as_bytes())))
}

/// Whether the request carries the expected credential. The scheme is case-insensitive
/// (RFC 9110); the secret is compared in constant time.
pub(super) fn authorized(
    headers: &axum::http::HeaderMap,
    want: &crate::config::Credential,
) -> bool {
    let Some(got) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, value)) = got.trim().split_once(' ') else {
        return false;
    };
    match want {
        crate::config::Credential::Bearer(token) => {
            scheme.eq_ignore_ascii_case("bearer") && ct_eq(value.trim(), token)
        }
        crate::config::Credential::Basic { username, password } => {
            use base64::Engine as _;
            let expected =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            scheme.eq_ignore_ascii_case("basic") && ct_eq(value.trim(), &expected)
        }
    }
}

/// The 401 to answer unless the request carries `want` (when a credential is configured).
pub(super) fn refuse_unauthorized(
    headers: &axum::http::HeaderMap,
    want: Option<&crate::config::Credential>,
) -> Option<Response> {
    match want {
        Some(want) if !authorized(headers, want) => Some(error(
            StatusCode::UNAUTHORIZED,
            "authentication required: send the configured credential",
        )),
        _ => None,
    }
}

/// Reads a request body only after its credential checked out (so an unauthenticated
/// client learns nothing and costs no buffering).
pub(super) async fn read_authorized(
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
    want: Option<&crate::config::Credential>,
    limit: usize,
) -> Result<axum::body::Bytes, Response> {
    if let Some(refused) = refuse_unauthorized(headers, want) {
        return Err(refused);
    }
    read_body(body, limit).await
}

/// A request body of at most `limit` bytes (413 beyond), within the header-read timeout.
pub(super) async fn read_body(
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, Response> {
    // A body trickled in byte by byte must not hold a task and its buffer forever.
    match tokio::time::timeout(
        listen::HEADER_READ_TIMEOUT,
        axum::body::to_bytes(body, limit),
    )
    .await
    {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over server.max_body_bytes ({limit} bytes)"),
        )),
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "request body not received within {}s",
                listen::HEADER_READ_TIMEOUT.as_secs()
            ),
        )),
    }
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({"error": message.into()}))).into_response()
}
