//! The failover runbook: ordered steps from config, each with a timeout, retries with
//! backoff, and `on_failure: abort|continue`; a dry-run form that records the exact call
//! it would make; and idempotence: each step first reads the current state and skips what
//! is already done, and steps the journal records as done are never run again (a crashed
//! run resumes from the first step not done).
//!
//! Layout:
//! - [`step`]: the [`Step`] trait, the only thing the executor knows about a step kind.
//! - [`steps`]: one file per kind and the registry from `kind:` to parser: `sns`,
//!   `route53_signal` (data plane: the engine's own failover signal), `route53_records`
//!   (control plane: weighted UPSERT, waits for INSYNC), `route53_health_check`
//!   (inversion), `aurora_global` (switchover, or failover with data loss), `http`, `exec`.
//! - [`step_spec`]: [`StepSpec`] (the settings every step shares), `parse_steps`, `describe`,
//!   `iam_policy`.
//! - [`runbook`]: the executor, [`Actuator`].
//! - [`redact`]: keeps secrets out of descriptions, results and errors (URL userinfo and
//!   query values, credentials in command output, a step's own `redact:` patterns).
//! - [`aws`]: the AWS clients behind small traits; this file: what steps act on
//!   ([`Incident`]) and with ([`Backends`]).

pub mod aws;
pub mod redact;
pub mod route53_model;
pub mod route53_setup;
pub mod runbook;
pub mod step;
pub mod step_spec;
pub mod steps;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use aws::{AuroraApi, Route53Api, SnsApi};

pub use redact::{redact_text, redact_url, Redactor};
pub use runbook::Actuator;
pub use step::{IamStatement, Step};
pub use step_spec::{describe, iam_policy, parse_steps, OnFailure, StepSpec};
pub use steps::aurora_global::AuroraMode;

/// What a runbook acts on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Incident {
    pub id: u64,
    pub domain: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    pub dry_run: bool,
    pub chaos: bool,
    /// A human approved (or forced) this failover: data-loss failovers may proceed.
    pub approved: bool,
}

impl Incident {
    /// The incident as SNS message attributes, so subscribers can filter on them.
    pub(crate) fn attributes(&self) -> Vec<(String, String)> {
        vec![
            ("incident".into(), self.id.to_string()),
            ("domain".into(), self.domain.clone()),
            ("from".into(), self.from.clone()),
            ("to".into(), self.to.clone()),
            ("reason".into(), self.reason.clone()),
            ("chaos".into(), self.chaos.to_string()),
        ]
    }
}

/// The failover signals this engine serves on `GET /v1/signal/<domain>/<region>`:
/// true = failover to that region requested (200), false or absent = not (503).
///
/// Once attached to a journal, every change is written there first and only then served,
/// and attaching restores what the journal holds: a restart never lowers a raised signal
/// (which would send Route 53 traffic back to the failing region).
#[derive(Default)]
pub struct SignalBoard {
    signals: RwLock<BTreeMap<(String, String), bool>>,
    journal: std::sync::OnceLock<Arc<std::sync::Mutex<crate::journal::Journal>>>,
}

impl std::fmt::Debug for SignalBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalBoard")
            .field("signals", &self.signals)
            .finish_non_exhaustive()
    }
}

impl SignalBoard {
    /// Restores the journaled signals and makes every later change durable there.
    pub fn attach(
        &self,
        journal: Arc<std::sync::Mutex<crate::journal::Journal>>,
    ) -> Result<(), crate::journal::JournalError> {
        let saved = match journal.lock() {
            Ok(j) => j.signals()?,
            Err(_) => Vec::new(),
        };
        if let Ok(mut s) = self.signals.write() {
            for (domain, region, raised) in saved {
                if raised {
                    tracing::warn!(domain = %domain, region = %region, "failover signal restored from the journal: still raised");
                }
                s.insert((domain, region), raised);
            }
        }
        let _ = self.journal.set(journal);
        Ok(())
    }

    /// Sets a signal: journaled first (when attached), then served. On a journal error
    /// the served value does not change.
    pub fn set(&self, domain: &str, region: &str, on: bool) -> Result<(), String> {
        if let Some(j) = self.journal.get() {
            let j = j.lock().map_err(|_| "journal lock poisoned".to_string())?;
            j.set_signal(domain, region, on)
                .map_err(|e| format!("journaling signal {domain}/{region}: {e}"))?;
        }
        if let Ok(mut s) = self.signals.write() {
            s.insert((domain.to_string(), region.to_string()), on);
        }
        Ok(())
    }

    pub fn get(&self, domain: &str, region: &str) -> bool {
        self.signals
            .read()
            .ok()
            .and_then(|s| s.get(&(domain.to_string(), region.to_string())).copied())
            .unwrap_or(false)
    }
}

/// The clients the steps use; a missing client makes its steps fail with a clear error.
#[derive(Clone, Default)]
pub struct Backends {
    pub sns: Option<Arc<dyn SnsApi>>,
    pub route53: Option<Arc<dyn Route53Api>>,
    pub aurora: Option<Arc<dyn AuroraApi>>,
    pub signals: Arc<SignalBoard>,
    pub http: reqwest::Client,
}

/// How one runbook run ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunOutcome {
    pub ok: bool,
    /// (step name, status, detail) in order.
    pub steps: Vec<(String, String, String)>,
    /// A step that points traffic (or the writer) at the target took effect and was not
    /// rolled back: the world points at the target.
    pub moved: bool,
    /// The process is stopping (SIGTERM): the run stopped between steps and resumes
    /// after the restart; nothing about the incident is decided.
    pub interrupted: bool,
}

/// What a runbook that aborts after moving traffic does (`on_abort:` of a domain).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnAbort {
    /// Leave the world as it is: the target is active, the failover incomplete until an
    /// operator finishes, rolls back or accepts it.
    #[default]
    Hold,
    /// Undo what moved at once; the old region stays active.
    RollBack,
}
