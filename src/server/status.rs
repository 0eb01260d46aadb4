//! Routes: GET /api/v1/status, GET /healthz, GET /readyz: the engine's latest snapshot
//! (with whether automation may act), whether the process is up, and whether it is ready
//! (the backfill done, automation not switched off).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::AppState;
use crate::snapshot::Snapshot;

/// The process is up.
pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

pub(super) async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    if let Some(why) = s.automation_off.read().ok().and_then(|a| a.clone()) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("automation off: {why}\n"),
        )
            .into_response();
    }
    if s.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "backfilling\n").into_response()
    }
}

pub(super) async fn status(State(s): State<Arc<AppState>>) -> Response {
    let Ok(_permit) = s.heavy_reads.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let snap = s.snapshot.read().ok().and_then(|g| g.clone());
    let automation = Automation::of(&s);
    match snap {
        Some(snapshot) => Json(StatusBody {
            snapshot,
            automation,
        })
        .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "no evaluation yet: backfilling", "automation": automation})),
        )
            .into_response(),
    }
}

/// `/api/v1/status`: the snapshot's fields, and whether automation may act.
#[derive(serde::Serialize)]
struct StatusBody {
    #[serde(flatten)]
    snapshot: Snapshot,
    automation: Automation,
}

/// Whether automation may act, and why not (what `/readyz` says with its 503).
#[derive(serde::Serialize)]
struct Automation {
    on: bool,
    reason: Option<String>,
}

impl Automation {
    fn of(s: &AppState) -> Self {
        let reason = if s.failover.load(Ordering::Acquire) {
            s.automation_off.read().ok().and_then(|a| a.clone())
        } else {
            Some("failover is not configured".to_string())
        };
        Automation {
            on: reason.is_none(),
            reason,
        }
    }
}
