//! Refuses the requests a web page could make a browser send: on every mutating route
//! (`POST /api/v1/alertmanager` and the operator API's POSTs) a foreign `Origin` is
//! refused with 403, and a body that is not declared JSON (`Content-Type` absent,
//! `text/plain`, a form type) with 415, before any credential is checked or a byte of the
//! body is read. Reads (GET, HEAD) pass untouched.
//!
//! Why both: on an unauthenticated loopback engine (the default) any page the operator
//! opens could otherwise post a webhook with a "simple" cross-origin request (`text/plain`
//! or a form, no preflight). Browsers always send `Origin` on such a POST, so a foreign
//! one is refused; requiring a JSON content type forces a CORS preflight, which this
//! server never grants. Clients that are not browsers (Alertmanager, curl, the CLI) send
//! no `Origin`, and Alertmanager and the CLI send `Content-Type: application/json`.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Why a mutating request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Forged {
    /// 403.
    #[error("cross-origin request refused: Origin {0} is not this server")]
    ForeignOrigin(String),
    /// 415.
    #[error("unsupported content type {0}: send Content-Type: application/json")]
    NotJson(String),
}

impl Forged {
    pub fn status(&self) -> StatusCode {
        match self {
            Forged::ForeignOrigin(_) => StatusCode::FORBIDDEN,
            Forged::NotJson(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }
}

/// The middleware on the mutating routes.
pub async fn refuse_forged(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    match check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            tracing::warn!(path = %req.uri().path(), refused = %e, "forgeable request refused");
            (
                e.status(),
                axum::Json(serde_json::json!({"error": e.to_string()})),
            )
                .into_response()
        }
    }
}

/// Checks a mutating request's `Origin` against its `Host`, and its content type.
pub fn check(headers: &HeaderMap) -> Result<(), Forged> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin_text = String::from_utf8_lossy(origin.as_bytes());
        if !origin.to_str().is_ok_and(|o| same_origin(o, host)) {
            return Err(Forged::ForeignOrigin(bounded(&origin_text)));
        }
    }
    let content_type = headers.get(header::CONTENT_TYPE);
    if !content_type
        .and_then(|c| c.to_str().ok())
        .is_some_and(is_json)
    {
        let shown = content_type.map_or_else(
            || "(none)".to_string(),
            |c| bounded(&String::from_utf8_lossy(c.as_bytes())),
        );
        return Err(Forged::NotJson(shown));
    }
    Ok(())
}

/// At most 100 characters of a header quoted back (the error body and the log).
fn bounded(s: &str) -> String {
    format!("{:?}", super::webhook::truncate(s, 100))
}

/// `application/json` or `application/<anything>+json`, with any parameters.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json") && !sub.contains('/'))
}

/// Whether `origin` (`scheme://host[:port]`) names the server the request reached
/// (`host`, the `Host` header): same host, same port (the scheme's default when absent).
/// `null` and anything unparsable are foreign.
pub fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let Some((scheme, authority)) = origin.trim().split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return false,
    };
    if authority.contains(['/', '@', '?', '#']) {
        return false;
    }
    match (
        split_authority(authority, default_port),
        split_authority(host.trim(), default_port),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// (lower-case host, port) of `host[:port]` or `[v6][:port]`.
fn split_authority(a: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{h}]"), port)
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (a.to_string(), None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        None => default_port,
        Some(p) => p.parse().ok()?,
    };
    Some((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let h = Some("127.0.0.1:8080");
        assert!(same_origin("http://127.0.0.1:8080", h));
        assert!(same_origin("HTTP://127.0.0.1:8080", h));
        assert!(!same_origin("http://127.0.0.1:8081", h));
        assert!(!same_origin("http://evil.example", h));
        assert!(!same_origin("null", h));
        assert!(!same_origin("http://127.0.0.1:8080", None));
        assert!(!same_origin("http://user@127.0.0.1:8080", h));
        assert!(!same_origin("file://127.0.0.1:8080", h));
        assert!(same_origin(
            "https://sloguard.example.com",
            Some("Sloguard.example.com")
        ));
        assert!(same_origin(
            "http://sloguard.example.com",
            Some("sloguard.example.com:80")
        ));
        assert!(!same_origin(
            "https://sloguard.example.com",
            Some("sloguard.example.com:80")
        ));
        assert!(same_origin("http://[::1]:8080", Some("[::1]:8080")));
        assert!(!same_origin("http://[::1]:8080", Some("[::1]:9090")));
        assert!(!same_origin("http://[::1", Some("[::1]")));
    }

    #[test]
    fn content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/vnd.api+json"));
        for no in [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "text/json+json/x",
            "",
        ] {
            assert!(!is_json(no), "{no}");
        }
    }

    #[test]
    fn checks_in_order() {
        let mut h = HeaderMap::new();
        assert!(matches!(check(&h), Err(Forged::NotJson(_))));
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(check(&h), Ok(()), "no Origin: not a browser");
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert_eq!(check(&h), Ok(()), "the dashboard's own origin");
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        let e = check(&h).unwrap_err();
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert!(e.to_string().contains("evil.example"), "{e}");
    }
}
