//! A drill's engine configuration: the scenario defaults (one domain gating every SLO
//! with a dry-run runbook), then the team's config file, then the scenario's own
//! `config:` with its shorthand keys; the step becomes the evaluation interval and the
//! drill runs as the only replica.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use super::yaml_paths::{get, get_mut, merge, set};
use super::{GamedayError, Scenario};
use crate::config::Config;
use crate::window::Window;

impl Scenario {
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
            merge_team_config(&mut merged, path)?;
            base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        }
        let (own, default_slos) = self.own_config();
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
            set_interval(m, step);
        }
        set_standby(m, &regions, &first);
        let notes = single_replica(m);
        fill_domains(m, default_slos.as_ref())?;
        let file = scenario_file.join("config");
        let mut config = crate::config::from_value(&file, merged, &base_dir)?;
        config.warnings.extend(notes);
        Ok(config)
    }

    /// The scenario's own `config:` with its shorthand keys placed (`active`, `policy`),
    /// and the default domain's `slos` (the shorthand `slos`) apart.
    fn own_config(&self) -> (Mapping, Option<Value>) {
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
        (own, default_slos)
    }
}

/// The team's config file (`gameday --config`) merged over `merged`; its `server`
/// section is irrelevant to a drill and dropped.
fn merge_team_config(merged: &mut Value, path: &Path) -> Result<(), GamedayError> {
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
    merge(merged, v);
    Ok(())
}

/// The scenario's step as the evaluation interval, with a lookback of at least one step.
fn set_interval(m: &mut Mapping, step: i64) {
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

/// Unless configured, every traffic region but the active one is a standby.
fn set_standby(m: &mut Mapping, regions: &[String], first: &str) {
    let active = get(m, &["regions", "active"])
        .and_then(Value::as_str)
        .unwrap_or(first)
        .to_string();
    if get(m, &["regions", "standby"]).is_none() {
        let standby: Vec<Value> = regions
            .iter()
            .filter(|r| **r != active)
            .map(|r| Value::from(r.as_str()))
            .collect();
        set(m, &["regions", "standby"], Value::Sequence(standby));
    }
}

/// No peers and a quorum of 1; the notes for the report when that changed the config.
fn single_replica(m: &mut Mapping) -> Vec<String> {
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
    notes
}

/// Every domain without a runbook gets the default one; the default `gameday` domain
/// gates the scenario's `slos` shorthand when given.
fn fill_domains(m: &mut Mapping, default_slos: Option<&Value>) -> Result<(), GamedayError> {
    if let Some(Value::Sequence(domains)) = get_mut(m, &["failover", "domains"]) {
        for d in domains.iter_mut().filter_map(Value::as_mapping_mut) {
            if !d.contains_key("runbook") {
                d.insert("runbook".into(), default_runbook()?);
            }
            if d.get("name").and_then(Value::as_str) == Some("gameday") {
                if let Some(slos) = default_slos {
                    d.insert("slos".into(), slos.clone());
                }
            }
        }
    }
    Ok(())
}

/// The query of a precondition the scenario defaults define (a scenario that writes its
/// own domains names its own queries; the simulated world answers those the same way).
pub fn precondition_query(name: &str) -> String {
    format!("sloguard_gameday_precondition{{name=\"{name}\"}}")
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
