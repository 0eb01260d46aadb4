//! The transition table: [`step`] routes each input to the function that handles it.

use super::evaluation::on_evaluation;
use super::failback::failback;
use super::operator;
use super::outcome::{rollback_finished, runbook_finished};
use super::{Action, Command, Input, PolicyConfig, PolicyState};

/// Advances the state machine by one input at time `now` (unix seconds).
pub fn step(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    input: Input,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    match input {
        Input::Evaluation(ev) => on_evaluation(state, cfg, ev, now),
        Input::Votes(votes) => {
            state.peer_votes = votes;
            (state, Vec::new())
        }
        Input::PeerViews(views) => {
            state.peers = views;
            (state, Vec::new())
        }
        Input::AlertTrigger { region, slo } => {
            let msg = format!("Alertmanager paged for {slo} in {region}; confirming with the engine's own evaluation");
            (state, vec![Action::Notify { message: msg }])
        }
        Input::Operator(Command::Failover {
            target,
            reason,
            force,
        }) => operator::failover(state, cfg, target, reason, force, now),
        Input::Operator(Command::Approve { incident }) => {
            operator::approve(state, cfg, incident, now)
        }
        Input::Operator(Command::Rearm) => operator::rearm(state),
        Input::Operator(Command::Failback {
            target,
            reason,
            force,
        }) => failback(state, cfg, target, reason, force, now),
        Input::Operator(Command::Resolve { incident, action }) => {
            operator::resolve(state, &cfg.replica, incident, action, now)
        }
        Input::RunbookFinished {
            incident,
            ok,
            moved,
        } => runbook_finished(state, cfg, incident, ok, moved, now),
        Input::RollbackFinished { incident, ok } => rollback_finished(state, incident, ok, now),
    }
}
