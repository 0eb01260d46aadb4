//! A runbook step as configured: the settings every step shares (name, timeout, retries,
//! backoff, `on_failure`) around one kind's [`Step`]. `parse_steps` reads `runbook:`
//! entries in two stages — shape (serde, per kind) then meaning (each kind's `validate`)
//! — and reports every problem as `runbook[i].field: message`. `describe` and
//! `iam_policy` are the views of a runbook that need no AWS client.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::step::Step;
use super::{steps, Incident};
use crate::window::Window;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    #[default]
    Abort,
    Continue,
}

/// One configured runbook step.
#[derive(Clone)]
pub struct StepSpec {
    pub name: String,
    /// What the step does: its kind and that kind's settings.
    pub step: Arc<dyn Step>,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    pub on_failure: OnFailure,
}

impl StepSpec {
    /// The `kind:` string of the step.
    pub fn kind(&self) -> &'static str {
        self.step.kind()
    }

    /// Whether the step calls AWS (the process then builds the SDK clients).
    pub fn needs_aws(&self) -> bool {
        self.step.needs_aws()
    }
}

impl std::fmt::Debug for StepSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepSpec")
            .field("name", &self.name)
            .field("step", &self.step)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("on_failure", &self.on_failure)
            .finish()
    }
}

/// Two steps are equal when their shared settings, kind and kind settings (after
/// defaults) are: what a config reload needs to tell a changed runbook.
impl PartialEq for StepSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.timeout == other.timeout
            && self.retries == other.retries
            && self.backoff == other.backoff
            && self.on_failure == other.on_failure
            && self.step.kind() == other.step.kind()
            && self.step.config() == other.step.config()
    }
}

/// Parses `runbook:` entries, reporting every problem as `runbook[i].field: message`.
/// Step names (given, or `<kind>-<i>` by default) are unique within a runbook: the
/// journal, playbooks and reports name steps by them.
pub fn parse_steps(
    values: &[serde_yaml_ng::Value],
    regions: &[String],
) -> Result<Vec<StepSpec>, Vec<String>> {
    let mut out: Vec<StepSpec> = Vec::new();
    // The `runbook[i]` index of each step in `out` (steps with problems are left out).
    let mut at_index: Vec<usize> = Vec::new();
    let mut problems = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let at = format!("runbook[{i}]");
        let Some(map) = v.as_mapping() else {
            problems.push(format!("{at}: a step must be a mapping"));
            continue;
        };
        // The shared keys are taken out; what remains is the kind's own config.
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
            .map_or(Some(2), |v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
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
        let kind = match take("kind") {
            None => {
                problems.push(format!("{at}: missing field `kind`"));
                continue;
            }
            Some(serde_yaml_ng::Value::String(k)) => k,
            Some(_) => {
                problems.push(format!(
                    "{at}.kind: must be one of {}",
                    steps::valid_kinds()
                ));
                continue;
            }
        };
        let step = match steps::build(&kind, serde_yaml_ng::Value::Mapping(rest)) {
            Ok(step) => step,
            Err(e) => {
                problems.push(format!("{at}: {e}"));
                continue;
            }
        };
        problems.extend(step.validate(&at, regions));
        if let Some(n) = &name {
            if let Some(why) = bad_name(n) {
                problems.push(format!("{at}.name: {n:?} {why}"));
            }
        }
        let name = name.unwrap_or_else(|| format!("{}-{i}", step.kind()));
        if let Some(j) = out.iter().position(|s| s.name == name) {
            problems.push(format!(
                "{at}.name: duplicate step name {name:?} (also runbook[{}])",
                at_index[j]
            ));
        }
        at_index.push(i);
        out.push(StepSpec {
            name,
            step,
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

/// The exact call a step would make, for dry runs and the journal (no secrets).
pub fn describe(step: &StepSpec, inc: &Incident) -> String {
    step.step.describe(inc)
}

/// The least-privilege IAM policy for exactly the configured steps (AWS steps only).
pub fn iam_policy(steps: &[&StepSpec]) -> serde_json::Value {
    let mut statements = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let sid = format!("Step{i}{}", s.kind().replace('_', ""));
        for st in s.step.iam_statements() {
            statements.push(serde_json::json!({
                "Sid": format!("{sid}{}", st.sid_suffix),
                "Effect": "Allow",
                "Action": st.actions,
                "Resource": st.resources,
            }));
        }
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}

/// Why `name` (a step's) cannot be shown in playbooks, reports and the dashboard as it
/// is: empty, over 128 characters, or holding control characters or backticks.
fn bad_name(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("must not be empty")
    } else if name.chars().count() > 128 {
        Some("is longer than 128 characters")
    } else if name.chars().any(|c| c.is_control() || c == '`' || c == '|') {
        Some("must not hold control characters, '`' or '|'")
    } else {
        None
    }
}
