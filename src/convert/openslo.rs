//! OpenSLO `openslo/v1`: `Service`, `SLI` (ratioMetric), `SLO` and `AlertPolicy` /
//! `AlertCondition` with `burnrate` conditions, read into `sloguard/v1` specs and written
//! from them.
//!
//! Mapping: an SLO's `metadata.name` is the SLO name, `spec.service` the service,
//! `objectives[].target` × 100 the objective (several objectives give `<name>-<index>`),
//! `timeWindow[0].duration` (rolling) the period, `budgetingMethod: Occurrences`. A
//! `ratioMetric` with `good` gives `error_query: (total) - (good)`, with `bad` the bad
//! query, with `raw` (`rawType: failure`) a raw error ratio. Each `burnrate` condition is
//! a tier: `severity` (page, or ticket), `threshold` the burn factor, `lookbackWindow`
//! the long window and `alertAfter` the short window. The alert name is the policy's
//! `displayName` (or its name in CamelCase). An SLO without alert policies gets no alerts.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::json;
use serde_yaml_ng::Value;

use super::{
    camel_case, get, get_str, AlertingOut, ConvertProblem, DisableOut, SliOut, SloOut, SpecOut,
    TierOut,
};
use crate::slo::{self, round_sig, Service, Severity, Sli, SLOGUARD_VERSION};

pub const OPENSLO_V1: &str = "openslo/v1";
/// The `AlertCondition` annotation of a tier whose severity's alert is disabled (the
/// tier is kept: the engine evaluates it).
pub const ALERT_DISABLED_ANNOTATION: &str = "sloguard.dev/alert-disabled";
/// The `Service` annotation that carries a region label other than `region`.
pub const REGION_LABEL_ANNOTATION: &str = "sloguard.dev/region-label";

fn get_f64(v: &Value, path: &[&str]) -> Option<f64> {
    get(v, path).and_then(Value::as_f64)
}

/// Every non-empty document of every file: (file, 1-based index, value).
pub fn documents(
    files: &[(PathBuf, String)],
) -> Result<Vec<(PathBuf, usize, Value)>, Vec<ConvertProblem>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (file, text) in files {
        for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            match Value::deserialize(de) {
                Ok(Value::Null) => {}
                Ok(v) => out.push((file.clone(), i + 1, v)),
                Err(e) => {
                    problems.push(ConvertProblem {
                        file: file.clone(),
                        message: format!("document {}: {e}", i + 1),
                    });
                    break;
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

struct Ctx<'a> {
    slis: HashMap<String, &'a Value>,
    policies: HashMap<String, &'a Value>,
    conditions: HashMap<String, &'a Value>,
}

fn metric_query(v: Option<&Value>, at: &str, errs: &mut Vec<String>) -> Option<String> {
    let Some(v) = v else {
        errs.push(format!("{at}: missing"));
        return None;
    };
    if let Some(t) = get_str(v, &["metricSource", "type"]) {
        if !t.eq_ignore_ascii_case("prometheus") {
            errs.push(format!(
                "{at}.metricSource.type: {t:?} is not supported (only Prometheus)"
            ));
        }
    }
    let q = get_str(v, &["metricSource", "spec", "query"]);
    if q.is_none() {
        errs.push(format!("{at}.metricSource.spec.query: missing"));
    }
    q
}

fn sli(spec: &Value, errs: &mut Vec<String>) -> Option<SliOut> {
    let Some(r) = spec.get("ratioMetric") else {
        errs.push("SLI: only ratioMetric SLIs are supported".to_string());
        return None;
    };
    if let Some(raw) = r.get("raw") {
        let q = metric_query(Some(raw), "ratioMetric.raw", errs)?;
        return match get_str(r, &["rawType"]).as_deref() {
            Some("failure") | None => Some(SliOut::Raw {
                error_ratio_query: q,
            }),
            Some("success") => Some(SliOut::Raw {
                error_ratio_query: format!("1 - ({q})"),
            }),
            Some(other) => {
                errs.push(format!(
                    "ratioMetric.rawType: {other:?} must be failure or success"
                ));
                None
            }
        };
    }
    let total = metric_query(r.get("total"), "ratioMetric.total", errs);
    let error = match (r.get("good"), r.get("bad")) {
        (Some(g), None) => metric_query(Some(g), "ratioMetric.good", errs)
            .and_then(|g| total.as_ref().map(|t| format!("({t}) - ({g})"))),
        (None, Some(b)) => metric_query(Some(b), "ratioMetric.bad", errs),
        _ => {
            errs.push("ratioMetric: exactly one of good, bad or raw is required".to_string());
            None
        }
    };
    Some(SliOut::Events {
        error_query: error?,
        total_query: total?,
    })
}

fn severity(s: &str) -> Option<&'static str> {
    match s.to_ascii_lowercase().as_str() {
        "page" | "critical" | "high" => Some("page"),
        "ticket" | "warning" | "medium" | "low" | "info" => Some("ticket"),
        _ => None,
    }
}

fn is_alert_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The tiers and alert name of an SLO's `alertPolicies`.
fn alerting(
    ctx: &Ctx<'_>,
    policies: &[Value],
    errs: &mut Vec<String>,
) -> (Option<Vec<TierOut>>, AlertingOut) {
    let mut tiers = Vec::new();
    // Severities with a condition whose alert is not disabled.
    let mut enabled: Vec<&'static str> = Vec::new();
    let mut name = None;
    for (i, p) in policies.iter().enumerate() {
        let policy = match get_str(p, &["alertPolicyRef"]) {
            Some(r) => match ctx.policies.get(&r) {
                Some(p) => *p,
                None => {
                    errs.push(format!("alertPolicies[{i}]: no AlertPolicy named {r:?}"));
                    continue;
                }
            },
            None => p,
        };
        if name.is_none() {
            name = get_str(policy, &["metadata", "displayName"])
                .filter(|n| is_alert_name(n))
                .or_else(|| get_str(policy, &["metadata", "name"]).map(|n| camel_case(&n)));
        }
        let conditions = get(policy, &["spec", "conditions"])
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        for (j, c) in conditions.iter().enumerate() {
            let at = format!("alertPolicies[{i}].conditions[{j}]");
            let cond = match get_str(c, &["conditionRef"]) {
                Some(r) => match ctx.conditions.get(&r) {
                    Some(c) => *c,
                    None => {
                        errs.push(format!("{at}: no AlertCondition named {r:?}"));
                        continue;
                    }
                },
                None => c,
            };
            let kind = get_str(cond, &["spec", "condition", "kind"]).unwrap_or_default();
            if !kind.eq_ignore_ascii_case("burnrate") {
                errs.push(format!(
                    "{at}.condition.kind: {kind:?} is not supported (only burnrate)"
                ));
                continue;
            }
            let sev = get_str(cond, &["spec", "severity"]).unwrap_or_default();
            let Some(severity) = severity(&sev) else {
                errs.push(format!(
                    "{at}.severity: {sev:?} must be page or ticket (or critical/high, warning/medium/low/info)"
                ));
                continue;
            };
            let threshold = get_f64(cond, &["spec", "condition", "threshold"]);
            let long = get_str(cond, &["spec", "condition", "lookbackWindow"]);
            let short = get_str(cond, &["spec", "condition", "alertAfter"]);
            let disabled = get(cond, &["metadata", "annotations"])
                .and_then(|a| a.get(ALERT_DISABLED_ANNOTATION))
                .and_then(Value::as_str)
                == Some("true");
            if !disabled {
                enabled.push(severity);
            }
            match (threshold, long, short) {
                (Some(t), Some(l), Some(s)) => tiers.push(TierOut {
                    severity: severity.to_string(),
                    long_window: l,
                    short_window: s,
                    burn_factor: t,
                    for_: None,
                }),
                _ => errs.push(format!(
                    "{at}.condition: threshold, lookbackWindow and alertAfter are required"
                )),
            }
        }
    }
    if tiers.is_empty() {
        let off = Some(DisableOut::off());
        return (
            None,
            AlertingOut {
                name: None,
                page_alert: off.clone(),
                ticket_alert: off,
            },
        );
    }
    let page = enabled.contains(&"page");
    let ticket = enabled.contains(&"ticket");
    (
        Some(tiers),
        AlertingOut {
            name,
            page_alert: (!page).then_some(DisableOut::off()),
            ticket_alert: (!ticket).then_some(DisableOut::off()),
        },
    )
}

/// Reads `openslo/v1` documents into `sloguard/v1` specs, one per service, sorted.
pub fn import(files: &[(PathBuf, String)]) -> Result<Vec<SpecOut>, Vec<ConvertProblem>> {
    let docs = documents(files)?;
    let mut problems = Vec::new();
    let mut ctx = Ctx {
        slis: HashMap::new(),
        policies: HashMap::new(),
        conditions: HashMap::new(),
    };
    let mut slos = Vec::new();
    let mut region_labels: HashMap<String, String> = HashMap::new();
    for (file, i, d) in &docs {
        let p = |m: String| ConvertProblem {
            file: file.clone(),
            message: format!("document {i}: {m}"),
        };
        let api = get_str(d, &["apiVersion"]).unwrap_or_default();
        if api != OPENSLO_V1 {
            problems.push(p(format!(
                "apiVersion: {api:?} is not supported, expected {OPENSLO_V1:?}"
            )));
            continue;
        }
        let name = get_str(d, &["metadata", "name"]).unwrap_or_default();
        match get_str(d, &["kind"]).unwrap_or_default().as_str() {
            "SLI" => {
                ctx.slis.insert(name, d.get("spec").unwrap_or(&Value::Null));
            }
            "AlertPolicy" => {
                ctx.policies.insert(name, d);
            }
            "AlertCondition" => {
                ctx.conditions.insert(name, d);
            }
            "SLO" => slos.push((file, *i, d)),
            "Service" => {
                if let Some(l) = get(d, &["metadata", "annotations"])
                    .and_then(|a| a.get(REGION_LABEL_ANNOTATION))
                    .and_then(Value::as_str)
                {
                    region_labels.insert(name, l.to_string());
                }
            }
            "DataSource" | "AlertNotificationTarget" => {}
            other => problems.push(p(format!("kind: {other:?} is not an OpenSLO v1 kind"))),
        }
    }
    let mut specs: BTreeMap<String, SpecOut> = BTreeMap::new();
    for (file, i, d) in slos {
        let name = get_str(d, &["metadata", "name"]).unwrap_or_default();
        let mut errs = Vec::new();
        let spec = d.get("spec").unwrap_or(&Value::Null);
        let service = get_str(spec, &["service"]);
        if service.is_none() {
            errs.push("spec.service: missing".to_string());
        }
        let indicator = match (get_str(spec, &["indicatorRef"]), spec.get("indicator")) {
            (Some(r), _) => match ctx.slis.get(&r) {
                Some(s) => Some(*s),
                None => {
                    errs.push(format!("spec.indicatorRef: no SLI named {r:?}"));
                    None
                }
            },
            (None, Some(ind)) => ind.get("spec"),
            (None, None) => {
                errs.push("spec: indicatorRef or indicator is required".to_string());
                None
            }
        };
        let sli = indicator.and_then(|s| sli(s, &mut errs));
        match get_str(spec, &["budgetingMethod"]).as_deref() {
            None | Some("Occurrences") => {}
            Some(other) => errs.push(format!(
                "spec.budgetingMethod: {other:?} is not supported (only Occurrences)"
            )),
        }
        let period = match get(spec, &["timeWindow"]).and_then(Value::as_sequence) {
            None => None,
            Some(w) if w.len() == 1 => {
                if get(&w[0], &["isRolling"]).and_then(Value::as_bool) == Some(false) {
                    errs.push(
                        "spec.timeWindow[0].isRolling: only rolling windows are supported"
                            .to_string(),
                    );
                }
                get_str(&w[0], &["duration"])
            }
            Some(_) => {
                errs.push("spec.timeWindow: exactly one time window is supported".to_string());
                None
            }
        };
        let policies = get(spec, &["alertPolicies"])
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        let (tiers, alerting) = alerting(&ctx, &policies, &mut errs);
        let objectives = get(spec, &["objectives"])
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        if objectives.is_empty() {
            errs.push("spec.objectives: none".to_string());
        }
        let mut out = Vec::new();
        for (j, o) in objectives.iter().enumerate() {
            let target = get_f64(o, &["target"])
                .or_else(|| get_f64(o, &["targetPercent"]).map(|p| p / 100.0));
            let Some(target) = target else {
                errs.push(format!("spec.objectives[{j}].target: missing"));
                continue;
            };
            let slo_name = if objectives.len() == 1 {
                name.clone()
            } else {
                format!("{name}-{j}")
            };
            if let Some(sli) = &sli {
                out.push(SloOut {
                    name: slo_name,
                    objective: round_sig(target * 100.0),
                    description: get_str(spec, &["description"]).filter(|d| !d.is_empty()),
                    period: period.clone(),
                    tiers: tiers.clone(),
                    sli: sli.clone(),
                    alerting: alerting.clone(),
                });
            }
        }
        if !errs.is_empty() {
            problems.extend(errs.into_iter().map(|m| ConvertProblem {
                file: file.clone(),
                message: format!("document {i}: SLO {name:?}: {m}"),
            }));
            continue;
        }
        let service = service.unwrap_or_default();
        let region_label = region_labels.get(&service).cloned();
        specs
            .entry(service.clone())
            .or_insert_with(|| SpecOut {
                version: SLOGUARD_VERSION.to_string(),
                service,
                labels: Default::default(),
                region_label,
                slos: Vec::new(),
            })
            .slos
            .extend(out);
    }
    super::collected(specs, problems, files, "no OpenSLO SLO document found")
}

fn source(query: &str) -> serde_json::Value {
    json!({"metricSource": {"type": "Prometheus", "spec": {"query": query}}})
}

fn doc(kind: &str, metadata: serde_json::Value, spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": OPENSLO_V1, "kind": kind, "metadata": metadata, "spec": spec})
}

/// The services as `openslo/v1` documents: per service a `Service`, per SLO an `SLI`
/// (named `<service>-<slo>`) and an `SLO` whose alert policy holds one `burnrate`
/// condition per tier.
pub fn export(services: &[Service]) -> String {
    let mut docs = Vec::new();
    for s in services {
        let mut meta = json!({"name": s.name});
        if s.region_label != slo::DEFAULT_REGION_LABEL {
            meta["annotations"] = json!({REGION_LABEL_ANNOTATION: s.region_label});
        }
        docs.push(doc("Service", meta, json!({})));
        for slo in &s.slos {
            let id = s.slo_id(slo);
            let ratio = match &slo.sli {
                Sli::Raw { error_ratio_query } => json!({
                    "counter": false,
                    "rawType": "failure",
                    "raw": source(error_ratio_query),
                }),
                other => {
                    let (e, t) = other.event_queries().unwrap_or_default();
                    json!({"counter": true, "bad": source(&e), "total": source(&t)})
                }
            };
            docs.push(doc(
                "SLI",
                json!({"name": id}),
                json!({"ratioMetric": ratio}),
            ));
            let mut spec = json!({
                "service": s.name,
                "indicatorRef": id,
                "timeWindow": [{"duration": slo.period.to_string(), "isRolling": true}],
                "budgetingMethod": "Occurrences",
                "objectives": [{"displayName": slo.name, "target": slo.objective_ratio()}],
            });
            if let Some(d) = &slo.description {
                spec["description"] = json!(d);
            }
            let conditions: Vec<serde_json::Value> = slo
                .tiers
                .iter()
                .map(|t| {
                    let disabled = match t.severity {
                        Severity::Page => slo.alerting.page.disable,
                        Severity::Ticket => slo.alerting.ticket.disable,
                    };
                    let mut meta = json!({"name": format!("{id}-{}-{}", t.severity, t.long)});
                    if disabled {
                        meta["annotations"] = json!({ALERT_DISABLED_ANNOTATION: "true"});
                    }
                    json!({
                        "kind": "AlertCondition",
                        "metadata": meta,
                        "spec": {
                            "severity": t.severity.as_str(),
                            "condition": {
                                "kind": "burnrate",
                                "op": "gte",
                                "threshold": t.factor,
                                "lookbackWindow": t.long.to_string(),
                                "alertAfter": t.short.to_string(),
                            },
                        },
                    })
                })
                .collect();
            if !conditions.is_empty() {
                spec["alertPolicies"] = json!([{
                    "kind": "AlertPolicy",
                    "metadata": {"name": format!("{id}-burn-rate"), "displayName": slo.alerting.name},
                    "spec": {"alertWhenBreaching": true, "conditions": conditions},
                }]);
            }
            docs.push(doc("SLO", json!({"name": slo.name}), spec));
        }
    }
    docs.iter()
        .map(|d| serde_yaml_ng::to_string(d).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(camel_case("checkout-availability"), "CheckoutAvailability");
        assert_eq!(camel_case("9x"), "Slo9x");
        assert!(is_alert_name("CheckoutBurn") && !is_alert_name("a-b"));
    }
}
