//! GameDays: a scenario of simulated multi-region traffic and faults drives the real
//! engine (backfill, steady-state steps, streaming core), the real policy and the real
//! actuator (dry-run steps, journal tagged chaos) in simulated time, then checks the
//! scenario's expectations. [`SimSource`] answers the engine's queries from the scenario
//! and injects monitoring faults (source down, partial data, no data).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

use serde_yaml_ng::{Mapping, Value};

use crate::config::{Config, ConfigError};
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
    /// The engine config file's own shape (`regions`, `evaluation`, `failover`), merged
    /// over the scenario defaults; shorthand keys `active`, `slos` and `policy` stand for
    /// `regions.active`, the default domain's `slos` and `failover.policy`, and
    /// `preconditions` gives each precondition's simulated value at the start.
    #[serde(default)]
    pub config: serde_yaml_ng::Mapping,
    /// Per region, in the file's order (the first region is active unless configured).
    pub traffic: serde_yaml_ng::Mapping,
    #[serde(default)]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub expect: Expect,
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
    /// Telemetry of the region lost; the region itself is fine and its probes pass.
    NoData {
        region: String,
        start: String,
        duration: String,
    },
    /// The whole region goes down: its traffic fails, its telemetry vanishes with it
    /// (its own SLIs read no data) and its probes fail. External-vantage SLOs still
    /// answer, and see the failures.
    RegionDown {
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

impl Fault {
    /// One line for people: what is injected, where, when and for how long.
    pub fn describe(&self) -> String {
        match self {
            Fault::Errors {
                region,
                slo,
                start,
                duration,
                error_ratio,
            } => format!(
                "errors {}% in {}{} at {start} for {duration}",
                crate::slo::decimal(error_ratio * 100.0),
                region.as_deref().unwrap_or("every region"),
                slo.as_ref().map(|s| format!(" ({s})")).unwrap_or_default()
            ),
            Fault::SourceDown { start, duration } => {
                format!("query source down at {start} for {duration}")
            }
            Fault::PartialData { start, duration } => {
                format!("partial data at {start} for {duration}")
            }
            Fault::NoData {
                region,
                start,
                duration,
            } => format!("{region} telemetry lost at {start} for {duration}"),
            Fault::RegionDown {
                region,
                start,
                duration,
            } => format!("{region} down at {start} for {duration}"),
            Fault::Precondition {
                name,
                start,
                duration,
                value,
            } => format!("precondition {name} = {value} at {start} for {duration}"),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub failover: Option<ExpectFailover>,
    #[serde(default)]
    pub max_failovers: Option<usize>,
    /// Policy notices whose message contains `contains`, exactly `count` of them.
    #[serde(default)]
    pub notices: Vec<ExpectNotices>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectNotices {
    pub contains: String,
    pub count: usize,
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
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A scenario duration in seconds (`0`, `0s` and `0m` are zero).
pub fn secs(field: &str, v: &str) -> Result<i64, GamedayError> {
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
    region_down: Vec<(String, i64, i64)>,
    preconditions: Vec<(String, i64, i64, bool)>,
}

impl Timeline {
    /// Whether `region` is down at `rel` seconds from the start.
    fn down_at(&self, region: &str, rel: i64) -> bool {
        self.region_down
            .iter()
            .any(|(r, s, e)| r == region && rel >= *s && rel < *e)
    }
}

fn active(windows: &[(i64, i64)], t: i64) -> bool {
    windows.iter().any(|(s, e)| t >= *s && t < *e)
}

/// Answers the engine's queries from the scenario at simulated times.
#[derive(Clone)]
pub struct SimSource {
    start: i64,
    traffic: BTreeMap<String, Traffic>,
    timeline: Timeline,
    /// (template regex, slo key `service/slo`, is error query, region label, external vantage)
    templates: Vec<(Regex, String, bool, String, bool)>,
    /// Precondition query → (name, value at the start); faults change values by name.
    preconditions: BTreeMap<String, (String, bool)>,
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

    fn value(
        &self,
        slo: &str,
        error: bool,
        external: bool,
        region: &str,
        t: i64,
        window: i64,
    ) -> Option<f64> {
        let rel = t - self.start;
        let down = self.timeline.down_at(region, rel);
        if !external
            && (down
                || self
                    .timeline
                    .no_data
                    .iter()
                    .any(|(r, s, e)| r == region && rel >= *s && rel < *e))
        {
            return None;
        }
        let traffic = self.traffic.get(region)?;
        let rps = traffic.rps;
        Some(if error {
            // Only an outside vantage saw the requests fail: the region's own telemetry
            // went down with it and holds no record of them.
            let failing: f64 = self
                .timeline
                .region_down
                .iter()
                .filter(|(r, ..)| external && r == region)
                .map(|(_, s, e)| ((rel).min(*e) - (rel - window).max(*s)).max(0) as f64)
                .sum::<f64>()
                / window.max(1) as f64;
            let base = self.error_integral(region, slo, rel - window, rel);
            rps * (failing + (1.0 - failing.min(1.0)) * base).min(1.0)
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
        if let Some((name, initial)) = self.preconditions.get(query) {
            let mut v = *initial;
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
        let Some((re, slo, error, region_label, external)) =
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
                .filter_map(|t| {
                    self.value(slo, *error, *external, region, *t, window)
                        .map(|v| (*t, v))
                })
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

/// The query of a precondition the scenario defaults define (a scenario that writes its
/// own domains names its own queries; the simulated world answers those the same way).
pub fn precondition_query(name: &str) -> String {
    format!("sloguard_gameday_precondition{{name=\"{name}\"}}")
}

impl MetricsSource for SimSource {
    /// The simulated world answers the specs' own queries (matched by their text), not
    /// batched ones.
    fn batches(&self) -> bool {
        false
    }

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

/// The longest scenario a drill accepts: longer would take minutes of wall time and
/// simulate past every window the engine keeps.
const MAX_DURATION: i64 = 400 * 86_400;

impl Scenario {
    /// Reads and parses a scenario file (unknown keys are refused, naming the key).
    pub fn load(path: &Path) -> Result<Scenario, GamedayError> {
        let text = std::fs::read_to_string(path).map_err(|source| GamedayError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&path.display().to_string(), &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Scenario, GamedayError> {
        serde_yaml_ng::from_str(text).map_err(|e| GamedayError::Parse {
            file: file.to_string(),
            message: e.to_string(),
        })
    }

    /// Traffic regions in the file's order.
    pub fn regions(&self) -> Result<Vec<String>, GamedayError> {
        self.traffic
            .keys()
            .map(|k| {
                k.as_str().map(str::to_string).ok_or_else(|| {
                    GamedayError::Scenario("traffic: region names must be strings".into())
                })
            })
            .collect()
    }

    /// The scenario's step in seconds (`step:`, else `fallback`).
    fn step_secs(&self, fallback: i64) -> Result<i64, GamedayError> {
        match &self.step {
            Some(s) => secs("step", s),
            None => Ok(fallback),
        }
    }

    /// Initial values of simulated preconditions (`config.preconditions`), true when absent.
    fn precondition_values(&self) -> Result<BTreeMap<String, bool>, GamedayError> {
        let mut out: BTreeMap<String, bool> = match self.config.get("preconditions") {
            Some(v) => serde_yaml_ng::from_value(v.clone()).map_err(|e| {
                GamedayError::Scenario(format!(
                    "config.preconditions: {e} (a map of name: true|false)"
                ))
            })?,
            None => BTreeMap::new(),
        };
        for f in &self.faults {
            if let Fault::Precondition { name, .. } = f {
                out.entry(name.clone()).or_insert(true);
            }
        }
        Ok(out)
    }

    /// The engine configuration of this drill: scenario defaults, then the team's config
    /// file when given (`gameday --config`; its `server` section is irrelevant to a drill
    /// and dropped), then the scenario's own `config:`. A drill has no peers, so quorum
    /// is 1; its journal is in memory and its steps run on dry-run backends (the app
    /// layer's part).
    pub fn engine_config(
        &self,
        scenario_file: &Path,
        team: Option<&Path>,
    ) -> Result<Config, GamedayError> {
        let regions = self.regions()?;
        let first = regions
            .first()
            .cloned()
            .ok_or_else(|| GamedayError::Scenario("traffic: no region".into()))?;
        let pre = self.precondition_values()?;
        let mut merged = defaults(&first, &pre)?;
        let mut base_dir = scenario_file
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        if let Some(path) = team {
            let text = std::fs::read_to_string(path).map_err(|source| GamedayError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let mut v: Value = serde_yaml_ng::from_str(&text).map_err(|e| GamedayError::Parse {
                file: path.display().to_string(),
                message: e.to_string(),
            })?;
            if let Some(m) = v.as_mapping_mut() {
                m.remove("server");
            }
            merge(&mut merged, v);
            base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        }
        let mut own = Mapping::new();
        let mut default_slos = None;
        for (k, v) in &self.config {
            match k.as_str() {
                Some("active") => set(&mut own, &["regions", "active"], v.clone()),
                Some("policy") => set(&mut own, &["failover", "policy"], v.clone()),
                Some("slos") => default_slos = Some(v.clone()),
                Some("preconditions") => {}
                _ => {
                    own.insert(k.clone(), v.clone());
                }
            }
        }
        merge(&mut merged, Value::Mapping(own));
        let step = self.step_secs(0)?;
        if self.step.is_some() && step <= 0 {
            return Err(GamedayError::Scenario(
                "step: must be more than 0 (it is the evaluation interval)".into(),
            ));
        }
        let m = merged
            .as_mapping_mut()
            .ok_or_else(|| GamedayError::Scenario("config: must be a mapping".into()))?;
        if step > 0 {
            set(
                m,
                &["evaluation", "interval"],
                Value::from(format!("{step}s")),
            );
            let lookback = get(m, &["evaluation", "lookback"])
                .and_then(Value::as_str)
                .and_then(|l| Window::parse(l).ok())
                .map_or(0, |w| w.secs() as i64);
            if lookback < step {
                set(
                    m,
                    &["evaluation", "lookback"],
                    Value::from(format!("{}s", step.max(60))),
                );
            }
        }
        let active = get(m, &["regions", "active"])
            .and_then(Value::as_str)
            .unwrap_or(&first)
            .to_string();
        if get(m, &["regions", "standby"]).is_none() {
            let standby: Vec<Value> = regions
                .iter()
                .filter(|r| **r != active)
                .map(|r| Value::from(r.as_str()))
                .collect();
            set(m, &["regions", "standby"], Value::Sequence(standby));
        }
        // A drill has no other replicas to ask: said in the report, not silently.
        let mut notes = Vec::new();
        let peers = get(m, &["failover", "peers"])
            .and_then(Value::as_sequence)
            .map_or(0, Vec::len);
        let quorum = get(m, &["failover", "policy", "quorum"])
            .and_then(Value::as_u64)
            .unwrap_or(1);
        if peers > 0 || quorum > 1 {
            notes.push(format!(
                "drill: failover.policy.quorum {quorum} -> 1 and {peers} peer(s) dropped: a drill has no other replicas to vote"
            ));
        }
        set(m, &["failover", "peers"], Value::Sequence(vec![]));
        set(m, &["failover", "policy", "quorum"], Value::from(1));
        if let Some(Value::Sequence(domains)) = get_mut(m, &["failover", "domains"]) {
            for d in domains.iter_mut().filter_map(Value::as_mapping_mut) {
                if !d.contains_key("runbook") {
                    d.insert("runbook".into(), default_runbook()?);
                }
                if d.get("name").and_then(Value::as_str) == Some("gameday") {
                    if let Some(slos) = &default_slos {
                        d.insert("slos".into(), slos.clone());
                    }
                }
            }
        }
        let file = scenario_file.join("config");
        let mut config = crate::config::from_value(&file, merged, &base_dir)?;
        config.warnings.extend(notes);
        Ok(config)
    }
}

/// What a scenario leaves out: the first traffic region active, one domain gating every
/// SLO with a dry-run runbook (notify, signal), the policy defaults.
fn defaults(active: &str, preconditions: &BTreeMap<String, bool>) -> Result<Value, GamedayError> {
    let pre: Vec<Value> = preconditions
        .keys()
        .map(|n| {
            let mut m = Mapping::new();
            m.insert("name".into(), n.as_str().into());
            m.insert("query".into(), precondition_query(n).into());
            Value::Mapping(m)
        })
        .collect();
    let mut v: Value = serde_yaml_ng::from_str(&format!(
        "source: {{thanos: {{url: 'http://gameday.invalid'}}}}\n\
         regions: {{label: region, active: '{active}'}}\n\
         evaluation: {{interval: 10s, lookback: 1m, fine_step: 1m, lateness: 5m}}\n\
         failover:\n  replica: gameday\n  domains:\n    - {{name: gameday, slos: []}}\n"
    ))
    .map_err(|e| GamedayError::Scenario(format!("defaults: {e}")))?;
    if let Some(Value::Sequence(d)) = v
        .as_mapping_mut()
        .and_then(|m| get_mut(m, &["failover", "domains"]))
    {
        if let Some(m) = d.first_mut().and_then(Value::as_mapping_mut) {
            m.insert("preconditions".into(), Value::Sequence(pre));
        }
    }
    Ok(v)
}

fn default_runbook() -> Result<Value, GamedayError> {
    serde_yaml_ng::from_str(
        "- {name: page-oncall, kind: sns, topic_arn: 'arn:aws:sns:us-east-1:000000000000:gameday'}\n- {name: shift-traffic, kind: route53_signal}\n",
    )
    .map_err(|e| GamedayError::Scenario(format!("defaults: {e}")))
}

/// Mappings merge key by key; anything else (sequences included) is replaced.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn get<'a>(m: &'a Mapping, path: &[&str]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut cur = m;
    for p in parents {
        cur = cur.get(*p)?.as_mapping()?;
    }
    cur.get(*last)
}

fn get_mut<'a>(m: &'a mut Mapping, path: &[&str]) -> Option<&'a mut Value> {
    let (last, parents) = path.split_last()?;
    let mut cur = m;
    for p in parents {
        cur = cur.get_mut(*p)?.as_mapping_mut()?;
    }
    cur.get_mut(*last)
}

fn set(m: &mut Mapping, path: &[&str], v: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = m;
    for p in parents {
        let entry = cur
            .entry((*p).into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if !entry.is_mapping() {
            *entry = Value::Mapping(Mapping::new());
        }
        let Some(next) = entry.as_mapping_mut() else {
            return;
        };
        cur = next;
    }
    cur.insert((*last).into(), v);
}

/// A scenario ready to run: its engine configuration and the simulated world that
/// answers the engine's queries.
pub struct Drill {
    pub name: String,
    /// Simulated unix seconds at the start.
    pub start: i64,
    pub duration: i64,
    pub config: Config,
    pub source: SimSource,
    /// Answers the probes of every region named under `regions.probes`.
    pub probes: std::sync::Arc<SimProbes>,
    /// Traffic regions in the file's order.
    pub regions: Vec<String>,
}

/// The simulated world's answers to region probes: each probed region every probe
/// interval, failing while a `region_down` fault holds (never for `no_data`: the region
/// is fine, only its telemetry is lost).
pub struct SimProbes {
    start: i64,
    /// Region → probe interval (seconds).
    regions: BTreeMap<String, i64>,
    timeline: Timeline,
    taken_until: std::sync::Mutex<i64>,
}

impl SimProbes {
    /// The same probes from the drill's start (each app run takes them afresh).
    pub fn restarted(&self) -> SimProbes {
        SimProbes {
            start: self.start,
            regions: self.regions.clone(),
            timeline: self.timeline.clone(),
            taken_until: std::sync::Mutex::new(self.start),
        }
    }
}

impl crate::probe::ProbeFeed for SimProbes {
    fn take(&self, until: i64) -> Vec<crate::probe::ProbeResult> {
        let Ok(mut from) = self.taken_until.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (region, every) in &self.regions {
            // Probes fire at start + k × interval; those in (from, until].
            let mut k = (*from - self.start).div_euclid(*every) + 1;
            loop {
                let t = self.start + k * every;
                if t > until {
                    break;
                }
                let down = self.timeline.down_at(region, t - self.start);
                out.push(crate::probe::ProbeResult {
                    region: region.clone(),
                    at: t,
                    ok: !down,
                    detail: if down {
                        "connection refused (GameDay: region down)".into()
                    } else {
                        String::new()
                    },
                });
                k += 1;
            }
        }
        *from = (*from).max(until);
        out
    }
}

impl Drill {
    /// Checks the scenario's numbers and builds the simulated world for `services`.
    pub fn new(
        scenario: &Scenario,
        config: Config,
        services: &[Service],
        start: i64,
    ) -> Result<Drill, GamedayError> {
        let duration = secs("duration", &scenario.duration)?;
        let step = config.evaluation.interval.secs() as i64;
        if duration <= 0 || duration > MAX_DURATION {
            return Err(GamedayError::Scenario(format!(
                "duration: {} must be more than 0 and at most 400d",
                scenario.duration
            )));
        }
        if step <= 0 || step > duration {
            return Err(GamedayError::Scenario(format!(
                "step: {step}s must be more than 0 and at most the duration"
            )));
        }
        let mut tl = Timeline {
            errors: vec![],
            down: vec![],
            partial: vec![],
            no_data: vec![],
            region_down: vec![],
            preconditions: vec![],
        };
        let ratio = |field: String, r: f64| -> Result<f64, GamedayError> {
            if (0.0..=1.0).contains(&r) {
                Ok(r)
            } else {
                Err(GamedayError::Scenario(format!(
                    "{field}: {r} must be between 0 and 1"
                )))
            }
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
                    let r = ratio(format!("faults[{i}].error_ratio"), *error_ratio)?;
                    tl.errors.push((region.clone(), slo.clone(), s, e, r));
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
                Fault::RegionDown {
                    region,
                    start,
                    duration,
                } => {
                    let (s, e) = w(start, duration)?;
                    tl.region_down.push((region.clone(), s, e));
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
        let regions = scenario.regions()?;
        let mut traffic: BTreeMap<String, Traffic> = BTreeMap::new();
        for (k, v) in &scenario.traffic {
            let name = k.as_str().unwrap_or_default().to_string();
            let t: Traffic = serde_yaml_ng::from_value(v.clone())
                .map_err(|e| GamedayError::Scenario(format!("traffic.{name}: {e}")))?;
            if !t.rps.is_finite() || t.rps < 0.0 {
                return Err(GamedayError::Scenario(format!(
                    "traffic.{name}.rps: {} must be finite and not negative",
                    t.rps
                )));
            }
            ratio(format!("traffic.{name}.error_ratio"), t.error_ratio)?;
            traffic.insert(name, t);
        }
        let mut templates = Vec::new();
        for s in services {
            for slo in &s.slos {
                let key = format!("{}/{}", s.name, slo.name);
                let external = slo.vantage == crate::slo::Vantage::External;
                let mut add = |t: &crate::promql::SliTemplate, error: bool| {
                    let pattern = regex::escape(t.as_template()).replace(
                        &regex::escape(crate::promql::WINDOW_PLACEHOLDER),
                        "([0-9a-z]+)",
                    );
                    if let Ok(re) = Regex::new(&format!("^{pattern}$")) {
                        templates.push((re, key.clone(), error, s.region_label.clone(), external));
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
        let initial = scenario.precondition_values()?;
        let mut preconditions = BTreeMap::new();
        for d in config.failover.iter().flat_map(|f| f.domains.iter()) {
            for (name, query) in &d.preconditions {
                let v = initial.get(name).copied().unwrap_or(true);
                preconditions.insert(query.clone(), (name.clone(), v));
            }
        }
        let probes = SimProbes {
            start,
            regions: config
                .regions
                .probes
                .iter()
                .map(|(r, p)| (r.clone(), p.interval.secs().max(1) as i64))
                .collect(),
            timeline: tl.clone(),
            taken_until: std::sync::Mutex::new(start),
        };
        Ok(Drill {
            name: scenario.name.clone(),
            start,
            duration,
            source: SimSource {
                start,
                traffic,
                timeline: tl,
                templates,
                preconditions,
            },
            probes: std::sync::Arc::new(probes),
            config,
            regions,
        })
    }

    /// Seconds between evaluations.
    pub fn step(&self) -> i64 {
        self.config.evaluation.interval.secs() as i64
    }
}
