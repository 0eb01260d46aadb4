//! Routes: GET /, GET /api/v1/history, GET /api/v1/slos, GET /api/v1/incidents,
//! GET /api/v1/incidents/{id}/report: the built-in dashboard and the reads it makes
//! besides `/api/v1/status` (the charts' history, the catalog, the journal's incidents
//! and their reports). The heavy reads build one answer at a time.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::AppState;

/// The built-in dashboard (embedded; no CDN, works offline).
pub(super) async fn dashboard() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("dashboard.html"),
    )
        .into_response()
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct HistoryQuery {
    /// Only the points after this unix time (the dashboard polls for what is new).
    since: Option<i64>,
}

pub(super) async fn history(
    State(s): State<Arc<AppState>>,
    axum::extract::Query(q): axum::extract::Query<HistoryQuery>,
) -> Response {
    let Ok(_permit) = s.heavy_reads.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let json = [(header::CONTENT_TYPE, "application/json")];
    let Some(since) = q.since else {
        return (json, full_history(&s)).into_response();
    };
    let body = match s.history.read() {
        Ok(h) => h.to_json(Some(since)),
        Err(_) => b"[]".to_vec(),
    };
    (json, body).into_response()
}

/// The whole history's JSON, serialised once per change however often it is asked for.
fn full_history(s: &AppState) -> axum::body::Bytes {
    let Ok(h) = s.history.read() else {
        return axum::body::Bytes::from_static(b"[]");
    };
    let key = (h.len(), h.last_at().unwrap_or(i64::MIN));
    if let Ok(cache) = s.history_json.lock() {
        if let Some((n, at, body)) = cache.as_ref() {
            if (*n, *at) == key {
                return body.clone();
            }
        }
    }
    let body = axum::body::Bytes::from(h.to_json(None));
    drop(h);
    if let Ok(mut cache) = s.history_json.lock() {
        *cache = Some((key.0, key.1, body.clone()));
    }
    body
}

/// Every configured SLO (objective, period, tiers) and region, and whether this is a drill.
pub(super) async fn slos(State(s): State<Arc<AppState>>) -> Response {
    Json(serde_json::json!({
        "slos": s.catalog.slos,
        "regions": s.catalog.regions,
        "chaos": s.chaos.load(Ordering::Relaxed),
        // Evaluations the history keeps: older ones fall off the charts.
        "history_limit": s.history.read().map_or(0, |h| h.limit()),
    }))
    .into_response()
}

pub(super) async fn incidents(State(s): State<Arc<AppState>>) -> Response {
    let Ok(_permit) = s.heavy_reads.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let chaos = s.chaos.load(Ordering::Relaxed);
    let Some(journal) = s.journal.clone() else {
        return Json(serde_json::json!({"incidents": [], "policy": [], "chaos": chaos}))
            .into_response();
    };
    let rows = journal
        .lock()
        .map_err(|_| ())
        .and_then(|j| j.incidents(100).map_err(|_| ()));
    let policy = s.policy.read().map(|p| p.clone()).unwrap_or_default();
    match rows {
        Ok(rows) => Json(serde_json::json!({"incidents": rows, "policy": policy, "chaos": chaos}))
            .into_response(),
        Err(()) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": "journal unavailable"})),
        )
            .into_response(),
    }
}

/// `GET /api/v1/incidents/{id}/report[?format=md]`: the post-incident report (HTML by
/// default), as `sloguard report` writes it. The journal is read under its lock, the
/// report rendered after the lock is released.
pub(super) async fn incident_report(
    State(s): State<Arc<AppState>>,
    axum::extract::Path(id): axum::extract::Path<u64>,
    axum::extract::Query(q): axum::extract::Query<std::collections::BTreeMap<String, String>>,
) -> Response {
    let Ok(_permit) = s.heavy_reads.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let Some(journal) = s.journal.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "failover is not configured: no journal\n",
        )
            .into_response();
    };
    let facts = match journal.lock() {
        Ok(j) => crate::report::gather(&j, id),
        Err(_) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "journal unavailable\n").into_response()
        }
    };
    let facts = match facts {
        Ok(Some(f)) => f,
        Ok(None) => return (StatusCode::NOT_FOUND, format!("no incident {id}\n")).into_response(),
        Err(e) => {
            tracing::error!(incident = id, error = %e, "cannot read the journal for a report");
            return (StatusCode::INTERNAL_SERVER_ERROR, "journal unavailable\n").into_response();
        }
    };
    let slos: Vec<crate::report::SloMeta> = s
        .catalog
        .slos
        .iter()
        .map(|c| crate::report::SloMeta {
            service: c.service.clone(),
            slo: c.slo.clone(),
            objective: c.objective,
            period: c.period.clone(),
        })
        .collect();
    let md = crate::report::render(&facts, &slos);
    if q.get("format").map(String::as_str) == Some("md") {
        return ([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], md).into_response();
    }
    let page = crate::report::html(&md, &format!("sloguard incident {id}"));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page is text and tables: no script, no outside resource may run in it.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        page,
    )
        .into_response()
}
