//! Pyrra `pyrra.dev/v1alpha1` `ServiceLevelObjective` objects (ratio and latency
//! indicators) read into `sloguard/v1` specs.
//!
//! Mapping: `metadata.name` is the SLO name; the service is the `pyrra.dev/service`
//! label, else `metadata.namespace`, else the SLO name. `spec.target` (a percent, string
//! or number) is the objective, `spec.window` the period, `spec.description` the
//! description. A `ratio` indicator gives `error_query: sum(rate(<errors>[w]))` and
//! `total_query: sum(rate(<total>[w]))`; a `latency` indicator gives
//! `error_query: (sum(rate(<total>[w])) - sum(rate(<success>[w])))`. Alerts use
//! sloguard's default tiers (Pyrra's multi-window burn rates for a 4w window); the alert
//! name is `spec.alerting.name`, else Pyrra's `ErrorBudgetBurn`; `alerting.disabled`
//! disables both alerts. `grouping` and `bool_gauge` indicators are refused.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_yaml_ng::Value;

use super::openslo::documents;
use super::{get, get_str, AlertingOut, ConvertProblem, DisableOut, SliOut, SloOut, SpecOut};
use crate::promql::WINDOW_PLACEHOLDER;
use crate::slo::SLOGUARD_VERSION;

pub const PYRRA_API_VERSION: &str = "pyrra.dev/v1alpha1";
pub const PYRRA_KIND: &str = "ServiceLevelObjective";
/// Pyrra's default alert name.
pub const PYRRA_ALERT_NAME: &str = "ErrorBudgetBurn";

fn rate(metric: &str) -> String {
    format!("sum(rate({}[{WINDOW_PLACEHOLDER}]))", metric.trim())
}

fn sli(indicator: &Value, errs: &mut Vec<String>) -> Option<SliOut> {
    let metric = |path: &[&str], errs: &mut Vec<String>| {
        let m = get_str(indicator, path);
        if m.is_none() {
            errs.push(format!("spec.indicator.{}: missing", path.join(".")));
        }
        m
    };
    if let Some(r) = indicator.get("ratio") {
        if r.get("grouping").is_some() {
            errs.push(
                "spec.indicator.ratio.grouping: not supported (sloguard groups every SLI by its region label)"
                    .to_string(),
            );
        }
        let e = metric(&["ratio", "errors", "metric"], errs);
        let t = metric(&["ratio", "total", "metric"], errs);
        return Some(SliOut::Events {
            error_query: rate(&e?),
            total_query: rate(&t?),
        });
    }
    if let Some(l) = indicator.get("latency") {
        if l.get("grouping").is_some() {
            errs.push(
                "spec.indicator.latency.grouping: not supported (sloguard groups every SLI by its region label)"
                    .to_string(),
            );
        }
        let s = metric(&["latency", "success", "metric"], errs);
        let t = metric(&["latency", "total", "metric"], errs);
        let (s, t) = (s?, t?);
        return Some(SliOut::Events {
            error_query: format!("({} - {})", rate(&t), rate(&s)),
            total_query: rate(&t),
        });
    }
    errs.push("spec.indicator: only ratio and latency indicators are supported".to_string());
    None
}

/// Reads Pyrra `ServiceLevelObjective` objects into `sloguard/v1` specs, one per
/// service, sorted.
pub fn import(files: &[(PathBuf, String)]) -> Result<Vec<SpecOut>, Vec<ConvertProblem>> {
    let docs = documents(files)?;
    let mut problems = Vec::new();
    let mut specs: BTreeMap<String, SpecOut> = BTreeMap::new();
    for (file, i, d) in &docs {
        let name = get_str(d, &["metadata", "name"]).unwrap_or_default();
        let mut errs = Vec::new();
        let api = get_str(d, &["apiVersion"]).unwrap_or_default();
        let kind = get_str(d, &["kind"]).unwrap_or_default();
        if api != PYRRA_API_VERSION || kind != PYRRA_KIND {
            errs.push(format!(
                "apiVersion/kind: {api:?}/{kind:?} is not supported, expected {PYRRA_API_VERSION:?}/{PYRRA_KIND:?}"
            ));
        }
        let service = get(d, &["metadata", "labels"])
            .and_then(|l| l.get("pyrra.dev/service"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| get_str(d, &["metadata", "namespace"]))
            .unwrap_or_else(|| name.clone());
        let spec = d.get("spec").unwrap_or(&Value::Null);
        let objective = get_str(spec, &["target"]).and_then(|t| t.trim().parse::<f64>().ok());
        if objective.is_none() {
            errs.push(
                "spec.target: missing or not a number (a percent such as \"99.5\")".to_string(),
            );
        }
        let sli = match spec.get("indicator") {
            Some(ind) => sli(ind, &mut errs),
            None => {
                errs.push("spec.indicator: missing".to_string());
                None
            }
        };
        let disabled = get(spec, &["alerting", "disabled"]).and_then(Value::as_bool) == Some(true);
        let alerting = if disabled {
            AlertingOut {
                name: None,
                page_alert: Some(DisableOut { disable: true }),
                ticket_alert: Some(DisableOut { disable: true }),
            }
        } else {
            AlertingOut {
                name: Some(
                    get_str(spec, &["alerting", "name"])
                        .unwrap_or_else(|| PYRRA_ALERT_NAME.to_string()),
                ),
                page_alert: None,
                ticket_alert: None,
            }
        };
        if !errs.is_empty() {
            problems.extend(errs.into_iter().map(|m| ConvertProblem {
                file: file.clone(),
                message: format!("document {i}: SLO {name:?}: {m}"),
            }));
            continue;
        }
        let (Some(objective), Some(sli)) = (objective, sli) else {
            continue;
        };
        specs
            .entry(service.clone())
            .or_insert_with(|| SpecOut {
                version: SLOGUARD_VERSION.to_string(),
                service,
                labels: Default::default(),
                region_label: None,
                slos: Vec::new(),
            })
            .slos
            .push(SloOut {
                name,
                objective,
                description: get_str(spec, &["description"]).filter(|d| !d.is_empty()),
                period: get_str(spec, &["window"]),
                tiers: None,
                sli,
                alerting,
            });
    }
    super::collected(
        specs,
        problems,
        files,
        "no Pyrra ServiceLevelObjective found",
    )
}
