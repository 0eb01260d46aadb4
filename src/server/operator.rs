//! Routes: POST /api/v1/failover, POST /api/v1/approve/{incident}, POST /api/v1/rearm,
//! POST /api/v1/incidents/{id}/resolve, POST /api/v1/failback: the operator API. Each call
//! needs `server.api_token_file`'s bearer token (checked before the body is read) and a
//! reason (it is journaled); it becomes one policy command sent to the engine's loop,
//! and the answer is the actions the policy took (409 when all were blocked).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::{authorized, error, read_authorized};
use super::AppState;

/// Parses an operator API body (the failover form, the largest) the way the handlers
/// do: for fuzzing and for clients that want to validate a body offline.
pub fn parse_operator_body(body: &[u8]) -> Result<(String, String, String, bool), String> {
    serde_json::from_slice::<FailoverRequest>(body)
        .map(|r| (r.domain, r.target, r.reason, r.force))
        .map_err(|e| format!("malformed JSON: {e}"))
}

#[derive(serde::Deserialize)]
struct FailoverRequest {
    domain: String,
    target: String,
    reason: String,
    #[serde(default)]
    force: bool,
}

#[derive(serde::Deserialize)]
struct DomainRequest {
    domain: String,
    reason: String,
}

#[derive(serde::Deserialize)]
struct ReasonRequest {
    reason: String,
}

#[derive(serde::Deserialize)]
struct ResolveRequest {
    action: crate::policy::Resolution,
    reason: String,
}

#[derive(serde::Deserialize)]
struct FailbackRequest {
    domain: String,
    target: String,
    reason: String,
    #[serde(default)]
    force: bool,
}

/// How long an operator call may wait for the engine's loop. The loop serves operator
/// calls before anything else, so this only runs out behind a slow evaluation; then the
/// call is dropped unapplied (the loop sees the caller gone) and the answer says so:
/// never "timed out" now and applied later.
const OPERATOR_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

async fn operate(
    s: &AppState,
    headers: &axum::http::HeaderMap,
    domain: Option<String>,
    command: crate::policy::Command,
    reason: String,
) -> Response {
    let Some(token) = &s.api.api_token else {
        return error(
            StatusCode::FORBIDDEN,
            "the operator API is disabled: set server.api_token_file",
        );
    };
    if !authorized(headers, &crate::config::Credential::Bearer(token.clone())) {
        return error(
            StatusCode::UNAUTHORIZED,
            "operator token required (Authorization: Bearer ...)",
        );
    }
    if !crate::policy::has_words(&reason) {
        return error(
            StatusCode::BAD_REQUEST,
            "reason: every operator call needs a non-empty reason (it is journaled)",
        );
    }
    let Some(outbox) = &s.outbox else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the engine is not running");
    };
    let (reply, rx) = tokio::sync::oneshot::channel();
    let call = crate::app::OperatorCall {
        domain,
        command,
        reason,
        reply,
    };
    let answer = tokio::time::timeout(OPERATOR_WAIT, async {
        if outbox.operator.send(call).await.is_err() {
            return None;
        }
        rx.await.ok()
    })
    .await;
    match answer {
        Ok(Some(Ok(actions))) => {
            let blocked = !actions.is_empty()
                && actions
                    .iter()
                    .all(|a| matches!(a, crate::policy::Action::Blocked { .. }));
            let status = if blocked {
                StatusCode::CONFLICT
            } else {
                StatusCode::OK
            };
            (status, Json(serde_json::json!({"actions": actions}))).into_response()
        }
        Ok(Some(Err(e))) => error(StatusCode::BAD_REQUEST, e),
        Ok(None) => error(StatusCode::SERVICE_UNAVAILABLE, "the engine stopped"),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine is busy with an evaluation; the call was NOT applied: retry",
        ),
    }
}

/// A mutating operator request: the token is checked before the body is read, then the
/// JSON body becomes a policy command.
async fn operate_json<T: serde::de::DeserializeOwned>(
    s: &AppState,
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
    command: impl FnOnce(T) -> (Option<String>, crate::policy::Command, String),
) -> Response {
    let Some(token) = &s.api.api_token else {
        return error(
            StatusCode::FORBIDDEN,
            "the operator API is disabled: set server.api_token_file",
        );
    };
    let want = crate::config::Credential::Bearer(token.clone());
    let body = match read_authorized(headers, body, Some(&want), s.api.max_body_bytes).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match serde_json::from_slice::<T>(&body) {
        Ok(r) => {
            let (domain, command, reason) = command(r);
            operate(s, headers, domain, command, reason).await
        }
        Err(e) => error(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")),
    }
}

pub(super) async fn op_failover(
    State(s): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    operate_json(&s, &headers, body, |r: FailoverRequest| {
        (
            Some(r.domain),
            crate::policy::Command::Failover {
                target: r.target,
                reason: r.reason.clone(),
                force: r.force,
            },
            r.reason,
        )
    })
    .await
}

pub(super) async fn op_approve(
    State(s): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    axum::extract::Path(incident): axum::extract::Path<u64>,
    body: axum::body::Body,
) -> Response {
    operate_json(&s, &headers, body, |r: ReasonRequest| {
        (None, crate::policy::Command::Approve { incident }, r.reason)
    })
    .await
}

pub(super) async fn op_resolve(
    State(s): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    axum::extract::Path(incident): axum::extract::Path<u64>,
    body: axum::body::Body,
) -> Response {
    operate_json(&s, &headers, body, |r: ResolveRequest| {
        (
            None,
            crate::policy::Command::Resolve {
                incident,
                action: r.action,
            },
            r.reason,
        )
    })
    .await
}

pub(super) async fn op_rearm(
    State(s): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    operate_json(&s, &headers, body, |r: DomainRequest| {
        (Some(r.domain), crate::policy::Command::Rearm, r.reason)
    })
    .await
}

pub(super) async fn op_failback(
    State(s): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    operate_json(&s, &headers, body, |r: FailbackRequest| {
        (
            Some(r.domain),
            crate::policy::Command::Failback {
                target: r.target,
                reason: r.reason.clone(),
                force: r.force,
            },
            r.reason,
        )
    })
    .await
}
