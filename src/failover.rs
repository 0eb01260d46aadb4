//! The failover driver between the engine and the pure policy: it turns each engine
//! snapshot into a per-domain [`Evaluation`], steps the policy, and carries out its
//! actions: votes on the signal board, runbooks through the actuator (in the background,
//! their results fed back as inputs), and every decision into the journal. At start it
//! resumes runbooks the journal shows unfinished.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::actuator::{Actuator, Backends, Incident, SignalBoard};
use crate::config::{DomainConfig, FailoverConfig, RegionsConfig};
use crate::engine::{DataStatus, Snapshot};
use crate::journal::{Journal, JournalError};
use crate::policy::{self, Action, Evaluation, Input, Phase, PolicyState, RegionHealth};

struct Domain {
    cfg: DomainConfig,
    state: PolicyState,
    actuator: Arc<Actuator>,
}

pub struct FailoverDriver {
    cfg: FailoverConfig,
    domains: Vec<Domain>,
    journal: Arc<Mutex<Journal>>,
    signals: Arc<SignalBoard>,
    finished_tx: mpsc::UnboundedSender<(usize, u64, bool)>,
    finished_rx: mpsc::UnboundedReceiver<(usize, u64, bool)>,
    /// GameDay drills tag every incident and decision so they never mix with real ones.
    pub chaos: bool,
}

/// The health of every region for a domain's gating SLOs (`service/slo`, all when empty).
pub fn evaluation_for(
    domain: &DomainConfig,
    regions: &[String],
    snap: &Snapshot,
    preconditions: BTreeMap<String, Option<bool>>,
) -> Evaluation {
    let gating = |service: &str, slo: &str| {
        domain.slos.is_empty() || domain.slos.iter().any(|s| s == &format!("{service}/{slo}"))
    };
    let gated_slos: Vec<(String, String)> = {
        let mut v: Vec<(String, String)> = snap
            .streams
            .iter()
            .filter(|s| gating(&s.service, &s.slo))
            .map(|s| (s.service.clone(), s.slo.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let mut out = BTreeMap::new();
    for r in regions {
        let rows: Vec<_> = snap
            .streams
            .iter()
            .filter(|s| &s.region == r && gating(&s.service, &s.slo))
            .collect();
        let tiers: Vec<_> = snap
            .tiers
            .iter()
            .filter(|t| &t.region == r && gating(&t.service, &t.slo))
            .collect();
        out.insert(
            r.clone(),
            RegionHealth {
                burning: tiers
                    .iter()
                    .any(|t| t.tier.holds && t.tier.severity == "page"),
                any_tier: tiers.iter().any(|t| t.tier.holds),
                has_data: !gated_slos.is_empty()
                    && gated_slos.iter().all(|(svc, slo)| {
                        rows.iter().any(|s| {
                            &s.service == svc && &s.slo == slo && s.data != DataStatus::NoData
                        })
                    }),
                complete: rows
                    .iter()
                    .all(|s| !matches!(s.data, DataStatus::Degraded(_))),
            },
        );
    }
    Evaluation {
        regions: out,
        preconditions,
    }
}

impl FailoverDriver {
    pub fn new(
        cfg: FailoverConfig,
        regions: &RegionsConfig,
        journal: Journal,
        backends: Backends,
        chaos: bool,
    ) -> Result<Self, JournalError> {
        let next = journal.next_incident_id()?;
        let journal = Arc::new(Mutex::new(journal));
        let active = regions.active.clone().unwrap_or_default();
        let domains = cfg
            .domains
            .iter()
            .map(|d| {
                let mut state = PolicyState::new(&d.name, &active, &regions.standby);
                state.next_incident = next;
                Domain {
                    cfg: d.clone(),
                    state,
                    actuator: Arc::new(Actuator {
                        steps: d.runbook.clone(),
                        backends: backends.clone(),
                        journal: journal.clone(),
                    }),
                }
            })
            .collect();
        let (finished_tx, finished_rx) = mpsc::unbounded_channel();
        Ok(FailoverDriver {
            cfg,
            domains,
            journal,
            signals: backends.signals.clone(),
            finished_tx,
            finished_rx,
            chaos,
        })
    }

    pub fn journal(&self) -> Arc<Mutex<Journal>> {
        self.journal.clone()
    }

    pub fn domains(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.domains
            .iter()
            .map(|d| (d.cfg.name.clone(), d.cfg.preconditions.clone()))
            .collect()
    }

    pub fn states(&self) -> Vec<PolicyState> {
        self.domains.iter().map(|d| d.state.clone()).collect()
    }

    pub fn peers(&self) -> &[String] {
        &self.cfg.peers
    }

    fn journal_decision(
        &self,
        domain: &str,
        incident: Option<u64>,
        kind: &str,
        detail: serde_json::Value,
        now: i64,
    ) {
        if let Ok(j) = self.journal.lock() {
            if let Err(e) = j.record_decision(now, domain, incident, kind, &detail, self.chaos) {
                tracing::error!(domain, error = %e, "cannot journal a decision");
            }
        }
    }

    /// Resumes runbooks that were running when the process stopped.
    pub fn resume(&mut self, now: i64) {
        let unfinished = self
            .journal
            .lock()
            .ok()
            .and_then(|j| j.unfinished().ok())
            .unwrap_or_default();
        for inc in unfinished {
            let Some(di) = self.domains.iter().position(|d| d.cfg.name == inc.domain) else {
                continue;
            };
            tracing::warn!(incident = inc.id, domain = %inc.domain, "resuming an unfinished runbook");
            self.domains[di].state.phase = Phase::FailingOver {
                incident: inc.id,
                from: inc.from.clone(),
                to: inc.to.clone(),
                since: inc.opened_at,
            };
            self.domains[di].state.next_incident =
                self.domains[di].state.next_incident.max(inc.id + 1);
            let incident = Incident {
                id: inc.id,
                domain: inc.domain,
                from: inc.from,
                to: inc.to,
                reason: inc.reason,
                dry_run: inc.dry_run,
                chaos: inc.chaos,
                approved: true,
            };
            self.spawn(di, incident, now);
        }
    }

    fn spawn(&self, di: usize, incident: Incident, _now: i64) {
        let actuator = self.domains[di].actuator.clone();
        let tx = self.finished_tx.clone();
        tokio::spawn(async move {
            let out = actuator.execute(&incident, crate::engine::wall_clock).await;
            let _ = tx.send((di, incident.id, out.ok));
        });
    }

    /// Steps one domain's policy with `input` and carries out the actions.
    pub fn input(&mut self, di: usize, input: Input, now: i64) -> Vec<Action> {
        let state = self.domains[di].state.clone();
        let (state, actions) = policy::step(state, &self.cfg.policy, input.clone(), now);
        self.domains[di].state = state;
        let name = self.domains[di].cfg.name.clone();
        for a in &actions {
            match a {
                Action::Notify { message } => {
                    tracing::info!(domain = %name, message = %message, "failover notice");
                    self.journal_decision(
                        &name,
                        None,
                        "notify",
                        serde_json::json!({"message": message}),
                        now,
                    );
                }
                Action::Blocked { reason } => {
                    tracing::warn!(domain = %name, reason = %reason, "failover blocked");
                    self.journal_decision(&name, None, "blocked", serde_json::json!({"reason": reason, "evaluation": self.domains[di].state.last_evaluation}), now);
                }
                Action::Vote { target } => {
                    for r in self.domains[di]
                        .state
                        .standby
                        .iter()
                        .chain(std::iter::once(&self.domains[di].state.active))
                    {
                        self.signals
                            .set(&name, r, target.as_deref() == Some(r.as_str()));
                    }
                }
                Action::RequestApproval {
                    incident,
                    from,
                    to,
                    reason,
                } => {
                    tracing::warn!(domain = %name, incident, from = %from, to = %to, reason = %reason, "failover awaiting approval");
                    self.journal_decision(&name, Some(*incident), "approval_requested", serde_json::json!({"from": from, "to": to, "reason": reason, "evaluation": self.domains[di].state.last_evaluation}), now);
                }
                Action::StartFailover {
                    incident,
                    from,
                    to,
                    reason,
                    dry_run,
                    forced,
                } => {
                    tracing::warn!(domain = %name, incident, from = %from, to = %to, dry_run, forced, reason = %reason, "starting failover runbook");
                    self.journal_decision(
                        &name,
                        Some(*incident),
                        "failover",
                        serde_json::json!({"from": from, "to": to, "reason": reason, "dry_run": dry_run, "forced": forced, "evaluation": self.domains[di].state.last_evaluation}),
                        now,
                    );
                    if let Ok(j) = self.journal.lock() {
                        let _ = j.open_incident(
                            *incident, &name, from, to, reason, *dry_run, self.chaos, now,
                        );
                    }
                    let approved = *forced || matches!(input, Input::Operator(_));
                    let inc = Incident {
                        id: *incident,
                        domain: name.clone(),
                        from: from.clone(),
                        to: to.clone(),
                        reason: reason.clone(),
                        dry_run: *dry_run,
                        chaos: self.chaos,
                        approved,
                    };
                    self.spawn(di, inc, now);
                }
            }
        }
        actions
    }

    /// Feeds finished runbooks back to the policy.
    pub fn drain_finished(&mut self, now: i64) {
        while let Ok((di, incident, ok)) = self.finished_rx.try_recv() {
            self.input(di, Input::RunbookFinished { incident, ok }, now);
        }
    }

    /// Waits for the next finished runbook (GameDays and tests).
    pub async fn next_finished(&mut self) -> Option<(usize, u64, bool)> {
        self.finished_rx.recv().await
    }

    /// One evaluation for every domain.
    pub fn on_snapshot(
        &mut self,
        snap: &Snapshot,
        regions: &[String],
        preconditions: &BTreeMap<String, BTreeMap<String, Option<bool>>>,
        now: i64,
    ) {
        self.drain_finished(now);
        for di in 0..self.domains.len() {
            let pre = preconditions
                .get(&self.domains[di].cfg.name)
                .cloned()
                .unwrap_or_default();
            let ev = evaluation_for(&self.domains[di].cfg, regions, snap, pre);
            self.input(di, Input::Evaluation(ev), now);
        }
    }

    /// Index of a domain by name.
    pub fn domain_index(&self, name: &str) -> Option<usize> {
        self.domains.iter().position(|d| d.cfg.name == name)
    }
}
