//! What the policy remembers: the phase of a domain's failover and everything else
//! journaled with each decision and restored at start.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Evaluation, Execution, PeerDomain};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Watching the active region.
    Armed,
    /// The active region burned on `count` consecutive evaluations.
    Suspect { since: i64, count: u32 },
    /// Both the active region and every standby burn: notify, never fail over.
    GlobalIncident { since: i64 },
    AwaitingApproval {
        incident: u64,
        from: String,
        to: String,
        since: i64,
    },
    FailingOver {
        incident: u64,
        from: String,
        to: String,
        since: i64,
        /// A dry run: its end changes nothing (no new active region, no latch).
        #[serde(default)]
        dry_run: bool,
        /// The peer replica that executes the runbook while this one follows (None:
        /// this replica executes).
        #[serde(default)]
        executor: Option<String>,
        /// This follower's place in the executor order (its takeover waits rank ×
        /// `takeover_after`).
        #[serde(default)]
        rank: u32,
    },
    /// A runbook stopped part-way after moving traffic to `to`: `to` is active (the
    /// world points there) but the failover is incomplete. Only an operator leaves this
    /// phase: finish, roll back, or accept.
    IncompleteFailover {
        incident: u64,
        from: String,
        to: String,
        at: i64,
    },
    /// An operator's roll back of an incomplete failover is running.
    RollingBack {
        incident: u64,
        from: String,
        to: String,
        since: i64,
    },
    /// Latched until an operator re-arms.
    FailedOver {
        incident: u64,
        from: String,
        to: String,
        at: i64,
        ok: bool,
    },
}

/// Everything the policy remembers; journaled with every decision that changes it and
/// restored at start, so a restart never lowers a signal, re-arms a latch or shortens a
/// cooldown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    pub domain: String,
    pub active: String,
    pub standby: Vec<String>,
    pub phase: Phase,
    pub last_failover: Option<i64>,
    /// When the last dry-run failover ended: dry runs repeat at most once per cooldown,
    /// and never hold back a real failover.
    #[serde(default)]
    pub last_dry_run: Option<i64>,
    pub next_incident: u64,
    /// This replica's current vote (served on its failover signal endpoint).
    pub vote: Option<String>,
    pub peer_votes: BTreeMap<String, Option<String>>,
    pub last_evaluation: Option<Evaluation>,
    /// The active region's monitoring is lost and operators were told (once).
    #[serde(default)]
    pub monitoring_lost: bool,
    /// What each reachable peer said about this domain at the last evaluation.
    #[serde(default)]
    pub peers: BTreeMap<String, PeerDomain>,
    /// When a follower last saw its executor running the failover.
    #[serde(default)]
    pub executor_seen: Option<i64>,
    /// The failover this replica executes or follows (the last one), for its peers.
    #[serde(default)]
    pub execution: Option<Execution>,
}

impl PolicyState {
    pub fn new(domain: &str, active: &str, standby: &[String]) -> Self {
        PolicyState {
            domain: domain.to_string(),
            active: active.to_string(),
            standby: standby.to_vec(),
            phase: Phase::Armed,
            last_failover: None,
            last_dry_run: None,
            next_incident: 1,
            vote: None,
            peer_votes: BTreeMap::new(),
            last_evaluation: None,
            monitoring_lost: false,
            peers: BTreeMap::new(),
            executor_seen: None,
            execution: None,
        }
    }
}
