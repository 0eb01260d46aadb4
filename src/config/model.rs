//! The validated configuration: what the engine, the server and the failover read.
//! Built only by [`super::parse`] (every default applied, every problem refused).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::window::Window;

/// A failover domain: the SLOs that gate it, its preconditions and its runbook.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainConfig {
    pub name: String,
    pub slos: Vec<String>,
    pub preconditions: Vec<(String, String)>,
    pub runbook: Vec<crate::actuator::StepSpec>,
    /// Data-plane failover set-up for `sloguard route53 plan|apply`.
    pub route53: Option<crate::actuator::route53_setup::Route53Setup>,
    /// What an abort after traffic moved does.
    pub on_abort: crate::actuator::OnAbort,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailoverConfig {
    pub journal: PathBuf,
    pub replica: String,
    pub peers: Vec<String>,
    pub policy: crate::policy::PolicyConfig,
    pub aws_region: String,
    pub domains: Vec<DomainConfig>,
    /// How long SIGTERM waits for running runbook steps to finish and be journaled.
    pub shutdown_grace: std::time::Duration,
}

/// A secret an HTTP client must present, loaded at start-up (never logged).
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Bearer(String),
    Basic { username: String, password: String },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Bearer(_) => write!(f, "Bearer(<redacted>)"),
            Credential::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
        }
    }
}

/// Authentication to a query endpoint behind a proxy; secrets are read from files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer {
        token_file: PathBuf,
    },
    Basic {
        username: String,
        password_file: PathBuf,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    pub url: String,
    /// Server-side query timeout; the client waits 2 s longer.
    pub timeout: Window,
    /// Retries of connection errors and 5xx within the evaluation budget.
    pub retries: u32,
    pub max_response_bytes: usize,
    /// Sent as Thanos `partial_response`; decision queries must not accept partial data.
    pub partial_response: bool,
    pub auth: Auth,
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationConfig {
    pub interval: Window,
    /// Rate window of steady-state queries (events per interval = rate × interval).
    pub lookback: Window,
    /// Step of the fine backfill segment (last 6h); at least twice the scrape interval.
    pub fine_step: Window,
    pub buckets: u32,
    pub lateness: Window,
    /// SLO-query points one start-up backfill round holds at most
    /// (`evaluation.backfill_points`): the backfill's memory is bounded by it, whatever
    /// the number of SLOs and the length of the history.
    pub backfill_points: u64,
    /// SLI queries in flight at once (`source.max_concurrency`).
    pub max_concurrency: usize,
    /// SLOs of one shape share a batched query (`source.batch`).
    pub batch: bool,
    /// Event rates come from the generated records (`source.records`).
    pub records: bool,
    /// How long one SLI query may take, retries included, before its SLOs are degraded
    /// for the evaluation (the sources' timeout plus 5 s).
    pub query_timeout: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegionsConfig {
    pub label: String,
    pub active: Option<String>,
    pub standby: Vec<String>,
    /// Per region, the endpoint probed from outside it (empty: no probes).
    pub probes: BTreeMap<String, ProbeConfig>,
    /// Seconds of missing own SLIs (or an unreachable regional source) before outside
    /// evidence may declare a region down.
    pub down_after: i64,
    /// Consecutive failed probes after which a replica sees a region failing.
    pub probe_failures: u32,
}

impl Default for RegionsConfig {
    fn default() -> Self {
        RegionsConfig {
            label: crate::slo::DEFAULT_REGION_LABEL.to_string(),
            active: None,
            standby: Vec::new(),
            probes: BTreeMap::new(),
            down_after: 120,
            probe_failures: 3,
        }
    }
}

/// What a probe answer must be to pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeExpect {
    /// Any status in `class`00..`class`99 (2: 2xx).
    Class(u16),
    Status(u16),
}

impl ProbeExpect {
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            ProbeExpect::Class(c) => status / 100 == *c,
            ProbeExpect::Status(s) => status == *s,
        }
    }
}

impl std::fmt::Display for ProbeExpect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeExpect::Class(c) => write!(f, "{c}xx"),
            ProbeExpect::Status(s) => write!(f, "{s}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeConfig {
    pub url: String,
    pub interval: Window,
    pub timeout: Window,
    pub expect: ProbeExpect,
}

impl RegionsConfig {
    /// Active first, then standbys.
    pub fn all(&self) -> Vec<String> {
        self.active
            .iter()
            .chain(self.standby.iter())
            .cloned()
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub file: PathBuf,
    /// Relative to the config file's directory when not absolute.
    pub specs: PathBuf,
    /// The one server every region is read from; with per-region sources, the first
    /// region's (for messages).
    pub source: SourceConfig,
    /// One server per region (`source.regions`); empty when one server serves all.
    pub region_sources: BTreeMap<String, SourceConfig>,
    pub evaluation: EvaluationConfig,
    pub regions: RegionsConfig,
    pub listen: String,
    pub max_body_bytes: usize,
    /// Webhook deliveries read and processed at once (`server.max_concurrent_webhooks`).
    pub max_concurrent_webhooks: usize,
    /// `server.signal_listen`: an extra listener for `/v1/signal/…`, `/v1/probes`,
    /// `/healthz` and `/readyz` only, so a flood on `listen` cannot reach them.
    pub signal_listen: Option<String>,
    /// None: the webhook accepts unauthenticated deliveries (loopback set-ups only).
    pub webhook_auth: Option<Credential>,
    /// None: mutating API calls are refused.
    pub api_token: Option<String>,
    /// Legal but risky settings, said at start (`serve` logs them, `eval` prints them).
    pub warnings: Vec<String>,
    pub failover: Option<FailoverConfig>,
}
