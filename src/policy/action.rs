//! What the policy asks for: the actions the driver and the actuator carry out.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Notify {
        message: String,
    },
    /// A guard stopped a failover; recorded so operators see why.
    Blocked {
        reason: String,
    },
    /// Publish this replica's vote.
    Vote {
        target: Option<String>,
    },
    RequestApproval {
        incident: u64,
        from: String,
        to: String,
        reason: String,
    },
    StartFailover {
        incident: u64,
        from: String,
        to: String,
        reason: String,
        dry_run: bool,
        forced: bool,
    },
    /// The replicas agreed on a failover that a peer executes: this replica raises its
    /// own signal (its vote) and follows; it runs no control-plane step.
    FollowFailover {
        incident: u64,
        from: String,
        to: String,
        reason: String,
        executor: String,
    },
    /// The executor reported the followed failover finished.
    PeerExecuted {
        incident: u64,
        executor: String,
        ok: bool,
    },
    /// Run an incident's runbook again from the first step not in place (finish).
    ResumeRunbook {
        incident: u64,
        from: String,
        to: String,
    },
    /// Undo what an incident's runbook moved (roll back).
    RollBack {
        incident: u64,
        from: String,
        to: String,
    },
}
