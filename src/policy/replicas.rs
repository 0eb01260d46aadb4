//! PURE: replicas that act as one. What a peer says about a failover domain
//! ([`PeerDomain`], served on `/v1/peer`), which replica executes a failover the
//! replicas agreed on ([`executor_order`]), how the others follow it and when one takes
//! over ([`follow`]), and how many replicas agree with an operator's call
//! ([`agreeing`]).
//!
//! The executor: among the replicas that want the same failover, the one in the target
//! region first (`failover.region`), then by replica name. Every other agreeing replica
//! *follows*: it raises its own data-plane signal (its vote) but runs no control-plane
//! step; it watches the executor's `/v1/peer` and takes the result as its own when the
//! executor reports it. When the executor says nothing about the failover for
//! `takeover_after` (times the follower's rank: the next in order first), the follower
//! takes over and runs the runbook, every step checking its effect before acting.
//! A replica that already sees a peer executing the same failover never starts its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Action, Phase, PolicyConfig, PolicyState, RegionHealth};

/// How far one replica's run of a failover got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecState {
    Running,
    Done,
    Failed,
    Incomplete,
}

/// A failover run by one replica, as it reports it (or as a follower learnt it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    pub from: String,
    pub to: String,
    /// The replica (`failover.replica`) that runs the steps.
    pub executor: String,
    pub since: i64,
    pub state: ExecState,
    /// Set once finished: the runbook's result and whether traffic moved.
    #[serde(default)]
    pub ok: bool,
    #[serde(default)]
    pub moved: bool,
    /// The executor runs the steps (false: it only claims the failover so far).
    #[serde(default)]
    pub acting: bool,
}

impl Execution {
    /// A run of `from` → `to` by `executor` starting at `since`: `acting` when it runs
    /// the steps, not when it only claims (or is followed).
    pub fn running(from: &str, to: &str, executor: &str, since: i64, acting: bool) -> Self {
        Execution {
            from: from.to_string(),
            to: to.to_string(),
            executor: executor.to_string(),
            since,
            state: ExecState::Running,
            ok: false,
            moved: false,
            acting,
        }
    }
}

/// What a replica says about one failover domain on `/v1/peer`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PeerDomain {
    pub replica: String,
    /// The region the replica runs in (`failover.region`), when configured.
    #[serde(default)]
    pub region: Option<String>,
    pub active: String,
    /// The failover target its own evaluation wants (its vote, published or not).
    #[serde(default)]
    pub wants: Option<String>,
    /// Regions its last evaluation judged healthy targets, and bad (burning or down).
    #[serde(default)]
    pub healthy: Vec<String>,
    #[serde(default)]
    pub bad: Vec<String>,
    /// The failover it executes, or follows (the last one it knows of).
    #[serde(default)]
    pub execution: Option<Execution>,
}

/// This replica's own view, for `/v1/peer`.
pub fn own_view(state: &PolicyState, cfg: &PolicyConfig) -> PeerDomain {
    let (healthy, bad) = state
        .last_evaluation
        .as_ref()
        .map(|ev| {
            let pick = |f: &dyn Fn(&RegionHealth) -> bool| {
                ev.regions
                    .iter()
                    .filter(|(_, h)| f(h))
                    .map(|(r, _)| r.clone())
                    .collect::<Vec<_>>()
            };
            (
                pick(&|h: &RegionHealth| h.healthy(cfg.target_max_burn)),
                pick(&RegionHealth::bad),
            )
        })
        .unwrap_or_default();
    PeerDomain {
        replica: cfg.replica.clone(),
        region: cfg.region.clone(),
        active: state.active.clone(),
        wants: state.vote.clone(),
        healthy,
        bad,
        execution: state.execution.clone(),
    }
}

/// The replicas that want the failover to `to` (this one included), in executor order:
/// the target region's replicas first, then by name.
pub fn executor_order(state: &PolicyState, cfg: &PolicyConfig, to: &str) -> Vec<String> {
    let mut agreeing: Vec<(bool, String)> =
        vec![(cfg.region.as_deref() != Some(to), cfg.replica.clone())];
    for p in state.peers.values() {
        // A peer agrees when it wants the failover, or judges the active region bad and
        // the target healthy (it wants it at its next evaluation): replicas a moment
        // apart still compute the same order.
        let judges = p.active == state.active
            && p.bad.contains(&state.active)
            && p.healthy.iter().any(|r| r == to);
        if (p.wants.as_deref() == Some(to) || judges) && p.replica != cfg.replica {
            agreeing.push((p.region.as_deref() != Some(to), p.replica.clone()));
        }
    }
    agreeing.sort();
    agreeing.dedup();
    agreeing.into_iter().map(|(_, name)| name).collect()
}

/// A peer that reports executing (or having executed, since `since`) the failover
/// `from` → `to`, directly or as one hop of what it follows.
pub fn peer_executing(state: &PolicyState, from: &str, to: &str, since: i64) -> Option<Execution> {
    let region_of = |name: &str| {
        state
            .peers
            .values()
            .find(|p| p.replica == name)
            .and_then(|p| p.region.clone())
    };
    // A finished run first, then one acting, then the claim first in executor order:
    // every replica picks the same one from the same views.
    state
        .peers
        .values()
        .filter_map(|p| p.execution.clone())
        .filter(|e| e.from == from && e.to == to && e.since + 300 >= since)
        .min_by_key(|e| {
            (
                e.state == ExecState::Running,
                !e.acting,
                region_of(&e.executor).as_deref() != Some(to),
                e.executor.clone(),
            )
        })
}

/// A run of `from` → `to` since `since` that a peer reports about itself (not gossip
/// about another) and that `wanted` accepts.
pub fn own_report(
    state: &PolicyState,
    from: &str,
    to: &str,
    since: i64,
    wanted: impl Fn(&Execution) -> bool,
) -> Option<Execution> {
    state.peers.values().find_map(|p| {
        p.execution.clone().filter(|e| {
            e.executor == p.replica && e.from == from && e.to == to && e.since >= since && wanted(e)
        })
    })
}

/// A peer that reports this replica's own name: two replicas with one name would both
/// take themselves for the executor, so neither may act.
pub fn name_clash(state: &PolicyState, cfg: &PolicyConfig) -> Option<String> {
    state
        .peers
        .iter()
        .find(|(_, p)| p.replica == cfg.replica)
        .map(|(url, _)| {
            format!(
                "replica name clash: peer {url} also calls itself {:?}; give every replica its own failover.replica",
                cfg.replica
            )
        })
}

/// Replicas (this one included) whose own evaluation agrees with an operator's call:
/// for a failover (or its approval) they judge `active` bad and `to` healthy; for a
/// failback, `to` healthy.
pub fn agreeing(state: &PolicyState, to: &str, failback: bool) -> u32 {
    1 + state
        .peers
        .values()
        .filter(|p| p.replica.is_empty() || p.active == state.active || failback)
        .filter(|p| {
            p.healthy.iter().any(|r| r == to)
                && (failback || p.bad.iter().any(|r| r == &state.active))
        })
        .count() as u32
}

/// A follower's step: adopts the executor's result once reported, switches to whoever
/// runs the failover, or takes over when nobody has been seen running it for
/// `takeover_after × rank`.
pub fn follow(mut state: PolicyState, cfg: &PolicyConfig, now: i64) -> (PolicyState, Vec<Action>) {
    let Phase::FailingOver {
        incident,
        ref from,
        ref to,
        since,
        executor: Some(ref executor),
        rank,
        ..
    } = state.phase
    else {
        return (state, Vec::new());
    };
    let (from, to, executor) = (from.clone(), to.clone(), executor.clone());
    if let Some(reason) = name_clash(&state, cfg) {
        return (state, vec![Action::Blocked { reason }]);
    }
    if executor == cfg.replica {
        return claim(state, cfg, incident, (&from, &to), since, now);
    }
    // Only an executor's own report counts (a follower's gossip names whom it follows,
    // which says nothing about whether that replica is alive).
    let own: Vec<Execution> = state
        .peers
        .values()
        .filter_map(|p| {
            p.execution.clone().filter(|e| {
                e.executor == p.replica && e.from == from && e.to == to && e.since + 300 >= since
            })
        })
        .collect();
    // A finished result counts from the executor or relayed by a replica that took it
    // as its own (a follower cut off from the executor still learns the outcome).
    let finished = state
        .peers
        .values()
        .filter_map(|p| p.execution.clone())
        .find(|e| {
            e.state != ExecState::Running && e.from == from && e.to == to && e.since + 300 >= since
        });
    if let Some(e) = finished {
        let message = format!(
            "incident {incident}: the failover {from} -> {to} was executed by replica {}: {}",
            e.executor,
            match e.state {
                ExecState::Done => "runbook finished",
                ExecState::Incomplete => "stopped part-way after moving traffic",
                _ => "runbook failed",
            }
        );
        state.execution = Some(e.clone());
        let (s, mut actions) = super::step(
            state,
            cfg,
            super::Input::RunbookFinished {
                incident,
                ok: e.ok,
                moved: e.moved || e.ok,
            },
            now,
        );
        actions.insert(0, Action::Notify { message });
        actions.push(Action::PeerExecuted {
            incident,
            executor: e.executor,
            ok: e.ok,
        });
        return (s, actions);
    }
    let live = own
        .iter()
        .find(|e| e.acting)
        .or_else(|| own.iter().find(|e| e.executor == executor))
        .cloned();
    if let Some(e) = live {
        state.executor_seen = Some(now);
        if e.executor != executor {
            if let Phase::FailingOver { executor: ex, .. } = &mut state.phase {
                *ex = Some(e.executor.clone());
            }
        }
        // Tell the peers whom this replica follows (its vote for the executor).
        state.execution = Some(Execution { acting: false, ..e });
        return (state, Vec::new());
    }
    // The executor is not seen; another replica's own claim to take over is: follow
    // it (this confirms it), instead of claiming as well.
    if let Some(e) = own.into_iter().min_by_key(|e| e.executor.clone()) {
        state.executor_seen = Some(now);
        if let Phase::FailingOver { executor: ex, .. } = &mut state.phase {
            *ex = Some(e.executor.clone());
        }
        state.execution = Some(Execution { acting: false, ..e });
        return (state, Vec::new());
    }
    let last_seen = state.executor_seen.unwrap_or(since).max(since);
    let wait = cfg.takeover_after * i64::from(rank.max(1));
    if now - last_seen < wait {
        return (state, Vec::new());
    }
    // Take over by claiming: the quorum must confirm this replica before it acts, so a
    // replica cut off from a living executor never runs the steps beside it.
    if let Phase::FailingOver { executor: ex, .. } = &mut state.phase {
        *ex = Some(cfg.replica.clone());
    }
    state.execution = Some(Execution::running(&from, &to, &cfg.replica, now, false));
    let message = format!(
        "incident {incident}: replica {executor} has not been seen running the failover {from} -> {to} for {}s: replica {} takes over once a quorum confirms it (every step checks its effect first)",
        now - last_seen,
        cfg.replica
    );
    (state, vec![Action::Notify { message }])
}

/// A claimant's step: yields to a peer that claims (or runs) the same failover and comes
/// first in executor order; acts once its claim has been visible for `claim_wait`.
fn claim(
    mut state: PolicyState,
    cfg: &PolicyConfig,
    incident: u64,
    (from, to): (&str, &str),
    since: i64,
    now: i64,
) -> (PolicyState, Vec<Action>) {
    let key = |region: Option<&str>, name: &str| (region != Some(to), name.to_string());
    let mine = key(cfg.region.as_deref(), &cfg.replica);
    let rival = state
        .peers
        .values()
        .filter_map(|p| {
            let e = p.execution.as_ref()?;
            (e.from == from && e.to == to && e.since + 600 >= since && e.executor != cfg.replica)
                .then(|| {
                    // A peer that runs it already wins whatever the order; a claim wins
                    // by order.
                    let region = state
                        .peers
                        .values()
                        .find(|q| q.replica == e.executor)
                        .and_then(|q| q.region.as_deref());
                    let k = key(region, &e.executor);
                    let started = e.state != ExecState::Running || e.acting;
                    (started, k, e.executor.clone())
                })
        })
        .filter(|(started, k, _)| *started || *k < mine)
        .min_by(|a, b| (!a.0, &a.1).cmp(&(!b.0, &b.1)));
    if let Some((_, _, name)) = rival {
        if let Phase::FailingOver { executor, rank, .. } = &mut state.phase {
            *executor = Some(name.clone());
            *rank = 1;
        }
        state.executor_seen = Some(now);
        state.execution = Some(Execution::running(from, to, &name, now, false));
        let message = format!(
            "incident {incident}: replica {name} also claims the failover {from} -> {to} and comes first: following it"
        );
        return (state, vec![Action::Notify { message }]);
    }
    // A quorum must agree on the executor too: as many peers as the quorum needs
    // besides this one follow this claim. A follower follows one executor, so two
    // claimants cannot both gather a majority (a partition that cuts the claimants
    // apart but not from a third replica still gives one executor).
    let confirmed = state
        .peers
        .values()
        .filter(|p| {
            p.execution
                .as_ref()
                .is_some_and(|e| e.executor == cfg.replica && e.from == from && e.to == to)
        })
        .count() as u32;
    if now - since < cfg.claim_wait || confirmed + 1 < cfg.quorum {
        return (state, Vec::new());
    }
    if let Phase::FailingOver { executor, .. } = &mut state.phase {
        *executor = None;
    }
    if let Some(e) = state.execution.as_mut() {
        e.acting = true;
    }
    (
        state,
        vec![Action::ResumeRunbook {
            incident,
            from: from.to_string(),
            to: to.to_string(),
        }],
    )
}

/// Peer views by peer URL, from `/v1/peer` answers (None: the peer did not answer).
pub type PeerViews = BTreeMap<String, PeerDomain>;
