//! How a runbook or a roll back ended: a dry run re-arms; a real failover moves the
//! active region when traffic moved and latches (or waits for an operator when it
//! stopped part-way after moving traffic); a roll back restores the old region.

use super::{Action, ExecState, Phase, PolicyConfig, PolicyState};

/// `to` becomes the active region; `from` the first standby.
fn make_active(state: &mut PolicyState, from: &str, to: &str) {
    state.standby.retain(|s| s != to && s != from);
    state.standby.insert(0, from.to_string());
    state.active = to.to_string();
}

/// The runbook of `incident` ended (`moved`: the world points at the target now).
pub(super) fn runbook_finished(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    incident: u64,
    ok: bool,
    moved: bool,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    match state.phase.clone() {
        Phase::FailingOver {
            incident: i,
            dry_run: true,
            ..
        } if i == incident => {
            // A dry run changed nothing: same active region, no latch, no cooldown
            // for real failovers; dry runs themselves repeat at most once per cooldown.
            state.last_dry_run = Some(now);
            state.vote = None;
            state.phase = Phase::Armed;
            (
                state,
                vec![Action::Notify {
                    message: format!(
                        "incident {incident}: dry run finished; nothing changed, automation still armed"
                    ),
                }],
            )
        }
        Phase::FailingOver {
            incident: i,
            from,
            to,
            ..
        } if i == incident => failover_finished(state, cfg, incident, (from, to), ok, moved, now),
        _ => (state, Vec::new()),
    }
}

/// A real failover's runbook ended: record this replica's execution, move the active
/// region if traffic moved, and latch (or wait for an operator if it is incomplete).
fn failover_finished(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    incident: u64,
    (from, to): (String, String),
    ok: bool,
    moved: bool,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    state.last_failover = Some(now);
    state.vote = None;
    if let Some(e) = state
        .execution
        .as_mut()
        .filter(|e| e.executor == cfg.replica && e.to == to)
    {
        e.state = match (ok, moved) {
            (true, _) => ExecState::Done,
            (false, true) => ExecState::Incomplete,
            (false, false) => ExecState::Failed,
        };
        e.ok = ok;
        e.moved = moved || ok;
    }
    if ok || moved {
        make_active(&mut state, &from, &to);
    }
    if !ok && moved {
        // The world points at the target although the runbook did not finish:
        // say so, guard the region traffic is in, and wait for an operator.
        state.phase = Phase::IncompleteFailover {
            incident,
            from: from.clone(),
            to: to.clone(),
            at: now,
        };
        let message = format!(
            "incident {incident}: runbook stopped part-way AFTER moving traffic to {to}; {to} is now the active region and the failover is INCOMPLETE: finish, roll back or accept it"
        );
        return (state, vec![Action::Notify { message }]);
    }
    state.phase = Phase::FailedOver {
        incident,
        from,
        to,
        at: now,
        ok,
    };
    let msg = if ok {
        "runbook finished; automation latched until re-armed"
    } else {
        "runbook FAILED before moving traffic; automation latched until re-armed"
    };
    (
        state,
        vec![Action::Notify {
            message: format!("incident {incident}: {msg}"),
        }],
    )
}

/// The roll back of `incident` ended (`ok`: everything moved back).
pub(super) fn rollback_finished(
    mut state: PolicyState,
    incident: u64,
    ok: bool,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    match state.phase.clone() {
        Phase::RollingBack {
            incident: i,
            from,
            to,
            ..
        } if i == incident => {
            if ok {
                make_active(&mut state, &to, &from);
                state.phase = Phase::FailedOver {
                    incident,
                    from: from.clone(),
                    to,
                    at: now,
                    ok: false,
                };
                let message = format!(
                    "incident {incident}: rolled back; {from} is active again; automation latched until re-armed"
                );
                (state, vec![Action::Notify { message }])
            } else {
                state.phase = Phase::IncompleteFailover {
                    incident,
                    from,
                    to: to.clone(),
                    at: now,
                };
                let message = format!(
                    "incident {incident}: roll back FAILED; traffic still points at {to}; the failover stays incomplete"
                );
                (state, vec![Action::Notify { message }])
            }
        }
        _ => (state, Vec::new()),
    }
}
