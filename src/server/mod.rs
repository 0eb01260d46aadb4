//! The HTTP face of `serve`: `/metrics` (Prometheus text via prometheus-client),
//! `/api/v1/status` (the engine's latest snapshot as JSON, with p50/p99 query and
//! evaluation latency), `/healthz` (the process is up) and `/readyz` (the backfill is done).
//! Handlers only read shared state; the engine loop writes it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::engine::Snapshot;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WindowLabels {
    service: String,
    slo: String,
    region: String,
    window: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabels {
    service: String,
    slo: String,
    region: String,
    severity: String,
    long_window: String,
    short_window: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    service: String,
    slo: String,
    region: String,
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegionLabels {
    region: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DataLabels {
    service: String,
    slo: String,
    region: String,
}

/// Counters and histograms that live across scrapes.
#[derive(Clone)]
pub struct Telemetry {
    pub query_seconds: Histogram,
    pub evaluation_seconds: Histogram,
    pub evaluations: Counter,
    pub query_errors: Counter,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            query_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            evaluation_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            evaluations: Counter::default(),
            query_errors: Counter::default(),
        }
    }
}

/// State shared by the engine loop (writer) and the handlers (readers).
#[derive(Default)]
pub struct AppState {
    pub snapshot: RwLock<Option<Snapshot>>,
    pub ready: AtomicBool,
    pub telemetry: Telemetry,
    /// This replica's failover signals (its votes), served to Route 53 health checks.
    pub signals: Arc<crate::actuator::SignalBoard>,
    pub journal: RwLock<Option<Arc<std::sync::Mutex<crate::journal::Journal>>>>,
    pub policy: RwLock<Vec<crate::policy::PolicyState>>,
}

impl AppState {
    pub fn set_policy(&self, states: Vec<crate::policy::PolicyState>) {
        if let Ok(mut p) = self.policy.write() {
            *p = states;
        }
    }

    pub fn publish(&self, snap: Snapshot) {
        if let Ok(mut s) = self.snapshot.write() {
            *s = Some(snap);
        }
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/v1/signal/{domain}/{region}", get(signal))
        .route("/api/v1/incidents", get(incidents))
        .with_state(state)
}

/// 200 while this replica requests failover of `domain` to `region`, 503 otherwise. Route
/// 53 health checks poll it inverted, so an engine outage never fails anything over.
async fn signal(
    State(s): State<Arc<AppState>>,
    axum::extract::Path((domain, region)): axum::extract::Path<(String, String)>,
) -> Response {
    if s.signals.get(&domain, &region) {
        (StatusCode::OK, "failover requested\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no failover requested\n").into_response()
    }
}

async fn incidents(State(s): State<Arc<AppState>>) -> Response {
    let journal = s.journal.read().ok().and_then(|j| j.clone());
    let Some(journal) = journal else {
        return Json(serde_json::json!({"incidents": [], "policy": []})).into_response();
    };
    let rows = journal
        .lock()
        .map_err(|_| ())
        .and_then(|j| j.incidents(100).map_err(|_| ()));
    let policy = s.policy.read().map(|p| p.clone()).unwrap_or_default();
    match rows {
        Ok(rows) => Json(serde_json::json!({"incidents": rows, "policy": policy})).into_response(),
        Err(()) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": "journal unavailable"})),
        )
            .into_response(),
    }
}

/// The other replicas' votes: for each domain, peer → the region its signal requests.
/// An unreachable peer votes nothing.
pub async fn peer_votes(
    peers: &[String],
    domains: &[String],
    regions: &[String],
) -> BTreeMap<String, BTreeMap<String, Option<String>>> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap_or_default();
    let mut out: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
    for d in domains {
        for p in peers {
            let mut vote = None;
            for r in regions {
                let url = format!("{}/v1/signal/{d}/{r}", p.trim_end_matches('/'));
                if client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|resp| resp.status() == reqwest::StatusCode::OK)
                {
                    vote = Some(r.clone());
                }
            }
            out.entry(d.clone()).or_default().insert(p.clone(), vote);
        }
    }
    out
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    if s.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "backfilling\n").into_response()
    }
}

async fn status(State(s): State<Arc<AppState>>) -> Response {
    let snap = s.snapshot.read().ok().and_then(|g| g.clone());
    match snap {
        Some(snap) => Json(snap).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "no evaluation yet: backfilling"})),
        )
            .into_response(),
    }
}

/// Renders the metrics of a snapshot plus the long-lived telemetry.
pub fn render_metrics(snap: Option<&Snapshot>, t: &Telemetry) -> String {
    let mut reg = Registry::with_prefix("sloguard");
    let error_ratio = Family::<WindowLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let burn_rate = Family::<WindowLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let events = Family::<WindowLabels, Gauge>::default();
    let tier = Family::<TierLabels, Gauge>::default();
    let alert = Family::<StreamLabels, Gauge>::default();
    let region = Family::<RegionLabels, Gauge>::default();
    let active = Family::<RegionLabels, Gauge>::default();
    let data = Family::<DataLabels, Gauge>::default();
    if let Some(s) = snap {
        for r in &s.final_rows {
            let l = WindowLabels {
                service: r.service.clone(),
                slo: r.slo.clone(),
                region: r.region.clone(),
                window: r.window.clone(),
            };
            if let Some(v) = r.error_ratio {
                error_ratio.get_or_create(&l).set(v);
            }
            if let Some(v) = r.burn_rate {
                burn_rate.get_or_create(&l).set(v);
            }
            events.get_or_create(&l).set(r.events as i64);
        }
        for row in &s.tiers {
            tier.get_or_create(&TierLabels {
                service: row.service.clone(),
                slo: row.slo.clone(),
                region: row.region.clone(),
                severity: row.tier.severity.clone(),
                long_window: row.tier.long_window.clone(),
                short_window: row.tier.short_window.clone(),
            })
            .set(i64::from(row.tier.holds));
        }
        for st in &s.streams {
            for (sev, firing) in [("page", st.page_firing), ("ticket", st.ticket_firing)] {
                alert
                    .get_or_create(&StreamLabels {
                        service: st.service.clone(),
                        slo: st.slo.clone(),
                        region: st.region.clone(),
                        severity: sev.into(),
                    })
                    .set(i64::from(firing));
            }
            data.get_or_create(&DataLabels {
                service: st.service.clone(),
                slo: st.slo.clone(),
                region: st.region.clone(),
            })
            .set(i64::from(st.data == crate::engine::DataStatus::Complete));
        }
        for r in &s.regions {
            for state in ["healthy", "burning", "degraded", "no_data"] {
                region
                    .get_or_create(&RegionLabels {
                        region: r.region.clone(),
                        state: state.into(),
                    })
                    .set(i64::from(r.state == state));
            }
            active
                .get_or_create(&RegionLabels {
                    region: r.region.clone(),
                    state: r.role.clone(),
                })
                .set(i64::from(r.role == "active"));
        }
    }
    reg.register(
        "error_ratio",
        "Error ratio per SLO, region and window (absent on no data)",
        error_ratio,
    );
    reg.register(
        "burn_rate",
        "Burn rate (error ratio / error budget) per SLO, region and window",
        burn_rate,
    );
    reg.register(
        "window_events",
        "Events seen per SLO, region and window",
        events,
    );
    reg.register("tier_holds", "1 while a burn-rate tier holds", tier);
    reg.register(
        "alert_firing",
        "1 while the page or ticket alert of an SLO fires in a region",
        alert,
    );
    reg.register(
        "data_complete",
        "1 when the last query of an SLO returned complete data for the region",
        data,
    );
    reg.register(
        "region_state",
        "1 for the current state of each region",
        region,
    );
    reg.register("active_region", "1 for the active region", active);
    reg.register(
        "query_duration_seconds",
        "Latency of SLI queries",
        t.query_seconds.clone(),
    );
    reg.register(
        "evaluation_duration_seconds",
        "Latency of whole evaluations (queries included)",
        t.evaluation_seconds.clone(),
    );
    reg.register("evaluations", "Evaluations run", t.evaluations.clone());
    reg.register(
        "query_errors",
        "SLI queries that failed or returned partial data",
        t.query_errors.clone(),
    );
    let mut out = String::new();
    // Encoding into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
    out
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let snap = s.snapshot.read().ok().and_then(|g| g.clone());
    let body = render_metrics(snap.as_ref(), &s.telemetry);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
