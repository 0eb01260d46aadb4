//! Finished runbooks fed back to their policy: as they end (wall time), folded into the
//! pass that started them (simulated time, where a runbook takes no time), and awaited
//! within the shutdown grace when the loop stops.

use tokio::sync::mpsc;

use super::clock::Timer;
use super::{App, Decision, Observer, StepCall, TickOutcome};
use crate::failover::{FailoverDriver, Finished};
use crate::policy::Action;
use crate::query::MetricsSource;

impl<S: MetricsSource> App<S> {
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

    pub(super) fn take_finished(&mut self) -> Option<mpsc::UnboundedReceiver<Finished>> {
        self.failover
            .as_mut()
            .and_then(FailoverDriver::take_finished)
    }
}

/// A stop (SIGTERM): no runbook starts another step, and the loop waits (up to
/// `failover.shutdown_grace`) for the running ones to finish their current step, which
/// the actuator journals; their incidents stay open and resume after the restart.
pub(super) async fn drain<S: MetricsSource>(
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
pub(super) async fn settle<S: MetricsSource, T: Timer>(
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

/// The next finished runbook; never resolves when failover is not configured.
pub(super) async fn recv(rx: &mut Option<mpsc::UnboundedReceiver<Finished>>) -> Option<Finished> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
