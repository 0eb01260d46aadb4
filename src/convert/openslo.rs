//! `import openslo`: OpenSLO `openslo/v1` documents read into `sloguard/v1` specs, as
//! the OpenSLO SDK and the `oslo` tool write them: several files, multi-document streams
//! and top-level lists ([`super::documents`]), kinds mixed in any order.
//!
//! Kinds: `SLO` documents become SLOs; `SLI`, `AlertPolicy`, `AlertCondition` and
//! `DataSource` documents are read for the references to them; `Service` documents are
//! read for sloguard's region-label annotation and otherwise skipped with a note, as is
//! `AlertNotificationTarget`. Any other kind or `apiVersion` is a problem naming it.
//!
//! Mapping: an SLO's `metadata.name` is the SLO name, `spec.service` the service,
//! `objectives[].target` × 100 the objective (several objectives give `<name>-<index>`),
//! the one `timeWindow` the period (a missing `isRolling` is rolling unless a
//! `calendar:` block is there; a calendar window of `1M`, `1w` or `1d` in UTC becomes a
//! calendar period, [`crate::calendar`]; a missing `timeWindow` is the default 30d), `budgetingMethod: Occurrences`. A `ratioMetric` with
//! `good` gives `error_query: (total) - (good)`, with `bad` the bad query, with `raw`
//! (`rawType: failure`) a raw error ratio. `counter: true` on a bare selector (no
//! function, no range) means "this is a counter": it is read as
//! `sum(rate(<selector>[{{.window}}]))`. A metric source is Prometheus by its `type`, or
//! by the type of the `DataSource` its `metricSourceRef` names; a reference to no
//! `DataSource` is ignored when the query is inline. Alerts: [`super::openslo_alerts`].
//! Every problem of every document is reported; a file set with no SLO is a note, not a
//! problem (nothing is written).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use super::documents::documents;
use super::openslo_alerts::{alerting, AlertDocs};
use super::{get, get_str, ConvertProblem, Imported, SliOut, SloOut, SpecOut};
use crate::calendar::Calendar;
use crate::promql::WINDOW_PLACEHOLDER;
use crate::slo::{round_sig, OPENSLO_V1ALPHA, SLOGUARD_VERSION};

pub use super::openslo_export::export;

pub const OPENSLO_V1: &str = "openslo/v1";
/// The `Service` annotation that carries a region label other than `region`.
pub const REGION_LABEL_ANNOTATION: &str = "sloguard.dev/region-label";

fn get_f64(v: &Value, path: &[&str]) -> Option<f64> {
    get(v, path).and_then(Value::as_f64)
}

/// The documents an SLO may refer to, by name.
struct Ctx<'a> {
    slis: HashMap<String, &'a Value>,
    /// DataSource name → its `type`.
    sources: HashMap<String, String>,
    alerts: AlertDocs<'a>,
}

/// `query` as a counter's rate when it is a bare vector selector.
fn counter_rate(query: &str) -> String {
    match promql_parser::parser::parse(query) {
        Ok(promql_parser::parser::Expr::VectorSelector(_)) => {
            format!("sum(rate({}[{WINDOW_PLACEHOLDER}]))", query.trim())
        }
        _ => query.to_string(),
    }
}

fn metric_query(
    ctx: &Ctx<'_>,
    v: Option<&Value>,
    at: &str,
    counter: bool,
    errs: &mut Vec<String>,
) -> Option<String> {
    let Some(v) = v else {
        errs.push(format!("{at}: missing"));
        return None;
    };
    let by_ref =
        get_str(v, &["metricSource", "metricSourceRef"]).and_then(|r| ctx.sources.get(&r).cloned());
    let kind = get_str(v, &["metricSource", "type"]).or(by_ref);
    if let Some(t) = kind {
        if !t.eq_ignore_ascii_case("prometheus") {
            errs.push(format!(
                "{at}.metricSource.type: {t:?} is not supported (only Prometheus)"
            ));
        }
    }
    let q = get_str(v, &["metricSource", "spec", "query"])
        .or_else(|| get_str(v, &["metricSource", "spec", "promql"]));
    if q.is_none() {
        errs.push(format!("{at}.metricSource.spec.query: missing"));
    }
    q.map(|q| if counter { counter_rate(&q) } else { q })
}

fn sli(ctx: &Ctx<'_>, spec: &Value, errs: &mut Vec<String>) -> Option<SliOut> {
    let Some(r) = spec.get("ratioMetric") else {
        let what = if spec.get("thresholdMetric").is_some() {
            "thresholdMetric"
        } else {
            "this SLI"
        };
        errs.push(format!(
            "SLI: {what} is not supported (only ratioMetric SLIs)"
        ));
        return None;
    };
    let counter = r.get("counter").and_then(Value::as_bool) == Some(true);
    if let Some(raw) = r.get("raw") {
        let q = metric_query(ctx, Some(raw), "ratioMetric.raw", false, errs)?;
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
    let total = metric_query(ctx, r.get("total"), "ratioMetric.total", counter, errs);
    let error = match (r.get("good"), r.get("bad")) {
        (Some(g), None) => metric_query(ctx, Some(g), "ratioMetric.good", counter, errs)
            .and_then(|g| total.as_ref().map(|t| format!("({t}) - ({g})"))),
        (None, Some(b)) => metric_query(ctx, Some(b), "ratioMetric.bad", counter, errs),
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

/// The period of an SLO's `timeWindow` (None: the default): a rolling duration, or a
/// calendar period (`isRolling: false`, or a `calendar:` block) of `1M`, `1w` or `1d` in
/// UTC, written as `calendar_month`, `calendar_week` or `calendar_day`.
fn period(spec: &Value, errs: &mut Vec<String>) -> Option<String> {
    match get(spec, &["timeWindow"]).and_then(Value::as_sequence) {
        None => None,
        Some(w) if w.len() == 1 => {
            let w = &w[0];
            let d = get_str(w, &["duration"]);
            if d.is_none() {
                errs.push("spec.timeWindow[0].duration: missing".to_string());
            }
            let rolling = get(w, &["isRolling"]).and_then(Value::as_bool);
            let has_calendar = w.get("calendar").is_some();
            if !(rolling == Some(false) || rolling.is_none() && has_calendar) {
                return d;
            }
            let at = "spec.timeWindow[0]";
            let c = match d.as_deref().map(str::trim) {
                None => return None,
                Some("1M") => Calendar::Month,
                Some("1w") => Calendar::Week,
                Some("1d") => Calendar::Day,
                Some(other) => {
                    errs.push(format!(
                        "{at}.duration: calendar window {other:?} is not supported (1M, 1w or 1d: one month, week or day)"
                    ));
                    return None;
                }
            };
            let problems = crate::calendar::openslo_problems(
                c,
                get_str(w, &["calendar", "startTime"]).as_deref(),
                get_str(w, &["calendar", "timeZone"]).as_deref(),
                at,
            );
            let ok = problems.is_empty();
            errs.extend(problems);
            ok.then(|| c.name().to_string())
        }
        Some(_) => {
            errs.push("spec.timeWindow: exactly one time window is supported".to_string());
            None
        }
    }
}

/// Reads `openslo/v1` documents into `sloguard/v1` specs, one per service, sorted.
pub fn import(files: &[(PathBuf, String)]) -> Result<Imported, Vec<ConvertProblem>> {
    let docs = documents(files)?;
    let mut index = index_documents(&docs);
    let mut specs: BTreeMap<String, SpecOut> = BTreeMap::new();
    for (file, i, d) in index.slos {
        let name = get_str(d, &["metadata", "name"]).unwrap_or_default();
        let (service, out) = match slo(&index.ctx, file, i, d, &name) {
            Ok(converted) => converted,
            Err(errs) => {
                index
                    .problems
                    .extend(errs.into_iter().map(|m| ConvertProblem {
                        file: file.clone(),
                        message: format!("document {i}: SLO {name:?}: {m}"),
                    }));
                continue;
            }
        };
        let region_label = index.region_labels.get(&service).cloned();
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
    if !index.problems.is_empty() {
        return Err(index.problems);
    }
    if specs.is_empty() {
        index.notes.push(ConvertProblem {
            file: files.first().map(|f| f.0.clone()).unwrap_or_default(),
            message: "no OpenSLO SLO document found; nothing to import".to_string(),
        });
    }
    Ok(Imported {
        specs: specs.into_values().collect(),
        notes: index.notes,
    })
}

/// Every document sorted by kind: the SLIs, alert documents and data sources an SLO can
/// refer to, the SLOs themselves, the region labels services carry; what is skipped
/// (notes) and what is wrong (problems).
struct Index<'a> {
    ctx: Ctx<'a>,
    slos: Vec<(&'a PathBuf, usize, &'a Value)>,
    region_labels: HashMap<String, String>,
    problems: Vec<ConvertProblem>,
    notes: Vec<ConvertProblem>,
}

fn index_documents(docs: &[(PathBuf, usize, Value)]) -> Index<'_> {
    let mut index = Index {
        ctx: Ctx {
            slis: HashMap::new(),
            sources: HashMap::new(),
            alerts: AlertDocs::default(),
        },
        slos: Vec::new(),
        region_labels: HashMap::new(),
        problems: Vec::new(),
        notes: Vec::new(),
    };
    for (file, i, d) in docs {
        let p = |m: String| ConvertProblem {
            file: file.clone(),
            message: format!("document {i}: {m}"),
        };
        let api = get_str(d, &["apiVersion"]).unwrap_or_default();
        let kind = get_str(d, &["kind"]).unwrap_or_default();
        let name = get_str(d, &["metadata", "name"]).unwrap_or_default();
        if api != OPENSLO_V1 {
            let hint = if api == OPENSLO_V1ALPHA {
                " (sloguard reads openslo/v1alpha SLOs directly: put the file in the specs directory)"
            } else {
                ""
            };
            index.problems.push(p(format!(
                "{kind} {name:?}: apiVersion {api:?} is not supported, expected {OPENSLO_V1:?}{hint}"
            )));
            continue;
        }
        match kind.as_str() {
            "SLI" => {
                index
                    .ctx
                    .slis
                    .insert(name, d.get("spec").unwrap_or(&Value::Null));
            }
            "AlertPolicy" => {
                index.ctx.alerts.policies.insert(name, d);
            }
            "AlertCondition" => {
                index.ctx.alerts.conditions.insert(name, d);
            }
            "DataSource" => {
                index
                    .ctx
                    .sources
                    .insert(name, get_str(d, &["spec", "type"]).unwrap_or_default());
            }
            "SLO" => index.slos.push((file, *i, d)),
            "Service" | "AlertNotificationTarget" => {
                if let Some(l) = get(d, &["metadata", "annotations"])
                    .and_then(|a| a.get(REGION_LABEL_ANNOTATION))
                    .and_then(Value::as_str)
                {
                    index.region_labels.insert(name.clone(), l.to_string());
                }
                index.notes.push(p(format!(
                    "{kind} {name:?} skipped (sloguard keeps no {kind} objects)"
                )));
            }
            other => index.problems.push(p(format!(
                "kind: {other:?} ({name:?}) is not an OpenSLO v1 kind"
            ))),
        }
    }
    index
}

/// One SLO document as its service and its SLOs (one per objective), or its problems.
fn slo(
    ctx: &Ctx,
    file: &Path,
    i: usize,
    d: &Value,
    name: &str,
) -> Result<(String, Vec<SloOut>), Vec<String>> {
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
    let sli = indicator.and_then(|s| sli(ctx, s, &mut errs));
    match get_str(spec, &["budgetingMethod"]).as_deref() {
        None | Some("Occurrences") => {}
        Some(other) => errs.push(format!(
            "spec.budgetingMethod: {other:?} is not supported (only Occurrences)"
        )),
    }
    let period = period(spec, &mut errs);
    let policies = get(spec, &["alertPolicies"])
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    let (tiers, alerting) = alerting(&ctx.alerts, &policies, &mut errs);
    let objectives = get(spec, &["objectives"])
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    if objectives.is_empty() {
        errs.push("spec.objectives: none".to_string());
    }
    let mut out = Vec::new();
    for (j, o) in objectives.iter().enumerate() {
        let target =
            get_f64(o, &["target"]).or_else(|| get_f64(o, &["targetPercent"]).map(|p| p / 100.0));
        let Some(target) = target else {
            errs.push(format!("spec.objectives[{j}].target: missing"));
            continue;
        };
        let slo_name = if objectives.len() == 1 {
            name.to_string()
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
                origin: Some((file.to_path_buf(), i)),
            });
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok((service.unwrap_or_default(), out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::camel_case;
    use crate::convert::openslo_alerts::is_alert_name;

    #[test]
    fn names() {
        assert_eq!(camel_case("checkout-availability"), "CheckoutAvailability");
        assert_eq!(camel_case("9x"), "Slo9x");
        assert!(is_alert_name("CheckoutBurn") && !is_alert_name("a-b"));
    }

    #[test]
    fn counters_wrap_only_bare_selectors() {
        assert_eq!(
            counter_rate(r#"http_requests_total{code=~"5.."}"#),
            r#"sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))"#
        );
        let q = "sum(rate(x[{{.window}}]))";
        assert_eq!(counter_rate(q), q);
    }
}
