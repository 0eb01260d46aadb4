//! What the policy is told: evaluations, votes, peer views, runbook results and an
//! operator's commands (and how an operator leaves an incomplete failover).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Evaluation, PeerDomain};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Failover {
        target: String,
        reason: String,
        force: bool,
    },
    Approve {
        incident: u64,
    },
    Rearm,
    /// Move back to the region the last failover left (only after a failover).
    Failback {
        target: String,
        reason: String,
        /// Skip the guards (cooldown, quorum, healthy target); needs a reason.
        force: bool,
    },
    /// Leave an incomplete failover (a runbook that stopped after moving traffic).
    Resolve {
        incident: u64,
        action: Resolution,
    },
}

/// How an operator leaves an incomplete failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Run the steps that did not take effect (each re-checked first).
    Finish,
    /// Undo what moved (traffic, records, the writer) and keep the old region active.
    RollBack,
    /// Keep the world as it is: the region traffic points at stays active.
    Accept,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    Evaluation(Evaluation),
    /// Votes of the other replicas: replica → target they want to fail over to.
    Votes(BTreeMap<String, Option<String>>),
    /// What each reachable peer says about this domain (`/v1/peer`), by peer URL.
    PeerViews(BTreeMap<String, PeerDomain>),
    Operator(Command),
    /// Alertmanager paged for a region; the engine confirms with its own evaluation.
    AlertTrigger {
        region: String,
        slo: String,
    },
    RunbookFinished {
        incident: u64,
        ok: bool,
        /// A step that points traffic (or the writer) at the target took effect, or the
        /// target's failover signal is raised: the world points at the target now.
        moved: bool,
    },
    /// A roll back of an incomplete failover ended (`ok`: everything moved back).
    RollbackFinished {
        incident: u64,
        ok: bool,
    },
}
