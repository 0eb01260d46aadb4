//! The client side of the operator API (`status`, `failover`, `approve`, `rearm`,
//! `failback`): one HTTP call to a running engine, its bearer token read from a file.

use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("reading the token file {path}: {source}")]
    Token {
        path: String,
        source: std::io::Error,
    },
    #[error("calling {url}: {message}")]
    Http { url: String, message: String },
}

/// One call; returns the HTTP status and the body. The engine answers an operator call
/// with its outcome, so the client waits a little longer than the engine's own limit.
pub async fn call(
    method: reqwest::Method,
    url: &str,
    body: Option<serde_json::Value>,
    token_file: Option<&Path>,
) -> Result<(u16, String), ClientError> {
    let http = |e: reqwest::Error| ClientError::Http {
        url: url.to_string(),
        message: e.to_string(),
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(35))
        .build()
        .map_err(http)?;
    let mut req = client.request(method, url);
    if let Some(path) = token_file {
        let token = std::fs::read_to_string(path).map_err(|source| ClientError::Token {
            path: path.display().to_string(),
            source,
        })?;
        req = req.bearer_auth(token.trim());
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.map_err(http)?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await.map_err(http)?))
}
