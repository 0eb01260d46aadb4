//! The engine configuration file (`eval`, `serve`, `backtest --config`): YAML with every
//! unknown key rejected (all of them at once, by path: `serde_ignored` walks the whole
//! document), every problem reported at once as `file: field: message`, and warnings for
//! what is legal but risky (world-readable token files, short or shared tokens).
//! `sloguard.example.yaml` documents every key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::window::Window;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct RawConfig {
    #[serde(default = "default_specs")]
    specs: PathBuf,
    source: RawSource,
    #[serde(default)]
    evaluation: RawEvaluation,
    #[serde(default)]
    regions: RawRegions,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    failover: Option<RawFailover>,
}

#[derive(Debug, Deserialize)]
struct RawFailover {
    #[serde(default)]
    journal: Option<PathBuf>,
    #[serde(default)]
    replica: Option<String>,
    /// The region this replica runs in: the executor of a failover is a replica in the
    /// target region when one agrees (optional).
    #[serde(default)]
    region: Option<String>,
    /// How long a follower waits for the executor to be seen running an agreed failover
    /// before the next replica takes over (default: 3 evaluation intervals, at least 10s).
    #[serde(default)]
    takeover_after: Option<String>,
    /// Base URLs of the other replicas (their signal endpoints are their votes).
    #[serde(default)]
    peers: Vec<String>,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    aws_region: Option<String>,
    domains: Vec<RawDomain>,
    /// How long a stop (SIGTERM) waits for running runbook steps to finish and be
    /// journaled; default the longer of 30 s and the longest step timeout plus 5 s.
    #[serde(default)]
    shutdown_grace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawPolicy {
    #[serde(default)]
    mode: Option<crate::policy::Mode>,
    #[serde(default)]
    consecutive: Option<u32>,
    #[serde(default)]
    cooldown: Option<String>,
    #[serde(default)]
    quorum: Option<u32>,
    /// A failover target's tier short windows must burn below this (default 1.0).
    #[serde(default)]
    target_max_burn: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct RawDomain {
    name: String,
    /// Gating SLOs as `service/slo`; default every SLO.
    #[serde(default)]
    slos: Vec<String>,
    #[serde(default)]
    preconditions: Vec<RawPrecondition>,
    #[serde(default)]
    runbook: Vec<serde_yaml_ng::Value>,
    #[serde(default)]
    route53: Option<crate::actuator::route53_setup::Route53Setup>,
    /// A runbook that aborts after moving traffic: `hold` (default; the failover is
    /// incomplete until an operator resolves it) or `roll_back`.
    #[serde(default)]
    on_abort: crate::actuator::OnAbort,
}

#[derive(Debug, Deserialize)]
struct RawPrecondition {
    name: String,
    /// PromQL; holds when it returns a non-zero sample, unknown when it returns nothing.
    query: String,
}

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

fn default_specs() -> PathBuf {
    PathBuf::from("slo-specs")
}

/// One server for every region (`thanos:`), or one per region (`regions:`).
#[derive(Debug, Default, Deserialize)]
struct RawSource {
    /// SLI queries in flight at once (batches and what cannot batch); default 8.
    #[serde(default)]
    max_concurrency: Option<usize>,
    /// SLOs of one shape share a batched query (default true; false asks per SLO).
    #[serde(default)]
    batch: Option<bool>,
    /// Read event rates from the `sloguard:sli_events:rate2m` records `generate` writes
    /// (one selector per source); default false.
    #[serde(default)]
    records: Option<bool>,
    #[serde(default)]
    thanos: Option<RawThanos>,
    #[serde(default)]
    regions: BTreeMap<String, RawThanos>,
}

#[derive(Debug, Deserialize)]
struct RawThanos {
    url: String,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    max_response_bytes: Option<usize>,
    #[serde(default)]
    partial_response: Option<bool>,
    #[serde(default)]
    bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    basic_auth: Option<RawBasicAuth>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct RawBasicAuth {
    username: String,
    password_file: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
struct RawEvaluation {
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    lookback: Option<String>,
    #[serde(default)]
    buckets: Option<u32>,
    #[serde(default)]
    lateness: Option<String>,
    #[serde(default)]
    fine_step: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawRegions {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    standby: Vec<String>,
    /// Per region, an endpoint every replica probes from outside it.
    #[serde(default)]
    probes: BTreeMap<String, RawProbe>,
    /// How long a region's own SLIs must be missing (or its source unreachable) before
    /// outside evidence can declare it down.
    #[serde(default)]
    down_after: Option<String>,
    /// Consecutive failed probes that make one replica see a region failing.
    #[serde(default)]
    probe_failures: Option<u32>,
}

/// A probe: a URL, or the URL with its interval, timeout and expected status.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawProbe {
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
struct RawServer {
    #[serde(default)]
    listen: Option<String>,
    /// Request body limit of the webhook and API (413 beyond).
    #[serde(default)]
    max_body_bytes: Option<usize>,
    #[serde(default)]
    webhook_auth: Option<RawWebhookAuth>,
    /// Bearer token required by every mutating operator API call.
    #[serde(default)]
    api_token_file: Option<PathBuf>,
    #[serde(default)]
    api_token_env: Option<String>,
    /// Listening beyond loopback without webhook auth and an API token is refused unless
    /// this is set.
    #[serde(default)]
    allow_unauthenticated: bool,
    /// Webhook deliveries read and processed at once (503 with Retry-After beyond).
    #[serde(default)]
    max_concurrent_webhooks: Option<usize>,
    /// An extra listener serving only what Route 53 and peers poll.
    #[serde(default)]
    signal_listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawWebhookAuth {
    #[serde(default)]
    bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    bearer_token_env: Option<String>,
    #[serde(default)]
    basic_auth: Option<RawBasicAuth>,
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

/// Parses and validates a config text; relative paths resolve against `base_dir`.
pub fn parse(file: &Path, text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    let f = file.display().to_string();
    let mut unknown = Vec::new();
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let raw: RawConfig = serde_ignored::deserialize(de, |path| unknown.push(path.to_string()))
        .map_err(|e| {
            let loc = e
                .location()
                .map(|l| format!("line {} column {}: ", l.line(), l.column()))
                .unwrap_or_default();
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            ConfigError::Invalid(vec![format!("{f}: {loc}{msg}")])
        })?;
    build(file, raw, base_dir, unknown)
}

/// Validates a config already read as YAML (a GameDay's merged configuration); `file`
/// names it in problems.
pub fn from_value(
    file: &Path,
    value: serde_yaml_ng::Value,
    base_dir: &Path,
) -> Result<Config, ConfigError> {
    let mut unknown = Vec::new();
    let raw: RawConfig =
        serde_ignored::deserialize(value, |path| unknown.push(path.to_string()))
            .map_err(|e| ConfigError::Invalid(vec![format!("{}: {e}", file.display())]))?;
    build(file, raw, base_dir, unknown)
}

fn build(
    file: &Path,
    raw: RawConfig,
    base_dir: &Path,
    unknown: Vec<String>,
) -> Result<Config, ConfigError> {
    let f = file.display().to_string();
    let mut problems: Vec<String> = unknown
        .iter()
        // serde_ignored writes an optional section as `?`: `source.thanos.?.timeout`.
        .map(|k| format!("{f}: {}: unknown key", k.replace(".?", "")))
        .collect();
    let mut warnings = Vec::new();
    let mut dur = |field: &str, v: Option<&str>, default: &str| -> Window {
        let text = v.unwrap_or(default);
        Window::parse(text).unwrap_or_else(|e| {
            problems.push(format!("{f}: {field}: {e}"));
            Window::parse(default).unwrap_or(Window::from_secs(1))
        })
    };
    let interval = dur(
        "evaluation.interval",
        raw.evaluation.interval.as_deref(),
        "30s",
    );
    let lookback = dur(
        "evaluation.lookback",
        raw.evaluation.lookback.as_deref(),
        "2m",
    );
    let fine_step = dur(
        "evaluation.fine_step",
        raw.evaluation.fine_step.as_deref(),
        "1m",
    );
    let lateness = dur(
        "evaluation.lateness",
        raw.evaluation.lateness.as_deref(),
        "5m",
    );
    if lookback < interval {
        problems.push(format!(
            "{f}: evaluation.lookback: {lookback} must be at least the interval {interval}"
        ));
    }
    let buckets = raw.evaluation.buckets.unwrap_or(crate::burn::DEFAULT_K);
    if buckets < 2 {
        problems.push(format!(
            "{f}: evaluation.buckets: {buckets} must be at least 2"
        ));
    }
    let resolve = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base_dir.join(p)
        }
    };
    let (source, region_sources) = match (&raw.source.thanos, raw.source.regions.is_empty()) {
        (Some(t), true) => (
            source_config(&f, "source.thanos", t, &resolve, &mut problems),
            BTreeMap::new(),
        ),
        (None, false) => {
            let per: BTreeMap<String, SourceConfig> = raw
                .source
                .regions
                .iter()
                .map(|(r, t)| {
                    let field = format!("source.regions.{r}");
                    (
                        r.clone(),
                        source_config(&f, &field, t, &resolve, &mut problems),
                    )
                })
                .collect();
            let first = per.values().next().cloned().unwrap_or_else(empty_source);
            (first, per)
        }
        (Some(_), false) => {
            problems.push(format!(
                "{f}: source: thanos and regions are exclusive: one server for every region, or one per region"
            ));
            (empty_source(), BTreeMap::new())
        }
        (None, true) => {
            problems.push(format!(
                "{f}: source: needs thanos: {{url: ...}} or regions: {{<region>: {{url: ...}}}}"
            ));
            (empty_source(), BTreeMap::new())
        }
    };
    let mut probes = BTreeMap::new();
    for (r, p) in &raw.regions.probes {
        let field = format!("regions.probes.{r}");
        let (url, interval, timeout, expect) = match p {
            RawProbe::Url(u) => (u.clone(), None, None, None),
            RawProbe::Full {
                url,
                interval,
                timeout,
                expect,
            } => (
                url.clone(),
                interval.clone(),
                timeout.clone(),
                expect.clone(),
            ),
        };
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || reqwest::Url::parse(&url).is_err()
        {
            problems.push(format!("{f}: {field}.url: {url:?} is not an http(s) URL"));
        }
        let interval = window_or(
            &mut problems,
            &f,
            &format!("{field}.interval"),
            interval.as_deref(),
            "10s",
        );
        let timeout = window_or(
            &mut problems,
            &f,
            &format!("{field}.timeout"),
            timeout.as_deref(),
            "2s",
        );
        if timeout > interval {
            problems.push(format!(
                "{f}: {field}.timeout: {timeout} must not exceed the interval {interval}"
            ));
        }
        let expect = match expect.as_ref().map(probe_expect) {
            None => ProbeExpect::Class(2),
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                problems.push(format!("{f}: {field}.expect: {e}"));
                ProbeExpect::Class(2)
            }
        };
        probes.insert(
            r.clone(),
            ProbeConfig {
                url,
                interval,
                timeout,
                expect,
            },
        );
    }
    let down_after = window_or(
        &mut problems,
        &f,
        "regions.down_after",
        raw.regions.down_after.as_deref(),
        "2m",
    );
    let probe_failures = raw.regions.probe_failures.unwrap_or(3);
    if probe_failures == 0 {
        problems.push(format!("{f}: regions.probe_failures: must be at least 1"));
    }
    let regions = RegionsConfig {
        label: raw
            .regions
            .label
            .unwrap_or_else(|| crate::slo::DEFAULT_REGION_LABEL.to_string()),
        active: raw.regions.active,
        standby: raw.regions.standby,
        probes,
        down_after: down_after.secs() as i64,
        probe_failures: probe_failures.max(1),
    };
    for r in regions.probes.keys().chain(region_sources.keys()) {
        if regions.active.is_some() && !regions.all().contains(r) {
            problems.push(format!(
                "{f}: {r:?} (under regions.probes or source.regions) is neither the active region nor a standby"
            ));
        }
    }
    if !region_sources.is_empty() {
        for r in regions.all() {
            if !region_sources.contains_key(&r) {
                problems.push(format!(
                    "{f}: source.regions: no server for region {r:?}: every region needs its own"
                ));
            }
        }
    }
    for (i, r) in regions.standby.iter().enumerate() {
        if regions.standby[..i].contains(r) {
            problems.push(format!(
                "{f}: regions.standby[{i}]: duplicate standby region {r:?}"
            ));
        }
    }
    if let Some(a) = &regions.active {
        if regions.standby.contains(a) {
            problems.push(format!(
                "{f}: regions.standby: the active region {a:?} cannot also be a standby"
            ));
        }
    }
    let listen = raw
        .server
        .listen
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    if listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(format!(
            "{f}: server.listen: {listen:?} is not an address:port"
        ));
    }
    let mut secret =
        |field: &str, file: &Option<PathBuf>, env: &Option<String>| -> Option<String> {
            if let Some(p) = file {
                warnings.extend(loose_permissions(&f, field, &resolve(p)));
            }
            match (file, env) {
                (Some(_), Some(_)) => {
                    problems.push(format!(
                        "{f}: {field}: a file and an environment variable are exclusive: set one"
                    ));
                    None
                }
                (Some(p), _) => match std::fs::read_to_string(resolve(p)) {
                    Ok(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                    Ok(_) => {
                        problems.push(format!("{f}: {field}: {} is empty", p.display()));
                        None
                    }
                    Err(e) => {
                        problems.push(format!("{f}: {field}: cannot read {}: {e}", p.display()));
                        None
                    }
                },
                (None, Some(var)) => match std::env::var(var) {
                    Ok(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                    _ => {
                        problems.push(format!(
                            "{f}: {field}: environment variable {var} is not set"
                        ));
                        None
                    }
                },
                (None, None) => None,
            }
        };
    let webhook_auth = raw
        .server
        .webhook_auth
        .as_ref()
        .and_then(|w| match &w.basic_auth {
            Some(b) => secret(
                "server.webhook_auth.basic_auth.password_file",
                &Some(b.password_file.clone()),
                &None,
            )
            .map(|password| Credential::Basic {
                username: b.username.clone(),
                password,
            }),
            None => secret(
                "server.webhook_auth",
                &w.bearer_token_file,
                &w.bearer_token_env,
            )
            .map(Credential::Bearer),
        });
    let api_token = secret(
        "server.api_token_file",
        &raw.server.api_token_file,
        &raw.server.api_token_env,
    );
    if let Some(w) = &raw.server.webhook_auth {
        let bearer = w.bearer_token_file.is_some() || w.bearer_token_env.is_some();
        if bearer && w.basic_auth.is_some() {
            problems.push(format!(
                "{f}: server.webhook_auth: bearer token and basic_auth are exclusive: set one"
            ));
        }
    }
    for (field, token) in [
        (
            "server.webhook_auth",
            match &webhook_auth {
                Some(Credential::Bearer(t)) => Some(t),
                Some(Credential::Basic { password, .. }) => Some(password),
                None => None,
            },
        ),
        ("server.api_token", api_token.as_ref()),
    ] {
        if let Some(t) = token {
            if t.len() < MIN_TOKEN_BYTES {
                warnings.push(format!(
                    "{f}: {field}: the secret is {} bytes; use at least {MIN_TOKEN_BYTES} random bytes",
                    t.len()
                ));
            }
        }
    }
    if let (Some(Credential::Bearer(w)), Some(a)) = (&webhook_auth, &api_token) {
        if w == a {
            warnings.push(format!(
                "{f}: server: the webhook and the operator API share one token: whoever can page can also fail over"
            ));
        }
    }
    let loopback = listen
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    if !loopback
        && (webhook_auth.is_none() || api_token.is_none())
        && !raw.server.allow_unauthenticated
    {
        problems.push(format!(
            "{f}: server.listen: {listen} is reachable beyond loopback without webhook auth and an API token; configure server.webhook_auth and server.api_token_file, or set server.allow_unauthenticated: true"
        ));
    }
    let max_body_bytes = raw.server.max_body_bytes.unwrap_or(1 << 20);
    if !(MIN_BODY_BYTES..=MAX_BODY_BYTES).contains(&max_body_bytes) {
        problems.push(format!(
            "{f}: server.max_body_bytes: {max_body_bytes} must be between {MIN_BODY_BYTES} and {MAX_BODY_BYTES}"
        ));
    }
    let max_concurrent_webhooks = raw
        .server
        .max_concurrent_webhooks
        .unwrap_or(DEFAULT_CONCURRENT_WEBHOOKS);
    if !(1..=MAX_CONCURRENT_WEBHOOKS).contains(&max_concurrent_webhooks) {
        problems.push(format!(
            "{f}: server.max_concurrent_webhooks: {max_concurrent_webhooks} must be between 1 and {MAX_CONCURRENT_WEBHOOKS}"
        ));
    }
    let signal_listen = raw.server.signal_listen;
    if let Some(sl) = &signal_listen {
        match sl.parse::<std::net::SocketAddr>() {
            Err(_) => problems.push(format!(
                "{f}: server.signal_listen: {sl:?} is not an address:port"
            )),
            Ok(a) if listen.parse::<std::net::SocketAddr>().is_ok_and(|l| l == a) => {
                problems.push(format!(
                    "{f}: server.signal_listen: {sl} is server.listen's address; give it its own port"
                ))
            }
            Ok(_) => {}
        }
    }
    let mut peer_problems: Vec<String> = Vec::new();
    let failover = raw.failover.map(|fo| {
        let mut dur = |field: &str, v: Option<&str>, default: &str| -> Window {
            Window::parse(v.unwrap_or(default)).unwrap_or_else(|e| {
                problems.push(format!("{f}: {field}: {e}"));
                Window::from_secs(1)
            })
        };
        let cooldown = dur("failover.policy.cooldown", fo.policy.cooldown.as_deref(), "1h");
        let no_peers = fo.peers.is_empty();
        if !no_peers && fo.replica.is_none() {
            peer_problems.push(format!("{f}: failover.replica: replicas with peers need a name of their own (the executor of a failover is named; two replicas with the default name would both act)"));
        }
        // Each peer once, never this replica's own address: a duplicate (or this
        // replica listed as its peer) would count one vote twice toward the quorum.
        let norm = |u: &str| {
            u.trim_end_matches('/')
                .to_ascii_lowercase()
                .replace("://localhost", "://127.0.0.1")
        };
        let own = norm(&format!("http://{listen}"));
        for (i, p) in fo.peers.iter().enumerate() {
            if fo.peers[..i].iter().any(|q| norm(q) == norm(p)) {
                peer_problems.push(format!("{f}: failover.peers[{i}]: {p:?} is listed twice (a peer's vote counts once)"));
            }
            if norm(p) == own {
                peer_problems.push(format!("{f}: failover.peers[{i}]: {p:?} is this replica's own address (its vote would count twice)"));
            }
        }
        if let Some(q) = fo.policy.quorum {
            if !no_peers && u64::from(q) * 2 <= fo.peers.len() as u64 + 1 {
                warnings.push(format!("{f}: failover.policy.quorum: {q} of {} replicas is not a majority: two sides of a partition could each reach it", fo.peers.len() + 1));
            }
        }
        let replica_name = fo.replica.clone().unwrap_or_else(|| "replica-1".into());
        let takeover_after = fo
            .takeover_after
            .as_deref()
            .map(|g| dur("failover.takeover_after", Some(g), "30s"));
        let shutdown_grace = fo
            .shutdown_grace
            .as_deref()
            .map(|g| dur("failover.shutdown_grace", Some(g), "30s"));
        if regions.active.is_none() {
            problems.push(format!("{f}: regions.active: failover needs the active region"));
        }
        if regions.standby.is_empty() {
            problems.push(format!("{f}: regions.standby: failover needs at least one standby region"));
        }
        if fo.domains.is_empty() {
            problems.push(format!("{f}: failover.domains: at least one failover domain is required"));
        }
        let quorum = fo.policy.quorum.unwrap_or(1);
        let consecutive = fo.policy.consecutive.unwrap_or(2);
        if consecutive == 0 {
            problems.push(format!("{f}: failover.policy.consecutive: 0 must be at least 1 (the evaluations in a row a page tier must hold)"));
        }
        let consecutive = consecutive.max(1);
        let target_max_burn = fo.policy.target_max_burn.unwrap_or(1.0);
        if !(target_max_burn.is_finite() && target_max_burn > 0.0) {
            problems.push(format!("{f}: failover.policy.target_max_burn: {target_max_burn} must be a positive number"));
        }
        if quorum == 0 || quorum as usize > fo.peers.len() + 1 {
            problems.push(format!("{f}: failover.policy.quorum: {quorum} must be between 1 and the number of replicas ({})", fo.peers.len() + 1));
        }
        let all_regions = regions.all();
        // The name keys the domain's signal, policy state and journal rows: two domains
        // with one name would share them.
        for (i, d) in fo.domains.iter().enumerate() {
            if fo.domains[..i].iter().any(|o| o.name == d.name) {
                problems.push(format!("{f}: failover.domains[{i}].name: duplicate domain name {:?}", d.name));
            }
        }
        let domains: Vec<DomainConfig> = fo
            .domains
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let runbook = crate::actuator::parse_steps(&d.runbook, &all_regions).unwrap_or_else(|errs| {
                    problems.extend(errs.into_iter().map(|e| format!("{f}: failover.domains[{i}].{e}")));
                    Vec::new()
                });
                if d.runbook.is_empty() {
                    problems.push(format!("{f}: failover.domains[{i}].runbook: no steps"));
                }
                // The name is a URL path segment (/v1/signal/<domain>/…) and a file name
                // (`playbook --out`): letters, digits, '.', '_' and '-'.
                let url_safe = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
                if d.name.is_empty() || !d.name.chars().all(url_safe) || d.name.starts_with('.') {
                    problems.push(format!("{f}: failover.domains[{i}].name: {:?} must be letters, digits, '.', '_' and '-' (not starting with '.')", d.name));
                }
                DomainConfig { name: d.name, slos: d.slos, preconditions: d.preconditions.into_iter().map(|p| (p.name, p.query)).collect(), runbook, route53: d.route53, on_abort: d.on_abort }
            })
            .collect();
        FailoverConfig {
            journal: resolve(&fo.journal.unwrap_or_else(|| PathBuf::from("sloguard-journal.db"))),
            replica: replica_name.clone(),
            peers: fo.peers,
            policy: crate::policy::PolicyConfig {
                replica: replica_name,
                region: fo.region.clone(),
                claim_wait: if no_peers {
                    0
                } else {
                    (interval.secs() as i64).max(2)
                },
                takeover_after: takeover_after
                    .map_or((3 * interval.secs() as i64).max(10), |t| t.secs() as i64),
                mode: fo.policy.mode.unwrap_or(crate::policy::Mode::Auto),
                consecutive,
                cooldown: cooldown.secs() as i64,
                quorum,
                target_max_burn,
                min_span: i64::from(consecutive - 1) * interval.secs() as i64,
            },
            aws_region: fo.aws_region.unwrap_or_else(|| "us-east-1".into()),
            shutdown_grace: shutdown_grace.map_or_else(
                || {
                    let longest = domains
                        .iter()
                        .flat_map(|d| d.runbook.iter())
                        .map(|s| s.timeout + std::time::Duration::from_secs(5))
                        .max()
                        .unwrap_or_default();
                    longest.max(std::time::Duration::from_secs(30))
                },
                |g| std::time::Duration::from_secs(g.secs()),
            ),
            domains,
        }
    });
    if let Some(fo) = &failover {
        let longest = fo
            .domains
            .iter()
            .flat_map(|d| d.runbook.iter())
            .map(|s| s.timeout)
            .max()
            .unwrap_or_default();
        if fo.shutdown_grace < longest {
            warnings.push(format!(
                "{f}: failover.shutdown_grace: {}s is shorter than the longest step timeout ({}s): a stop may cut that step, which then runs again from the start after the restart",
                fo.shutdown_grace.as_secs(),
                longest.as_secs()
            ));
        }
    }
    problems.append(&mut peer_problems);
    let query_timeout = std::time::Duration::from_secs(
        std::iter::once(&source)
            .chain(region_sources.values())
            .map(|s| s.timeout.secs())
            .max()
            .unwrap_or(10)
            + 5,
    );
    let max_concurrency = raw.source.max_concurrency.unwrap_or(8);
    if !(1..=256).contains(&max_concurrency) {
        problems.push(format!(
            "{f}: source.max_concurrency: {max_concurrency} must be 1 to 256"
        ));
    }
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    Ok(Config {
        file: file.to_path_buf(),
        specs: resolve(&raw.specs),
        source,
        region_sources,
        evaluation: EvaluationConfig {
            interval,
            lookback,
            fine_step,
            buckets,
            lateness,
            max_concurrency,
            batch: raw.source.batch.unwrap_or(true),
            records: raw.source.records.unwrap_or(false),
            query_timeout,
        },
        regions,
        listen,
        max_body_bytes,
        max_concurrent_webhooks,
        signal_listen,
        webhook_auth,
        api_token,
        failover,
        warnings,
    })
}

/// A placeholder source while problems are collected (never used: the config is refused).
fn empty_source() -> SourceConfig {
    SourceConfig {
        url: String::new(),
        timeout: Window::from_secs(10),
        retries: 0,
        max_response_bytes: 0,
        partial_response: false,
        auth: Auth::None,
        headers: BTreeMap::new(),
    }
}

/// One query server's settings (`source.thanos`, or `source.regions.<region>`).
fn source_config(
    f: &str,
    field: &str,
    t: &RawThanos,
    resolve: &dyn Fn(&Path) -> PathBuf,
    problems: &mut Vec<String>,
) -> SourceConfig {
    if !(t.url.starts_with("http://") || t.url.starts_with("https://"))
        || reqwest::Url::parse(&t.url).is_err()
    {
        problems.push(format!(
            "{f}: {field}.url: {:?} is not an http(s) URL",
            t.url
        ));
    }
    let timeout = match Window::parse(t.timeout.as_deref().unwrap_or("10s")) {
        Ok(w) => w,
        Err(e) => {
            problems.push(format!("{f}: {field}.timeout: {e}"));
            Window::from_secs(10)
        }
    };
    let auth = match (&t.bearer_token_file, &t.basic_auth) {
        (Some(_), Some(_)) => {
            problems.push(format!(
                "{f}: {field}: bearer_token_file and basic_auth are exclusive"
            ));
            Auth::None
        }
        (Some(p), None) => Auth::Bearer {
            token_file: resolve(p),
        },
        (None, Some(b)) => Auth::Basic {
            username: b.username.clone(),
            password_file: resolve(&b.password_file),
        },
        (None, None) => Auth::None,
    };
    for file in match &auth {
        Auth::Bearer { token_file } => vec![token_file.clone()],
        Auth::Basic { password_file, .. } => vec![password_file.clone()],
        Auth::None => vec![],
    } {
        if !file.is_file() {
            problems.push(format!(
                "{f}: {field}: secret file {} does not exist",
                file.display()
            ));
        }
    }
    for k in t.headers.keys() {
        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
            problems.push(format!(
                "{f}: {field}.headers: {k:?} is not a valid header name"
            ));
        }
    }
    SourceConfig {
        url: t.url.trim_end_matches('/').to_string(),
        timeout,
        retries: t.retries.unwrap_or(2),
        max_response_bytes: t.max_response_bytes.unwrap_or(64 << 20),
        partial_response: t.partial_response.unwrap_or(false),
        auth,
        headers: t.headers.clone(),
    }
}

/// A duration field, or `default` (and a problem) when it does not parse.
fn window_or(
    problems: &mut Vec<String>,
    f: &str,
    field: &str,
    v: Option<&str>,
    default: &str,
) -> Window {
    Window::parse(v.unwrap_or(default)).unwrap_or_else(|e| {
        problems.push(format!("{f}: {field}: {e}"));
        Window::parse(default).unwrap_or(Window::from_secs(1))
    })
}

/// A probe's `expect`: `2xx`-style class or one status code.
fn probe_expect(v: &serde_yaml_ng::Value) -> Result<ProbeExpect, String> {
    let text = match v {
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        serde_yaml_ng::Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => return Err("must be a status code or a class such as 2xx".into()),
    };
    if let Some(c) = text.strip_suffix("xx") {
        return match c.parse::<u16>() {
            Ok(c) if (1..=5).contains(&c) => Ok(ProbeExpect::Class(c)),
            _ => Err(format!("{text:?} is not a status class (1xx..5xx)")),
        };
    }
    match text.parse::<u16>() {
        Ok(s) if (100..=599).contains(&s) => Ok(ProbeExpect::Status(s)),
        _ => Err(format!("{text:?} is not a status code or class")),
    }
}

/// Shortest secret that does not draw a warning.
const MIN_TOKEN_BYTES: usize = 16;
/// `server.max_body_bytes` bounds: a real Alertmanager delivery needs kilobytes; more
/// than 64 MiB only helps an attacker.
const MIN_BODY_BYTES: usize = 1024;
const MAX_BODY_BYTES: usize = 64 << 20;
/// `server.max_concurrent_webhooks`: Alertmanager sends one delivery per group at a
/// time per peer; 16 bodies of `max_body_bytes` in flight bound the memory they hold.
pub const DEFAULT_CONCURRENT_WEBHOOKS: usize = 16;
const MAX_CONCURRENT_WEBHOOKS: usize = 4096;

/// A warning when a secret file is readable by its group or by others.
fn loose_permissions(f: &str, field: &str, path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{f}: {field}: {} is readable by group or others (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        )
    })
}

/// Reads and parses a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parse(path, &text, base)
}

/// The problems of `cfg` that only the loaded specs reveal: a failover domain whose
/// `slos:` names an SLO (`service/slo`) that no spec defines would never fail over.
/// Every command that reads both the config and its specs calls it before acting.
pub fn check_against_specs(
    cfg: &Config,
    services: &[crate::slo::Service],
) -> Result<(), ConfigError> {
    let Some(fo) = &cfg.failover else {
        return Ok(());
    };
    let f = cfg.file.display();
    let known: Vec<String> = services
        .iter()
        .flat_map(|s| {
            s.slos
                .iter()
                .map(move |slo| format!("{}/{}", s.name, slo.name))
        })
        .collect();
    let mut problems = Vec::new();
    for (i, d) in fo.domains.iter().enumerate() {
        for (j, id) in d.slos.iter().enumerate() {
            if !known.contains(id) {
                problems.push(format!(
                    "{f}: failover.domains[{i}].slos[{j}]: unknown SLO {id:?} (known, as service/slo: {})",
                    known_list(&known)
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// The known SLO ids for a message: all of them up to 20, then how many more.
fn known_list(known: &[String]) -> String {
    const SHOWN: usize = 20;
    if known.is_empty() {
        return "none: the specs define no SLO".into();
    }
    let mut out = known
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if known.len() > SHOWN {
        out.push_str(&format!(" and {} more", known.len() - SHOWN));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_and_sources_per_region() {
        let c = parse(
            Path::new("c.yaml"),
            "source:\n  regions:\n    a: {url: 'http://pa:9090/', timeout: 5s}\n    b: {url: 'http://pb:9090'}\nregions:\n  active: a\n  standby: [b]\n  down_after: 3m\n  probe_failures: 4\n  probes:\n    a: https://a.example/healthz\n    b: {url: 'https://b.example/healthz', interval: 5s, timeout: 1s, expect: 204}\n",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(c.region_sources["a"].url, "http://pa:9090");
        assert_eq!(c.region_sources["a"].timeout.secs(), 5);
        assert_eq!(c.region_sources["b"].url, "http://pb:9090");
        assert_eq!((c.regions.down_after, c.regions.probe_failures), (180, 4));
        let a = &c.regions.probes["a"];
        assert_eq!((a.interval.secs(), a.timeout.secs()), (10, 2));
        assert!(a.expect.accepts(200) && a.expect.accepts(299) && !a.expect.accepts(301));
        let b = &c.regions.probes["b"];
        assert_eq!(b.expect, ProbeExpect::Status(204));
        assert_eq!(b.interval.secs(), 5);
        // Defaults: one server, 2m, 3 probes, no probes.
        let d = parse(
            Path::new("c.yaml"),
            "source: {thanos: {url: 'http://x'}}\n",
            Path::new("."),
        )
        .unwrap();
        assert!(d.region_sources.is_empty() && d.regions.probes.is_empty());
        assert_eq!((d.regions.down_after, d.regions.probe_failures), (120, 3));
    }

    #[test]
    fn bad_probes_and_sources_are_named() {
        let text = "source:\n  thanos: {url: 'http://x'}\n  regions: {a: {url: 'http://a'}}\nregions:\n  active: a\n  standby: [b]\n  probe_failures: 0\n  down_after: soon\n  probes:\n    a: ftp://a\n    c: http://c\n    b: {url: 'http://b', timeout: 20s, expect: 7xx}\n";
        let Err(ConfigError::Invalid(p)) = parse(Path::new("c.yaml"), text, Path::new(".")) else {
            panic!("must fail")
        };
        let all = p.join("\n");
        for want in [
            "source: thanos and regions are exclusive",
            "regions.probe_failures",
            "regions.down_after",
            "regions.probes.a.url",
            "\"c\" (under regions.probes or source.regions) is neither",
            "regions.probes.b.timeout",
            "regions.probes.b.expect",
        ] {
            assert!(all.contains(want), "{want} missing in:\n{all}");
        }
        let text =
            "source:\n  regions: {a: {url: 'http://a'}}\nregions: {active: a, standby: [b]}\n";
        let Err(ConfigError::Invalid(p)) = parse(Path::new("c.yaml"), text, Path::new(".")) else {
            panic!("must fail")
        };
        assert!(p.join("\n").contains("no server for region \"b\""), "{p:?}");
    }

    #[test]
    fn minimal_config_has_defaults() {
        let c = parse(
            Path::new("c.yaml"),
            "source: {thanos: {url: http://127.0.0.1:9090}}\n",
            Path::new("/etc/sg"),
        )
        .unwrap();
        assert_eq!(c.specs, PathBuf::from("/etc/sg/slo-specs"));
        assert_eq!(c.evaluation.interval, Window::from_secs(30));
        assert!(!c.source.partial_response);
        assert_eq!(c.listen, "127.0.0.1:8080");
    }

    #[test]
    fn every_problem_at_once() {
        let text = "source: {thanos: {url: ftp://x, timeout: 5x, headers: {\"bad header\": v}}}\nevaluation: {interval: 1m, lookback: 30s}\nregions: {active: a, standby: [a]}\nserver: {listen: nowhere}\n";
        let Err(ConfigError::Invalid(p)) = parse(Path::new("c.yaml"), text, Path::new(".")) else {
            panic!()
        };
        let all = p.join("\n");
        for want in [
            "source.thanos.url",
            "source.thanos.timeout",
            "headers",
            "evaluation.lookback",
            "regions.standby",
            "server.listen",
        ] {
            assert!(all.contains(want), "{want} missing from:\n{all}");
        }
    }

    #[test]
    fn every_unknown_key_at_once() {
        let Err(ConfigError::Invalid(p)) = parse(
            Path::new("c.yaml"),
            "source: {thanos: {url: http://x, tiemout: 1s}}\nsever: {}\nevaluation: {intervall: 1m}\n",
            Path::new("."),
        ) else {
            panic!()
        };
        let all = p.join("\n");
        for want in ["source.thanos.tiemout", "sever", "evaluation.intervall"] {
            assert!(
                all.contains(&format!("{want}: unknown key")),
                "{want}: {all}"
            );
        }
    }

    #[test]
    fn server_settings_that_invite_trouble() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("short", "abc\n", 0o644);
        write("long", "0123456789abcdef0123\n", 0o600);
        let cfg = |server: &str| {
            parse(
                Path::new("c.yaml"),
                &format!("source: {{thanos: {{url: http://x}}}}\nserver: {server}\n"),
                dir.path(),
            )
        };
        let problems = |server: &str| match cfg(server) {
            Err(ConfigError::Invalid(p)) => p.join("\n"),
            other => panic!("{server}: {other:?}"),
        };
        // Beyond loopback without auth: refused, unless explicitly allowed.
        assert!(problems("{listen: '0.0.0.0:8080'}").contains("allow_unauthenticated"));
        assert!(cfg("{listen: '0.0.0.0:8080', allow_unauthenticated: true}").is_ok());
        assert!(problems("{max_body_bytes: 0}").contains("server.max_body_bytes"));
        assert!(problems("{max_concurrent_webhooks: 0}").contains("server.max_concurrent_webhooks"));
        assert!(problems("{signal_listen: nowhere}").contains("server.signal_listen"));
        assert!(
            problems("{listen: '127.0.0.1:8080', signal_listen: '127.0.0.1:8080'}")
                .contains("its own port")
        );
        let c = cfg("{signal_listen: '0.0.0.0:8081'}").unwrap();
        assert_eq!(c.signal_listen.as_deref(), Some("0.0.0.0:8081"));
        assert_eq!(c.max_concurrent_webhooks, DEFAULT_CONCURRENT_WEBHOOKS);
        assert!(problems(
            "{webhook_auth: {bearer_token_file: long, basic_auth: {username: u, password_file: long}}}"
        )
        .contains("exclusive"));
        assert!(problems("{api_token_file: long, api_token_env: HOME}").contains("exclusive"));
        // Legal but risky: warnings, not refusals.
        let c = cfg("{listen: '0.0.0.0:8080', webhook_auth: {bearer_token_file: short}, api_token_file: short}").unwrap();
        let w = c.warnings.join("\n");
        for want in ["readable by group or others", "3 bytes", "share one token"] {
            assert!(w.contains(want), "{want}: {w}");
        }
        let c = cfg("{webhook_auth: {bearer_token_file: long}}").unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn unknown_key_is_named() {
        let Err(ConfigError::Invalid(p)) = parse(
            Path::new("c.yaml"),
            "source: {thanos: {url: http://x}}\nsever: {}\n",
            Path::new("."),
        ) else {
            panic!()
        };
        assert!(p[0].contains("sever: unknown key"), "{p:?}");
    }
}

#[cfg(test)]
mod failover_tests {
    use super::*;

    #[test]
    fn bad_failover_configs_are_clear_errors_at_start_up() {
        let text = "source: {thanos: {url: http://x}}\nregions: {active: a, standby: [b]}\nfailover:\n  policy: {cooldown: soon, quorum: 3}\n  domains:\n    - name: web\n      runbook:\n        - {kind: sns}\n        - {kind: magic}\n        - {kind: aurora_global, global_cluster: g, clusters: {a: 'arn:aws:rds:x'}}\n        - {kind: route53_records, zone_id: Z1, record_name: x, records: {a: 1.1.1.1, b: 2.2.2.2}, ttl: 1m}\n";
        let Err(ConfigError::Invalid(p)) = parse(Path::new("c.yaml"), text, Path::new(".")) else {
            panic!("must fail")
        };
        let all = p.join("\n");
        for want in [
            "failover.policy.cooldown",
            "failover.policy.quorum",
            "runbook[0]: missing field `topic_arn`",
            "runbook[1]: unknown variant `magic`",
            "runbook[2].clusters: no cluster ARN for region b",
            "runbook[3]: invalid type",
        ] {
            assert!(all.contains(want), "{want} missing from:\n{all}");
        }
    }

    const AMBIGUOUS: &str = "source: {thanos: {url: http://x}}\nregions: {active: a, standby: [b, c, b]}\nfailover:\n  policy: {consecutive: 0}\n  domains:\n    - name: web\n      runbook:\n        - {name: signal, kind: route53_signal}\n        - {name: signal, kind: route53_signal}\n    - name: db\n      runbook: [{kind: route53_signal}, {name: route53_signal-0, kind: route53_signal}]\n    - name: web\n      runbook: [{name: signal, kind: route53_signal}]\n";

    #[test]
    fn ambiguous_configs_are_refused_naming_each_field() {
        let Err(ConfigError::Invalid(p)) = parse(Path::new("c.yaml"), AMBIGUOUS, Path::new("."))
        else {
            panic!("must fail")
        };
        let all = p.join("\n");
        for want in [
            "c.yaml: failover.domains[2].name: duplicate domain name \"web\"",
            "c.yaml: regions.standby[2]: duplicate standby region \"b\"",
            "c.yaml: failover.domains[0].runbook[1].name: duplicate step name \"signal\" (also runbook[0])",
            "c.yaml: failover.domains[1].runbook[1].name: duplicate step name \"route53_signal-0\" (also runbook[0])",
            "c.yaml: failover.policy.consecutive: 0 must be at least 1",
        ] {
            assert!(all.contains(want), "{want} missing from:\n{all}");
        }
        assert_eq!(p.len(), 5, "one problem per mistake, all at once:\n{all}");
    }

    #[test]
    fn unknown_gating_slos_are_refused_listing_the_known_ones() {
        let text = "source: {thanos: {url: http://x}}\nregions: {active: a, standby: [b]}\nfailover:\n  domains:\n    - name: web\n      slos: [api/availability, api/latency]\n      runbook: [{kind: route53_signal}]\n    - name: all\n      runbook: [{kind: route53_signal}]\n";
        let cfg = parse(Path::new("c.yaml"), text, Path::new(".")).unwrap();
        let spec = "version: prometheus/v1\nservice: api\nslos:\n  - name: availability\n    objective: 99.9\n    sli: {events: {error_query: 'sum(rate(e[{{.window}}]))', total_query: 'sum(rate(t[{{.window}}]))'}}\n    alerting: {name: ApiBurn, page_alert: {labels: {severity: critical}}, ticket_alert: {labels: {severity: warning}}}\n";
        let services =
            crate::slo::parse_all(&[(PathBuf::from("api.yaml"), spec.to_string())]).unwrap();
        let Err(ConfigError::Invalid(p)) = check_against_specs(&cfg, &services) else {
            panic!("api/latency is not defined")
        };
        assert_eq!(
            p,
            vec!["c.yaml: failover.domains[0].slos[1]: unknown SLO \"api/latency\" (known, as service/slo: api/availability)".to_string()]
        );
        let only_known = text.replace(", api/latency", "");
        let cfg = parse(Path::new("c.yaml"), &only_known, Path::new(".")).unwrap();
        check_against_specs(&cfg, &services).unwrap();
    }
}
