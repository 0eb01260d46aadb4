//! PURE failover decision state machine: `step(state, input, now) -> (state, actions)`.
//! No clock, no I/O: evaluations, votes, operator commands and runbook results are
//! inputs; what to do is returned as [`Action`]s for the engine and actuator to carry out.
//!
//! Guards (DESIGN.md defaults): the active region must burn (a gating page tier holds) on
//! N consecutive scheduled evaluations spanning at least N−1 intervals, with complete data;
//! the target must be healthy (no tier holds, its short windows burn below
//! `target_max_burn`, data present and complete, probes passing where configured); every precondition must hold; no
//! cooldown may be running; a quorum of replicas must agree. An operator's non-forced
//! failover passes the same guards, including "the active region is burning". Both regions burning is a global incident: notify only.
//! After a failover the automation latches until an operator re-arms it; failback is manual.
//!
//! A region is *down* when its own SLIs have been silent for `regions.down_after` and
//! evidence from outside it (probes from a quorum of replicas, a `vantage: external` SLO)
//! confirms failure: the policy treats it like burning and every other guard still
//! applies. Silent without that confirmation is *monitoring lost*: one notice, no action.
//!
//! Where things are (one job per file; the types are re-exported here):
//! - `config.rs`: the mode and thresholds ([`PolicyConfig`], [`Mode`]).
//! - `health.rs`: what an evaluation says about each region ([`RegionHealth`], [`Evaluation`]).
//! - `input.rs`: what the policy is told ([`Input`], an operator's [`Command`]).
//! - `state.rs`: what it remembers ([`PolicyState`], its [`Phase`]).
//! - `action.rs`: what it asks for ([`Action`]).
//! - `step.rs`: the transition table ([`step`]), one arm per input.
//! - `evaluation.rs`: watching the active region (hysteresis, global incident, monitoring
//!   lost), choosing a healthy target, voting and the quorum.
//! - `guards.rs`: every guard on a failover to a target ([`guard_checks`]), the votes.
//! - `start.rs`: opening an incident: execute, await approval, claim or follow.
//! - `operator.rs`: an operator's failover, approval, re-arm and resolution.
//! - `failback.rs`: moving back to the region the last failover left.
//! - `outcome.rs`: how a runbook or a roll back ended.
//! - `replicas.rs`: one executor per failover among the replicas ([`replicas`]).

mod action;
mod config;
mod evaluation;
mod failback;
mod guards;
mod health;
mod input;
mod operator;
mod outcome;
pub mod replicas;
mod start;
mod state;
mod step;

pub use action::Action;
pub use config::{Mode, PolicyConfig};
pub use guards::{guard_checks, has_words, votes_for, GuardCheck};
pub use health::{Evaluation, RegionHealth};
pub use input::{Command, Input, Resolution};
pub use replicas::{ExecState, Execution, PeerDomain};
pub use state::{Phase, PolicyState};
pub use step::step;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod replica_tests;
