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

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::redact::redact_text;
use super::{describe, Backends, Incident, OnFailure, RunOutcome, StepSpec};
use crate::journal::Journal;

/// Executes runbooks and records every attempt in the journal.
pub struct Actuator {
    pub steps: Vec<StepSpec>,
    pub backends: Backends,
    pub journal: Arc<Mutex<Journal>>,
}

impl Actuator {
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
        };
        for (i, step) in self.steps.iter().enumerate() {
            fault_hook(i);
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
            let prior = self
                .journal
                .lock()
                .ok()
                .and_then(|j| j.attempts(inc.id, i as u32).ok())
                .unwrap_or(0);
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
            let mut last_err = String::new();
            let mut ok = false;
            for attempt in 1..=step.retries + 1 {
                let n = prior + attempt;
                self.record(inc, i, n, step, "started", &describe(step, inc), now());
                match tokio::time::timeout(step.timeout, step.step.run(inc, &self.backends)).await {
                    Ok(Ok(detail)) => {
                        let detail = redact_text(&detail);
                        tracing::info!(incident = inc.id, step = %step.name, attempt = n, detail = %detail, "step done");
                        self.record(inc, i, n, step, "done", &detail, now());
                        outcome
                            .steps
                            .push((step.name.clone(), "done".into(), detail));
                        ok = true;
                        break;
                    }
                    Ok(Err(e)) => last_err = redact_text(&e),
                    Err(_) => last_err = format!("timed out after {}s", step.timeout.as_secs()),
                }
                tracing::warn!(incident = inc.id, step = %step.name, attempt = n, error = %last_err, "step failed");
                self.record(inc, i, n, step, "failed", &last_err, now());
                if attempt <= step.retries {
                    let base = step.backoff.as_millis() as u64 * (1 << (attempt - 1).min(6));
                    tokio::time::sleep(Duration::from_millis(base + fastrand::u64(0..=base / 2)))
                        .await;
                }
            }
            if !ok {
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
        fault_hook(self.steps.len());
        let status = if inc.dry_run {
            "dry_run"
        } else if outcome.ok {
            "done"
        } else {
            "failed"
        };
        if let Ok(j) = self.journal.lock() {
            let _ = j.close_incident(inc.id, status, now());
        }
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
