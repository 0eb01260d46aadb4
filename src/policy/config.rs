//! How the policy is set up: the mode that decides who carries a decision out, and the
//! thresholds every guard reads (`failover.*` in the config).

use serde::{Deserialize, Serialize};

/// How decisions are carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Fail over as soon as every guard holds.
    Auto,
    /// A human approves each failover.
    Approve,
    /// Decide and record, but the runbook only prints what it would do.
    DryRun,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyConfig {
    pub mode: Mode,
    /// Consecutive burning evaluations before acting (N).
    pub consecutive: u32,
    /// Seconds after a failover during which no other may start.
    pub cooldown: i64,
    /// Replicas (this one included) that must vote for the same target.
    pub quorum: u32,
    /// A healthy target's short windows burn below this (1.0: not spending budget).
    pub target_max_burn: f64,
    /// Seconds the N consecutive burning evaluations must span at least ((N−1) ×
    /// the evaluation interval), so a burst of evaluations can never stand for time.
    pub min_span: i64,
    /// This replica's name (`failover.replica`): the executor of a failover is named.
    pub replica: String,
    /// The region this replica runs in (`failover.region`): a failover's executor is a
    /// replica in the target region when one agrees.
    pub region: Option<String>,
    /// Seconds a follower waits for the executor to be seen running a failover before
    /// the next replica in order takes over (`failover.takeover_after`).
    pub takeover_after: i64,
    /// Seconds a replica that would execute an agreed failover shows its claim to its
    /// peers before it acts (0: no peers, act at once); of two claimants the one first
    /// in executor order acts, the other follows.
    pub claim_wait: i64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            mode: Mode::Auto,
            consecutive: 2,
            cooldown: 3600,
            quorum: 1,
            target_max_burn: 1.0,
            min_span: 0,
            replica: "replica-1".into(),
            region: None,
            takeover_after: 30,
            claim_wait: 0,
        }
    }
}
