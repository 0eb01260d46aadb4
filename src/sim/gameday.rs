//! GameDays: a scenario of simulated multi-region traffic and faults drives the real
//! engine (backfill, steady-state steps, streaming core), the real policy and the real
//! actuator (dry-run steps, journal tagged chaos) in simulated time, then checks the
//! scenario's expectations. [`SimSource`] answers the engine's queries from the scenario
//! and injects monitoring faults (source down, partial data, no data).

use std::collections::BTreeMap;
use std::path::PathBuf;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::config::{DomainConfig, EvaluationConfig, FailoverConfig, RegionsConfig};
use crate::engine::Engine;
use crate::failover::FailoverDriver;
use crate::policy::{Action, Mode, PolicyConfig};
use crate::query::{MetricsSource, QueryError, QueryResult, Series};
use crate::slo::{RegionalSli, Service};
use crate::window::Window;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub duration: String,
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub specs: Option<PathBuf>,
    #[serde(default)]
    pub config: ScenarioConfig,
    /// Per region, in the file's order (the first region is active unless configured).
    pub traffic: serde_yaml_ng::Mapping,
    #[serde(default)]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioConfig {
    #[serde(default)]
    pub policy: Option<PolicyOverrides>,
    #[serde(default)]
    pub active: Option<String>,
    /// Precondition name → value at the start (true when absent).
    #[serde(default)]
    pub preconditions: BTreeMap<String, bool>,
    /// Gating SLOs (`service/slo`); all when empty.
    #[serde(default)]
    pub slos: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverrides {
    #[serde(default)]
    pub consecutive: Option<u32>,
    #[serde(default)]
    pub cooldown: Option<String>,
    #[serde(default)]
    pub mode: Option<Mode>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    pub rps: f64,
    #[serde(default)]
    pub error_ratio: f64,
    /// Only this SLO (`slo` or `service/slo`); all when absent.
    #[serde(default)]
    pub slo: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    Errors {
        #[serde(default)]
        region: Option<String>,
        #[serde(default)]
        slo: Option<String>,
        start: String,
        duration: String,
        error_ratio: f64,
    },
    SourceDown {
        start: String,
        duration: String,
    },
    PartialData {
        start: String,
        duration: String,
    },
    NoData {
        region: String,
        start: String,
        duration: String,
    },
    Precondition {
        name: String,
        start: String,
        duration: String,
        value: bool,
    },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub failover: Option<ExpectFailover>,
    #[serde(default)]
    pub max_failovers: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ExpectFailover {
    None(String),
    Some {
        from: String,
        to: String,
        after: String,
        before: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum GamedayError {
    #[error("scenario: {0}")]
    Scenario(String),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
}

fn secs(field: &str, v: &str) -> Result<i64, GamedayError> {
    if matches!(v.trim(), "0" | "0s" | "0m") {
        return Ok(0);
    }
    Window::parse(v)
        .map(|w| w.secs() as i64)
        .map_err(|e| GamedayError::Scenario(format!("{field}: {e}")))
}

/// An error fault: (region or all, SLO or all, start, end, error ratio).
type ErrorFault = (Option<String>, Option<String>, i64, i64, f64);

/// Fault windows in seconds from the start.
#[derive(Debug, Clone)]
struct Timeline {
    errors: Vec<ErrorFault>,
    down: Vec<(i64, i64)>,
    partial: Vec<(i64, i64)>,
    no_data: Vec<(String, i64, i64)>,
    preconditions: Vec<(String, i64, i64, bool)>,
}

fn active(windows: &[(i64, i64)], t: i64) -> bool {
    windows.iter().any(|(s, e)| t >= *s && t < *e)
}

/// Answers the engine's queries from the scenario at simulated times.
pub struct SimSource {
    start: i64,
    traffic: BTreeMap<String, Traffic>,
    timeline: Timeline,
    /// (template regex, slo key `service/slo`, is error query, region label)
    templates: Vec<(Regex, String, bool, String)>,
    preconditions: BTreeMap<String, bool>,
}

fn slo_matches(filter: &Option<String>, key: &str) -> bool {
    match filter {
        None => true,
        Some(f) => f == key || key.rsplit('/').next() == Some(f.as_str()),
    }
}

impl SimSource {
    /// Mean error ratio of `region`/`slo` over (a, b] (seconds from the start).
    fn error_integral(&self, region: &str, slo: &str, a: i64, b: i64) -> f64 {
        let base = self
            .traffic
            .get(region)
            .filter(|t| slo_matches(&t.slo, slo))
            .map_or(0.0, |t| t.error_ratio);
        let mut total = base * (b - a) as f64;
        for (r, s, fs, fe, ratio) in &self.timeline.errors {
            if r.as_deref().is_some_and(|r| r != region) || !slo_matches(s, slo) {
                continue;
            }
            let overlap = (b.min(*fe) - a.max(*fs)).max(0) as f64;
            total += overlap * (ratio - base);
        }
        total / (b - a).max(1) as f64
    }

    fn value(&self, slo: &str, error: bool, region: &str, t: i64, window: i64) -> Option<f64> {
        let rel = t - self.start;
        if self
            .timeline
            .no_data
            .iter()
            .any(|(r, s, e)| r == region && rel >= *s && rel < *e)
        {
            return None;
        }
        let traffic = self.traffic.get(region)?;
        let rps = traffic.rps;
        Some(if error {
            rps * self.error_integral(region, slo, rel - window, rel)
        } else {
            rps
        })
    }

    fn answer(&self, query: &str, times: &[i64]) -> Result<QueryResult, QueryError> {
        let rel = times.last().copied().unwrap_or(self.start) - self.start;
        if active(&self.timeline.down, rel) {
            return Err(QueryError::Connect {
                url: "sim://thanos".into(),
                message: "connection refused (GameDay: source down)".into(),
            });
        }
        let mut out = QueryResult::default();
        if active(&self.timeline.partial, rel) {
            out.degraded = true;
            out.warnings
                .push("partial response: a store is unreachable (GameDay)".into());
        }
        if let Some(name) = self
            .preconditions
            .keys()
            .find(|n| query == precondition_query(n))
        {
            let mut v = self.preconditions[name];
            for (n, s, e, val) in &self.timeline.preconditions {
                if n == name && rel >= *s && rel < *e {
                    v = *val;
                }
            }
            out.series.push(Series {
                labels: BTreeMap::new(),
                points: vec![(times[0], if v { 1.0 } else { 0.0 })],
            });
            return Ok(out);
        }
        let Some((re, slo, error, region_label)) =
            self.templates.iter().find(|(re, ..)| re.is_match(query))
        else {
            return Ok(out);
        };
        let window = re
            .captures(query)
            .and_then(|c| c.get(1))
            .and_then(|m| Window::parse(m.as_str()).ok())
            .map_or(60, |w| w.secs() as i64);
        for region in self.traffic.keys() {
            let points: Vec<(i64, f64)> = times
                .iter()
                .filter_map(|t| self.value(slo, *error, region, *t, window).map(|v| (*t, v)))
                .collect();
            if !points.is_empty() {
                out.series.push(Series {
                    labels: [(region_label.clone(), region.clone())].into(),
                    points,
                });
            }
        }
        Ok(out)
    }
}

fn precondition_query(name: &str) -> String {
    format!("sloguard_gameday_precondition{{name=\"{name}\"}}")
}

impl MetricsSource for SimSource {
    async fn instant(
        &self,
        query: &str,
        at: i64,
        _decision: bool,
    ) -> Result<QueryResult, QueryError> {
        self.answer(query, &[at])
    }
    async fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        _decision: bool,
    ) -> Result<QueryResult, QueryError> {
        let times: Vec<i64> = (0..)
            .map(|i| start + i * step)
            .take_while(|t| *t <= end)
            .collect();
        self.answer(query, &times)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FailoverRecord {
    pub at: i64,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertEvent {
    pub at: i64,
    pub service: String,
    pub slo: String,
    pub region: String,
    pub severity: String,
    pub firing: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionEvent {
    pub at: i64,
    pub domain: String,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub service: String,
    pub slo: String,
    pub region: String,
    /// Share of the period's error budget spent during the scenario.
    pub consumed: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub passed: bool,
    pub chaos: bool,
    pub failovers: Vec<FailoverRecord>,
    pub alerts: Vec<AlertEvent>,
    pub actions: Vec<ActionEvent>,
    pub budget: Vec<Budget>,
    pub expectations: Vec<(String, bool, String)>,
    pub simulated_secs: i64,
    pub steps: u64,
}

/// Runs a scenario against `services`; `start` is the simulated unix time of the start.
pub async fn run(
    scenario: &Scenario,
    services: &[Service],
    start: i64,
) -> Result<Report, GamedayError> {
    run_with(scenario, services, start, &RunOptions::default()).await
}

/// How a run is shown while it goes: as fast as possible (GameDays), or paced in
/// accelerated real time with a live dashboard and terminal timeline (`demo`).
#[derive(Default, Clone)]
pub struct RunOptions {
    /// Real time to wait after each simulated step.
    pub pace: Option<std::time::Duration>,
    /// Publish snapshots, policy state and the journal for the HTTP server.
    pub state: Option<std::sync::Arc<crate::server::AppState>>,
    /// Print alert transitions, decisions and runbook steps as they happen.
    pub timeline: bool,
}

/// [`run`], shown as `opts` says.
pub async fn run_with(
    scenario: &Scenario,
    services: &[Service],
    start: i64,
    opts: &RunOptions,
) -> Result<Report, GamedayError> {
    let duration = secs("duration", &scenario.duration)?;
    let step = secs("step", scenario.step.as_deref().unwrap_or("10s"))?;
    let mut tl = Timeline {
        errors: vec![],
        down: vec![],
        partial: vec![],
        no_data: vec![],
        preconditions: vec![],
    };
    for (i, f) in scenario.faults.iter().enumerate() {
        let w = |s: &str, d: &str| -> Result<(i64, i64), GamedayError> {
            let s = secs(&format!("faults[{i}].start"), s)?;
            Ok((s, s + secs(&format!("faults[{i}].duration"), d)?))
        };
        match f {
            Fault::Errors {
                region,
                slo,
                start,
                duration,
                error_ratio,
            } => {
                let (s, e) = w(start, duration)?;
                tl.errors
                    .push((region.clone(), slo.clone(), s, e, *error_ratio));
            }
            Fault::SourceDown { start, duration } => tl.down.push(w(start, duration)?),
            Fault::PartialData { start, duration } => tl.partial.push(w(start, duration)?),
            Fault::NoData {
                region,
                start,
                duration,
            } => {
                let (s, e) = w(start, duration)?;
                tl.no_data.push((region.clone(), s, e));
            }
            Fault::Precondition {
                name,
                start,
                duration,
                value,
            } => {
                let (s, e) = w(start, duration)?;
                tl.preconditions.push((name.clone(), s, e, *value));
            }
        }
    }
    let mut regions: Vec<String> = Vec::new();
    let mut traffic: BTreeMap<String, Traffic> = BTreeMap::new();
    for (k, v) in &scenario.traffic {
        let name = k
            .as_str()
            .ok_or_else(|| GamedayError::Scenario("traffic: region names must be strings".into()))?
            .to_string();
        let t: Traffic = serde_yaml_ng::from_value(v.clone())
            .map_err(|e| GamedayError::Scenario(format!("traffic.{name}: {e}")))?;
        regions.push(name.clone());
        traffic.insert(name, t);
    }
    let active_region = scenario
        .config
        .active
        .clone()
        .or_else(|| regions.first().cloned())
        .ok_or_else(|| GamedayError::Scenario("traffic: no region".into()))?;
    let standby: Vec<String> = regions
        .iter()
        .filter(|r| **r != active_region)
        .cloned()
        .collect();
    let mut templates = Vec::new();
    for s in services {
        for slo in &s.slos {
            let key = format!("{}/{}", s.name, slo.name);
            let mut add = |t: &crate::promql::SliTemplate, error: bool| {
                let pattern = regex::escape(t.as_template()).replace(
                    &regex::escape(crate::promql::WINDOW_PLACEHOLDER),
                    "([0-9a-z]+)",
                );
                if let Ok(re) = Regex::new(&format!("^{pattern}$")) {
                    templates.push((re, key.clone(), error, s.region_label.clone()));
                }
            };
            match &slo.regional {
                RegionalSli::Events { error, total } => {
                    add(error, true);
                    add(total, false);
                }
                RegionalSli::Ratio { error_ratio } => add(error_ratio, true),
            }
        }
    }
    let mut preconditions = scenario.config.preconditions.clone();
    for (n, ..) in &tl.preconditions {
        preconditions.entry(n.clone()).or_insert(true);
    }
    let source = SimSource {
        start,
        traffic,
        timeline: tl,
        templates,
        preconditions: preconditions.clone(),
    };
    let eval = EvaluationConfig {
        interval: Window::from_secs(step as u64),
        lookback: Window::from_secs(step.max(60) as u64),
        fine_step: Window::minutes(1),
        buckets: crate::burn::DEFAULT_K,
        lateness: Window::minutes(5),
    };
    let regions_cfg = RegionsConfig {
        label: "region".into(),
        active: Some(active_region.clone()),
        standby: standby.clone(),
    };
    let mut engine = Engine::new(source, services, eval, regions_cfg.clone())?;
    let overrides = scenario.config.policy.clone().unwrap_or_default();
    let policy = PolicyConfig {
        mode: match overrides.mode.unwrap_or(Mode::DryRun) {
            Mode::Approve => Mode::Approve,
            _ => Mode::DryRun,
        },
        consecutive: overrides.consecutive.unwrap_or(2),
        cooldown: overrides
            .cooldown
            .as_deref()
            .map(|c| secs("config.policy.cooldown", c))
            .transpose()?
            .unwrap_or(3600),
        quorum: 1,
    };
    let runbook: Vec<serde_yaml_ng::Value> = serde_yaml_ng::from_str(
        "- {name: page-oncall, kind: sns, topic_arn: 'arn:aws:sns:us-east-1:000000000000:gameday'}\n- {name: shift-traffic, kind: route53_signal}\n",
    )
    .map_err(|e| GamedayError::Scenario(e.to_string()))?;
    let fo = FailoverConfig {
        journal: PathBuf::from(":memory:"),
        replica: "gameday".into(),
        peers: vec![],
        policy,
        aws_region: "us-east-1".into(),
        domains: vec![DomainConfig {
            name: "gameday".into(),
            slos: scenario.config.slos.clone(),
            preconditions: preconditions
                .keys()
                .map(|n| (n.clone(), precondition_query(n)))
                .collect(),
            runbook: crate::actuator::parse_steps(&runbook, &regions)
                .map_err(|e| GamedayError::Scenario(e.join("; ")))?,
            route53: None,
        }],
    };
    let mut driver = FailoverDriver::new(
        fo,
        &regions_cfg,
        crate::journal::Journal::in_memory()?,
        crate::actuator::Backends::default(),
        true,
    )?;
    engine.backfill(start, |_, _| {}).await;
    engine.evaluate_now();
    if let Some(state) = &opts.state {
        if let Ok(mut j) = state.journal.write() {
            *j = Some(driver.journal());
        }
        state.publish_with_history(engine.snapshot());
        state.set_policy(driver.states());
        state
            .ready
            .store(true, std::sync::atomic::Ordering::Release);
        state
            .chaos
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let hhmm = |rel: i64| format!("{:>2}h{:02}m{:02}s", rel / 3600, rel % 3600 / 60, rel % 60);
    let mut report = Report {
        scenario: scenario.name.clone(),
        passed: true,
        chaos: true,
        failovers: vec![],
        alerts: vec![],
        actions: vec![],
        budget: vec![],
        expectations: vec![],
        simulated_secs: duration,
        steps: 0,
    };
    let mut t = start;
    while t < start + duration {
        t += step;
        report.steps += 1;
        let transitions = engine.step(t).await;
        for (s, tr) in transitions {
            if let Some(k) = engine.streams().key(s) {
                if opts.timeline && tr.severity == crate::slo::Severity::Page {
                    println!(
                        "{} page {} {}/{} in {}",
                        hhmm(t - start),
                        if tr.firing { "FIRING  " } else { "resolved" },
                        k.service,
                        k.slo,
                        k.region
                    );
                }
                report.alerts.push(AlertEvent {
                    at: t - start,
                    service: k.service.clone(),
                    slo: k.slo.clone(),
                    region: k.region.clone(),
                    severity: tr.severity.as_str().into(),
                    firing: tr.firing,
                });
            }
        }
        let snap = engine.snapshot();
        let mut pre = BTreeMap::new();
        let mut m = BTreeMap::new();
        for name in preconditions.keys() {
            m.insert(
                name.clone(),
                engine.precondition(&precondition_query(name), t).await,
            );
        }
        pre.insert("gameday".to_string(), m);
        let ev = crate::failover::evaluation_for(
            &driver_domain(&scenario.config.slos),
            &regions,
            &snap,
            pre["gameday"].clone(),
        );
        let actions = driver.input(0, crate::policy::Input::Evaluation(ev), t);
        if opts.timeline {
            for a in &actions {
                match a {
                    Action::StartFailover {
                        from, to, reason, ..
                    } => println!(
                        "{} DECISION fail over {from} -> {to}: {reason}",
                        hhmm(t - start)
                    ),
                    Action::Blocked { reason } => println!("{} blocked: {reason}", hhmm(t - start)),
                    Action::Notify { message } => println!("{} notice: {message}", hhmm(t - start)),
                    Action::RequestApproval { to, .. } => {
                        println!("{} awaiting approval to fail over to {to}", hhmm(t - start))
                    }
                    Action::Vote { .. } => {}
                }
            }
        }
        for a in &actions {
            if let Action::StartFailover { from, to, .. } = a {
                report.failovers.push(FailoverRecord {
                    at: t - start,
                    from: from.clone(),
                    to: to.clone(),
                });
                // Dry-run steps finish at once; feed the result back before the next step.
                if let Some((di, incident, ok)) = driver.next_finished().await {
                    if opts.timeline {
                        let rows = driver
                            .journal()
                            .lock()
                            .ok()
                            .and_then(|j| j.incidents(1).ok())
                            .unwrap_or_default();
                        for st in rows.iter().flat_map(|i| i.steps.iter()) {
                            println!(
                                "{} runbook step {} [{}]: {}",
                                hhmm(t - start),
                                st.name,
                                st.status,
                                st.detail
                            );
                        }
                    }
                    let more = driver.input(
                        di,
                        crate::policy::Input::RunbookFinished { incident, ok },
                        t,
                    );
                    report
                        .actions
                        .extend(more.into_iter().map(|action| ActionEvent {
                            at: t - start,
                            domain: "gameday".into(),
                            action,
                        }));
                }
            }
        }
        report
            .actions
            .extend(actions.into_iter().map(|action| ActionEvent {
                at: t - start,
                domain: "gameday".into(),
                action,
            }));
        if opts.timeline && (t - start) % 600 == 0 {
            let burn = |region: &str, window: &str| {
                snap.final_rows
                    .iter()
                    .filter(|r| r.region == region && r.window == window)
                    .filter_map(|r| r.burn_rate)
                    .fold(0.0f64, f64::max)
            };
            let line: Vec<String> = regions
                .iter()
                .map(|r| format!("{r} burn 5m x{:.1} 1h x{:.1}", burn(r, "5m"), burn(r, "1h")))
                .collect();
            println!("{} {}", hhmm(t - start), line.join(" | "));
        }
        if let Some(state) = &opts.state {
            state.publish_with_history(snap);
            state.set_policy(driver.states());
        }
        if let Some(p) = opts.pace {
            tokio::time::sleep(p).await;
        }
    }
    for s in services {
        for slo in &s.slos {
            for r in &regions {
                let errors = engine.streams().find_slo(&s.name, &slo.name, r);
                // Bad events over the period window against what the budget allows for
                // its events (the period window holds the backfilled baseline too).
                let consumed = errors.map_or(0.0, |ev| {
                    ev.bad as f64 / (slo.error_budget() * ev.total.max(1) as f64)
                });
                report.budget.push(Budget {
                    service: s.name.clone(),
                    slo: slo.name.clone(),
                    region: r.clone(),
                    consumed,
                });
            }
        }
    }
    check(scenario, &mut report)?;
    Ok(report)
}

fn driver_domain(slos: &[String]) -> DomainConfig {
    DomainConfig {
        name: "gameday".into(),
        slos: slos.to_vec(),
        preconditions: vec![],
        runbook: vec![],
        route53: None,
    }
}

fn check(s: &Scenario, r: &mut Report) -> Result<(), GamedayError> {
    match &s.expect.failover {
        Some(ExpectFailover::None(word)) if word == "none" => {
            let ok = r.failovers.is_empty();
            r.expectations.push((
                "failover: none".into(),
                ok,
                format!("{} failover(s)", r.failovers.len()),
            ));
        }
        Some(ExpectFailover::None(other)) => {
            return Err(GamedayError::Scenario(format!(
                "expect.failover: {other:?} must be `none` or {{from, to, after, before}}"
            )))
        }
        Some(ExpectFailover::Some {
            from,
            to,
            after,
            before,
        }) => {
            let (a, b) = (
                secs("expect.failover.after", after)?,
                secs("expect.failover.before", before)?,
            );
            let hit = r.failovers.iter().find(|f| &f.from == from && &f.to == to);
            let ok = hit.is_some_and(|f| f.at >= a && f.at <= b);
            let detail = match hit {
                Some(f) => format!("{from} -> {to} at {}s (window {a}s..{b}s)", f.at),
                None => format!("no failover {from} -> {to}"),
            };
            r.expectations.push((
                format!("failover {from} -> {to} between {after} and {before}"),
                ok,
                detail,
            ));
        }
        None => {}
    }
    if let Some(max) = s.expect.max_failovers {
        let ok = r.failovers.len() <= max;
        r.expectations.push((
            format!("at most {max} failover(s)"),
            ok,
            format!("{} failover(s)", r.failovers.len()),
        ));
    }
    r.passed = r.expectations.iter().all(|e| e.1);
    Ok(())
}
