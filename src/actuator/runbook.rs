//! The runbook executor: runs a domain's steps in order for one incident, each with its
//! timeout, retries with exponential backoff and jitter, and `on_failure`; records every
//! attempt in the journal; announces an abort on the runbook's SNS topics. It knows
//! steps only through the [`Step`](super::step::Step) trait.
//!
//! Idempotence comes from two places: steps the journal records as done are never run
//! again (a crashed run resumes from the first step not done), and each step first reads
//! live state (`is_done`) and is skipped when its effect is already in place.
//!
//! Every step result and error passes [`redact_text`] before it is journaled, logged or
//! announced: each kind redacts what it knows to be sensitive, and this is the net under
//! all of them (an SDK or client error quoting a URL, a credential in a message).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::redact::redact_text;
use super::{describe, Backends, Incident, OnAbort, OnFailure, RunOutcome, StepSpec};
use crate::journal::Journal;

/// Executes runbooks and records every attempt in the journal.
pub struct Actuator {
    pub steps: Vec<StepSpec>,
    pub backends: Backends,
    pub journal: Arc<Mutex<Journal>>,
    /// What an abort does to what already moved (hold it, or roll it back).
    pub on_abort: OnAbort,
    /// Set when the process stops (SIGTERM): the running step finishes and is journaled,
    /// no further step starts, and the incident stays open to resume after the restart.
    pub stopping: Arc<AtomicBool>,
}

/// Journal statuses of a step whose effect is in place.
const IN_PLACE: [&str; 3] = ["done", "skipped", "done-before"];

impl Actuator {
    pub fn new(steps: Vec<StepSpec>, backends: Backends, journal: Arc<Mutex<Journal>>) -> Self {
        Actuator {
            steps,
            backends,
            journal,
            on_abort: OnAbort::Hold,
            stopping: Arc::default(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        inc: &Incident,
        i: usize,
        attempt: u32,
        step: &StepSpec,
        status: &str,
        detail: &str,
        now: i64,
    ) {
        match self.journal.lock() {
            Ok(j) => {
                if let Err(e) = j.record_step(
                    inc.id,
                    i as u32,
                    attempt,
                    &step.name,
                    step.kind(),
                    status,
                    detail,
                    now,
                ) {
                    tracing::error!(incident = inc.id, step = %step.name, error = %e, "cannot journal step");
                }
            }
            Err(_) => tracing::error!(incident = inc.id, "journal lock poisoned"),
        }
    }

    fn prior_attempts(&self, inc: &Incident, i: usize) -> u32 {
        self.journal
            .lock()
            .ok()
            .and_then(|j| j.attempts(inc.id, i as u32).ok())
            .unwrap_or(0)
    }

    /// Runs (or resumes) the runbook of `inc`. `now` gives journal timestamps.
    pub async fn execute(&self, inc: &Incident, now: impl Fn() -> i64) -> RunOutcome {
        let done = self
            .journal
            .lock()
            .ok()
            .and_then(|j| j.completed_steps(inc.id).ok())
            .unwrap_or_default();
        let mut outcome = RunOutcome {
            ok: true,
            steps: Vec::new(),
            moved: false,
            interrupted: false,
        };
        for (i, step) in self.steps.iter().enumerate() {
            fault_hook(i);
            if self.stopping.load(Ordering::SeqCst) {
                // SIGTERM: the step before this one finished and is journaled; the rest
                // runs after the restart (the incident stays open).
                tracing::warn!(incident = inc.id, next_step = %step.name, "stopping: the runbook resumes at this step after the restart");
                outcome.interrupted = true;
                return outcome;
            }
            self.note_interrupted(inc, i, step, &now);
            if done.contains(&(i as u32)) {
                if self.still_in_place(step, inc).await {
                    outcome.steps.push((
                        step.name.clone(),
                        "done-before".into(),
                        "completed before a restart; not repeated".into(),
                    ));
                    continue;
                }
                tracing::warn!(incident = inc.id, step = %step.name, "the journal records this step as done but its effect is missing: running it again");
            }
            let prior = self.prior_attempts(inc, i);
            if inc.dry_run {
                let d = describe(step, inc);
                tracing::info!(incident = inc.id, step = %step.name, call = %d, "dry run");
                self.record(inc, i, prior + 1, step, "dry_run", &d, now());
                outcome.steps.push((step.name.clone(), "dry_run".into(), d));
                continue;
            }
            match tokio::time::timeout(step.timeout, step.step.is_done(inc, &self.backends)).await {
                Ok(Ok(true)) => {
                    self.record(
                        inc,
                        i,
                        prior + 1,
                        step,
                        "skipped",
                        "already in the desired state",
                        now(),
                    );
                    outcome.steps.push((
                        step.name.clone(),
                        "skipped".into(),
                        "already done".into(),
                    ));
                    continue;
                }
                Ok(Err(e)) => {
                    let e = redact_text(&e);
                    tracing::warn!(step = %step.name, error = %e, "cannot read the current state; running the step")
                }
                _ => {}
            }
            match self.attempt(inc, i, step, prior, &now).await {
                Ok(detail) => outcome
                    .steps
                    .push((step.name.clone(), "done".into(), detail)),
                Err(last_err) => {
                    outcome
                        .steps
                        .push((step.name.clone(), "failed".into(), last_err.clone()));
                    if step.on_failure == OnFailure::Abort {
                        outcome.ok = false;
                        self.notify_abort(inc, step, &last_err).await;
                        break;
                    }
                }
            }
        }
        fault_hook(self.steps.len());
        outcome.moved = !inc.dry_run && self.moved(&outcome);
        let mut status = if inc.dry_run {
            "dry_run"
        } else if outcome.ok {
            "done"
        } else {
            "failed"
        };
        if !outcome.ok && outcome.moved && self.on_abort == OnAbort::RollBack {
            tracing::warn!(
                incident = inc.id,
                "runbook aborted after moving traffic: rolling back (on_abort: roll_back)"
            );
            let back = self.undo(inc, &now).await;
            outcome.steps.extend(back.steps);
            outcome.moved = !back.ok;
            if back.ok {
                status = "rolled_back";
            }
        }
        if let Ok(j) = self.journal.lock() {
            let _ = j.close_incident(inc.id, status, now());
        }
        outcome
    }

    /// One step's attempts (timeout, retries with backoff and jitter), each journaled;
    /// the step's result, or the last error.
    async fn attempt(
        &self,
        inc: &Incident,
        i: usize,
        step: &StepSpec,
        prior: u32,
        now: &impl Fn() -> i64,
    ) -> Result<String, String> {
        let mut last_err = String::new();
        for attempt in 1..=step.retries + 1 {
            let n = prior + attempt;
            self.record(inc, i, n, step, "started", &describe(step, inc), now());
            match tokio::time::timeout(step.timeout, step.step.run(inc, &self.backends)).await {
                Ok(Ok(detail)) => {
                    let detail = redact_text(&detail);
                    tracing::info!(incident = inc.id, step = %step.name, attempt = n, detail = %detail, "step done");
                    self.record(inc, i, n, step, "done", &detail, now());
                    return Ok(detail);
                }
                Ok(Err(e)) => last_err = redact_text(&e),
                Err(_) => last_err = format!("timed out after {}s", step.timeout.as_secs()),
            }
            tracing::warn!(incident = inc.id, step = %step.name, attempt = n, error = %last_err, "step failed");
            self.record(inc, i, n, step, "failed", &last_err, now());
            if attempt <= step.retries {
                let base = step.backoff.as_millis() as u64 * (1 << (attempt - 1).min(6));
                tokio::time::sleep(Duration::from_millis(base + fastrand::u64(0..=base / 2))).await;
            }
        }
        Err(last_err)
    }

    /// A step whose last journaled attempt only says `started` was cut by a crash or a
    /// kill -9: journal that it was interrupted (it is re-checked before it runs again).
    fn note_interrupted(&self, inc: &Incident, i: usize, step: &StepSpec, now: &impl Fn() -> i64) {
        let last = self
            .journal
            .lock()
            .ok()
            .and_then(|j| j.last_step_status(inc.id, i as u32).ok().flatten());
        if last.as_deref() == Some("started") {
            let n = self.prior_attempts(inc, i);
            tracing::warn!(incident = inc.id, step = %step.name, "this step was running when the process stopped: journaled as interrupted; re-checked before it runs again");
            self.record(
                inc,
                i,
                n,
                step,
                "interrupted",
                "the process stopped while this step ran (crash or kill -9); re-checked before running again",
                now(),
            );
        }
    }

    /// Whether a step that points traffic (or the writer) at the target took effect in
    /// this run or an earlier one of the same incident.
    fn moved(&self, outcome: &RunOutcome) -> bool {
        self.steps.iter().any(|s| {
            s.step.moves_traffic()
                && outcome
                    .steps
                    .iter()
                    .any(|(name, status, _)| name == &s.name && IN_PLACE.contains(&status.as_str()))
        })
    }

    /// Undoes what the incident's runbook moved: every step that points traffic (or the
    /// writer) and took effect runs again, last first, for the way back (`to` → `from`),
    /// each re-checked first; then the engine's own signals point back at `from`.
    /// Journaled as the same steps with status `rolled_back` or `rollback_failed`.
    pub async fn roll_back(&self, inc: &Incident, now: impl Fn() -> i64) -> RunOutcome {
        let outcome = self.undo(inc, &now).await;
        if let Ok(j) = self.journal.lock() {
            let status = if outcome.ok { "rolled_back" } else { "failed" };
            let _ = j.close_incident(inc.id, status, now());
        }
        outcome
    }

    async fn undo(&self, inc: &Incident, now: &impl Fn() -> i64) -> RunOutcome {
        let done = self
            .journal
            .lock()
            .ok()
            .and_then(|j| j.completed_steps(inc.id).ok())
            .unwrap_or_default();
        let back = Incident {
            from: inc.to.clone(),
            to: inc.from.clone(),
            reason: format!("roll back of incident {}: {}", inc.id, inc.reason),
            ..inc.clone()
        };
        let mut outcome = RunOutcome {
            ok: true,
            steps: Vec::new(),
            moved: false,
            interrupted: false,
        };
        for (i, step) in self.steps.iter().enumerate().rev() {
            if !step.step.moves_traffic() || !done.contains(&(i as u32)) {
                continue;
            }
            let prior = self.prior_attempts(inc, i);
            let result =
                match tokio::time::timeout(step.timeout, step.step.is_done(&back, &self.backends))
                    .await
                {
                    Ok(Ok(true)) => Ok("already back".to_string()),
                    _ => self.attempt(&back, i, step, prior, now).await,
                };
            let n = self.prior_attempts(inc, i) + 1;
            match result {
                Ok(detail) => {
                    self.record(inc, i, n, step, "rolled_back", &detail, now());
                    outcome
                        .steps
                        .push((step.name.clone(), "rolled_back".into(), detail));
                }
                Err(e) => {
                    self.record(inc, i, n, step, "rollback_failed", &e, now());
                    outcome
                        .steps
                        .push((step.name.clone(), "rollback_failed".into(), e));
                    outcome.ok = false;
                }
            }
        }
        if outcome.ok {
            // The vote (or the signal step) raised the target's signal: point it back.
            let signals = &self.backends.signals;
            let lowered = signals
                .set(&inc.domain, &inc.from, true)
                .and_then(|()| signals.set(&inc.domain, &inc.to, false));
            if let Err(e) = lowered {
                tracing::error!(incident = inc.id, error = %e, "roll back: cannot point the failover signal back");
                outcome.ok = false;
            }
        }
        outcome.moved = !outcome.ok;
        outcome
    }

    /// For a step the journal records as done: whether its effect is still in place.
    /// Steps whose effect cannot be read back (notifications, hooks) trust the journal,
    /// and so does a read that fails: repeating a page or a hook is worse than not.
    async fn still_in_place(&self, step: &StepSpec, inc: &Incident) -> bool {
        if inc.dry_run || !step.step.verifiable() {
            return true;
        }
        match tokio::time::timeout(step.timeout, step.step.is_done(inc, &self.backends)).await {
            Ok(Ok(in_place)) => in_place,
            Ok(Err(e)) => {
                tracing::warn!(incident = inc.id, step = %step.name, error = %e, "cannot read the step's effect back; trusting the journal");
                true
            }
            Err(_) => true,
        }
    }

    /// Tells every SNS topic of the runbook that the runbook aborted (best effort).
    async fn notify_abort(&self, inc: &Incident, step: &StepSpec, error: &str) {
        let Some(api) = &self.backends.sns else {
            return;
        };
        for topic in self.steps.iter().filter_map(|s| s.step.sns_topic()) {
            let msg = format!("sloguard incident {}: runbook ABORTED at step {:?}: {error}. Manual action needed.", inc.id, step.name);
            if let Err(e) = api
                .publish(topic, "sloguard runbook aborted", &msg, &inc.attributes())
                .await
            {
                tracing::error!(incident = inc.id, error = %e, "cannot notify the abort");
            }
        }
    }
}

/// A fault hook for crash tests: with `SLOGUARD_FAULT_ABORT_AT_STEP=k` set, the process
/// aborts (as `kill -9` would stop it: no cleanup, no journal write) at the boundary
/// before step `k` (`k` = the number of steps: after the last step, before the incident
/// is closed). Unset, it costs one cached environment read per runbook.
fn fault_hook(boundary: usize) {
    static AT: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| {
        std::env::var("SLOGUARD_FAULT_ABORT_AT_STEP")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if *at == Some(boundary) {
        tracing::error!(
            boundary,
            "fault hook: aborting the process at a step boundary"
        );
        std::process::abort();
    }
}
