//! The failover runbook: ordered steps from config, each with a timeout, retries with
//! backoff, and `on_failure: abort|continue`; a dry-run form that records the exact call
//! it would make; and idempotence: each step first reads the current state and skips what
//! is already done, and steps the journal records as done are never run again (a crashed
//! run resumes from the first step not done).
//!
//! Step kinds: `sns`, `route53_signal` (data plane: the engine's own failover signal),
//! `route53_records` (control plane: weighted UPSERT or health-check inversion, waits for
//! INSYNC), `aurora_global` (switchover, or failover with data loss), `http` and `exec`.

pub mod aws;
pub mod route53_model;
pub mod route53_setup;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Deserialize;

use crate::journal::Journal;
use crate::window::Window;
use aws::{AuroraApi, Route53Api, SnsApi, WeightedRecord};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    #[default]
    Abort,
    Continue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuroraMode {
    #[default]
    Switchover,
    Failover,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepKind {
    Sns {
        topic_arn: String,
        #[serde(default)]
        region: Option<String>,
        #[serde(default)]
        subject: Option<String>,
    },
    Route53Signal {},
    Route53Records {
        zone_id: String,
        /// The record name (`name` is the step's own name).
        record_name: String,
        #[serde(default = "default_rtype", rename = "type")]
        record_type: String,
        #[serde(default = "default_ttl")]
        ttl: i64,
        /// Region → record value; the target gets weight 100, the others 0.
        records: BTreeMap<String, String>,
    },
    Route53HealthCheck {
        health_check_id: String,
        inverted: bool,
    },
    AuroraGlobal {
        global_cluster: String,
        /// Region → DB cluster ARN of that region's member.
        clusters: BTreeMap<String, String>,
        #[serde(default)]
        mode: AuroraMode,
        #[serde(default)]
        region: Option<String>,
        /// A failover with data loss needs a human approval unless this is set.
        #[serde(default)]
        allow_data_loss_without_approval: bool,
        #[serde(default = "default_poll")]
        poll_interval: String,
    },
    Http {
        url: String,
        #[serde(default = "default_method")]
        method: String,
        /// JSON template; {{incident}} {{domain}} {{from}} {{to}} {{reason}} are replaced.
        #[serde(default)]
        body: Option<String>,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        bearer_token_file: Option<PathBuf>,
    },
    Exec {
        command: Vec<String>,
        /// Exit 0 means the step is already done (idempotence check).
        #[serde(default)]
        check: Option<Vec<String>>,
    },
}

fn default_rtype() -> String {
    "A".into()
}
fn default_ttl() -> i64 {
    60
}
fn default_method() -> String {
    "POST".into()
}
fn default_poll() -> String {
    "5s".into()
}

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Sns { .. } => "sns",
            StepKind::Route53Signal {} => "route53_signal",
            StepKind::Route53Records { .. } => "route53_records",
            StepKind::Route53HealthCheck { .. } => "route53_health_check",
            StepKind::AuroraGlobal { .. } => "aurora_global",
            StepKind::Http { .. } => "http",
            StepKind::Exec { .. } => "exec",
        }
    }
}

impl StepSpec {
    /// Whether the step calls AWS APIs (then the AWS clients are created at start).
    pub fn needs_aws(&self) -> bool {
        matches!(
            self.kind,
            StepKind::Sns { .. }
                | StepKind::Route53Records { .. }
                | StepKind::Route53HealthCheck { .. }
                | StepKind::AuroraGlobal { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepSpec {
    pub name: String,
    pub kind: StepKind,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    pub on_failure: OnFailure,
}

const COMMON: [&str; 5] = ["name", "timeout", "retries", "backoff", "on_failure"];

/// Parses `runbook:` entries, reporting every problem as `runbook[i].field: message`.
pub fn parse_steps(
    values: &[serde_yaml_ng::Value],
    regions: &[String],
) -> Result<Vec<StepSpec>, Vec<String>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let at = format!("runbook[{i}]");
        let Some(map) = v.as_mapping() else {
            problems.push(format!("{at}: a step must be a mapping"));
            continue;
        };
        let mut rest = map.clone();
        let mut take = |k: &str| rest.remove(k);
        let name = take("name").and_then(|v| v.as_str().map(str::to_string));
        let dur = |v: Option<serde_yaml_ng::Value>,
                   default: &str,
                   field: &str,
                   problems: &mut Vec<String>|
         -> Duration {
            let text = v
                .as_ref()
                .and_then(|v| v.as_str())
                .unwrap_or(default)
                .to_string();
            match Window::parse(&text) {
                Ok(w) => Duration::from_secs(w.secs()),
                Err(e) => {
                    problems.push(format!("{at}.{field}: {e}"));
                    Duration::from_secs(1)
                }
            }
        };
        let timeout = dur(take("timeout"), "60s", "timeout", &mut problems);
        let backoff = dur(take("backoff"), "2s", "backoff", &mut problems);
        let retries = take("retries")
            .map_or(Some(2), |v| v.as_u64().map(|n| n as u32))
            .unwrap_or_else(|| {
                problems.push(format!("{at}.retries: must be a whole number"));
                0
            });
        let on_failure: OnFailure = match take("on_failure") {
            None => OnFailure::Abort,
            Some(v) => serde_yaml_ng::from_value(v).unwrap_or_else(|e| {
                problems.push(format!("{at}.on_failure: {e}"));
                OnFailure::Abort
            }),
        };
        let _ = COMMON;
        let kind: StepKind = match serde_yaml_ng::from_value(serde_yaml_ng::Value::Mapping(rest)) {
            Ok(k) => k,
            Err(e) => {
                problems.push(format!("{at}: {e}"));
                continue;
            }
        };
        match &kind {
            StepKind::Sns { topic_arn, .. } if !topic_arn.starts_with("arn:") => {
                problems.push(format!("{at}.topic_arn: {topic_arn:?} is not an ARN"))
            }
            StepKind::Route53Records {
                zone_id, records, ..
            } => {
                if zone_id.is_empty() {
                    problems.push(format!("{at}.zone_id: missing hosted zone id"));
                }
                for r in regions {
                    if !records.contains_key(r) {
                        problems.push(format!("{at}.records: no record value for region {r}"));
                    }
                }
            }
            StepKind::AuroraGlobal {
                clusters,
                poll_interval,
                ..
            } => {
                for r in regions {
                    match clusters.get(r) {
                        Some(arn) if arn.starts_with("arn:") => {}
                        Some(arn) => problems.push(format!(
                            "{at}.clusters.{r}: {arn:?} is not a DB cluster ARN"
                        )),
                        None => {
                            problems.push(format!("{at}.clusters: no cluster ARN for region {r}"))
                        }
                    }
                }
                if Window::parse(poll_interval).is_err() {
                    problems.push(format!(
                        "{at}.poll_interval: invalid duration {poll_interval:?}"
                    ));
                }
            }
            StepKind::Exec { command, .. } if command.is_empty() => {
                problems.push(format!("{at}.command: empty command"))
            }
            StepKind::Http { url, .. } if reqwest::Url::parse(url).is_err() => {
                problems.push(format!("{at}.url: {url:?} is not a URL"))
            }
            _ => {}
        }
        out.push(StepSpec {
            name: name.unwrap_or_else(|| format!("{}-{i}", kind.name())),
            kind,
            timeout,
            retries,
            backoff,
            on_failure,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The failover signals this engine serves on `GET /v1/signal/<domain>/<region>`:
/// true = failover to that region requested (200), false or absent = not (503).
#[derive(Debug, Default)]
pub struct SignalBoard {
    signals: RwLock<BTreeMap<(String, String), bool>>,
}

impl SignalBoard {
    pub fn set(&self, domain: &str, region: &str, on: bool) {
        if let Ok(mut s) = self.signals.write() {
            s.insert((domain.to_string(), region.to_string()), on);
        }
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
}

fn template(s: &str, inc: &Incident, json: bool) -> String {
    let esc = |v: &str| {
        if json {
            serde_json::to_string(v)
                .map(|q| q[1..q.len() - 1].to_string())
                .unwrap_or_default()
        } else {
            v.to_string()
        }
    };
    s.replace("{{incident}}", &inc.id.to_string())
        .replace("{{domain}}", &esc(&inc.domain))
        .replace("{{from}}", &esc(&inc.from))
        .replace("{{to}}", &esc(&inc.to))
        .replace("{{reason}}", &esc(&inc.reason))
}

fn message(inc: &Incident) -> String {
    format!(
        "sloguard incident {}: failing over {} from {} to {}: {}{}",
        inc.id,
        inc.domain,
        inc.from,
        inc.to,
        inc.reason,
        if inc.chaos { " [GameDay drill]" } else { "" }
    )
}

fn attributes(inc: &Incident) -> Vec<(String, String)> {
    vec![
        ("incident".into(), inc.id.to_string()),
        ("domain".into(), inc.domain.clone()),
        ("from".into(), inc.from.clone()),
        ("to".into(), inc.to.clone()),
        ("reason".into(), inc.reason.clone()),
        ("chaos".into(), inc.chaos.to_string()),
    ]
}

fn weighted(records: &BTreeMap<String, String>, to: &str) -> Vec<WeightedRecord> {
    records
        .iter()
        .map(|(region, value)| WeightedRecord {
            set_identifier: region.clone(),
            value: value.clone(),
            weight: if region == to { 100 } else { 0 },
        })
        .collect()
}

/// The exact call a step would make, for dry runs and the journal (no secrets).
pub fn describe(step: &StepSpec, inc: &Incident) -> String {
    match &step.kind {
        StepKind::Sns { topic_arn, subject, .. } => format!(
            "sns:Publish TopicArn={topic_arn} Subject={:?} Message={:?} MessageAttributes={:?}",
            subject.clone().unwrap_or_else(|| format!("sloguard failover {}", inc.domain)),
            message(inc),
            attributes(inc)
        ),
        StepKind::Route53Signal {} => format!("signal GET /v1/signal/{}/{} -> 200 (failover requested)", inc.domain, inc.to),
        StepKind::Route53Records { zone_id, record_name: name, record_type, ttl, records } => {
            let w: Vec<String> = weighted(records, &inc.to).iter().map(|r| format!("{}={}@{}", r.set_identifier, r.value, r.weight)).collect();
            format!("route53:ChangeResourceRecordSets HostedZoneId={zone_id} UPSERT {name} {record_type} TTL={ttl} weights [{}]; wait INSYNC", w.join(", "))
        }
        StepKind::Route53HealthCheck { health_check_id, inverted } => {
            format!("route53:UpdateHealthCheck HealthCheckId={health_check_id} Inverted={inverted} HealthCheckVersion=<current>")
        }
        StepKind::AuroraGlobal { global_cluster, clusters, mode, .. } => format!(
            "rds:{}GlobalCluster GlobalClusterIdentifier={global_cluster} TargetDbClusterIdentifier={}{}; poll DescribeGlobalClusters until it is the writer",
            if *mode == AuroraMode::Switchover { "Switchover" } else { "Failover" },
            clusters.get(&inc.to).cloned().unwrap_or_default(),
            if *mode == AuroraMode::Failover { " AllowDataLoss=true" } else { "" }
        ),
        StepKind::Http { url, method, body, headers, bearer_token_file } => format!(
            "http {method} {} headers {:?}{} body {}",
            template(url, inc, false),
            headers.keys().collect::<Vec<_>>(),
            if bearer_token_file.is_some() { " + bearer token (from file)" } else { "" },
            body.as_deref().map(|b| template(b, inc, true)).unwrap_or_default()
        ),
        StepKind::Exec { command, .. } => format!("exec {:?} with SLOGUARD_INCIDENT={} SLOGUARD_FROM={} SLOGUARD_TO={}", command, inc.id, inc.from, inc.to),
    }
}

fn exec_command(argv: &[String], inc: &Incident) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(&argv[0]);
    c.args(&argv[1..])
        .env("SLOGUARD_INCIDENT", inc.id.to_string())
        .env("SLOGUARD_DOMAIN", &inc.domain)
        .env("SLOGUARD_FROM", &inc.from)
        .env("SLOGUARD_TO", &inc.to)
        .env("SLOGUARD_REASON", &inc.reason)
        .env("SLOGUARD_DRY_RUN", inc.dry_run.to_string())
        .env("SLOGUARD_CHAOS", inc.chaos.to_string())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    c
}

/// Whether the step's effect is already in place (then it is skipped).
async fn is_done(step: &StepSpec, inc: &Incident, b: &Backends) -> Result<bool, String> {
    match &step.kind {
        StepKind::Route53Signal {} => Ok(b.signals.get(&inc.domain, &inc.to)),
        StepKind::Route53Records {
            zone_id,
            record_name: name,
            record_type,
            records,
            ..
        } => {
            let api = b.route53.as_ref().ok_or("no Route 53 client configured")?;
            let mut current = api.weighted(zone_id, name, record_type).await?;
            let mut want = weighted(records, &inc.to);
            current.sort_by(|a, b| a.set_identifier.cmp(&b.set_identifier));
            want.sort_by(|a, b| a.set_identifier.cmp(&b.set_identifier));
            Ok(current == want)
        }
        StepKind::Route53HealthCheck {
            health_check_id,
            inverted,
        } => {
            let api = b.route53.as_ref().ok_or("no Route 53 client configured")?;
            Ok(api.health_check(health_check_id).await?.0 == *inverted)
        }
        StepKind::AuroraGlobal {
            global_cluster,
            clusters,
            ..
        } => {
            let api = b.aurora.as_ref().ok_or("no RDS client configured")?;
            let target = clusters
                .get(&inc.to)
                .ok_or_else(|| format!("no cluster for {}", inc.to))?;
            let g = api.describe(global_cluster).await?;
            Ok(g.failover_state.is_none()
                && g.members
                    .iter()
                    .any(|m| &m.cluster_arn == target && m.is_writer))
        }
        StepKind::Exec {
            check: Some(argv), ..
        } if !argv.is_empty() => {
            let status = exec_command(argv, inc)
                .stdout(std::process::Stdio::null())
                .status()
                .await
                .map_err(|e| format!("check {:?}: {e}", argv[0]))?;
            Ok(status.success())
        }
        // Notifications and hooks have no readable state: they run once per incident,
        // which the journal guarantees.
        _ => Ok(false),
    }
}

/// Runs one attempt of a step; returns what it did.
async fn run_step(step: &StepSpec, inc: &Incident, b: &Backends) -> Result<String, String> {
    match &step.kind {
        StepKind::Sns {
            topic_arn, subject, ..
        } => {
            let api = b.sns.as_ref().ok_or("no SNS client configured")?;
            let subject = subject
                .clone()
                .unwrap_or_else(|| format!("sloguard failover {}", inc.domain));
            let id = api
                .publish(topic_arn, &subject, &message(inc), &attributes(inc))
                .await?;
            Ok(format!("published message {id} to {topic_arn}"))
        }
        StepKind::Route53Signal {} => {
            b.signals.set(&inc.domain, &inc.to, true);
            b.signals.set(&inc.domain, &inc.from, false);
            Ok(format!("signal {}/{} raised", inc.domain, inc.to))
        }
        StepKind::Route53Records {
            zone_id,
            record_name: name,
            record_type,
            ttl,
            records,
        } => {
            let api = b.route53.as_ref().ok_or("no Route 53 client configured")?;
            let change = api
                .upsert_weighted(
                    zone_id,
                    name,
                    record_type,
                    *ttl,
                    &weighted(records, &inc.to),
                )
                .await?;
            loop {
                if api.change_insync(&change).await? {
                    return Ok(format!(
                        "change {change} INSYNC: {name} weighted to {}",
                        inc.to
                    ));
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
        StepKind::Route53HealthCheck {
            health_check_id,
            inverted,
        } => {
            let api = b.route53.as_ref().ok_or("no Route 53 client configured")?;
            let (_, version) = api.health_check(health_check_id).await?;
            api.set_inverted(health_check_id, *inverted, version)
                .await?;
            Ok(format!(
                "health check {health_check_id} Inverted={inverted} (version {version})"
            ))
        }
        StepKind::AuroraGlobal {
            global_cluster,
            clusters,
            mode,
            allow_data_loss_without_approval,
            poll_interval,
            ..
        } => {
            let api = b.aurora.as_ref().ok_or("no RDS client configured")?;
            let target = clusters
                .get(&inc.to)
                .ok_or_else(|| format!("no cluster for {}", inc.to))?;
            let g = api.describe(global_cluster).await?;
            if g.failover_state.is_some() || g.status != "available" {
                return Err(format!(
                    "global cluster {global_cluster} is {} ({:?}): not available",
                    g.status, g.failover_state
                ));
            }
            if !g.members.iter().any(|m| &m.cluster_arn == target) {
                return Err(format!("{target} is not a member of {global_cluster}"));
            }
            match mode {
                AuroraMode::Switchover => api.switchover(global_cluster, target).await?,
                AuroraMode::Failover => {
                    if !(inc.approved || *allow_data_loss_without_approval) {
                        return Err("a failover with data loss needs an operator approval".into());
                    }
                    api.failover(global_cluster, target, true).await?
                }
            }
            let poll = Window::parse(poll_interval)
                .map(|w| Duration::from_secs(w.secs()))
                .unwrap_or(Duration::from_secs(5));
            loop {
                let g = api.describe(global_cluster).await?;
                if g.failover_state.is_none()
                    && g.members
                        .iter()
                        .any(|m| &m.cluster_arn == target && m.is_writer)
                {
                    return Ok(format!("{target} is the writer of {global_cluster}"));
                }
                tokio::time::sleep(poll).await;
            }
        }
        StepKind::Http {
            url,
            method,
            body,
            headers,
            bearer_token_file,
        } => {
            let method =
                reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
            let mut req = b.http.request(method, template(url, inc, false));
            for (k, v) in headers {
                req = req.header(k, template(v, inc, false));
            }
            if let Some(f) = bearer_token_file {
                let token = std::fs::read_to_string(f)
                    .map_err(|e| format!("reading token file {}: {e}", f.display()))?;
                req = req.bearer_auth(token.trim());
            }
            if let Some(body) = body {
                req = req
                    .header("content-type", "application/json")
                    .body(template(body, inc, true));
            }
            let resp = req.send().await.map_err(|e| format!("{e}"))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!("HTTP {status}"));
            }
            Ok(format!("HTTP {status}"))
        }
        StepKind::Exec { command, .. } => {
            let out = exec_command(command, inc)
                .output()
                .await
                .map_err(|e| format!("{:?}: {e}", command[0]))?;
            let tail = |b: &[u8]| {
                String::from_utf8_lossy(&b[b.len().saturating_sub(300)..])
                    .trim()
                    .to_string()
            };
            if out.status.success() {
                Ok(format!("exit 0: {}", tail(&out.stdout)))
            } else {
                Err(format!("{}: {}", out.status, tail(&out.stderr)))
            }
        }
    }
}

/// Executes runbooks and records every attempt in the journal.
pub struct Actuator {
    pub steps: Vec<StepSpec>,
    pub backends: Backends,
    pub journal: Arc<Mutex<Journal>>,
}

impl Actuator {
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        inc: &Incident,
        i: usize,
        attempt: u32,
        step: &StepSpec,
        status: &str,
        detail: &str,
        now: i64,
    ) {
        match self.journal.lock() {
            Ok(j) => {
                if let Err(e) = j.record_step(
                    inc.id,
                    i as u32,
                    attempt,
                    &step.name,
                    step.kind.name(),
                    status,
                    detail,
                    now,
                ) {
                    tracing::error!(incident = inc.id, step = %step.name, error = %e, "cannot journal step");
                }
            }
            Err(_) => tracing::error!(incident = inc.id, "journal lock poisoned"),
        }
    }

    /// Runs (or resumes) the runbook of `inc`. `now` gives journal timestamps.
    pub async fn execute(&self, inc: &Incident, now: impl Fn() -> i64) -> RunOutcome {
        let done = self
            .journal
            .lock()
            .ok()
            .and_then(|j| j.completed_steps(inc.id).ok())
            .unwrap_or_default();
        let mut outcome = RunOutcome {
            ok: true,
            steps: Vec::new(),
        };
        for (i, step) in self.steps.iter().enumerate() {
            if done.contains(&(i as u32)) {
                outcome.steps.push((
                    step.name.clone(),
                    "done-before".into(),
                    "completed before a restart; not repeated".into(),
                ));
                continue;
            }
            let prior = self
                .journal
                .lock()
                .ok()
                .and_then(|j| j.attempts(inc.id, i as u32).ok())
                .unwrap_or(0);
            if inc.dry_run {
                let d = describe(step, inc);
                tracing::info!(incident = inc.id, step = %step.name, call = %d, "dry run");
                self.record(inc, i, prior + 1, step, "dry_run", &d, now());
                outcome.steps.push((step.name.clone(), "dry_run".into(), d));
                continue;
            }
            match tokio::time::timeout(step.timeout, is_done(step, inc, &self.backends)).await {
                Ok(Ok(true)) => {
                    self.record(
                        inc,
                        i,
                        prior + 1,
                        step,
                        "skipped",
                        "already in the desired state",
                        now(),
                    );
                    outcome.steps.push((
                        step.name.clone(),
                        "skipped".into(),
                        "already done".into(),
                    ));
                    continue;
                }
                Ok(Err(e)) => {
                    tracing::warn!(step = %step.name, error = %e, "cannot read the current state; running the step")
                }
                _ => {}
            }
            let mut last_err = String::new();
            let mut ok = false;
            for attempt in 1..=step.retries + 1 {
                let n = prior + attempt;
                self.record(inc, i, n, step, "started", &describe(step, inc), now());
                match tokio::time::timeout(step.timeout, run_step(step, inc, &self.backends)).await
                {
                    Ok(Ok(detail)) => {
                        tracing::info!(incident = inc.id, step = %step.name, attempt = n, detail = %detail, "step done");
                        self.record(inc, i, n, step, "done", &detail, now());
                        outcome
                            .steps
                            .push((step.name.clone(), "done".into(), detail));
                        ok = true;
                        break;
                    }
                    Ok(Err(e)) => last_err = e,
                    Err(_) => last_err = format!("timed out after {}s", step.timeout.as_secs()),
                }
                tracing::warn!(incident = inc.id, step = %step.name, attempt = n, error = %last_err, "step failed");
                self.record(inc, i, n, step, "failed", &last_err, now());
                if attempt <= step.retries {
                    let base = step.backoff.as_millis() as u64 * (1 << (attempt - 1).min(6));
                    tokio::time::sleep(Duration::from_millis(base + fastrand::u64(0..=base / 2)))
                        .await;
                }
            }
            if !ok {
                outcome
                    .steps
                    .push((step.name.clone(), "failed".into(), last_err.clone()));
                if step.on_failure == OnFailure::Abort {
                    outcome.ok = false;
                    self.notify_abort(inc, step, &last_err).await;
                    break;
                }
            }
        }
        let status = if inc.dry_run {
            "dry_run"
        } else if outcome.ok {
            "done"
        } else {
            "failed"
        };
        if let Ok(j) = self.journal.lock() {
            let _ = j.close_incident(inc.id, status, now());
        }
        outcome
    }

    /// Tells every SNS topic of the runbook that the runbook aborted (best effort).
    async fn notify_abort(&self, inc: &Incident, step: &StepSpec, error: &str) {
        let Some(api) = &self.backends.sns else {
            return;
        };
        for s in &self.steps {
            if let StepKind::Sns { topic_arn, .. } = &s.kind {
                let msg = format!("sloguard incident {}: runbook ABORTED at step {:?}: {error}. Manual action needed.", inc.id, step.name);
                if let Err(e) = api
                    .publish(
                        topic_arn,
                        "sloguard runbook aborted",
                        &msg,
                        &attributes(inc),
                    )
                    .await
                {
                    tracing::error!(incident = inc.id, error = %e, "cannot notify the abort");
                }
            }
        }
    }
}

/// The least-privilege IAM policy for exactly the configured steps (AWS steps only).
pub fn iam_policy(steps: &[&StepSpec]) -> serde_json::Value {
    let mut statements: Vec<serde_json::Value> = Vec::new();
    let mut add = |sid: &str, actions: Vec<&str>, resources: Vec<String>| {
        statements.push(serde_json::json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}));
    };
    for (i, s) in steps.iter().enumerate() {
        let sid = format!("Step{i}{}", s.kind.name().replace('_', ""));
        match &s.kind {
            StepKind::Sns { topic_arn, .. } => {
                add(&sid, vec!["sns:Publish"], vec![topic_arn.clone()])
            }
            StepKind::Route53Records { zone_id, .. } => {
                add(
                    &sid,
                    vec![
                        "route53:ChangeResourceRecordSets",
                        "route53:ListResourceRecordSets",
                    ],
                    vec![format!("arn:aws:route53:::hostedzone/{zone_id}")],
                );
                add(
                    &format!("{sid}Change"),
                    vec!["route53:GetChange"],
                    vec!["arn:aws:route53:::change/*".into()],
                );
            }
            StepKind::Route53HealthCheck {
                health_check_id, ..
            } => add(
                &sid,
                vec!["route53:GetHealthCheck", "route53:UpdateHealthCheck"],
                vec![format!("arn:aws:route53:::healthcheck/{health_check_id}")],
            ),
            StepKind::AuroraGlobal {
                global_cluster,
                clusters,
                mode,
                ..
            } => {
                let account = clusters
                    .values()
                    .find_map(|arn| arn.split(':').nth(4).map(str::to_string))
                    .unwrap_or_else(|| "*".into());
                let global = format!("arn:aws:rds::{account}:global-cluster:{global_cluster}");
                add(
                    &format!("{sid}Describe"),
                    vec!["rds:DescribeGlobalClusters"],
                    vec![global.clone()],
                );
                let action = if *mode == AuroraMode::Switchover {
                    "rds:SwitchoverGlobalCluster"
                } else {
                    "rds:FailoverGlobalCluster"
                };
                let mut resources = vec![global];
                resources.extend(clusters.values().cloned());
                add(&sid, vec![action], resources);
            }
            StepKind::Route53Signal {} | StepKind::Http { .. } | StepKind::Exec { .. } => {}
        }
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}
