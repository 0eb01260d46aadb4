//! The failover driver between the engine and the pure policy: it turns each engine
//! snapshot into a per-domain [`Evaluation`], steps the policy, and carries out its
//! actions: votes on the signal board, runbooks through the actuator (in the background,
//! their results fed back as inputs), and every decision into the journal. At start it
//! resumes runbooks the journal shows unfinished.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::actuator::{Actuator, Backends, Incident, RunOutcome, SignalBoard};
use crate::clock::Clock;
use crate::config::{DomainConfig, FailoverConfig, RegionsConfig};
use crate::journal::{Journal, JournalError};
use crate::policy::{self, Action, Evaluation, Input, Phase, PolicyState, RegionHealth};
use crate::slo::Severity;
use crate::snapshot::{DataStatus, StreamHealth};

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
    finished_tx: mpsc::UnboundedSender<Finished>,
    finished_rx: Option<mpsc::UnboundedReceiver<Finished>>,
    clock: Arc<dyn Clock>,
    /// GameDay drills tag every incident and decision so they never mix with real ones.
    pub chaos: bool,
    /// Step backends that only record the exact call each step would make (GameDays,
    /// demo): every incident runs its runbook in dry-run form, whatever the policy mode.
    pub dry_run_steps: bool,
}

/// A runbook that ended: the domain's index, the incident and what each step did.
#[derive(Debug, Clone)]
pub struct Finished {
    pub domain: usize,
    pub incident: u64,
    pub outcome: RunOutcome,
}

/// The health of every region for a domain's gating SLOs (`service/slo`, all when
/// empty), from the engine's typed stream health.
pub fn evaluation_for(
    domain: &DomainConfig,
    regions: &[String],
    health: &[StreamHealth],
    preconditions: BTreeMap<String, Option<bool>>,
) -> Evaluation {
    let gating = |h: &StreamHealth| domain.slos.is_empty() || domain.slos.contains(&h.slo_id());
    let mut gated_slos: Vec<String> = health
        .iter()
        .filter(|h| gating(h))
        .map(StreamHealth::slo_id)
        .collect();
    gated_slos.sort();
    gated_slos.dedup();
    let mut out = BTreeMap::new();
    for r in regions {
        let rows: Vec<&StreamHealth> = health
            .iter()
            .filter(|h| &h.region == r && gating(h))
            .collect();
        out.insert(
            r.clone(),
            RegionHealth {
                burning: rows.iter().any(|h| h.holds(Severity::Page)),
                any_tier: rows.iter().any(|h| !h.holding.is_empty()),
                has_data: !gated_slos.is_empty()
                    && gated_slos.iter().all(|id| {
                        rows.iter()
                            .any(|h| &h.slo_id() == id && h.data != DataStatus::NoData)
                    }),
                complete: rows
                    .iter()
                    .all(|h| !matches!(h.data, DataStatus::Degraded(_))),
                short_burn: rows.iter().filter_map(|h| h.short_burn).fold(0.0, f64::max),
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
        clock: Arc<dyn Clock>,
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
            finished_rx: Some(finished_rx),
            clock,
            chaos,
            dry_run_steps: chaos,
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
    pub fn resume(&mut self) {
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
            self.spawn(di, incident);
        }
    }

    fn spawn(&self, di: usize, mut incident: Incident) {
        incident.dry_run |= self.dry_run_steps;
        let actuator = self.domains[di].actuator.clone();
        let tx = self.finished_tx.clone();
        let clock = self.clock.clone();
        tokio::spawn(async move {
            let outcome = actuator.execute(&incident, || clock.now()).await;
            let _ = tx.send(Finished {
                domain: di,
                incident: incident.id,
                outcome,
            });
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
                            *incident,
                            &name,
                            from,
                            to,
                            reason,
                            *dry_run || self.dry_run_steps,
                            self.chaos,
                            now,
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
                    self.spawn(di, inc);
                }
            }
        }
        actions
    }

    /// The channel finished runbooks arrive on; the app's loop owns it (taken once).
    pub fn take_finished(&mut self) -> Option<mpsc::UnboundedReceiver<Finished>> {
        self.finished_rx.take()
    }

    /// Feeds a finished runbook back to its domain's policy.
    pub fn finished(&mut self, f: &Finished, now: i64) -> Vec<Action> {
        self.input(
            f.domain,
            Input::RunbookFinished {
                incident: f.incident,
                ok: f.outcome.ok,
            },
            now,
        )
    }

    /// Name of the domain at `di`.
    pub fn domain_name(&self, di: usize) -> &str {
        &self.domains[di].cfg.name
    }

    /// One evaluation for every domain; returns each domain's actions.
    pub fn on_health(
        &mut self,
        health: &[StreamHealth],
        regions: &[String],
        preconditions: &BTreeMap<String, BTreeMap<String, Option<bool>>>,
        now: i64,
    ) -> Vec<(usize, Vec<Action>)> {
        let mut out = Vec::new();
        for di in 0..self.domains.len() {
            let pre = preconditions
                .get(&self.domains[di].cfg.name)
                .cloned()
                .unwrap_or_default();
            let ev = evaluation_for(&self.domains[di].cfg, regions, health, pre);
            out.push((di, self.input(di, Input::Evaluation(ev), now)));
        }
        out
    }

    /// Index of a domain by name.
    pub fn domain_index(&self, name: &str) -> Option<usize> {
        self.domains.iter().position(|d| d.cfg.name == name)
    }
}
