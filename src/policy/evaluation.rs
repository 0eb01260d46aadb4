//! What the policy does with an evaluation: follow a failover a peer executes, adopt an
//! approval or a resolution made on another replica, and otherwise watch the active
//! region: hold on unclear data (and say once when monitoring is lost), re-arm on
//! recovery, notify a global incident, count consecutive bad evaluations (hysteresis),
//! then pick a healthy target, vote, and act once the quorum agrees.

use super::guards::{guard, votes_for};
use super::start::execute_or_follow;
use super::{
    replicas, Action, Evaluation, ExecState, Mode, Phase, PolicyConfig, PolicyState, RegionHealth,
};

/// Whether this replica publishes its vote (the failover signal Route 53 polls) as soon
/// as it wants a failover: not in dry-run (a dry run moves nothing real) and not in
/// approve mode (the signal would move traffic before anyone approved; the vote is
/// published with the approval).
fn publishes_votes(cfg: &PolicyConfig) -> bool {
    cfg.mode == Mode::Auto
}

pub(super) fn on_evaluation(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    ev: Evaluation,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    let active = ev.regions.get(&state.active).copied().unwrap_or_default();
    let standby_burning = !state.standby.is_empty()
        && state
            .standby
            .iter()
            .all(|s| ev.regions.get(s).is_some_and(RegionHealth::bad));
    state.last_evaluation = Some(ev);
    if matches!(
        state.phase,
        Phase::FailingOver {
            executor: Some(_),
            ..
        }
    ) {
        return replicas::follow(state, cfg, now);
    }
    if let Some(message) = follow_approval_elsewhere(&mut state) {
        let (s, mut more) = replicas::follow(state, cfg, now);
        more.insert(0, Action::Notify { message });
        return (s, more);
    }
    if let Some(message) = adopt_finish_elsewhere(&mut state, now) {
        return (state, vec![Action::Notify { message }]);
    }
    let watching = matches!(
        state.phase,
        Phase::Armed | Phase::Suspect { .. } | Phase::GlobalIncident { .. }
    );
    if !watching {
        return (state, Vec::new());
    }
    if active.has_data && !active.monitoring_lost {
        state.monitoring_lost = false;
    }
    if !active.down && (!active.complete || !active.has_data || !active.covered) {
        return hold_on_unclear_data(state, cfg, &active);
    }
    if !active.bad() {
        return rearm_on_recovery(state, cfg);
    }
    if standby_burning {
        return global_incident(state, cfg, now);
    }
    let (since, count) = count_bad_evaluation(&mut state, now);
    if count < cfg.consecutive || now - since < cfg.min_span {
        let mut actions = Vec::new();
        if count == 1 {
            let what = if active.down {
                "is down (its own SLIs are gone and outside evidence confirms it)"
            } else {
                "is burning its error budget"
            };
            actions.push(Action::Notify {
                message: format!("{} {what} (1/{})", state.active, cfg.consecutive),
            });
        }
        return (state, actions);
    }
    decide_failover(state, cfg, &active, count, now)
}

/// Approved on another replica, which runs (or ran) it: follow it. Returns the notice
/// when the phase moved from awaiting approval to following.
fn follow_approval_elsewhere(state: &mut PolicyState) -> Option<String> {
    let Phase::AwaitingApproval {
        incident,
        ref from,
        ref to,
        since,
    } = state.phase
    else {
        return None;
    };
    let e = replicas::own_report(state, from, to, since, |e| {
        e.acting || e.state != ExecState::Running
    })?;
    state.phase = Phase::FailingOver {
        incident,
        from: from.clone(),
        to: to.clone(),
        since,
        dry_run: false,
        executor: Some(e.executor.clone()),
        rank: 1,
    };
    Some(format!(
        "incident {incident}: approved on replica {}, which executes it; following",
        e.executor
    ))
}

/// Another replica finished this incomplete failover (an operator resolved it there):
/// latch as it did. Returns the notice when the phase moved.
fn adopt_finish_elsewhere(state: &mut PolicyState, now: i64) -> Option<String> {
    let Phase::IncompleteFailover {
        incident,
        ref from,
        ref to,
        at,
    } = state.phase
    else {
        return None;
    };
    let e = replicas::own_report(state, from, to, at, |e| e.state == ExecState::Done)?;
    let message = format!(
        "incident {incident}: replica {} finished the incomplete failover {} -> {}; latched",
        e.executor, e.from, e.to
    );
    state.phase = Phase::FailedOver {
        incident,
        from: e.from.clone(),
        to: e.to.clone(),
        at: now,
        ok: true,
    };
    state.execution = Some(e);
    Some(message)
}

/// This replica no longer wants a failover: withdraw its vote (published only where
/// votes are).
fn withdraw_vote(state: &mut PolicyState, cfg: &PolicyConfig) -> Option<Action> {
    if state.vote.take().is_some() && publishes_votes(cfg) {
        Some(Action::Vote { target: None })
    } else {
        None
    }
}

/// Degraded, missing or uncovered data is neither good nor bad: hold the count, decide
/// nothing.
fn hold_on_unclear_data(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    active: &RegionHealth,
) -> (PolicyState, Vec<Action>) {
    let mut actions = Vec::new();
    // Missing for `down_after` with no outside confirmation is monitoring lost:
    // operators hear it once; the region may well be serving.
    if active.monitoring_lost && !state.monitoring_lost {
        state.monitoring_lost = true;
        actions.push(Action::Notify {
            message: format!(
                "monitoring lost for {}: its own SLIs are gone but nothing outside it confirms a failure; not failing over",
                state.active
            ),
        });
    }
    actions.extend(withdraw_vote(&mut state, cfg));
    (state, actions)
}

/// The active region is neither burning nor down: armed again.
fn rearm_on_recovery(mut state: PolicyState, cfg: &PolicyConfig) -> (PolicyState, Vec<Action>) {
    let mut actions = Vec::new();
    if !matches!(state.phase, Phase::Armed) {
        actions.push(Action::Notify {
            message: format!(
                "{} recovered; failover domain {} armed",
                state.active, state.domain
            ),
        });
    }
    state.phase = Phase::Armed;
    actions.extend(withdraw_vote(&mut state, cfg));
    (state, actions)
}

/// The active region and every standby are bad: notify once, never fail over.
fn global_incident(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    let mut actions = Vec::new();
    if !matches!(state.phase, Phase::GlobalIncident { .. }) {
        actions.push(Action::Notify {
            message: format!(
                "global incident: {} and every standby are burning or down; not failing over",
                state.active
            ),
        });
        state.phase = Phase::GlobalIncident { since: now };
    }
    actions.extend(withdraw_vote(&mut state, cfg));
    (state, actions)
}

/// Hysteresis: one more consecutive bad evaluation. Returns when the run of bad
/// evaluations began and how many it holds.
fn count_bad_evaluation(state: &mut PolicyState, now: i64) -> (i64, u32) {
    let (since, count) = match state.phase {
        Phase::Suspect { since, count } => (since, count + 1),
        _ => (now, 1),
    };
    state.phase = Phase::Suspect { since, count };
    (since, count)
}

/// The active region has been bad long enough: the first standby every guard allows,
/// or the reason each standby is refused.
fn healthy_target(
    state: &PolicyState,
    cfg: &PolicyConfig,
    now: i64,
) -> Result<String, Vec<String>> {
    let target = state
        .standby
        .iter()
        .find(|s| guard(state, cfg, s, now).is_ok())
        .cloned();
    target.ok_or_else(|| {
        state
            .standby
            .iter()
            .filter_map(|s| guard(state, cfg, s, now).err())
            .collect()
    })
}

/// The active region has been bad on enough evaluations: pick the target, vote for it,
/// and once the quorum agrees, execute the failover or follow its executor.
fn decide_failover(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    active: &RegionHealth,
    count: u32,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    let mut actions = Vec::new();
    let target = match healthy_target(&state, cfg, now) {
        Ok(target) => target,
        Err(reasons) => {
            actions.push(Action::Blocked {
                reason: format!(
                    "{} {} but no failover: {}",
                    state.active,
                    if active.down { "down" } else { "burning" },
                    reasons.join("; ")
                ),
            });
            actions.extend(withdraw_vote(&mut state, cfg));
            return (state, actions);
        }
    };
    if state.vote.as_deref() != Some(target.as_str()) {
        state.vote = Some(target.clone());
        if publishes_votes(cfg) {
            actions.push(Action::Vote {
                target: Some(target.clone()),
            });
        }
    }
    let votes = votes_for(&state, &target);
    if votes < cfg.quorum {
        actions.push(Action::Blocked {
            reason: format!(
                "quorum: {votes} of {} replicas vote for {target}",
                cfg.quorum
            ),
        });
        return (state, actions);
    }
    let reason = if active.down {
        format!(
            "{} down (own SLIs gone, confirmed from outside) on {count} consecutive evaluations; {target} healthy",
            state.active
        )
    } else {
        format!(
            "{} burned on {count} consecutive evaluations; {target} healthy",
            state.active
        )
    };
    // One executor: a peer already running this failover, else the first replica in
    // the executor order; every other agreeing replica follows.
    if let Some(reason) = replicas::name_clash(&state, cfg) {
        actions.push(Action::Blocked { reason });
        return (state, actions);
    }
    actions.extend(execute_or_follow(&mut state, cfg, target, reason, now));
    (state, actions)
}
