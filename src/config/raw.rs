//! The config file's raw shape, as serde reads it: every key optional where it has a
//! default, nothing validated. `mod.rs` turns it into the model, section by section.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(super) struct RawConfig {
    #[serde(default = "default_specs")]
    pub(super) specs: PathBuf,
    pub(super) source: RawSource,
    #[serde(default)]
    pub(super) evaluation: RawEvaluation,
    #[serde(default)]
    pub(super) regions: RawRegions,
    #[serde(default)]
    pub(super) server: RawServer,
    #[serde(default)]
    pub(super) failover: Option<RawFailover>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawFailover {
    #[serde(default)]
    pub(super) journal: Option<PathBuf>,
    #[serde(default)]
    pub(super) replica: Option<String>,
    /// The region this replica runs in: the executor of a failover is a replica in the
    /// target region when one agrees (optional).
    #[serde(default)]
    pub(super) region: Option<String>,
    /// How long a follower waits for the executor to be seen running an agreed failover
    /// before the next replica takes over (default: 3 evaluation intervals, at least 10s).
    #[serde(default)]
    pub(super) takeover_after: Option<String>,
    /// Base URLs of the other replicas (their signal endpoints are their votes).
    #[serde(default)]
    pub(super) peers: Vec<String>,
    #[serde(default)]
    pub(super) policy: RawPolicy,
    #[serde(default)]
    pub(super) aws_region: Option<String>,
    pub(super) domains: Vec<RawDomain>,
    /// How long a stop (SIGTERM) waits for running runbook steps to finish and be
    /// journaled; default the longer of 30 s and the longest step timeout plus 5 s.
    #[serde(default)]
    pub(super) shutdown_grace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawPolicy {
    #[serde(default)]
    pub(super) mode: Option<crate::policy::Mode>,
    #[serde(default)]
    pub(super) consecutive: Option<u32>,
    #[serde(default)]
    pub(super) cooldown: Option<String>,
    #[serde(default)]
    pub(super) quorum: Option<u32>,
    /// A failover target's tier short windows must burn below this (default 1.0).
    #[serde(default)]
    pub(super) target_max_burn: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawDomain {
    pub(super) name: String,
    /// Gating SLOs as `service/slo`; default every SLO.
    #[serde(default)]
    pub(super) slos: Vec<String>,
    #[serde(default)]
    pub(super) preconditions: Vec<RawPrecondition>,
    #[serde(default)]
    pub(super) runbook: Vec<serde_yaml_ng::Value>,
    #[serde(default)]
    pub(super) route53: Option<crate::actuator::route53_setup::Route53Setup>,
    /// A runbook that aborts after moving traffic: `hold` (default; the failover is
    /// incomplete until an operator resolves it) or `roll_back`.
    #[serde(default)]
    pub(super) on_abort: crate::actuator::OnAbort,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawPrecondition {
    pub(super) name: String,
    /// PromQL; holds when it returns a non-zero sample, unknown when it returns nothing.
    pub(super) query: String,
}

pub(super) fn default_specs() -> PathBuf {
    PathBuf::from("slo-specs")
}

/// One server for every region (`thanos:`), or one per region (`regions:`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawSource {
    /// SLI queries in flight at once (batches and what cannot batch); default 8.
    #[serde(default)]
    pub(super) max_concurrency: Option<usize>,
    /// SLOs of one shape share a batched query (default true; false asks per SLO).
    #[serde(default)]
    pub(super) batch: Option<bool>,
    /// Read event rates from the `sloguard:sli_events:rate2m` records `generate` writes
    /// (one selector per source); default false.
    #[serde(default)]
    pub(super) records: Option<bool>,
    #[serde(default)]
    pub(super) thanos: Option<RawThanos>,
    #[serde(default)]
    pub(super) regions: BTreeMap<String, RawThanos>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawThanos {
    pub(super) url: String,
    #[serde(default)]
    pub(super) timeout: Option<String>,
    #[serde(default)]
    pub(super) retries: Option<u32>,
    #[serde(default)]
    pub(super) max_response_bytes: Option<usize>,
    #[serde(default)]
    pub(super) partial_response: Option<bool>,
    #[serde(default)]
    pub(super) bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) basic_auth: Option<RawBasicAuth>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawBasicAuth {
    pub(super) username: String,
    pub(super) password_file: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawEvaluation {
    #[serde(default)]
    pub(super) interval: Option<String>,
    #[serde(default)]
    pub(super) lookback: Option<String>,
    #[serde(default)]
    pub(super) buckets: Option<u32>,
    #[serde(default)]
    pub(super) lateness: Option<String>,
    #[serde(default)]
    pub(super) fine_step: Option<String>,
    /// SLO-query points one start-up backfill round holds at most (memory bound).
    #[serde(default)]
    pub(super) backfill_points: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawRegions {
    #[serde(default)]
    pub(super) label: Option<String>,
    #[serde(default)]
    pub(super) active: Option<String>,
    #[serde(default)]
    pub(super) standby: Vec<String>,
    /// Per region, an endpoint every replica probes from outside it.
    #[serde(default)]
    pub(super) probes: BTreeMap<String, RawProbe>,
    /// How long a region's own SLIs must be missing (or its source unreachable) before
    /// outside evidence can declare it down.
    #[serde(default)]
    pub(super) down_after: Option<String>,
    /// Consecutive failed probes that make one replica see a region failing.
    #[serde(default)]
    pub(super) probe_failures: Option<u32>,
}

/// A probe: a URL, or the URL with its interval, timeout and expected status.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawProbe {
    Url(String),
    Full {
        url: String,
        #[serde(default)]
        interval: Option<String>,
        #[serde(default)]
        timeout: Option<String>,
        /// `2xx` (default), a class such as `3xx`, or one status code.
        #[serde(default)]
        expect: Option<serde_yaml_ng::Value>,
    },
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawServer {
    #[serde(default)]
    pub(super) listen: Option<String>,
    /// Request body limit of the webhook and API (413 beyond).
    #[serde(default)]
    pub(super) max_body_bytes: Option<usize>,
    #[serde(default)]
    pub(super) webhook_auth: Option<RawWebhookAuth>,
    /// Bearer token required by every mutating operator API call.
    #[serde(default)]
    pub(super) api_token_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) api_token_env: Option<String>,
    /// Listening beyond loopback without webhook auth and an API token is refused unless
    /// this is set.
    #[serde(default)]
    pub(super) allow_unauthenticated: bool,
    /// Webhook deliveries read and processed at once (503 with Retry-After beyond).
    #[serde(default)]
    pub(super) max_concurrent_webhooks: Option<usize>,
    /// An extra listener serving only what Route 53 and peers poll.
    #[serde(default)]
    pub(super) signal_listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawWebhookAuth {
    #[serde(default)]
    pub(super) bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) bearer_token_env: Option<String>,
    #[serde(default)]
    pub(super) basic_auth: Option<RawBasicAuth>,
}
