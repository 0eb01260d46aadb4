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
//! `alerting.burnrates: false`) disables both alerts. A `bool_gauge` indicator (probe
//! success) counts the samples at 0 as errors: `count_over_time - sum_over_time` over
//! `count_over_time`; a `latencyNative` indicator (native histograms) is the raw error
//! ratio `1 - histogram_fraction(0, <latency>, sum(rate(<metric>[w])))`. An indicator's
//! `grouping` labels become `sum by (<labels>)` in every query, so each group is its
//! own series (and the region label is added beside them), carried by every recording
//! rule and alert.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_yaml_ng::Value;

use super::documents::documents;
use super::pyrra_windows::{pyrra_tiers, PyrraTier};
use super::TierOut;
use super::{get, get_str, AlertingOut, ConvertProblem, DisableOut, SliOut, SloOut, SpecOut};
use crate::promql::WINDOW_PLACEHOLDER;
use crate::slo::{LabelMap, DEFAULT_PERIOD, SLOGUARD_VERSION};
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

/// `sum [by (<grouping>)] (<func>(<metric>[{{.window}}]))`.
fn sum_of(func: &str, metric: &str, grouping: &[String]) -> String {
    let by = if grouping.is_empty() {
        String::new()
    } else {
        format!(" by ({}) ", grouping.join(", "))
    };
    format!("sum{by}({func}({}[{WINDOW_PLACEHOLDER}]))", metric.trim())
}

/// An indicator's `grouping` labels; problems go to `errs`.
fn grouping(kind: &Value, at: &str, errs: &mut Vec<String>) -> Vec<String> {
    let Some(g) = kind.get("grouping") else {
        return Vec::new();
    };
    let labels: Option<Vec<String>> = g
        .as_sequence()
        .map(|s| s.iter().map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or(None);
    match labels {
        Some(l) if l.iter().all(|l| is_label_name(l)) => l,
        _ => {
            errs.push(format!("{at}.grouping: must be a list of label names"));
            Vec::new()
        }
    }
}

fn is_label_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
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
        let g = grouping(r, "spec.indicator.ratio", errs);
        let e = metric(&["ratio", "errors", "metric"], errs);
        let t = metric(&["ratio", "total", "metric"], errs);
        return Some(SliOut::Events {
            error_query: sum_of("rate", &e?, &g),
            total_query: sum_of("rate", &t?, &g),
        });
    }
    if let Some(l) = indicator.get("latency") {
        let g = grouping(l, "spec.indicator.latency", errs);
        let s = metric(&["latency", "success", "metric"], errs);
        let t = metric(&["latency", "total", "metric"], errs);
        let (s, t) = (s?, t?);
        return Some(SliOut::Events {
            error_query: format!("({} - {})", sum_of("rate", &t, &g), sum_of("rate", &s, &g)),
            total_query: sum_of("rate", &t, &g),
        });
    }
    if let Some(b) = indicator.get("bool_gauge") {
        // Probe success: every sample is 1 (success) or 0 (failure); errors are the
        // samples at 0, counted as all samples minus their sum, as Pyrra counts them.
        let g = grouping(b, "spec.indicator.bool_gauge", errs);
        let m = metric(&["bool_gauge", "metric"], errs)?;
        return Some(SliOut::Events {
            error_query: format!(
                "({} - {})",
                sum_of("count_over_time", &m, &g),
                sum_of("sum_over_time", &m, &g)
            ),
            total_query: sum_of("count_over_time", &m, &g),
        });
    }
    if let Some(n) = indicator.get("latencyNative") {
        // Native histograms: the error ratio is the share of requests slower than
        // `latency`, `1 - histogram_fraction(0, <latency>, ...)`, as Pyrra computes it.
        let g = grouping(n, "spec.indicator.latencyNative", errs);
        let m = metric(&["latencyNative", "total", "metric"], errs);
        let latency = get_str(n, &["latency"]);
        let secs = match latency.as_deref().map(promql_parser::util::parse_duration) {
            Some(Ok(d)) if d.as_secs_f64() > 0.0 => Some(d.as_secs_f64()),
            Some(_) => {
                errs.push(format!(
                    "spec.indicator.latencyNative.latency: {:?} is not a positive duration",
                    latency.unwrap_or_default()
                ));
                None
            }
            None => {
                errs.push("spec.indicator.latencyNative.latency: missing".to_string());
                None
            }
        };
        let (m, secs) = (m?, secs?);
        return Some(SliOut::Raw {
            error_ratio_query: format!(
                "1 - histogram_fraction(0, {}, {})",
                crate::slo::decimal(secs),
                sum_of("rate", &m, &g)
            ),
        });
    }
    let found: Vec<String> = indicator
        .as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    errs.push(format!(
        "spec.indicator: {} not supported (ratio, latency, latencyNative and bool_gauge are)",
        if found.is_empty() {
            "an empty indicator is".to_string()
        } else {
            format!("indicator {} is", found.join(", "))
        }
    ));
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
                labels: LabelMap::new(),
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
                // Pyrra labels its alerts with the SLO's name: SLOs sharing the default
                // alert name stay distinct rules.
                labels: [("slo".to_string(), name.clone())].into(),
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
