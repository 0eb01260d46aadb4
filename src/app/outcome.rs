//! What one pass of the loop publishes: the [`TickOutcome`] (alert changes, decisions,
//! step calls, the snapshot) handed to every [`Observer`], and how the [`App`] assembles
//! its common part and its snapshot (the active region as the policy holds it).

use std::collections::BTreeMap;

use serde::Serialize;

use super::App;
use crate::failover::FailoverDriver;
use crate::policy::{Action, PolicyState};
use crate::probe::ProbeView;
use crate::query::MetricsSource;
use crate::slo::Severity;
use crate::snapshot::{RegionEvidence, Snapshot};

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

impl<S: MetricsSource> App<S> {
    /// What every pass publishes whatever it did: the policy, automation, probes,
    /// evidence and peer view as they stand at `at`.
    pub(super) fn outcome(&self, at: i64, scheduled: bool) -> TickOutcome {
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
    pub(super) fn peer_view(&self) -> BTreeMap<String, crate::policy::PeerDomain> {
        self.failover
            .as_ref()
            .map(FailoverDriver::peer_view)
            .unwrap_or_default()
    }

    /// The engine's snapshot with the active region and roles as the policy sees them:
    /// one source of truth for "active".
    pub(super) fn snapshot(&self) -> Snapshot {
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
}
