//! The ONE per-interval tick: probe results in, every SLO queried and the core stepped,
//! the outside evidence of each region gathered (silence, probes, peers), and (when the
//! evaluation is scheduled) the peers' votes and views and the preconditions fed to the
//! policy, which decides. A webhook re-evaluation runs the same tick without deciding.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use super::operator::with_operator;
use super::{peers, AlertChange, App, Decision, OperatorCall, TickOutcome};
use crate::burn::streams::StreamRef;
use crate::burn::Transition;
use crate::engine::Engine;
use crate::failover::FailoverDriver;
use crate::policy::{Input, PeerDomain};
use crate::probe::ProbeView;
use crate::query::MetricsSource;
use crate::slo::Severity;
use crate::snapshot::{DataStatus, RegionEvidence, Snapshot, StreamHealth};

/// What a tick's queries brought back: the core's alert transitions and, for a scheduled
/// evaluation with failover domains, the preconditions and what the peers said.
struct Gathered {
    transitions: Vec<(StreamRef, Transition)>,
    /// Domain → precondition name → its value (None: the query failed).
    pre: BTreeMap<String, BTreeMap<String, Option<bool>>>,
    /// Domain → peer → the region it votes to fail over to.
    votes: BTreeMap<String, BTreeMap<String, Option<String>>>,
    /// Peer → its probe views (None: it did not answer).
    peer_views: BTreeMap<String, Option<Vec<ProbeView>>>,
    /// Domain → peer → its view of the domain.
    peer_domains: BTreeMap<String, BTreeMap<String, PeerDomain>>,
}

impl<S: MetricsSource> App<S> {
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
        let gathered = self.query(scheduled, at, ops, &mut interleaved).await;
        let mut out = self.outcome(at, scheduled);
        out.decisions = interleaved;
        out.alerts = self.alert_changes(&gathered.transitions, at);
        out.query_secs = self.engine.last_query_secs.clone();
        out.eval_secs = self.engine.last_eval_secs;
        let health = self.engine.health();
        self.evidence = self.gather_evidence(&health, &gathered.peer_views, at);
        out.degraded = health
            .iter()
            .filter(|h| matches!(h.data, DataStatus::Degraded(_)))
            .count();
        let mut snapshot = self.snapshot();
        self.record_alerts(&out.alerts, at);
        if scheduled {
            let decisions = self.decide(gathered, &health, &snapshot, at);
            out.decisions.extend(decisions);
        }
        self.finish_tick(&mut out, &mut snapshot, tick_started, scheduled);
        out.snapshot = Some(snapshot);
        out
    }

    /// Takes the probe results due at `at`, then runs the tick's queries (the core's
    /// step; for a scheduled evaluation the preconditions and the peers) while answering
    /// operator calls, whose decisions join `interleaved`.
    async fn query(
        &mut self,
        scheduled: bool,
        at: i64,
        ops: Option<&mut mpsc::Receiver<OperatorCall>>,
        interleaved: &mut Vec<Decision>,
    ) -> Gathered {
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
        let Self {
            engine,
            failover,
            clock,
            regions,
            ..
        } = self;
        let wanted = Wanted {
            scheduled,
            domains: &domains,
            peer_urls: &peer_urls,
            regions,
            probed,
        };
        let io = gather(engine, wanted, at);
        with_operator(io, failover, clock, ops, interleaved).await
    }

    /// The core's transitions as alert changes named by service, SLO and region.
    fn alert_changes(&self, transitions: &[(StreamRef, Transition)], at: i64) -> Vec<AlertChange> {
        let mut alerts = Vec::new();
        for (s, t) in transitions {
            if let Some(k) = self.engine.streams().key(*s) {
                alerts.push(AlertChange {
                    at,
                    service: k.service.clone(),
                    slo: k.slo.clone(),
                    region: k.region.clone(),
                    severity: t.severity,
                    firing: t.firing,
                });
            }
        }
        alerts
    }

    /// The journal records every alert change (scheduled or not).
    fn record_alerts(&mut self, alerts: &[AlertChange], at: i64) {
        if let Some(f) = self.failover.as_mut() {
            let changes: Vec<_> = alerts
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
    }

    /// A scheduled evaluation's decision: the peers' votes and views, then the health,
    /// preconditions and evidence, fed to every domain's policy.
    fn decide(
        &mut self,
        gathered: Gathered,
        health: &[StreamHealth],
        snapshot: &Snapshot,
        at: i64,
    ) -> Vec<Decision> {
        let mut decisions = Vec::new();
        let Some(f) = self.failover.as_mut() else {
            return decisions;
        };
        for (domain, v) in gathered.votes {
            if let Some(di) = f.domain_index(&domain) {
                f.input(di, Input::Votes(v), at);
            }
        }
        if !f.peers().is_empty() {
            let mut peer_domains = gathered.peer_domains;
            for di in 0..f.domains().len() {
                let name = f.domain_name(di).to_string();
                let views = peer_domains.remove(&name).unwrap_or_default();
                f.input(di, Input::PeerViews(views), at);
            }
        }
        let facts = || snapshot.stream_facts();
        for (di, actions) in f.on_health(
            health,
            &self.regions,
            &gathered.pre,
            &self.evidence,
            &facts,
            at,
        ) {
            let domain = f.domain_name(di).to_string();
            decisions.extend(actions.into_iter().map(|action| Decision {
                at,
                domain: domain.clone(),
                action,
            }));
        }
        decisions
    }

    /// The state after this tick's decisions into `out`, the tick's latency into the
    /// snapshot, and (scheduled) the windows saved every few evaluations.
    fn finish_tick(
        &mut self,
        out: &mut TickOutcome,
        snapshot: &mut Snapshot,
        tick_started: std::time::Duration,
        scheduled: bool,
    ) {
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
            self.count_scheduled_for_save();
        }
        // The roles as the policy holds them after this evaluation's decisions.
        if let Some(p) = out.policy.first() {
            snapshot.set_roles(&p.active, &p.standby);
        }
    }

    /// The outside evidence of every configured region at `at`: silence from the
    /// engine, this replica's probes, the peers' views and external-vantage SLOs.
    fn gather_evidence(
        &self,
        health: &[StreamHealth],
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
}

/// What a tick asks beyond the core's step.
struct Wanted<'a> {
    scheduled: bool,
    /// Failover domains with their precondition queries (name, query).
    domains: &'a [(String, Vec<(String, String)>)],
    peer_urls: &'a [String],
    regions: &'a [String],
    /// Whether any region is probed (then the peers' probe views count).
    probed: bool,
}

/// The tick's I/O: the core's step, then (scheduled, with domains) every precondition
/// query and (with peers) the peers' votes, domain views and probe views.
async fn gather<S: MetricsSource>(engine: &mut Engine<S>, wanted: Wanted<'_>, at: i64) -> Gathered {
    let transitions = engine.step(at).await;
    let mut g = Gathered {
        transitions,
        pre: BTreeMap::new(),
        votes: BTreeMap::new(),
        peer_views: BTreeMap::new(),
        peer_domains: BTreeMap::new(),
    };
    if wanted.scheduled && !wanted.domains.is_empty() {
        for (domain, queries) in wanted.domains {
            let mut m = BTreeMap::new();
            for (name, q) in queries {
                m.insert(name.clone(), engine.precondition(q, at).await);
            }
            g.pre.insert(domain.clone(), m);
        }
        let peer_urls = wanted.peer_urls;
        if !peer_urls.is_empty() {
            let names: Vec<String> = wanted.domains.iter().map(|d| d.0.clone()).collect();
            g.votes = peers::votes(peer_urls, &names, wanted.regions).await;
            g.peer_domains = peers::views(peer_urls).await;
            if wanted.probed {
                g.peer_views = peers::probe_views(peer_urls).await;
            }
        }
    }
    g
}
