//! The scenario file's model and parsing: its name, duration and step, the config it
//! merges over the drill defaults, per-region traffic, the faults to inject and the
//! expectations to check; plus the duration syntax every field uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::ConfigError;
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
    pub(super) fn step_secs(&self, fallback: i64) -> Result<i64, GamedayError> {
        match &self.step {
            Some(s) => secs("step", s),
            None => Ok(fallback),
        }
    }

    /// Initial values of simulated preconditions (`config.preconditions`), true when absent.
    pub(super) fn precondition_values(&self) -> Result<BTreeMap<String, bool>, GamedayError> {
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
}
