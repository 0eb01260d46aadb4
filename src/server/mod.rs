//! The HTTP face of `serve`: `/metrics` (Prometheus text via prometheus-client),
//! `/api/v1/status` (the engine's latest snapshot as JSON, with p50/p99 query and
//! evaluation latency), `/healthz` (the process is up) and `/readyz` (the backfill is done).
//! The built-in dashboard (`/`) reads `/api/v1/status`, `/api/v1/history` (`?since=` for
//! the new points only), `/api/v1/incidents` (with `chaos`) and `/api/v1/slos` (every
//! configured SLO with objective, period and tiers, the configured regions, `chaos`).
//! Handlers only read shared state; the engine loop writes it. The webhook's handler is
//! in [`alertmanager`], the forgery guard of the mutating routes in [`guard`], the
//! connection and webhook budgets in [`limits`], `server.signal_listen` in [`signal`].

pub mod alertmanager;
pub mod guard;
pub mod limits;
pub mod listen;
pub mod run;
pub mod signal;
pub mod webhook;
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

use crate::app::{Observer, Outbox, TickOutcome};
use crate::snapshot::Snapshot;

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
pub struct AppState {
    pub snapshot: RwLock<Option<Snapshot>>,
    pub ready: AtomicBool,
    pub telemetry: Telemetry,
    /// This replica's failover signals (its votes), served to Route 53 health checks.
    pub signals: Arc<crate::actuator::SignalBoard>,
    pub journal: Option<Arc<std::sync::Mutex<crate::journal::Journal>>>,
    pub policy: RwLock<Vec<crate::policy::PolicyState>>,
    pub api: ApiConfig,
    pub dedup: std::sync::Mutex<webhook::Dedup>,
    pub webhook: WebhookCounters,
    /// Webhook deliveries read and processed at once.
    webhook_slots: limits::WebhookSlots,
    /// The configured SLOs and regions, indexed: pages for others are dropped.
    known: alertmanager::Known,
    /// Where webhook triggers and operator calls go (None: no engine loop behind).
    pub outbox: Option<Outbox>,
    /// A GameDay or demo: metrics carry `sloguard_chaos 1` so drills never mix with real
    /// incidents.
    pub chaos: AtomicBool,
    /// Failover configured: None while automation may act, else why it is off (then
    /// /readyz answers 503 with the reason and `sloguard_journal_ok` is 0).
    pub automation_off: RwLock<Option<String>>,
    /// Whether failover (and so a journal) is configured.
    pub failover: AtomicBool,
    /// Burn-rate history for the built-in dashboard (bounded).
    pub history: RwLock<std::collections::VecDeque<HistoryPoint>>,
    /// The whole history as JSON, made once per change: (points, last `at`, body).
    history_json: std::sync::Mutex<Option<(usize, i64, axum::body::Bytes)>>,
    /// One dashboard read (status, history, incidents, report) builds its answer at a
    /// time: however many clients poll, they wait for one another, never for a worker,
    /// so `/v1/signal/…` and `/healthz` always have the other core.
    heavy_reads: tokio::sync::Semaphore,
    /// This replica's probe view of every probed region, served to peers on `/v1/probes`.
    pub probes: RwLock<Vec<crate::probe::ProbeView>>,
    /// This replica's view of each failover domain, served to peers on `/v1/peer`.
    pub peer: RwLock<std::collections::BTreeMap<String, crate::policy::PeerDomain>>,
    /// Every configured SLO and region, for the dashboard's panels before any data.
    pub catalog: Catalog,
}

/// What the dashboard draws before (and besides) any evaluation: every configured SLO
/// with its objective, period and tiers, and the configured regions (`/api/v1/slos`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Catalog {
    pub slos: Vec<SloInfo>,
    pub regions: Vec<String>,
}

/// One configured SLO as the dashboard needs it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SloInfo {
    pub service: String,
    pub slo: String,
    /// Percent (99.9).
    pub objective: f64,
    /// The error budget as a ratio (0.001).
    pub budget: f64,
    /// The SLO period's window (`30d`), or its calendar period (`calendar_month`, the
    /// events since the period's UTC start): its burn rate is the share of the budget spent.
    pub period: String,
    /// Every window evaluated for the SLO, shortest first.
    pub windows: Vec<String>,
    pub tiers: Vec<TierInfo>,
    /// A built-in SLO (the region probes), not from a spec file.
    pub builtin: bool,
}

/// One burn-rate tier of an SLO: it holds when both windows burn above `factor`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TierInfo {
    pub severity: crate::slo::Severity,
    pub long_window: String,
    pub short_window: String,
    pub factor: f64,
    /// The error-ratio threshold (factor × budget).
    pub threshold: f64,
}

impl Catalog {
    /// The SLOs and regions an engine evaluates (the period is an SLO's longest window:
    /// specs refuse tier windows longer than the period).
    pub fn of<S: crate::query::MetricsSource>(engine: &crate::engine::Engine<S>) -> Self {
        use crate::slo::round_sig;
        let streams = engine.streams();
        let slos = streams
            .slos
            .iter()
            .map(|e| {
                let windows: Vec<String> = streams
                    .groups
                    .get(e.group)
                    .map(|g| g.windows.iter().map(ToString::to_string).collect())
                    .unwrap_or_default();
                SloInfo {
                    service: e.service.clone(),
                    slo: e.slo.clone(),
                    objective: round_sig((1.0 - e.budget) * 100.0),
                    budget: e.budget,
                    period: match e.calendar {
                        Some(c) => c.name().to_string(),
                        None => streams
                            .groups
                            .get(e.group)
                            .and_then(|g| g.windows.iter().max())
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                    },
                    windows,
                    tiers: e
                        .tiers
                        .iter()
                        .map(|t| TierInfo {
                            severity: t.severity,
                            long_window: t.long.to_string(),
                            short_window: t.short.to_string(),
                            factor: t.factor,
                            threshold: round_sig(t.factor * e.budget),
                        })
                        .collect(),
                    builtin: e.service == crate::probe::PROBE_SERVICE,
                }
            })
            .collect();
        Catalog {
            slos,
            regions: engine.regions().all(),
        }
    }
}

/// One evaluation's burn rates, for the dashboard's charts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryPoint {
    pub at: i64,
    /// (service/slo, region, window, burn rate)
    pub burn: Vec<(String, String, String, f64)>,
}

const HISTORY_POINTS: usize = 2_000;

/// Authentication and limits of the webhook and the operator API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub webhook_auth: Option<crate::config::Credential>,
    pub api_token: Option<String>,
    pub max_body_bytes: usize,
    pub region_label: String,
    /// `server.max_concurrent_webhooks`.
    pub max_concurrent_webhooks: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            webhook_auth: None,
            api_token: None,
            max_body_bytes: 1 << 20,
            region_label: "region".into(),
            max_concurrent_webhooks: crate::config::DEFAULT_CONCURRENT_WEBHOOKS,
        }
    }
}

/// What the webhook did with the alerts it received.
#[derive(Debug, Default)]
pub struct WebhookCounters {
    pub processed: std::sync::atomic::AtomicU64,
    pub duplicates: std::sync::atomic::AtomicU64,
    pub unknown: std::sync::atomic::AtomicU64,
    pub triggers: std::sync::atomic::AtomicU64,
    pub rejected: std::sync::atomic::AtomicU64,
    /// Deliveries answered 503: `max_concurrent_webhooks` were in flight.
    pub busy: std::sync::atomic::AtomicU64,
    pub dropped_unknown_slo: std::sync::atomic::AtomicU64,
    pub dropped_unknown_region: std::sync::atomic::AtomicU64,
}

impl Default for AppState {
    fn default() -> Self {
        AppState::new(ApiConfig::default())
    }
}

impl AppState {
    pub fn new(api: ApiConfig) -> Self {
        AppState {
            webhook_slots: limits::WebhookSlots::new(api.max_concurrent_webhooks.max(1)),
            known: alertmanager::Known::default(),
            snapshot: RwLock::new(None),
            ready: AtomicBool::new(false),
            telemetry: Telemetry::default(),
            signals: Arc::default(),
            journal: None,
            policy: RwLock::new(Vec::new()),
            api,
            dedup: std::sync::Mutex::new(webhook::Dedup::new(100_000)),
            webhook: WebhookCounters::default(),
            outbox: None,
            history: RwLock::new(std::collections::VecDeque::new()),
            history_json: std::sync::Mutex::new(None),
            heavy_reads: tokio::sync::Semaphore::new(1),
            probes: RwLock::new(Vec::new()),
            peer: RwLock::new(std::collections::BTreeMap::new()),
            automation_off: RwLock::new(None),
            failover: AtomicBool::new(false),
            chaos: AtomicBool::new(false),
            catalog: Catalog::default(),
        }
    }

    /// The configured SLOs and regions the dashboard shows from its first render.
    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        self.known = alertmanager::Known::of(&catalog);
        self.catalog = catalog;
        self
    }

    /// Wires the state to an app: its signal board, journal and inbox, made once here
    /// (never patched in after the server starts answering). `chaos`: a drill.
    pub fn wired(
        mut self,
        signals: Arc<crate::actuator::SignalBoard>,
        journal: Option<Arc<std::sync::Mutex<crate::journal::Journal>>>,
        outbox: Option<Outbox>,
        chaos: bool,
    ) -> Self {
        self.signals = signals;
        self.journal = journal;
        self.outbox = outbox;
        self.chaos = AtomicBool::new(chaos);
        self
    }

    /// Publishes a snapshot and appends its burn rates to the dashboard history.
    pub fn publish_with_history(&self, snap: Snapshot) {
        let point = HistoryPoint {
            at: snap.at,
            burn: snap
                .final_rows
                .iter()
                .filter_map(|r| {
                    r.burn_rate.map(|b| {
                        (
                            format!("{}/{}", r.service, r.slo),
                            r.region.clone(),
                            r.window.clone(),
                            b,
                        )
                    })
                })
                .collect(),
        };
        if let Ok(mut h) = self.history.write() {
            if h.len() >= HISTORY_POINTS {
                h.pop_front();
            }
            h.push_back(point);
        }
        self.publish(snap);
    }

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

impl Observer for AppState {
    fn observe(&self, out: &TickOutcome) {
        let t = &self.telemetry;
        for q in &out.query_secs {
            t.query_seconds.observe(*q);
        }
        if let Some(snap) = &out.snapshot {
            t.evaluation_seconds.observe(out.eval_secs);
            t.evaluations.inc();
            t.query_errors.inc_by(out.degraded as u64);
            self.publish_with_history(snap.clone());
        }
        self.set_policy(out.policy.clone());
        if out.snapshot.is_none() {
            // A runbook end or an operator call moved the active region between two
            // evaluations: status says so at once, not one evaluation later.
            if let (Some(p), Ok(mut snap)) = (out.policy.first(), self.snapshot.write()) {
                if let Some(snap) = snap.as_mut() {
                    snap.set_roles(&p.active, &p.standby);
                }
            }
        }
        if let Ok(mut p) = self.peer.write() {
            p.clone_from(&out.peer);
        }
        if let Ok(mut p) = self.probes.write() {
            p.clone_from(&out.probes);
        }
        self.failover.store(out.failover, Ordering::Release);
        if let Ok(mut a) = self.automation_off.write() {
            a.clone_from(&out.automation_off);
        }
    }

    fn ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
}

/// `serve` and `demo`: the HTTP server in front of an app, and the app's loop (the same
/// [`crate::app::run`] every command uses). The loop stops when `stop` turns true or the
/// schedule ends; the HTTP server then keeps answering until `linger` resolves or `stop`
/// turns true (a finished demo keeps its dashboard up). Returns the app.
#[allow(clippy::too_many_arguments)]
pub async fn serve<S: crate::query::MetricsSource, T: crate::app::clock::Timer>(
    app: crate::app::App<S>,
    timer: &T,
    schedule: crate::app::Schedule,
    listeners: impl Into<listen::Listeners>,
    api: ApiConfig,
    chaos: bool,
    extra: &dyn Observer,
    stop: tokio::sync::watch::Receiver<bool>,
    linger: impl std::future::Future<Output = ()>,
) -> crate::app::App<S> {
    let (outbox, inbox) = crate::app::inbox();
    let state = Arc::new(
        AppState::new(api)
            .wired(app.signals(), app.journal(), Some(outbox), chaos)
            .with_catalog(Catalog::of(app.engine())),
    );
    // What the journal restored, and whether automation is off, is true before the
    // backfill: the first answers say so.
    state.set_policy(app.policy());
    state
        .failover
        .store(app.journal().is_some(), Ordering::Release);
    if let Ok(mut a) = state.automation_off.write() {
        *a = app.automation_off();
    }
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    };
    let (server_tx, server_rx) = tokio::sync::watch::channel(false);
    let servers = listeners.into().spawn(
        router(state.clone()),
        signal::router(state.clone()),
        server_rx,
    );
    let observers = crate::app::Observers(vec![state.as_ref(), extra]);
    let app = crate::app::run(
        app,
        timer,
        schedule,
        inbox,
        &observers,
        stopped(stop.clone()),
    )
    .await;
    tokio::select! {
        _ = linger => {}
        _ = stopped(stop) => {}
    }
    let _ = server_tx.send(true);
    for server in servers {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "HTTP server task failed");
        }
    }
    app
}

pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.api.max_body_bytes;
    Router::new()
        .route("/", get(dashboard))
        .route("/api/v1/history", get(history))
        .route("/api/v1/slos", get(slos))
        .route(
            "/api/v1/alertmanager",
            axum::routing::post(alertmanager::handle),
        )
        .route("/api/v1/failover", axum::routing::post(op_failover))
        .route(
            "/api/v1/approve/{incident}",
            axum::routing::post(op_approve),
        )
        .route("/api/v1/rearm", axum::routing::post(op_rearm))
        .route(
            "/api/v1/incidents/{id}/resolve",
            axum::routing::post(op_resolve),
        )
        .route("/api/v1/failback", axum::routing::post(op_failback))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .route_layer(axum::middleware::from_fn(guard::refuse_forged))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/v1/signal/{domain}/{region}", get(signal))
        .route("/v1/probes", get(probes))
        .route("/v1/peer", get(peer))
        .route("/api/v1/incidents", get(incidents))
        .route("/api/v1/incidents/{id}/report", get(incident_report))
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

/// This replica's view of each failover domain, for its peers (`/v1/peer`): what its
/// evaluation wants, which regions it judges healthy or bad, and the failover it
/// executes or follows, so the replicas agree on one executor.
async fn peer(State(s): State<Arc<AppState>>) -> Response {
    let domains = s.peer.read().map(|p| p.clone()).unwrap_or_default();
    Json(crate::app::peers::PeerBody { domains }).into_response()
}

/// This replica's probes of every region, for its peers: a region is confirmed down only
/// when a quorum of replicas see it failing.
async fn probes(State(s): State<Arc<AppState>>) -> Response {
    let regions = s.probes.read().map(|p| p.clone()).unwrap_or_default();
    Json(crate::app::peers::ProbesBody { regions }).into_response()
}

async fn incidents(State(s): State<Arc<AppState>>) -> Response {
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
async fn incident_report(
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

/// Compares digests in constant time: neither the content nor the length of the
/// expected secret leaks through timing.
fn ct_eq(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    bool::from(Sha256::digest(a.as_bytes()).ct_eq(&Sha256::digest(b.as_bytes())))
}

/// Whether the request carries the expected credential. The scheme is case-insensitive
/// (RFC 9110); the secret is compared in constant time.
fn authorized(headers: &axum::http::HeaderMap, want: &crate::config::Credential) -> bool {
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
fn refuse_unauthorized(
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
async fn read_authorized(
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
async fn read_body(body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, Response> {
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

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({"error": message.into()}))).into_response()
}

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

async fn op_failover(
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

async fn op_approve(
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

async fn op_resolve(
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

async fn op_rearm(
    State(s): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    operate_json(&s, &headers, body, |r: DomainRequest| {
        (Some(r.domain), crate::policy::Command::Rearm, r.reason)
    })
    .await
}

async fn op_failback(
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

/// The built-in dashboard (embedded; no CDN, works offline).
async fn dashboard() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("dashboard.html"),
    )
        .into_response()
}

#[derive(Debug, serde::Deserialize)]
struct HistoryQuery {
    /// Only the points after this unix time (the dashboard polls for what is new).
    since: Option<i64>,
}

async fn history(
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
        Ok(h) => {
            let newer: Vec<&HistoryPoint> = h.iter().filter(|p| p.at > since).collect();
            serde_json::to_vec(&newer).unwrap_or_else(|_| b"[]".to_vec())
        }
        Err(_) => b"[]".to_vec(),
    };
    (json, body).into_response()
}

/// The whole history's JSON, serialised once per change however often it is asked for.
fn full_history(s: &AppState) -> axum::body::Bytes {
    let Ok(h) = s.history.read() else {
        return axum::body::Bytes::from_static(b"[]");
    };
    let key = (h.len(), h.back().map_or(i64::MIN, |p| p.at));
    if let Ok(cache) = s.history_json.lock() {
        if let Some((n, at, body)) = cache.as_ref() {
            if (*n, *at) == key {
                return body.clone();
            }
        }
    }
    let body = axum::body::Bytes::from(serde_json::to_vec(&*h).unwrap_or_else(|_| b"[]".to_vec()));
    drop(h);
    if let Ok(mut cache) = s.history_json.lock() {
        *cache = Some((key.0, key.1, body.clone()));
    }
    body
}

/// Every configured SLO (objective, period, tiers) and region, and whether this is a drill.
async fn slos(State(s): State<Arc<AppState>>) -> Response {
    Json(serde_json::json!({
        "slos": s.catalog.slos,
        "regions": s.catalog.regions,
        "chaos": s.chaos.load(Ordering::Relaxed),
        // Evaluations the history keeps: older ones fall off the charts.
        "history_limit": HISTORY_POINTS,
    }))
    .into_response()
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
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

async fn status(State(s): State<Arc<AppState>>) -> Response {
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OneRegion {
    region: String,
}

/// The outside evidence about each region (probes, silence, down / monitoring lost).
#[derive(Default)]
struct EvidenceGauges {
    probe_passing: Family<OneRegion, Gauge>,
    probe_failures: Family<OneRegion, Gauge>,
    failing_replicas: Family<OneRegion, Gauge>,
    silent_seconds: Family<OneRegion, Gauge>,
    down: Family<OneRegion, Gauge>,
    monitoring_lost: Family<OneRegion, Gauge>,
}

fn region_evidence(g: &mut EvidenceGauges, region: &str, e: &crate::snapshot::RegionEvidence) {
    let l = OneRegion {
        region: region.to_string(),
    };
    if e.probed {
        g.probe_passing
            .get_or_create(&l)
            .set(i64::from(e.probe_passing));
        g.probe_failures
            .get_or_create(&l)
            .set(i64::from(e.consecutive_failures));
        g.failing_replicas
            .get_or_create(&l)
            .set(i64::from(e.failing_replicas));
    }
    g.silent_seconds
        .get_or_create(&l)
        .set(e.silent_secs.unwrap_or(0));
    g.down.get_or_create(&l).set(i64::from(e.down));
    g.monitoring_lost
        .get_or_create(&l)
        .set(i64::from(e.monitoring_lost));
}

impl EvidenceGauges {
    fn register(self, reg: &mut Registry) {
        reg.register(
            "region_probe_passing",
            "1 while this replica's latest probe of the region passed",
            self.probe_passing,
        );
        reg.register(
            "region_probe_consecutive_failures",
            "Consecutive failed probes of the region seen by this replica",
            self.probe_failures,
        );
        reg.register(
            "region_probe_failing_replicas",
            "Replicas (this one included) whose last probes of the region all failed",
            self.failing_replicas,
        );
        reg.register(
            "region_silent_seconds",
            "Seconds the region's own SLIs have had no data or its source has been unreachable",
            self.silent_seconds,
        );
        reg.register(
            "region_down",
            "1 while the region is down: silent for regions.down_after and confirmed from outside",
            self.down,
        );
        reg.register(
            "region_monitoring_lost",
            "1 while the region's monitoring is lost: silent, with no outside confirmation (never acted on)",
            self.monitoring_lost,
        );
    }
}

/// Renders the metrics of a snapshot plus the long-lived telemetry.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActiveLabels {
    domain: String,
    region: String,
    state: String,
}

/// Renders the metrics of a snapshot, the policy's view of the active region per failover
/// domain (empty `domain` when failover is not configured), the journal's health and the
/// long-lived telemetry.
pub fn render_metrics(
    snap: Option<&Snapshot>,
    policy: &[crate::policy::PolicyState],
    journal_ok: Option<bool>,
    t: &Telemetry,
    w: &WebhookCounters,
) -> String {
    let mut reg = Registry::with_prefix("sloguard");
    let error_ratio = Family::<WindowLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let burn_rate = Family::<WindowLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let events = Family::<WindowLabels, Gauge>::default();
    let tier = Family::<TierLabels, Gauge>::default();
    let alert = Family::<StreamLabels, Gauge>::default();
    let region = Family::<RegionLabels, Gauge>::default();
    let active = Family::<ActiveLabels, Gauge>::default();
    let data = Family::<DataLabels, Gauge>::default();
    let mut evidence = EvidenceGauges::default();
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
                severity: row.tier.severity.to_string(),
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
            .set(i64::from(st.data == crate::snapshot::DataStatus::Complete));
        }
        for r in &s.regions {
            if let Some(e) = &r.evidence {
                region_evidence(&mut evidence, &r.region, e);
            }
            for state in [
                "healthy",
                "burning",
                "degraded",
                "no_data",
                "down",
                "monitoring_lost",
            ] {
                region
                    .get_or_create(&RegionLabels {
                        region: r.region.clone(),
                        state: state.into(),
                    })
                    .set(i64::from(r.state == state));
            }
            if policy.is_empty() {
                active
                    .get_or_create(&ActiveLabels {
                        domain: String::new(),
                        region: r.region.clone(),
                        state: r.role.clone(),
                    })
                    .set(i64::from(r.role == "active"));
            }
        }
    }
    for p in policy {
        for (region, role) in
            std::iter::once((&p.active, "active")).chain(p.standby.iter().map(|r| (r, "standby")))
        {
            active
                .get_or_create(&ActiveLabels {
                    domain: p.domain.clone(),
                    region: region.clone(),
                    state: role.into(),
                })
                .set(i64::from(role == "active"));
        }
    }
    if let Some(ok) = journal_ok {
        let g = Gauge::<i64>::default();
        g.set(i64::from(ok));
        reg.register(
            "journal_ok",
            "1 while the failover journal is usable; 0 means automation is off",
            g,
        );
    }
    alertmanager::register_metrics(&mut reg, w);
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
    evidence.register(&mut reg);
    reg.register(
        "active_region",
        "1 for the active region of each failover domain, as the policy holds it",
        active,
    );
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
    let policy = s.policy.read().map(|p| p.clone()).unwrap_or_default();
    let journal_ok = s
        .failover
        .load(Ordering::Acquire)
        .then(|| s.automation_off.read().is_ok_and(|a| a.is_none()));
    let mut body = render_metrics(snap.as_ref(), &policy, journal_ok, &s.telemetry, &s.webhook);
    if s.chaos.load(Ordering::Relaxed) {
        // Before the OpenMetrics terminator.
        let eof = body.rfind("# EOF").unwrap_or(body.len());
        body.insert_str(eof, "# HELP sloguard_chaos 1 while the engine runs a GameDay drill or the demo.\n# TYPE sloguard_chaos gauge\nsloguard_chaos 1\n");
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
