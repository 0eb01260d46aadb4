//! `export openslo`: a specs directory as `openslo/v1` documents (a calendar period as a
//! calendar `timeWindow`: `1M`/`1w`/`1d`, `isRolling: false`, UTC). Per service a
//! `Service`, per SLO an `SLI` (named `<service>-<slo>`) and an `SLO` whose inline alert
//! policy holds one `burnrate` condition per tier: `threshold` the factor,
//! `lookbackWindow` the long window, `alertAfter` the tier's `for:` (when it has one),
//! and the short window, which OpenSLO has no field for, in the
//! `sloguard.dev/short-window` annotation, so `import openslo` gives the tiers back.

use serde_json::json;

use super::openslo::{OPENSLO_V1, REGION_LABEL_ANNOTATION};
use super::openslo_alerts::{ALERT_DISABLED_ANNOTATION, SHORT_WINDOW_ANNOTATION};
use crate::slo::{self, Service, Severity, Sli};

fn source(query: &str) -> serde_json::Value {
    json!({"metricSource": {"type": "Prometheus", "spec": {"query": query}}})
}

fn doc(kind: &str, metadata: serde_json::Value, spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": OPENSLO_V1, "kind": kind, "metadata": metadata, "spec": spec})
}

/// An SLO's `timeWindow` entry: rolling, or calendar-aligned (UTC, from a boundary).
fn time_window(slo: &slo::Slo) -> serde_json::Value {
    match slo.calendar {
        None => json!({"duration": slo.period.to_string(), "isRolling": true}),
        Some(c) => json!({
            "duration": c.openslo_duration(),
            "isRolling": false,
            "calendar": {"startTime": c.openslo_start(), "timeZone": "UTC"},
        }),
    }
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
                "timeWindow": [time_window(slo)],
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
                    let mut annotations = json!({SHORT_WINDOW_ANNOTATION: t.short.to_string()});
                    if disabled {
                        annotations[ALERT_DISABLED_ANNOTATION] = json!("true");
                    }
                    let meta = json!({
                        "name": format!("{id}-{}-{}", t.severity, t.long),
                        "annotations": annotations,
                    });
                    let mut cond = json!({
                        "kind": "AlertCondition",
                        "metadata": meta,
                        "spec": {
                            "severity": t.severity.as_str(),
                            "condition": {
                                "kind": "burnrate",
                                "op": "gte",
                                "threshold": t.factor,
                                "lookbackWindow": t.long.to_string(),
                            },
                        },
                    });
                    if let Some(f) = t.for_ {
                        cond["spec"]["condition"]["alertAfter"] = json!(f.to_string());
                    }
                    cond
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
