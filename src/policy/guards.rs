//! The guards on a failover to a target, as one list in the order they are applied
//! (target, healthy target, complete data, preconditions, cooldown), the votes the quorum
//! guard counts, and the checks on an operator's call (its reason, its quorum). Every path
//! to a failover (automation, an operator, an approval, a failback) reads these.

use super::{replicas, Evaluation, Mode, PolicyConfig, PolicyState, RegionHealth};

use serde::{Deserialize, Serialize};

/// One guard as checked for a failover to a target: what it is, whether it held, and
/// the facts (the refusal's own words when it did not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardCheck {
    pub guard: String,
    pub passed: bool,
    pub detail: String,
}

impl GuardCheck {
    pub fn new(guard: &str, passed: bool, detail: String) -> Self {
        GuardCheck {
            guard: guard.into(),
            passed,
            detail,
        }
    }
}

fn check(guard: &str, passed: bool, detail: String) -> GuardCheck {
    GuardCheck::new(guard, passed, detail)
}

/// Every guard on a failover to `target` now, in the order they are applied. The list
/// stops at a failure that leaves the rest undefined (not a standby, no evaluation).
pub fn guard_checks(
    state: &PolicyState,
    cfg: &PolicyConfig,
    target: &str,
    now: i64,
) -> Vec<GuardCheck> {
    if let Some(refusal) = target_check(state, target) {
        return vec![refusal];
    }
    let Some(ev) = &state.last_evaluation else {
        return vec![check("evaluation", false, "no evaluation yet".into())];
    };
    let mut out = vec![healthy_target_check(ev.regions.get(target), cfg, target)];
    out.push(complete_data_check(state, ev, target));
    out.extend(precondition_checks(ev));
    out.extend(cooldown_checks(state, cfg, now));
    out
}

/// The target guard when it fails: the target is already active, or not a standby.
fn target_check(state: &PolicyState, target: &str) -> Option<GuardCheck> {
    if target == state.active {
        return Some(check(
            "target",
            false,
            format!("{target} is already the active region"),
        ));
    }
    if !state.standby.iter().any(|s| s == target) {
        return Some(check(
            "target",
            false,
            format!(
                "{target} is not a standby region of domain {}",
                state.domain
            ),
        ));
    }
    None
}

/// The target is healthy ([`RegionHealth::healthy`]); when not, the first reason why.
fn healthy_target_check(
    health: Option<&RegionHealth>,
    cfg: &PolicyConfig,
    target: &str,
) -> GuardCheck {
    let health = match health {
        Some(h) if h.healthy(cfg.target_max_burn) => Ok(format!(
            "target {target} healthy: no tier holds, data complete, short windows burn at {:.2}x (below {}x){}",
            h.short_burn,
            cfg.target_max_burn,
            if h.probes_passing == Some(true) { ", probes pass" } else { "" }
        )),
        Some(h) if h.down => Err(format!("target {target} is down")),
        Some(h) if !h.has_data => Err(format!("target {target} has no data")),
        Some(h) if !h.complete => Err(format!("target {target} data is incomplete")),
        Some(h) if !h.covered => Err(format!(
            "target {target} data does not cover its windows yet (backfill pending or a gap being filled)"
        )),
        Some(h) if h.burning || h.any_tier => {
            Err(format!("target {target} is not healthy (a tier holds there)"))
        }
        Some(h) if h.probes_passing == Some(false) => {
            Err(format!("target {target} is not healthy (its probes fail)"))
        }
        Some(h) => Err(format!(
            "target {target} is not healthy (short windows burn at {:.2}x, above {}x)",
            h.short_burn, cfg.target_max_burn
        )),
        None => Err(format!("target {target} has no data")),
    };
    match health {
        Ok(d) => check("healthy target", true, d),
        Err(d) => check("healthy target", false, d),
    }
}

/// Every query for the active region answered in full.
fn complete_data_check(state: &PolicyState, ev: &Evaluation, target: &str) -> GuardCheck {
    match ev.regions.get(&state.active) {
        Some(h) if !h.complete => check(
            "complete data",
            false,
            format!("active {} data is incomplete", state.active),
        ),
        _ => check(
            "complete data",
            true,
            format!(
                "every query for {} and {target} answered in full",
                state.active
            ),
        ),
    }
}

/// One check per precondition (one passing check when none are configured).
fn precondition_checks(ev: &Evaluation) -> Vec<GuardCheck> {
    let mut out = Vec::new();
    if ev.preconditions.is_empty() {
        out.push(check("preconditions", true, "none configured".into()));
    }
    for (name, ok) in &ev.preconditions {
        out.push(match ok {
            Some(true) => check("preconditions", true, format!("precondition {name} holds")),
            Some(false) => check(
                "preconditions",
                false,
                format!("precondition {name} does not hold"),
            ),
            None => check(
                "preconditions",
                false,
                format!("precondition {name} has no data"),
            ),
        });
    }
    out
}

/// The cooldown since the last failover; in dry-run mode first the one since the last
/// dry run (dry runs repeat at most once per cooldown).
fn cooldown_checks(state: &PolicyState, cfg: &PolicyConfig, now: i64) -> Vec<GuardCheck> {
    let mut out = Vec::new();
    if cfg.mode == Mode::DryRun {
        if let Some(last) = state.last_dry_run {
            if now - last < cfg.cooldown {
                out.push(check(
                    "cooldown",
                    false,
                    format!(
                        "cooldown: last dry run {}s ago, cooldown {}s",
                        now - last,
                        cfg.cooldown
                    ),
                ));
            }
        }
    }
    out.push(match state.last_failover {
        Some(last) if now - last < cfg.cooldown => check(
            "cooldown",
            false,
            format!(
                "cooldown: last failover {}s ago, cooldown {}s",
                now - last,
                cfg.cooldown
            ),
        ),
        Some(last) => check(
            "cooldown",
            true,
            format!(
                "last failover {}s ago, cooldown {}s",
                now - last,
                cfg.cooldown
            ),
        ),
        None => check(
            "cooldown",
            true,
            format!("no earlier failover (cooldown {}s)", cfg.cooldown),
        ),
    });
    out
}

/// Why no failover to `target` may start now, if any guard fails.
pub(super) fn guard(
    state: &PolicyState,
    cfg: &PolicyConfig,
    target: &str,
    now: i64,
) -> Result<(), String> {
    match guard_checks(state, cfg, target, now)
        .into_iter()
        .find(|c| !c.passed)
    {
        Some(c) => Err(c.detail),
        None => Ok(()),
    }
}

/// Votes for `target` from this replica and its peers (the quorum guard counts them).
/// A peer votes through its failover signal (what Route 53 reads) or, when it does not
/// publish one (approve mode) or answered only `/v1/peer`, through what its evaluation
/// wants there; each peer counts once.
pub fn votes_for(state: &PolicyState, target: &str) -> u32 {
    let own = u32::from(state.vote.as_deref() == Some(target));
    let mut peers: std::collections::BTreeSet<&String> = state
        .peer_votes
        .iter()
        .filter(|(_, v)| v.as_deref() == Some(target))
        .map(|(url, _)| url)
        .collect();
    peers.extend(
        state
            .peers
            .iter()
            .filter(|(_, p)| p.wants.as_deref() == Some(target))
            .map(|(url, _)| url),
    );
    own + peers.len() as u32
}

/// Whether enough replicas agree with an operator's call on `to` (this one included):
/// the same quorum automation needs.
pub(super) fn operator_quorum(
    state: &PolicyState,
    cfg: &PolicyConfig,
    to: &str,
    failback: bool,
) -> Result<(), String> {
    let n = replicas::agreeing(state, to, failback);
    if n >= cfg.quorum {
        Ok(())
    } else {
        Err(format!(
            "quorum: {n} of {} replicas agree ({}; peers that did not answer count as disagreeing); without the quorum the call needs force",
            cfg.quorum,
            if failback {
                format!("judge {to} healthy")
            } else {
                format!("judge {} bad and {to} healthy", state.active)
            }
        ))
    }
}

/// A reason worth journaling: at least one visible character (not only white space or
/// control characters).
pub fn has_words(reason: &str) -> bool {
    reason
        .chars()
        .any(|c| !c.is_whitespace() && !c.is_control())
}
