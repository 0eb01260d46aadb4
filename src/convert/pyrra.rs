//! Pyrra `pyrra.dev/v1alpha1` `ServiceLevelObjective` objects (ratio and latency
//! indicators) read into `sloguard/v1` specs.
//!
//! Mapping: `metadata.name` is the SLO name; the service is the `pyrra.dev/service`
//! label, else `metadata.namespace`, else the SLO name. `spec.target` (a percent, string
//! or number) is the objective, `spec.window` the period, `spec.description` the
//! description. A `ratio` indicator gives `error_query: sum(rate(<errors>[w]))` and
//! `total_query: sum(rate(<total>[w]))`; a `latency` indicator gives
//! `error_query: (sum(rate(<total>[w])) - sum(rate(<success>[w])))`. Alerts are Pyrra's
//! own four tiers scaled to the SLO's window ([`super::pyrra_windows`]), written as
//! explicit `tiers` with their `for:`, page alerts labelled `severity: critical` and
//! ticket alerts `severity: warning` as Pyrra labels them; the alert name is
//! `spec.alerting.name`, else Pyrra's `ErrorBudgetBurn`; `alerting.disabled` (or
//! `alerting.burnrates: false`) disables both alerts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_yaml_ng::Value;

use super::documents::documents;
use super::pyrra_windows::{pyrra_tiers, PyrraTier};
use super::TierOut;
use super::{get, get_str, AlertingOut, ConvertProblem, DisableOut, SliOut, SloOut, SpecOut};
use crate::promql::WINDOW_PLACEHOLDER;
use crate::slo::{DEFAULT_PERIOD, SLOGUARD_VERSION};
use crate::window::Window;

pub const PYRRA_API_VERSION: &str = "pyrra.dev/v1alpha1";
pub const PYRRA_KIND: &str = "ServiceLevelObjective";
/// Pyrra's default alert name.
pub const PYRRA_ALERT_NAME: &str = "ErrorBudgetBurn";

/// A Pyrra alert as an explicit `sloguard/v1` tier.
fn tier_out(t: &PyrraTier) -> TierOut {
    TierOut {
        severity: t.severity.as_str().to_string(),
        long_window: t.long.to_string(),
        short_window: t.short.to_string(),
        burn_factor: t.factor,
        for_: t.for_.map(|w| w.to_string()),
    }
}

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
pub fn import(files: &[(PathBuf, String)]) -> Result<super::Imported, Vec<ConvertProblem>> {
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
        let disabled = get(spec, &["alerting", "disabled"]).and_then(Value::as_bool) == Some(true)
            || get(spec, &["alerting", "burnrates"]).and_then(Value::as_bool) == Some(false);
        let alerting = if disabled {
            AlertingOut {
                name: None,
                page_alert: Some(DisableOut::off()),
                ticket_alert: Some(DisableOut::off()),
            }
        } else {
            // Pyrra labels its alerts `severity: critical` and `severity: warning`;
            // Alertmanager routes written for them keep matching.
            let severity = |s: &str| DisableOut {
                disable: false,
                labels: [("severity".to_string(), s.to_string())].into(),
            };
            AlertingOut {
                name: Some(
                    get_str(spec, &["alerting", "name"])
                        .unwrap_or_else(|| PYRRA_ALERT_NAME.to_string()),
                ),
                page_alert: Some(severity("critical")),
                ticket_alert: Some(severity("warning")),
            }
        };
        let window_text = get_str(spec, &["window"]);
        let window = match window_text.as_deref().map(Window::parse) {
            None => Some(DEFAULT_PERIOD),
            Some(Ok(w)) => Some(w),
            Some(Err(e)) => {
                errs.push(format!("spec.window: {e}"));
                None
            }
        };
        let tiers = match window.map(pyrra_tiers) {
            Some(Ok(tiers)) => Some(tiers.iter().map(tier_out).collect()),
            Some(Err(e)) => {
                errs.push(format!("spec.window: {e}"));
                None
            }
            None => None,
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
                period: window_text,
                tiers,
                sli,
                alerting,
                origin: Some((file.clone(), *i)),
            });
    }
    super::collected(
        specs,
        problems,
        files,
        "no Pyrra ServiceLevelObjective found",
    )
}
