//! What the HTTP side sends the loop: webhook [`Trigger`]s and [`OperatorCall`]s, on the
//! two queues of an [`Inbox`] (and the [`Outbox`] that feeds them).

use tokio::sync::{mpsc, oneshot};

use crate::policy::Action;

/// A webhook page for an SLO in a region: re-evaluate now and notify. Never counts as
/// one of the policy's consecutive evaluations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub service: String,
    pub slo: String,
    pub region: String,
}

/// An operator command for a failover domain (None: every domain, e.g. approve by id).
#[derive(Debug)]
pub struct OperatorCall {
    pub domain: Option<String>,
    pub command: crate::policy::Command,
    /// Why: journaled with the call.
    pub reason: String,
    pub reply: oneshot::Sender<Result<Vec<Action>, String>>,
}

/// What the HTTP side sends the loop. Operator calls have their own queue, served before
/// triggers, so a flood of pages never delays them.
pub struct Inbox {
    /// One batch per webhook delivery: a delivery is at most one re-evaluation.
    pub triggers: mpsc::Receiver<Vec<Trigger>>,
    pub operator: mpsc::Receiver<OperatorCall>,
}

/// The sending half of an [`Inbox`].
#[derive(Clone)]
pub struct Outbox {
    pub triggers: mpsc::Sender<Vec<Trigger>>,
    pub operator: mpsc::Sender<OperatorCall>,
}

/// A connected inbox and outbox; triggers coalesce, so their queue is short.
pub fn inbox() -> (Outbox, Inbox) {
    let (tt, tr) = mpsc::channel(64);
    let (ot, or) = mpsc::channel(64);
    (
        Outbox {
            triggers: tt,
            operator: ot,
        },
        Inbox {
            triggers: tr,
            operator: or,
        },
    )
}
