//! The failover driver between the engine and the pure policy: it turns each engine
//! snapshot into a per-domain [`Evaluation`](policy::Evaluation) (`failover/evaluation.rs`),
//! steps the policy, and carries out its actions: votes on the signal board, runbooks
//! through the actuator (in the background, their results fed back as inputs), and every
//! decision into the journal (`failover/record.rs`). At start it resumes runbooks the
//! journal shows unfinished.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::actuator::{Actuator, Backends, Incident, RunOutcome, SignalBoard};
use crate::clock::Clock;
use crate::config::{DomainConfig, FailoverConfig, RegionsConfig};
use crate::journal::{Journal, JournalError};
use crate::policy::{self, Action, Input, Phase, PolicyState, RegionHealth};
use crate::slo::Severity;
use crate::snapshot::{RegionEvidence, StreamFacts, StreamHealth};

mod evaluation;
mod record;

pub use evaluation::evaluation_for;
use evaluation::gates;

struct Domain {
    cfg: DomainConfig,
    state: PolicyState,
    actuator: Arc<Actuator>,
    /// The gating streams as the latest evaluation saw them, journaled with a failover.
    facts: Vec<StreamFacts>,
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
    /// Why automation is off (the journal could not be opened, checked or written): the
    /// policy still evaluates and notifies, but nothing acts.
    pub automation_off: Option<String>,
    /// Shared with every actuator: set at SIGTERM so no new step starts.
    stopping: Arc<AtomicBool>,
    /// Runbooks (and roll backs) running now.
    running: Arc<AtomicUsize>,
}

/// A runbook that ended: the domain's index, the incident and what each step did.
#[derive(Debug, Clone)]
pub struct Finished {
    pub domain: usize,
    pub incident: u64,
    pub outcome: RunOutcome,
    /// A roll back of an incomplete failover, not a runbook run.
    pub roll_back: bool,
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
        let stopping: Arc<AtomicBool> = Arc::default();
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
                        on_abort: d.on_abort,
                        stopping: stopping.clone(),
                        ..Actuator::new(d.runbook.clone(), backends.clone(), journal.clone())
                    }),
                    facts: Vec::new(),
                }
            })
            .collect();
        let mut domains: Vec<Domain> = domains;
        // What the journal holds wins over the config's starting point: after a failover
        // the active region, the latch and the cooldown are the journal's.
        let saved = journal
            .lock()
            .map_err(|_| JournalError::State {
                domain: "*".into(),
                detail: "journal lock poisoned".into(),
            })?
            .policy_states()?;
        for (name, value) in saved {
            let Some(d) = domains.iter_mut().find(|d| d.cfg.name == name) else {
                continue;
            };
            let restored: PolicyState =
                serde_json::from_value(value).map_err(|e| JournalError::State {
                    domain: name.clone(),
                    detail: e.to_string(),
                })?;
            if restored.active != d.state.active {
                tracing::warn!(domain = %name, journaled = %restored.active, configured = %d.state.active, "the journal's active region differs from regions.active: keeping the journal's (a failover happened)");
            }
            d.state = PolicyState {
                next_incident: restored.next_incident.max(next),
                ..restored
            };
        }
        backends.signals.attach(journal.clone())?;
        let (finished_tx, finished_rx) = mpsc::unbounded_channel();
        Ok(FailoverDriver {
            stopping,
            running: Arc::default(),
            automation_off: None,
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
            let roll_back = inc.status == "rolling_back";
            tracing::warn!(incident = inc.id, domain = %inc.domain, roll_back, "resuming an unfinished runbook");
            self.domains[di].state.phase = if roll_back {
                Phase::RollingBack {
                    incident: inc.id,
                    from: inc.from.clone(),
                    to: inc.to.clone(),
                    since: inc.opened_at,
                }
            } else {
                Phase::FailingOver {
                    incident: inc.id,
                    from: inc.from.clone(),
                    to: inc.to.clone(),
                    since: inc.opened_at,
                    dry_run: inc.dry_run,
                    executor: None,
                    rank: 0,
                }
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
            self.spawn(di, incident, roll_back);
        }
    }

    fn spawn(&self, di: usize, mut incident: Incident, roll_back: bool) {
        incident.dry_run |= self.dry_run_steps;
        let actuator = self.domains[di].actuator.clone();
        let tx = self.finished_tx.clone();
        let clock = self.clock.clone();
        let running = self.running.clone();
        running.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let outcome = if roll_back {
                actuator.roll_back(&incident, || clock.now()).await
            } else {
                actuator.execute(&incident, || clock.now()).await
            };
            running.fetch_sub(1, Ordering::SeqCst);
            let _ = tx.send(Finished {
                domain: di,
                incident: incident.id,
                outcome,
                roll_back,
            });
        });
    }

    /// SIGTERM: no runbook starts a new step from now on (the running ones finish their
    /// current step and journal it).
    pub fn stop_runbooks(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// How long a stop waits for running steps (`failover.shutdown_grace`).
    pub fn shutdown_grace(&self) -> std::time::Duration {
        self.cfg.shutdown_grace
    }

    /// Runbooks (and roll backs) running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Steps one domain's policy with `input`, journals the decisions and the new state in
    /// one transaction, and only then carries out the actions. When the journal cannot
    /// take them (or automation is already off), the state stays as it was and every
    /// action that would change the world becomes a refusal.
    pub fn input(&mut self, di: usize, input: Input, now: i64) -> Vec<Action> {
        let before = self.domains[di].state.clone();
        let (state, actions) = policy::step(before.clone(), &self.cfg.policy, input.clone(), now);
        let name = self.domains[di].cfg.name.clone();
        if let Some(why) = &self.automation_off {
            if actions.iter().any(acts) {
                tracing::error!(domain = %name, reason = %why, "automation is off: not acting");
                // The phase must not move to an action that never happens.
                return refused_while_off(actions, why);
            }
        }
        let (decisions, incident) = self.decisions(di, &before, &state, &actions, now);
        if let Err(e) = self.commit(&name, &decisions, incident.as_ref(), &state, now) {
            let why = format!("the journal cannot be written: {e}");
            tracing::error!(domain = %name, error = %e, "cannot journal a decision: automation off");
            self.automation_off = Some(why.clone());
            self.domains[di].state = before;
            return refused_while_off(actions, &why);
        }
        self.domains[di].state = state;
        for a in &actions {
            self.carry_out(di, &name, a, &input, now);
        }
        actions
    }

    /// Carries out one journaled action of domain `di` (`input`: what the step was fed).
    fn carry_out(&self, di: usize, name: &str, a: &Action, input: &Input, now: i64) {
        match a {
            Action::Notify { message } => {
                tracing::info!(domain = %name, message = %message, "failover notice")
            }
            Action::Blocked { reason } => {
                tracing::info!(domain = %name, reason = %reason, "failover blocked")
            }
            Action::Vote { target } => self.set_signals(di, name, target.as_deref()),
            Action::RequestApproval {
                incident,
                from,
                to,
                reason,
            } => {
                tracing::info!(domain = %name, incident, from = %from, to = %to, reason = %reason, "failover awaiting approval")
            }
            Action::StartFailover {
                incident,
                from,
                to,
                reason,
                dry_run,
                forced,
            } => {
                tracing::info!(domain = %name, incident, from = %from, to = %to, dry_run, forced, reason = %reason, "starting failover runbook");
                let approved = *forced || matches!(input, Input::Operator(_));
                let inc = Incident {
                    id: *incident,
                    domain: name.to_string(),
                    from: from.clone(),
                    to: to.clone(),
                    reason: reason.clone(),
                    dry_run: *dry_run,
                    chaos: self.chaos,
                    approved,
                };
                self.spawn(di, inc, false);
            }
            Action::ResumeRunbook { incident, from, to } => {
                self.reopen(di, *incident, from, to, false)
            }
            Action::FollowFailover {
                incident,
                from,
                to,
                executor,
                ..
            } => {
                tracing::info!(domain = %name, incident, from = %from, to = %to, executor = %executor, "failover agreed: a peer executes it; following (this replica runs no control-plane step)")
            }
            Action::PeerExecuted {
                incident,
                executor,
                ok,
            } => self.close_followed(name, *incident, executor, *ok, now),
            Action::RollBack { incident, from, to } => self.reopen(di, *incident, from, to, true),
        }
    }

    /// Publishes this replica's vote: the failover signal of the voted region (or, with
    /// no vote, of the active one) raised, every other lowered.
    fn set_signals(&self, di: usize, name: &str, target: Option<&str>) {
        let state = &self.domains[di].state;
        let regions: Vec<String> = state
            .standby
            .iter()
            .chain(std::iter::once(&state.active))
            .cloned()
            .collect();
        // Withdrawing a vote never lowers the signal that keeps traffic on the
        // active region (after a failover, the region failed over to).
        let raised = target.unwrap_or(&state.active);
        for r in regions {
            if let Err(e) = self.signals.set(name, &r, r == raised) {
                tracing::error!(domain = %name, region = %r, error = %e, "cannot set the failover signal");
            }
        }
    }

    /// The executor finished a failover this replica followed: close its incident here.
    fn close_followed(&self, name: &str, incident: u64, executor: &str, ok: bool, now: i64) {
        let status = if ok { "done_by_peer" } else { "failed_by_peer" };
        if let Ok(j) = self.journal.lock() {
            if let Err(e) = j.close_incident(incident, status, now) {
                tracing::error!(incident, error = %e, "cannot close the followed incident");
            }
        }
        tracing::info!(domain = %name, incident, executor = %executor, ok, "the executor finished the followed failover");
    }

    /// Runs an incident again: its remaining steps (finish) or the way back (roll back).
    /// The incident is reopened in the journal first, so a crash meanwhile resumes it.
    fn reopen(&self, di: usize, incident: u64, from: &str, to: &str, roll_back: bool) {
        let status = if roll_back { "rolling_back" } else { "running" };
        let reopened = self
            .journal
            .lock()
            .map_err(|_| "journal lock poisoned".to_string())
            .and_then(|j| {
                j.reopen_incident(incident, status)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = reopened {
            tracing::error!(incident, error = %e, "cannot reopen the incident in the journal");
        }
        let name = self.domains[di].cfg.name.clone();
        tracing::info!(domain = %name, incident, roll_back, "operator resolution: running the incident again");
        let inc = Incident {
            id: incident,
            domain: name,
            from: from.to_string(),
            to: to.to_string(),
            reason: format!("incomplete failover {incident} resolved by an operator"),
            dry_run: false,
            chaos: self.chaos,
            approved: true,
        };
        self.spawn(di, inc, roll_back);
    }

    /// The gating streams of domain `di` as this evaluation saw them (kept to journal
    /// with a failover the evaluation decides).
    fn set_stream_facts(&mut self, di: usize, facts: &[StreamFacts]) {
        let d = &mut self.domains[di];
        d.facts = facts
            .iter()
            .filter(|f| gates(&d.cfg, &f.service, &f.slo_id()))
            .cloned()
            .collect();
    }

    /// Journals alert tiers of gating SLOs that started or stopped firing, per domain,
    /// for the post-incident timeline. (slo id, region, severity, firing).
    pub fn record_alerts(&self, alerts: &[(String, String, Severity, bool)], now: i64) {
        if alerts.is_empty() {
            return;
        }
        let Ok(j) = self.journal.lock() else { return };
        for d in &self.domains {
            for (slo, region, severity, firing) in alerts {
                let service = slo.split('/').next().unwrap_or_default();
                if !gates(&d.cfg, service, slo) {
                    continue;
                }
                let detail = serde_json::json!({"slo": slo, "region": region, "severity": severity, "firing": firing});
                if let Err(e) =
                    j.record_decision(now, &d.cfg.name, None, "alert", &detail, self.chaos)
                {
                    tracing::warn!(domain = %d.cfg.name, error = %e, "cannot journal an alert change");
                }
            }
        }
    }

    /// Records an operator's call and its reason as a decision (the policy's answer
    /// follows as its own decisions).
    pub fn record_operator_call(
        &self,
        domain: &str,
        command: &serde_json::Value,
        reason: &str,
        now: i64,
    ) {
        let detail = serde_json::json!({"command": command, "reason": reason});
        if let Ok(j) = self.journal.lock() {
            if let Err(e) = j.record_decision(now, domain, None, "operator", &detail, self.chaos) {
                tracing::error!(domain, error = %e, "cannot journal an operator call");
            }
        }
    }

    /// The channel finished runbooks arrive on; the app's loop owns it (taken once).
    pub fn take_finished(&mut self) -> Option<mpsc::UnboundedReceiver<Finished>> {
        self.finished_rx.take()
    }

    /// Feeds a finished runbook (or roll back) back to its domain's policy. A run
    /// stopped by SIGTERM decides nothing: it resumes after the restart.
    pub fn finished(&mut self, f: &Finished, now: i64) -> Vec<Action> {
        if f.outcome.interrupted {
            return Vec::new();
        }
        if f.roll_back {
            return self.input(
                f.domain,
                Input::RollbackFinished {
                    incident: f.incident,
                    ok: f.outcome.ok,
                },
                now,
            );
        }
        // The world points at the target when a traffic step took effect, or when the
        // target's signal is raised (the vote raises it before the runbook runs).
        let to = match &self.domains[f.domain].state.phase {
            Phase::FailingOver { to, .. } => Some(to.clone()),
            _ => None,
        };
        let name = self.domains[f.domain].cfg.name.clone();
        let signal_raised = to.is_some_and(|to| self.signals.get(&name, &to));
        self.input(
            f.domain,
            Input::RunbookFinished {
                incident: f.incident,
                ok: f.outcome.ok,
                moved: f.outcome.moved || (!f.outcome.ok && signal_raised),
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
        evidence: &BTreeMap<String, RegionEvidence>,
        facts: &dyn Fn() -> Vec<StreamFacts>,
        now: i64,
    ) -> Vec<(usize, Vec<Action>)> {
        let mut out = Vec::new();
        let mut all_facts: Option<Vec<StreamFacts>> = None;
        for di in 0..self.domains.len() {
            let pre = preconditions
                .get(&self.domains[di].cfg.name)
                .cloned()
                .unwrap_or_default();
            let ev = evaluation_for(&self.domains[di].cfg, regions, health, pre, evidence);
            // The streams' facts are journaled with a failover, which only an active
            // region that is bad in this evaluation can bring: built only then.
            let active = &self.domains[di].state.active;
            if ev.regions.get(active).is_some_and(RegionHealth::bad) {
                let all = all_facts.get_or_insert_with(facts);
                self.set_stream_facts(di, all);
            } else {
                // Never journal an earlier episode's facts with a later decision.
                self.domains[di].facts.clear();
            }
            out.push((di, self.input(di, Input::Evaluation(ev), now)));
        }
        out
    }

    /// This replica's view of each domain, for its peers (`/v1/peer`).
    pub fn peer_view(&self) -> BTreeMap<String, policy::PeerDomain> {
        self.domains
            .iter()
            .map(|d| {
                (
                    d.cfg.name.clone(),
                    policy::replicas::own_view(&d.state, &self.cfg.policy),
                )
            })
            .collect()
    }

    /// Replicas that must agree (also on a region being down).
    pub fn quorum(&self) -> u32 {
        self.cfg.policy.quorum
    }

    /// Index of a domain by name.
    pub fn domain_index(&self, name: &str) -> Option<usize> {
        self.domains.iter().position(|d| d.cfg.name == name)
    }
}

/// Actions that change the world (or would): refused whenever automation is off.
fn acts(a: &Action) -> bool {
    matches!(
        a,
        Action::StartFailover { .. }
            | Action::RequestApproval { .. }
            | Action::Vote { target: Some(_) }
            | Action::FollowFailover { .. }
            | Action::ResumeRunbook { .. }
            | Action::RollBack { .. }
    )
}

/// A step's actions while automation is off: every acting one becomes one refusal.
fn refused_while_off(mut actions: Vec<Action>, why: &str) -> Vec<Action> {
    actions.retain(|a| !acts(a));
    actions.push(Action::Blocked {
        reason: format!("automation is off: {why}"),
    });
    actions
}
