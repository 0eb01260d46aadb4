//! Operator calls: a command against the failover driver (journaled with its reason
//! first), answered directly between passes or interleaved with a pass's queries so a
//! slow or hung source never holds an operator back.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{App, Decision, OperatorCall, TickOutcome};
use crate::clock::Clock;
use crate::failover::FailoverDriver;
use crate::policy::{Action, Input};
use crate::query::MetricsSource;

impl<S: MetricsSource> App<S> {
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
pub(super) async fn with_operator<T>(
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
