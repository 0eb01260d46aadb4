//! No routes: the state the engine loop writes and every handler reads ([`AppState`]),
//! with what it is made of: the long-lived telemetry, the webhook's counters, the
//! authentication and limits of the API ([`ApiConfig`]), the catalog of configured SLOs
//! and regions the dashboard draws before any data ([`Catalog`]), and the bounded
//! burn-rate history of its charts ([`super::history::History`]). The engine loop feeds it as an
//! [`Observer`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

use super::{alertmanager, limits, webhook};
use crate::app::{Observer, Outbox, TickOutcome};
use crate::snapshot::Snapshot;

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
    pub(super) webhook_slots: limits::WebhookSlots,
    /// The configured SLOs and regions, indexed: pages for others are dropped.
    pub(super) known: alertmanager::Known,
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
    pub history: RwLock<super::history::History>,
    /// The whole history as JSON, made once per change: (points, last `at`, body).
    pub(super) history_json: std::sync::Mutex<Option<(usize, i64, axum::body::Bytes)>>,
    /// One dashboard read (status, history, incidents, report) builds its answer at a
    /// time: however many clients poll, they wait for one another, never for a worker,
    /// so `/v1/signal/…` and `/healthz` always have the other core.
    pub(super) heavy_reads: tokio::sync::Semaphore,
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
            history: RwLock::new(super::history::History::new(super::history::HISTORY_POINTS)),
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
        // The history keeps as many evaluations of every configured series as its memory
        // budget allows (all 2,000 for a few SLOs, a handful at 10,000).
        let rows: usize = catalog.slos.iter().map(|s| s.windows.len()).sum::<usize>()
            * catalog.regions.len().max(1);
        self.history = RwLock::new(super::history::History::new(super::history::points_for(
            rows,
        )));
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
        if let Ok(mut h) = self.history.write() {
            h.push(snap.at, &snap.final_rows);
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
