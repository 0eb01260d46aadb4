//! The app layer: the ONE per-interval tick (query → core → snapshot → decide → act →
//! publish) and the loop that runs it. `serve`, `gameday`, `demo` and `eval` all run this
//! code; they differ only in the [`MetricsSource`] (Thanos client or simulated world), the
//! clock (wall or simulated, see [`clock`]) and the step backends (real AWS clients, or
//! dry-run backends that record the exact call each step would make).
//!
//! Below this layer nothing reads the system clock, imports the server or this module.
//! Above it, the server and the binary call in: they build an [`App`] with
//! [`App::from_config`], hand [`run`] an [`Observer`] (the HTTP state, a GameDay report,
//! the demo's terminal timeline) and an [`Inbox`] of webhook triggers and operator calls.

pub mod clock;
pub mod drill;
pub mod logging;
pub mod operator_client;
pub mod peers;
pub mod route53;
pub mod signals;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::actuator::{Backends, SignalBoard};
use crate::clock::Clock;
use crate::config::{Config, FailoverConfig};
use crate::engine::{Engine, EngineError};
use crate::failover::{FailoverDriver, Finished};
use crate::journal::{Journal, JournalError};
use crate::policy::{Action, Input, PolicyState};
use crate::probe::{ProbeFeed, ProbeTracker, ProbeView};
use crate::query::MetricsSource;
use crate::slo::{Service, Severity};
use crate::snapshot::{DataStatus, RegionEvidence, Snapshot};
use clock::Timer;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// What an app is built for.
#[derive(Clone)]
pub enum Purpose {
    /// `serve`: decide and act, journal in the configured file.
    Serve(StepBackends),
    /// A GameDay or the demo: decide on dry-run backends, journal in memory, tagged chaos.
    Drill,
    /// `eval`: evaluate only; no journal is opened and nothing is decided.
    Evaluate,
}

/// Where runbook steps act.
#[derive(Clone)]
pub enum StepBackends {
    /// Real clients from the configuration (AWS clients only when a step needs them).
    Configured,
    /// Record the exact call each step would make, act on nothing (GameDays, demo).
    DryRun,
    /// Given clients (tests: moto, fakes).
    Given(Backends),
}

/// A webhook page for an SLO in a region: re-evaluate now and notify. Never counts as
/// one of the policy's consecutive evaluations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub service: String,
    pub slo: String,
    pub region: String,
}

/// An operator command for a failover domain (None: every domain, e.g. approve by id).
#[derive(Debug)]
pub struct OperatorCall {
    pub domain: Option<String>,
    pub command: crate::policy::Command,
    /// Why: journaled with the call.
    pub reason: String,
    pub reply: oneshot::Sender<Result<Vec<Action>, String>>,
}

/// What the HTTP side sends the loop. Operator calls have their own queue, served before
/// triggers, so a flood of pages never delays them.
pub struct Inbox {
    /// One batch per webhook delivery: a delivery is at most one re-evaluation.
    pub triggers: mpsc::Receiver<Vec<Trigger>>,
    pub operator: mpsc::Receiver<OperatorCall>,
}

/// The sending half of an [`Inbox`].
#[derive(Clone)]
pub struct Outbox {
    pub triggers: mpsc::Sender<Vec<Trigger>>,
    pub operator: mpsc::Sender<OperatorCall>,
}

/// A connected inbox and outbox; triggers coalesce, so their queue is short.
pub fn inbox() -> (Outbox, Inbox) {
    let (tt, tr) = mpsc::channel(64);
    let (ot, or) = mpsc::channel(64);
    (
        Outbox {
            triggers: tt,
            operator: ot,
        },
        Inbox {
            triggers: tr,
            operator: or,
        },
    )
}

/// An alert tier that started or stopped firing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertChange {
    pub at: i64,
    pub service: String,
    pub slo: String,
    pub region: String,
    pub severity: Severity,
    pub firing: bool,
}

/// An action a domain's policy decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub at: i64,
    pub domain: String,
    #[serde(flatten)]
    pub action: Action,
}

/// One runbook step as it ran (or, on dry-run backends, the exact call it would make).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepCall {
    pub at: i64,
    pub domain: String,
    pub incident: u64,
    pub step: String,
    pub status: String,
    pub call: String,
}

/// Everything one pass of the loop produced, for observers to publish.
#[derive(Debug, Clone, Default)]
pub struct TickOutcome {
    pub at: i64,
    /// A scheduled evaluation (not a webhook re-evaluation, operator call or runbook end).
    pub scheduled: bool,
    pub alerts: Vec<AlertChange>,
    pub decisions: Vec<Decision>,
    pub steps: Vec<StepCall>,
    /// Present when the engine evaluated in this pass.
    pub snapshot: Option<Snapshot>,
    pub policy: Vec<PolicyState>,
    pub query_secs: Vec<f64>,
    pub eval_secs: f64,
    /// Streams whose data was degraded in this evaluation.
    pub degraded: usize,
    /// Failover configured: None while automation may act, else why it is off.
    pub automation_off: Option<String>,
    /// Whether failover is configured at all (then the journal's health is reported).
    pub failover: bool,
    /// This replica's probe view of each probed region (served to peers on `/v1/probes`).
    pub probes: Vec<ProbeView>,
    /// Per region, the outside evidence of the last evaluation (silence, probes, down).
    pub evidence: BTreeMap<String, RegionEvidence>,
    /// This replica's view of each failover domain (served to peers on `/v1/peer`).
    pub peer: BTreeMap<String, crate::policy::PeerDomain>,
}

/// Publishes what the loop produced: the HTTP state, a GameDay report, a terminal timeline.
pub trait Observer: Send + Sync {
    fn observe(&self, outcome: &TickOutcome);
    /// The backfill is done and the first snapshot observed.
    fn ready(&self) {}
}

/// Several observers, in order.
pub struct Observers<'a>(pub Vec<&'a dyn Observer>);

impl Observer for Observers<'_> {
    fn observe(&self, outcome: &TickOutcome) {
        for o in &self.0 {
            o.observe(outcome);
        }
    }
    fn ready(&self) {
        for o in &self.0 {
            o.ready();
        }
    }
}

/// The engine and the failover driver, stepped together.
pub struct App<S> {
    engine: Engine<S>,
    failover: Option<FailoverDriver>,
    clock: Arc<dyn Clock>,
    signals: Arc<SignalBoard>,
    regions: Vec<String>,
    /// Where probe results come from (HTTP probes in `serve`, the simulated world in a
    /// drill); None when no region is probed.
    probe_feed: Option<Arc<dyn ProbeFeed>>,
    tracker: ProbeTracker,
    evidence: BTreeMap<String, RegionEvidence>,
    /// Whole scheduled ticks (queries, core, decisions), µs.
    tick_hist: hdrhistogram::Histogram<u64>,
    /// Where the core's windows persist for a warm restart (`<journal>.windows`; None:
    /// no journal configured, every start is cold).
    windows_file: Option<std::path::PathBuf>,
    /// Scheduled evaluations since the windows were last saved.
    unsaved: u32,
}

/// Scheduled evaluations between two saves of the windows (and one at every stop).
const SAVE_EVERY: u32 = 10;

impl<S: MetricsSource> App<S> {
    /// The one bootstrap from a configuration: the engine over `source`, and (when the
    /// config has a failover section and the purpose decides) the driver with its
    /// journal and step backends.
    pub async fn from_config(
        cfg: &Config,
        services: &[Service],
        source: S,
        clock: Arc<dyn Clock>,
        purpose: Purpose,
    ) -> Result<Self, AppError> {
        let purpose_probes = matches!(purpose, Purpose::Serve(_));
        let windows_file = match (&purpose, &cfg.failover) {
            (Purpose::Serve(_), Some(fo)) => {
                let mut name = fo.journal.as_os_str().to_owned();
                name.push(".windows");
                Some(std::path::PathBuf::from(name))
            }
            _ => None,
        };
        let (steps, drill) = match purpose {
            Purpose::Serve(steps) => (Some(steps), false),
            Purpose::Drill => (Some(StepBackends::DryRun), true),
            Purpose::Evaluate => (None, false),
        };
        let engine = Engine::new(
            source,
            services,
            cfg.evaluation.clone(),
            cfg.regions.clone(),
            clock.clone(),
        )?;
        let signals: Arc<SignalBoard> = Arc::default();
        let record_only = drill || matches!(steps, Some(StepBackends::DryRun));
        let failover = match (&cfg.failover, steps) {
            (Some(fo), Some(steps)) => {
                // No journal, no automatic action: a journal that cannot be opened,
                // checked or written turns automation off (the server still starts,
                // evaluates, notifies and says why on /readyz and /metrics).
                let (journal, automation_off) = if drill {
                    (Journal::in_memory()?, None)
                } else {
                    match Journal::open(&fo.journal) {
                        Ok(j) => (j, None),
                        Err(e) => {
                            tracing::error!(journal = %fo.journal.display(), error = %e, "the journal is unusable: automation is OFF until it is fixed and sloguard restarted");
                            // What keeps a failover in place must survive even this: a
                            // journal that can still be read restores the policy state
                            // and the raised signals into the in-memory stand-in.
                            let mut stand_in = Journal::in_memory()?;
                            match Journal::open_read_only(&fo.journal)
                                .and_then(|ro| stand_in.import_state(&ro))
                            {
                                Ok(()) => {
                                    tracing::warn!(journal = %fo.journal.display(), "policy state and signals restored read-only")
                                }
                                Err(re) => {
                                    tracing::error!(journal = %fo.journal.display(), error = %re, "cannot even read the journal: starting from the configuration")
                                }
                            }
                            (
                                stand_in,
                                Some(format!("journal {}: {e}", fo.journal.display())),
                            )
                        }
                    }
                };
                let backends = match steps {
                    StepBackends::Configured => configured_backends(fo, signals.clone()).await,
                    StepBackends::DryRun => Backends {
                        signals: signals.clone(),
                        ..Default::default()
                    },
                    StepBackends::Given(mut b) => {
                        b.signals = signals.clone();
                        b
                    }
                };
                let mut driver = FailoverDriver::new(
                    fo.clone(),
                    &cfg.regions,
                    journal,
                    backends,
                    clock.clone(),
                    drill,
                )?;
                driver.dry_run_steps = record_only;
                driver.automation_off = automation_off;
                Some(driver)
            }
            _ => None,
        };
        let probe_feed: Option<Arc<dyn ProbeFeed>> =
            match (&purpose_probes, cfg.regions.probes.is_empty()) {
                (true, false) => Some(Arc::new(crate::query::probe::HttpProber::start(
                    &cfg.regions.probes,
                    clock.clone(),
                ))),
                _ => None,
            };
        Ok(App {
            engine,
            failover,
            clock,
            signals,
            regions: cfg.regions.all(),
            probe_feed,
            tracker: ProbeTracker::new(
                cfg.regions.probes.keys().cloned(),
                cfg.regions.probe_failures,
            ),
            evidence: BTreeMap::new(),
            tick_hist: crate::engine::hist(),
            windows_file,
            unsaved: 0,
        })
    }

    /// Probe results from `feed` instead of HTTP probes (a drill's simulated world).
    pub fn with_probes(mut self, feed: Arc<dyn ProbeFeed>) -> Self {
        self.probe_feed = Some(feed);
        self
    }

    /// The outside evidence of every configured region at `at`: silence from the
    /// engine, this replica's probes, the peers' views and external-vantage SLOs.
    fn gather_evidence(
        &self,
        health: &[crate::snapshot::StreamHealth],
        peer_views: &BTreeMap<String, Option<Vec<ProbeView>>>,
        at: i64,
    ) -> BTreeMap<String, RegionEvidence> {
        let rule = crate::probe::DownRule {
            down_after: self.engine.regions().down_after,
            quorum: self.failover.as_ref().map_or(1, FailoverDriver::quorum),
        };
        self.regions
            .iter()
            .map(|r| {
                let peers: Vec<Option<ProbeView>> = peer_views
                    .values()
                    .map(|v| {
                        v.as_ref()
                            .and_then(|views| views.iter().find(|x| &x.region == r).cloned())
                    })
                    .collect();
                let external = health
                    .iter()
                    .any(|h| h.external && &h.region == r && h.holds(Severity::Page));
                (
                    r.clone(),
                    crate::probe::evidence(
                        self.engine.silent_since(r),
                        self.tracker.view(r),
                        &peers,
                        external,
                        rule,
                        at,
                    ),
                )
            })
            .collect()
    }

    /// The failover signals this replica serves (its votes), for the HTTP side.
    pub fn signals(&self) -> Arc<SignalBoard> {
        self.signals.clone()
    }

    /// The journal, when failover is configured.
    pub fn journal(&self) -> Option<Arc<Mutex<Journal>>> {
        self.failover.as_ref().map(FailoverDriver::journal)
    }

    pub fn policy(&self) -> Vec<PolicyState> {
        self.failover
            .as_ref()
            .map(FailoverDriver::states)
            .unwrap_or_default()
    }

    pub fn engine(&self) -> &Engine<S> {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut Engine<S> {
        &mut self.engine
    }

    /// Start-up: resume runbooks the journal shows unfinished, backfill every window up
    /// to now and evaluate once (no decision: the policy needs scheduled evaluations).
    pub async fn start(&mut self, progress: impl FnMut(usize, usize)) -> TickOutcome {
        self.start_serving(progress, None).await
    }

    /// [`Self::start`], answering operator calls from `ops` while the backfill runs.
    pub async fn start_serving(
        &mut self,
        mut progress: impl FnMut(usize, usize),
        ops: Option<&mut mpsc::Receiver<OperatorCall>>,
    ) -> TickOutcome {
        if let Some(f) = self.failover.as_mut() {
            f.resume();
        }
        let at = self.clock.now();
        self.restore_windows(at);
        let mut interleaved = Vec::new();
        {
            let Self {
                engine,
                failover,
                clock,
                ..
            } = self;
            with_operator(
                engine.backfill(at, &mut progress),
                failover,
                clock,
                ops,
                &mut interleaved,
            )
            .await;
        }
        self.engine.evaluate_now();
        let mut out = self.outcome(at, false);
        out.decisions = interleaved;
        out.snapshot = Some(self.snapshot());
        out
    }

    /// Fetches the coverage gaps due now (a failed start-up backfill, a span a region
    /// missed) between scheduled evaluations, answering operator calls meanwhile; the
    /// outcome carries a fresh snapshot but no decision.
    pub async fn fill_gaps_serving(
        &mut self,
        ops: Option<&mut mpsc::Receiver<OperatorCall>>,
    ) -> TickOutcome {
        let at = self.clock.now();
        let mut interleaved = Vec::new();
        {
            let Self {
                engine,
                failover,
                clock,
                ..
            } = self;
            with_operator(engine.fill_gaps(at), failover, clock, ops, &mut interleaved).await;
        }
        self.engine.evaluate_now();
        let mut out = self.outcome(at, false);
        out.decisions = interleaved;
        out.snapshot = Some(self.snapshot());
        out
    }

    /// A warm restart: the windows saved beside the journal, when they are this engine's
    /// own; SLOs whose specs changed (and everything, for a file from another version or
    /// a corrupt one, named in a warning) backfill cold.
    fn restore_windows(&mut self, at: i64) {
        let Some(path) = &self.windows_file else {
            return;
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read the saved windows: cold start");
                return;
            }
        };
        match self.engine.restore_windows(&bytes, at) {
            Ok((restored, cold)) => {
                tracing::info!(file = %path.display(), restored = restored.len(), cold = cold.len(), "warm restart: windows restored; fetching only the span since they were saved");
                if !cold.is_empty() {
                    tracing::warn!(file = %path.display(), slos = %cold.join(", "), "these SLOs changed (or are new): backfilling them cold");
                }
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "the saved windows are unusable: cold start");
            }
        }
    }

    /// Saves the core's windows beside the journal (atomically, owner-only).
    pub fn save_windows(&mut self) {
        self.unsaved = 0;
        let Some(path) = &self.windows_file else {
            return;
        };
        let bytes = self.engine.windows_image();
        if let Err(e) = write_private_atomic(path, &bytes) {
            tracing::warn!(file = %path.display(), error = %e, "cannot save the windows (a restart will backfill cold)");
        }
    }

    fn outcome(&self, at: i64, scheduled: bool) -> TickOutcome {
        TickOutcome {
            at,
            scheduled,
            policy: self.policy(),
            automation_off: self.automation_off(),
            failover: self.failover.is_some(),
            probes: self.tracker.views(),
            evidence: self.evidence.clone(),
            peer: self.peer_view(),
            ..Default::default()
        }
    }

    /// This replica's view of each failover domain, for its peers.
    fn peer_view(&self) -> BTreeMap<String, crate::policy::PeerDomain> {
        self.failover
            .as_ref()
            .map(FailoverDriver::peer_view)
            .unwrap_or_default()
    }

    /// Why automation is off, if it is.
    pub fn automation_off(&self) -> Option<String> {
        self.failover
            .as_ref()
            .and_then(|f| f.automation_off.clone())
    }

    /// The engine's snapshot with the active region and roles as the policy sees them:
    /// one source of truth for "active".
    fn snapshot(&self) -> Snapshot {
        let mut snap = self.engine.snapshot();
        snap.tick_latency = crate::engine::latency(&self.tick_hist);
        if let Some(p) = self
            .failover
            .as_ref()
            .and_then(|f| f.states().first().cloned())
        {
            snap.set_roles(&p.active, &p.standby);
        }
        for r in &mut snap.regions {
            if let Some(e) = self.evidence.get(&r.region) {
                if e.down {
                    r.state = "down".into();
                } else if e.monitoring_lost {
                    r.state = "monitoring_lost".into();
                }
                r.evidence = Some(e.clone());
            }
        }
        snap
    }

    /// One evaluation at the clock's time: query every SLO, step the core, and (when
    /// `scheduled`) decide. A webhook re-evaluation publishes fresh burn rates but never
    /// feeds the policy, so it can never count toward N consecutive evaluations.
    pub async fn evaluate(&mut self, scheduled: bool) -> TickOutcome {
        self.evaluate_serving(scheduled, None).await
    }

    /// [`Self::evaluate`], answering operator calls from `ops` while queries run.
    pub async fn evaluate_serving(
        &mut self,
        scheduled: bool,
        ops: Option<&mut mpsc::Receiver<OperatorCall>>,
    ) -> TickOutcome {
        let at = self.clock.now();
        let tick_started = self.clock.monotonic();
        let mut interleaved = Vec::new();
        let domains: Vec<(String, Vec<(String, String)>)> = self
            .failover
            .as_ref()
            .map(FailoverDriver::domains)
            .unwrap_or_default();
        let peer_urls: Vec<String> = self
            .failover
            .as_ref()
            .map(|f| f.peers().to_vec())
            .unwrap_or_default();
        if let Some(feed) = &self.probe_feed {
            let results = feed.take(at);
            self.tracker.record(&results);
            self.engine.ingest_probes(&results);
        }
        let probed = !self.tracker.is_empty();
        let (transitions, pre, votes, peer_views, peer_domains) = {
            let Self {
                engine,
                failover,
                clock,
                regions,
                ..
            } = self;
            let io = async {
                let transitions = engine.step(at).await;
                let mut peer_views = BTreeMap::new();
                let mut pre = BTreeMap::new();
                let mut votes = BTreeMap::new();
                let mut peer_domains = BTreeMap::new();
                if scheduled && !domains.is_empty() {
                    for (domain, queries) in &domains {
                        let mut m = BTreeMap::new();
                        for (name, q) in queries {
                            m.insert(name.clone(), engine.precondition(q, at).await);
                        }
                        pre.insert(domain.clone(), m);
                    }
                    if !peer_urls.is_empty() {
                        let names: Vec<String> = domains.iter().map(|d| d.0.clone()).collect();
                        votes = peers::votes(&peer_urls, &names, regions).await;
                        peer_domains = peers::views(&peer_urls).await;
                        if probed {
                            peer_views = peers::probe_views(&peer_urls).await;
                        }
                    }
                }
                (transitions, pre, votes, peer_views, peer_domains)
            };
            with_operator(io, failover, clock, ops, &mut interleaved).await
        };
        let mut out = self.outcome(at, scheduled);
        out.decisions = interleaved;
        for (s, t) in transitions {
            if let Some(k) = self.engine.streams().key(s) {
                out.alerts.push(AlertChange {
                    at,
                    service: k.service.clone(),
                    slo: k.slo.clone(),
                    region: k.region.clone(),
                    severity: t.severity,
                    firing: t.firing,
                });
            }
        }
        out.query_secs = self.engine.last_query_secs.clone();
        out.eval_secs = self.engine.last_eval_secs;
        let health = self.engine.health();
        self.evidence = self.gather_evidence(&health, &peer_views, at);
        out.degraded = health
            .iter()
            .filter(|h| matches!(h.data, DataStatus::Degraded(_)))
            .count();
        let mut snapshot = self.snapshot();
        if let Some(f) = self.failover.as_mut() {
            let changes: Vec<_> = out
                .alerts
                .iter()
                .map(|a| {
                    (
                        format!("{}/{}", a.service, a.slo),
                        a.region.clone(),
                        a.severity,
                        a.firing,
                    )
                })
                .collect();
            f.record_alerts(&changes, at);
        }
        if scheduled {
            if let Some(f) = self.failover.as_mut() {
                for (domain, v) in votes {
                    if let Some(di) = f.domain_index(&domain) {
                        f.input(di, Input::Votes(v), at);
                    }
                }
                if !f.peers().is_empty() {
                    let mut peer_domains = peer_domains;
                    for di in 0..f.domains().len() {
                        let name = f.domain_name(di).to_string();
                        let views = peer_domains.remove(&name).unwrap_or_default();
                        f.input(di, Input::PeerViews(views), at);
                    }
                }
                let facts = || snapshot.stream_facts();
                for (di, actions) in
                    f.on_health(&health, &self.regions, &pre, &self.evidence, &facts, at)
                {
                    let domain = f.domain_name(di).to_string();
                    out.decisions
                        .extend(actions.into_iter().map(|action| Decision {
                            at,
                            domain: domain.clone(),
                            action,
                        }));
                }
            }
        }
        out.policy = self.policy();
        out.automation_off = self.automation_off();
        out.probes = self.tracker.views();
        out.evidence = self.evidence.clone();
        out.peer = self.peer_view();
        let tick_secs = self
            .clock
            .monotonic()
            .saturating_sub(tick_started)
            .as_secs_f64();
        let _ = self.tick_hist.record((tick_secs * 1e6) as u64);
        snapshot.tick_latency = crate::engine::latency(&self.tick_hist);
        if scheduled {
            self.unsaved += 1;
            if self.unsaved >= SAVE_EVERY {
                self.save_windows();
            }
        }
        // The roles as the policy holds them after this evaluation's decisions.
        if let Some(p) = out.policy.first() {
            snapshot.set_roles(&p.active, &p.standby);
        }
        out.snapshot = Some(snapshot);
        out
    }

    /// Webhook pages: every domain records one notice for the batch (bounded, however
    /// many pages it holds), then the engine re-evaluates once. Pages never feed the
    /// policy an evaluation: they cannot count toward N.
    pub async fn triggers(&mut self, pages: &[Trigger]) -> TickOutcome {
        self.triggers_serving(pages, None).await
    }

    /// [`Self::triggers`], answering operator calls from `ops` while queries run.
    pub async fn triggers_serving(
        &mut self,
        pages: &[Trigger],
        ops: Option<&mut mpsc::Receiver<OperatorCall>>,
    ) -> TickOutcome {
        let decisions = self.page_notices(pages);
        let mut out = self.evaluate_serving(false, ops).await;
        let mut all = decisions;
        all.append(&mut out.decisions);
        out.decisions = all;
        out
    }

    /// Every domain records one notice for a batch of webhook pages (bounded, however
    /// many pages it holds); nothing is evaluated here.
    pub fn page_notices(&mut self, pages: &[Trigger]) -> Vec<Decision> {
        let at = self.clock.now();
        let mut decisions = Vec::new();
        if let Some(first) = pages.first() {
            tracing::info!(pages = pages.len(), service = %first.service, slo = %first.slo, region = %first.region, "Alertmanager pages: re-evaluating from the source");
            let mut regions: Vec<&str> = pages.iter().map(|t| t.region.as_str()).collect();
            regions.sort();
            regions.dedup();
            let more = if pages.len() > 1 {
                format!(" (+{} more)", pages.len() - 1)
            } else {
                String::new()
            };
            let input = Input::AlertTrigger {
                region: regions.join(", "),
                slo: format!("{}/{}{more}", first.service, first.slo),
            };
            if let Some(f) = self.failover.as_mut() {
                for di in 0..f.domains().len() {
                    let domain = f.domain_name(di).to_string();
                    decisions.extend(f.input(di, input.clone(), at).into_iter().map(|action| {
                        Decision {
                            at,
                            domain: domain.clone(),
                            action,
                        }
                    }));
                }
            }
        }
        decisions
    }

    /// An operator command; returns the policy's actions (or why it cannot run).
    pub fn operator(
        &mut self,
        domain: Option<&str>,
        command: crate::policy::Command,
        reason: &str,
    ) -> (Result<Vec<Action>, String>, TickOutcome) {
        let at = self.clock.now();
        let mut out = self.outcome(at, false);
        let (result, decisions) = operate(&mut self.failover, at, domain, command, reason);
        out.decisions = decisions;
        out.policy = self.policy();
        out.peer = self.peer_view();
        (result, out)
    }

    /// A runbook ended: feed the result to its policy; the steps become step calls.
    pub fn finished(&mut self, done: &Finished) -> TickOutcome {
        let at = self.clock.now();
        let mut out = self.outcome(at, false);
        if let Some(f) = self.failover.as_mut() {
            let domain = f.domain_name(done.domain).to_string();
            out.steps = done
                .outcome
                .steps
                .iter()
                .map(|(step, status, call)| StepCall {
                    at,
                    domain: domain.clone(),
                    incident: done.incident,
                    step: step.clone(),
                    status: status.clone(),
                    call: call.clone(),
                })
                .collect();
            out.decisions = f
                .finished(done, at)
                .into_iter()
                .map(|action| Decision {
                    at,
                    domain: domain.clone(),
                    action,
                })
                .collect();
        }
        out.policy = self.policy();
        out.peer = self.peer_view();
        out
    }

    fn take_finished(&mut self) -> Option<mpsc::UnboundedReceiver<Finished>> {
        self.failover
            .as_mut()
            .and_then(FailoverDriver::take_finished)
    }
}

/// An operator command against the failover driver at `at`: the answer for the caller
/// and the decisions for the observers. The call and its reason are journaled first.
fn operate(
    failover: &mut Option<FailoverDriver>,
    at: i64,
    domain: Option<&str>,
    command: crate::policy::Command,
    reason: &str,
) -> (Result<Vec<Action>, String>, Vec<Decision>) {
    let mut decisions = Vec::new();
    let Some(f) = failover.as_mut() else {
        return (Err("failover is not configured".into()), decisions);
    };
    let indices: Vec<usize> = match domain {
        Some(d) => match f.domain_index(d) {
            Some(i) => vec![i],
            None => return (Err(format!("unknown failover domain {d:?}")), decisions),
        },
        None => (0..f.domains().len()).collect(),
    };
    let mut all = Vec::new();
    let command_json = serde_json::to_value(&command).unwrap_or_default();
    for di in indices {
        f.record_operator_call(f.domain_name(di), &command_json, reason, at);
        let actions = f.input(di, Input::Operator(command.clone()), at);
        let name = f.domain_name(di).to_string();
        decisions.extend(actions.iter().map(|a| Decision {
            at,
            domain: name.clone(),
            action: a.clone(),
        }));
        // Approve by incident id: only the domain awaiting it answers meaningfully.
        let blocked_only = actions.iter().all(|a| matches!(a, Action::Blocked { .. }));
        if domain.is_some() || !blocked_only || all.is_empty() {
            if !blocked_only {
                all.retain(|a| !matches!(a, Action::Blocked { .. }));
            }
            all.extend(actions);
        }
    }
    (Ok(all), decisions)
}

/// Drives `io` (queries: the backfill, an evaluation's SLI and precondition queries, peer
/// votes) to its end while answering operator calls with the driver in the meantime: a
/// slow or hung source never holds an operator back. Their decisions join `decisions`.
async fn with_operator<T>(
    io: impl std::future::Future<Output = T>,
    failover: &mut Option<FailoverDriver>,
    clock: &Arc<dyn Clock>,
    ops: Option<&mut mpsc::Receiver<OperatorCall>>,
    decisions: &mut Vec<Decision>,
) -> T {
    let Some(ops) = ops else {
        return io.await;
    };
    tokio::pin!(io);
    loop {
        tokio::select! {
            biased;
            out = &mut io => return out,
            Some(call) = ops.recv() => {
                if call.reply.is_closed() {
                    continue;
                }
                let (result, ds) = operate(failover, clock.now(), call.domain.as_deref(), call.command, &call.reason);
                decisions.extend(ds);
                let _ = call.reply.send(result);
            }
        }
    }
}

/// The AWS clients the configured runbooks need (none are created when no step uses AWS).
async fn configured_backends(fo: &FailoverConfig, signals: Arc<SignalBoard>) -> Backends {
    use crate::actuator::aws;
    let mut b = Backends {
        signals,
        ..Default::default()
    };
    if fo
        .domains
        .iter()
        .flat_map(|d| d.runbook.iter())
        .any(|s| s.needs_aws())
    {
        let conf = aws::sdk_config(&fo.aws_region).await;
        b.sns = Some(Arc::new(aws::SdkSns(aws_sdk_sns::Client::new(&conf))));
        b.route53 = Some(Arc::new(aws::SdkRoute53(aws_sdk_route53::Client::new(
            &conf,
        ))));
        b.aurora = Some(Arc::new(aws::SdkAurora(aws_sdk_rds::Client::new(&conf))));
    }
    b
}

/// The most distinct webhook pages kept for the next evaluation (each page becomes a
/// part of one notice; beyond this the rest are dropped, the notice says how many).
const MAX_PENDING_PAGES: usize = 1000;

/// Writes `bytes` to `path` through a sibling temporary file renamed into place, created
/// owner-only (0600): a crash mid-write leaves the previous file, never half of one.
fn write_private_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// When the loop evaluates: every `interval` seconds from the start, until `until`
/// (simulated runs end; `serve` runs until shut down).
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub interval: i64,
    pub until: Option<i64>,
}

/// The loop: start (resume, backfill, first snapshot), then evaluate on schedule, serve
/// operator calls first and coalesced webhook triggers next, and feed finished runbooks
/// back, until `shutdown` resolves or the schedule ends. Returns the app for reports.
pub async fn run<S: MetricsSource, T: Timer>(
    mut app: App<S>,
    timer: &T,
    schedule: Schedule,
    mut inbox: Inbox,
    observer: &dyn Observer,
    shutdown: impl std::future::Future<Output = ()>,
) -> App<S> {
    tokio::pin!(shutdown);
    let mut last_pct = 0;
    let start = app.start_serving(
        |done, total| {
            let pct = done * 100 / total.max(1);
            if pct >= last_pct + 25 {
                last_pct = pct;
                tracing::info!(done, total, "backfill progress");
            }
        },
        Some(&mut inbox.operator),
    );
    let first = tokio::select! {
        out = start => out,
        _ = &mut shutdown => return app,
    };
    observer.observe(&first);
    // Ready only once every source has been backfilled: a start that could not read
    // the history retries it (with backoff) and decides nothing until it has.
    let mut ready = false;
    let mark_ready = |app: &App<S>, ready: &mut bool| {
        if !*ready && app.engine.backfilled() {
            *ready = true;
            observer.ready();
            tracing::info!("backfill done; ready");
        }
    };
    mark_ready(&app, &mut ready);
    if !ready {
        tracing::warn!("backfill incomplete: not ready; retrying with backoff");
    }
    let mut finished = app.take_finished();
    // Webhook pages waiting for the next evaluation, and whether this interval's one
    // extra (page-triggered) evaluation already ran.
    let mut pages: Vec<Trigger> = Vec::new();
    let mut extra_done = false;
    let interval = schedule.interval.max(1);
    let mut next = timer.now() + interval;
    loop {
        if schedule.until.is_some_and(|u| next > u) {
            break;
        }
        let retry = app.engine.next_gap_retry().filter(|t| *t < next);
        tokio::select! {
            biased;
            _ = &mut shutdown => {
                drain(&mut app, &mut finished, observer).await;
                app.save_windows();
                break;
            }
            Some(call) = inbox.operator.recv() => {
                if call.reply.is_closed() {
                    // The caller gave up waiting and was told the call was not applied.
                    tracing::warn!(command = %serde_json::to_string(&call.command).unwrap_or_default(), "operator call dropped: its caller stopped waiting");
                    continue;
                }
                let (result, out) = app.operator(call.domain.as_deref(), call.command, &call.reason);
                let _ = call.reply.send(result);
                let out = settle(&mut app, timer, &mut finished, out).await;
                observer.observe(&out);
            }
            Some(done) = recv(&mut finished), if !timer.simulated() => {
                observer.observe(&app.finished(&done));
            }
            _ = timer.wait_until(retry.unwrap_or(next)), if retry.is_some() => {
                observer.observe(&app.fill_gaps_serving(Some(&mut inbox.operator)).await);
                mark_ready(&app, &mut ready);
            }
            // The schedule before webhook pages: a flood of pages never delays a
            // scheduled evaluation (only scheduled ones count toward N).
            _ = timer.wait_until(next) => {
                let notices = if pages.is_empty() {
                    Vec::new()
                } else {
                    app.page_notices(&std::mem::take(&mut pages))
                };
                let mut out = app.evaluate_serving(true, Some(&mut inbox.operator)).await;
                if !notices.is_empty() {
                    let mut all = notices;
                    all.append(&mut out.decisions);
                    out.decisions = all;
                }
                let out = settle(&mut app, timer, &mut finished, out).await;
                observer.observe(&out);
                mark_ready(&app, &mut ready);
                extra_done = false;
                next += interval;
                // A wall clock that fell behind (a slow source) skips, never bursts.
                let now = timer.now();
                if next <= now {
                    next = now + interval;
                }
            }
            Some(batch) = inbox.triggers.recv() => {
                // Coalesce: pages queued meanwhile join this batch; at most one extra
                // evaluation per interval answers them, later ones wait for the next
                // scheduled evaluation (which re-evaluates anyway).
                for t in batch {
                    if !pages.contains(&t) {
                        pages.push(t);
                    }
                }
                while let Ok(more) = inbox.triggers.try_recv() {
                    for t in more {
                        if !pages.contains(&t) && pages.len() < MAX_PENDING_PAGES {
                            pages.push(t);
                        }
                    }
                }
                if !extra_done {
                    extra_done = true;
                    let batch = std::mem::take(&mut pages);
                    observer.observe(&app.triggers_serving(&batch, Some(&mut inbox.operator)).await);
                }
            }
        }
    }
    tracing::info!("engine stopped");
    app
}

/// A stop (SIGTERM): no runbook starts another step, and the loop waits (up to
/// `failover.shutdown_grace`) for the running ones to finish their current step, which
/// the actuator journals; their incidents stay open and resume after the restart.
async fn drain<S: MetricsSource>(
    app: &mut App<S>,
    finished: &mut Option<mpsc::UnboundedReceiver<Finished>>,
    observer: &dyn Observer,
) {
    let Some(f) = app.failover.as_ref() else {
        return;
    };
    f.stop_runbooks();
    if f.running() == 0 {
        return;
    }
    let grace = f.shutdown_grace();
    tracing::warn!(
        running = f.running(),
        grace_secs = grace.as_secs(),
        "stopping: waiting for running runbook steps to finish"
    );
    let waited = tokio::time::timeout(grace, async {
        while app.failover.as_ref().is_some_and(|f| f.running() > 0) {
            match recv(finished).await {
                Some(done) => observer.observe(&app.finished(&done)),
                None => break,
            }
        }
    })
    .await;
    if waited.is_err() {
        tracing::error!("the shutdown grace ran out while a runbook step was still running: it stays journaled as started and is re-checked after the restart");
        return;
    }
    if let Some(rx) = finished.as_mut() {
        while let Ok(done) = rx.try_recv() {
            observer.observe(&app.finished(&done));
        }
    }
}

/// In simulated time a runbook takes no time: wait for the ones this pass started and
/// fold their steps and the policy's answer into the same outcome.
async fn settle<S: MetricsSource, T: Timer>(
    app: &mut App<S>,
    timer: &T,
    finished: &mut Option<mpsc::UnboundedReceiver<Finished>>,
    mut out: TickOutcome,
) -> TickOutcome {
    if !timer.simulated() {
        return out;
    }
    let started = out
        .decisions
        .iter()
        .filter(|d| matches!(d.action, Action::StartFailover { .. }))
        .count();
    for _ in 0..started {
        let Some(done) = recv(finished).await else {
            break;
        };
        let more = app.finished(&done);
        out.steps.extend(more.steps);
        out.decisions.extend(more.decisions);
        out.policy = more.policy;
    }
    out
}

async fn recv(rx: &mut Option<mpsc::UnboundedReceiver<Finished>>) -> Option<Finished> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// `backtest --config`: backfill to `start`, then replay `(start, end]` from the source at
/// the fine step through the same engine the tick uses; no decisions.
pub async fn replay<S: MetricsSource>(
    cfg: &Config,
    services: &[Service],
    source: S,
    start: i64,
    end: i64,
) -> Result<crate::backtest::Report, AppError> {
    let clock: Arc<dyn Clock> = Arc::new(crate::clock::FixedClock(start));
    let mut app = App::from_config(cfg, services, source, clock, Purpose::Evaluate).await?;
    app.start(|_, _| {}).await;
    let alerts = app.engine.replay(start, end).await;
    Ok(crate::backtest::Report {
        alerts,
        final_rows: crate::backtest::final_rows(app.engine.streams()),
        stats: crate::backtest::Stats {
            start,
            end,
            ..Default::default()
        },
    })
}

/// `eval`: backfill every window up to the clock's time and evaluate once; the snapshot.
pub async fn evaluate_once<S: MetricsSource>(
    cfg: &Config,
    services: &[Service],
    source: S,
    clock: Arc<dyn Clock>,
    progress: impl FnMut(usize, usize),
) -> Result<Snapshot, AppError> {
    let mut app = App::from_config(cfg, services, source, clock, Purpose::Evaluate).await?;
    let out = app.start(progress).await;
    Ok(out.snapshot.unwrap_or_else(|| app.snapshot()))
}
