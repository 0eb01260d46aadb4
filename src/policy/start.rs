//! Opening an incident for an agreed failover: this replica executes it ([`start`]:
//! awaiting approval, a dry run or the runbook) or follows the peer that does
//! ([`follow_peer`]).

use super::{replicas, Action, ExecState, Execution, Mode, Phase, PolicyConfig, PolicyState};

/// Opens an incident for a failover to `to` that this replica carries out: it awaits an
/// operator's approval in approve mode (unless forced), else it starts (a dry run in
/// dry-run mode).
pub(super) fn start(
    state: &mut PolicyState,
    cfg: &PolicyConfig,
    to: String,
    reason: String,
    now: i64,
    forced: bool,
) -> Vec<Action> {
    let incident = state.next_incident;
    state.next_incident += 1;
    let from = state.active.clone();
    if cfg.mode == Mode::Approve && !forced {
        state.phase = Phase::AwaitingApproval {
            incident,
            from: from.clone(),
            to: to.clone(),
            since: now,
        };
        return vec![Action::RequestApproval {
            incident,
            from,
            to,
            reason,
        }];
    }
    let dry_run = cfg.mode == Mode::DryRun;
    state.phase = Phase::FailingOver {
        incident,
        from: from.clone(),
        to: to.clone(),
        since: now,
        dry_run,
        executor: None,
        rank: 0,
    };
    if !dry_run {
        state.execution = Some(Execution::running(&from, &to, &cfg.replica, now, true));
    }
    vec![Action::StartFailover {
        incident,
        from,
        to,
        reason,
        dry_run,
        forced,
    }]
}

/// The agreed failover runs on `executor`: this replica follows it (see
/// [`replicas::follow`]).
pub(super) fn follow_peer(
    state: &mut PolicyState,
    to: String,
    reason: String,
    executor: String,
    rank: u32,
    now: i64,
) -> Vec<Action> {
    let incident = state.next_incident;
    state.next_incident += 1;
    let from = state.active.clone();
    state.executor_seen = None;
    state.phase = Phase::FailingOver {
        incident,
        from: from.clone(),
        to: to.clone(),
        since: now,
        dry_run: false,
        executor: Some(executor.clone()),
        rank,
    };
    // Published on /v1/peer: whom this replica follows (the executor's confirmation).
    state.execution = Some(Execution::running(&from, &to, &executor, now, false));
    vec![Action::FollowFailover {
        incident,
        from,
        to,
        reason,
        executor,
    }]
}

/// An agreed failover in auto mode has one executor: a peer already running it, else the
/// first replica in the executor order; every other agreeing replica follows. The first
/// in order claims it first when peers must see the claim (`claim_wait`); in the other
/// modes (and with no peer ahead) this replica starts it.
pub(super) fn execute_or_follow(
    state: &mut PolicyState,
    cfg: &PolicyConfig,
    target: String,
    reason: String,
    now: i64,
) -> Vec<Action> {
    if cfg.mode == Mode::Auto {
        let order = replicas::executor_order(state, cfg, &target);
        let running = replicas::peer_executing(state, &state.active, &target, now);
        let lead = running
            .map(|e| e.executor)
            .or_else(|| order.first().cloned())
            .filter(|n| n != &cfg.replica);
        if let Some(executor) = lead {
            let rank = order
                .iter()
                .position(|n| n == &cfg.replica)
                .unwrap_or(order.len()) as u32;
            return follow_peer(state, target, reason, executor, rank, now);
        }
        if cfg.claim_wait > 0 {
            return claim_execution(state, cfg, target, reason, now);
        }
    }
    start(state, cfg, target, reason, now, false)
}

/// First in order: claim the failover where the peers see it, act after `claim_wait`
/// unless a peer first in order claims it too.
fn claim_execution(
    state: &mut PolicyState,
    cfg: &PolicyConfig,
    target: String,
    reason: String,
    now: i64,
) -> Vec<Action> {
    let from = state.active.clone();
    let actions = follow_peer(state, target.clone(), reason, cfg.replica.clone(), 0, now);
    state.execution = Some(Execution {
        from,
        to: target,
        executor: cfg.replica.clone(),
        since: now,
        state: ExecState::Running,
        ok: false,
        moved: false,
        acting: false,
    });
    actions
}
