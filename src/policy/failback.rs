//! Failback: an operator moves back to the region the last failover left, through the
//! guards automation passes (cooldown and quorum included) unless forced with a reason.

use super::guards::{guard, has_words, operator_quorum};
use super::start::start;
use super::{Action, Mode, Phase, PolicyConfig, PolicyState};

/// Failback: only after a failover that moved traffic, only back to the region it
/// left, through every guard automation passes (cooldown and quorum included) unless
/// forced.
pub(super) fn failback(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    target: String,
    reason: String,
    force: bool,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    let refuse = |state: PolicyState, why: String| {
        (
            state,
            vec![Action::Blocked {
                reason: format!("failback refused: {why}"),
            }],
        )
    };
    let Phase::FailedOver { from, to, ok, .. } = state.phase.clone() else {
        return refuse(
            state,
            "failback only undoes a failover: this domain has not failed over (re-arm or fail over instead)".into(),
        );
    };
    if !ok || state.active != to {
        return refuse(
            state,
            format!("the last failover ({from} -> {to}) did not move traffic: there is nothing to fail back"),
        );
    }
    if target != from {
        return refuse(
            state,
            format!(
                "failback moves back to {from}, the region the last failover left, not {target}"
            ),
        );
    }
    if !has_words(&reason) {
        return refuse(state, "a failback needs a reason".into());
    }
    if !force {
        if let Err(e) = guard(&state, cfg, &target, now)
            .and_then(|()| operator_quorum(&state, cfg, &target, true))
        {
            return refuse(state, e);
        }
    }
    let a = start(
        &mut state,
        &PolicyConfig {
            mode: Mode::Auto,
            ..cfg.clone()
        },
        target,
        format!(
            "failback by operator{}: {reason}",
            if force { " (forced)" } else { "" }
        ),
        now,
        force,
    );
    (state, a)
}
