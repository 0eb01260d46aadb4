//! An operator's commands: fail over (through every guard automation passes, or forced
//! with a reason), approve a failover awaiting approval, re-arm a latched domain, and
//! resolve an incomplete failover (finish, roll back or accept). Failback has its own
//! file ([`super::failback`]).

use super::guards::{guard, has_words, operator_quorum};
use super::start::start;
use super::{Action, ExecState, Execution, Mode, Phase, PolicyConfig, PolicyState, Resolution};

/// The command is refused: nothing changes but the record of why.
fn refuse(state: PolicyState, reason: String) -> (PolicyState, Vec<Action>) {
    (state, vec![Action::Blocked { reason }])
}

/// An operator asks for a failover to `target`. Not forced, it passes the same guards
/// as automation, including "the active region is burning" (or down).
pub(super) fn failover(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    target: String,
    reason: String,
    force: bool,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    if matches!(
        state.phase,
        Phase::FailingOver { .. } | Phase::AwaitingApproval { .. }
    ) {
        return refuse(state, "a failover is already in progress".into());
    }
    if force {
        return forced_failover(state, cfg, target, reason, now);
    }
    if !has_words(&reason) {
        return refuse(state, "a failover needs a reason".into());
    }
    if target == state.active {
        let why = format!("{target} is already the active region");
        return refuse(state, why);
    }
    if let Some(why) = active_not_bad(&state) {
        return refuse(state, why);
    }
    if let Err(why) =
        guard(&state, cfg, &target, now).and_then(|()| operator_quorum(&state, cfg, &target, false))
    {
        return refuse(state, why);
    }
    // An operator's request is its own approval.
    let a = start(
        &mut state,
        &PolicyConfig {
            mode: if cfg.mode == Mode::Approve {
                Mode::Auto
            } else {
                cfg.mode
            },
            ..cfg.clone()
        },
        target,
        format!("operator: {reason}"),
        now,
        false,
    );
    (state, a)
}

/// A forced failover skips the guards; it still needs a reason and a standby target.
fn forced_failover(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    target: String,
    reason: String,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    if !has_words(&reason) {
        return refuse(state, "a forced failover needs a reason".into());
    }
    if target == state.active || !state.standby.contains(&target) {
        let why = format!("{target} is not a standby region");
        return refuse(state, why);
    }
    let a = start(
        &mut state,
        cfg,
        target,
        format!("forced by operator: {reason}"),
        now,
        true,
    );
    (state, a)
}

/// Why an operator's non-forced failover may not move the active region: it is not
/// known to be burning (nor down).
fn active_not_bad(state: &PolicyState) -> Option<String> {
    let active = state
        .last_evaluation
        .as_ref()
        .and_then(|ev| ev.regions.get(&state.active));
    match active {
        None => Some(format!(
            "no evaluation of the active region {} yet: its state is unknown; a failover now needs force",
            state.active
        )),
        Some(h) if !h.bad() => Some(format!(
            "the active region {} is not burning (nor down): a failover of a healthy region needs force",
            state.active
        )),
        Some(_) => None,
    }
}

/// An operator approves the failover awaiting approval as `incident`: the guards and the
/// quorum are checked again now, and the failover starts (this replica executes it).
pub(super) fn approve(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    incident: u64,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    let to = match state.phase.clone() {
        Phase::AwaitingApproval {
            incident: i, to, ..
        } if i == incident => to,
        _ => {
            return refuse(
                state,
                format!("incident {incident} is not awaiting approval"),
            )
        }
    };
    if let Err(e) =
        guard(&state, cfg, &to, now).and_then(|()| operator_quorum(&state, cfg, &to, false))
    {
        state.phase = Phase::Armed;
        return refuse(
            state,
            format!("approval of incident {incident} refused: {e}"),
        );
    }
    let from = state.active.clone();
    state.phase = Phase::FailingOver {
        incident,
        from: from.clone(),
        to: to.clone(),
        since: now,
        dry_run: false,
        executor: None,
        rank: 0,
    };
    state.execution = Some(Execution::running(&from, &to, &cfg.replica, now, true));
    let reason = format!("approved by operator (incident {incident})");
    state.vote = Some(to.clone());
    (
        state,
        vec![
            Action::Vote {
                target: Some(to.clone()),
            },
            Action::StartFailover {
                incident,
                from,
                to,
                reason,
                dry_run: false,
                forced: false,
            },
        ],
    )
}

/// An operator re-arms a latched domain (or drops a failover awaiting approval).
pub(super) fn rearm(mut state: PolicyState) -> (PolicyState, Vec<Action>) {
    match state.phase {
        Phase::FailedOver { .. } | Phase::AwaitingApproval { .. } => {
            state.phase = Phase::Armed;
            state.vote = None;
            let message = format!(
                "failover domain {} re-armed; active {}",
                state.domain, state.active
            );
            (state, vec![Action::Notify { message }])
        }
        _ => refuse(state, "nothing to re-arm".into()),
    }
}

/// An operator leaves an incomplete failover: finish it, roll it back, or accept it.
pub(super) fn resolve(
    mut state: PolicyState,
    cfg_replica: &str,
    incident: u64,
    action: Resolution,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    let Phase::IncompleteFailover {
        incident: i,
        from,
        to,
        ..
    } = state.phase.clone()
    else {
        return (
            state,
            vec![Action::Blocked {
                reason: format!("incident {incident} is not an incomplete failover"),
            }],
        );
    };
    if i != incident {
        return (
            state,
            vec![Action::Blocked {
                reason: format!(
                    "incident {incident} is not an incomplete failover (incident {i} is)"
                ),
            }],
        );
    }
    match action {
        Resolution::Accept => {
            state.phase = Phase::FailedOver {
                incident,
                from,
                to: to.clone(),
                at: now,
                ok: true,
            };
            let message = format!(
                "incident {incident}: accepted as it is; {to} stays active; automation latched until re-armed"
            );
            (state, vec![Action::Notify { message }])
        }
        Resolution::Finish | Resolution::RollBack
            if state.peers.values().any(|p| {
                p.execution.as_ref().is_some_and(|e| {
                    e.executor == p.replica
                        && e.acting
                        && e.state == ExecState::Running
                        && e.from == from
                        && e.to == to
                })
            }) =>
        {
            let reason = format!(
                "incident {incident}: another replica is already running this failover's steps: resolve it there"
            );
            (state, vec![Action::Blocked { reason }])
        }
        Resolution::Finish => {
            state.execution = Some(Execution::running(&from, &to, cfg_replica, now, true));
            state.phase = Phase::FailingOver {
                incident,
                from: from.clone(),
                to: to.clone(),
                since: now,
                dry_run: false,
                executor: None,
                rank: 0,
            };
            (state, vec![Action::ResumeRunbook { incident, from, to }])
        }
        Resolution::RollBack => {
            state.phase = Phase::RollingBack {
                incident,
                from: from.clone(),
                to: to.clone(),
                since: now,
            };
            (state, vec![Action::RollBack { incident, from, to }])
        }
    }
}
