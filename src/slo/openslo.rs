//! OpenSLO `openslo/v1alpha` `SLO` documents, read as Sloth reads them: one SLO per
//! objective, named `<metadata.name>-<index>` (so its id is Sloth's
//! `<service>-<metadata.name>-<index>`), the objective `target × 100`, the period the
//! rolling time window, or a calendar one (`isRolling: false` or a `calendar:` block,
//! `unit: Month|Week|Day`, count 1, UTC: [`crate::calendar`]), a `ratioMetrics` SLI (`good`/`total` becomes the events form with
//! `error_query: (total) - (good)`; `bad`/`total` is used as it is), and no alerts (the
//! format has none). A missing `isRolling` is rolling, as Sloth reads it. `Service`,
//! `DataSource` and `AlertNotificationTarget` documents are skipped with a note
//! ([`skipped_kind`]). Unknown keys are warnings, as for Sloth's own formats.

use serde::Deserialize;

use crate::calendar::Calendar;

use super::raw::{RawAlert, RawAlerting, RawEvents, RawSli, RawSlo, RawSpec};

pub const OPENSLO_V1ALPHA: &str = "openslo/v1alpha";
pub const OPENSLO_SLO_KIND: &str = "SLO";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawOpenSlo {
    pub api_version: String,
    pub kind: String,
    pub metadata: RawOsMetadata,
    pub spec: RawOsSpec,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawOsMetadata {
    pub name: String,
    /// Read and not used.
    #[serde(default)]
    #[allow(dead_code)]
    pub display_name: Option<String>,
    /// Read and not used.
    #[serde(default)]
    #[allow(dead_code)]
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawOsSpec {
    pub service: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub budgeting_method: Option<String>,
    #[serde(default)]
    pub time_windows: Vec<RawOsTimeWindow>,
    #[serde(default)]
    pub objectives: Vec<RawOsObjective>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawOsTimeWindow {
    pub count: u64,
    pub unit: String,
    /// Missing means rolling, as Sloth reads it, unless `calendar` is set.
    #[serde(default)]
    pub is_rolling: Option<bool>,
    /// A calendar-aligned window (`unit: Month|Week|Day`, count 1, UTC).
    #[serde(default)]
    pub calendar: Option<RawOsCalendar>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawOsCalendar {
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawOsObjective {
    /// Read and not used (the SLO is named by its index, as Sloth does).
    #[serde(default)]
    #[allow(dead_code)]
    pub display_name: Option<String>,
    pub target: f64,
    #[serde(default)]
    pub ratio_metrics: Option<RawOsRatioMetrics>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawOsRatioMetrics {
    #[serde(default)]
    pub good: Option<RawOsMetricSource>,
    #[serde(default)]
    pub bad: Option<RawOsMetricSource>,
    pub total: RawOsMetricSource,
    /// Read and not used (Prometheus counters are read through `rate`).
    #[serde(default)]
    #[allow(dead_code)]
    pub incremental: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawOsMetricSource {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub query_type: Option<String>,
    pub query: String,
}

/// The kinds of an OpenSLO file that hold no SLO: skipped with a note, as Sloth skips
/// them.
pub const SKIPPED_KINDS: &[&str] = &["Service", "DataSource", "AlertNotificationTarget"];

/// The kind of an `openslo/v1alpha` document when it is one of [`SKIPPED_KINDS`], with
/// its name.
pub fn skipped_kind(text: &str) -> Option<(String, String)> {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).ok()?;
    let kind = v.get("kind")?.as_str()?;
    let name = v
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or_default();
    SKIPPED_KINDS
        .contains(&kind)
        .then(|| (kind.to_string(), name.to_string()))
}

/// The name of the SLO of objective `index` of the document named `name`.
pub fn slo_name(name: &str, index: usize) -> String {
    format!("{name}-{index}")
}

fn period(w: &RawOsTimeWindow) -> Result<String, String> {
    let calendar = w.is_rolling == Some(false) || (w.is_rolling.is_none() && w.calendar.is_some());
    if calendar {
        let at = "spec.timeWindows[0]";
        let c = match w.unit.to_ascii_lowercase().as_str() {
            "month" => Calendar::Month,
            "week" => Calendar::Week,
            "day" => Calendar::Day,
            _ => {
                return Err(format!(
                    "{at}.unit: calendar window unit {:?} is not supported (Month, Week or Day)",
                    w.unit
                ))
            }
        };
        let mut problems = Vec::new();
        if w.count != 1 {
            problems.push(format!(
                "{at}.count: a calendar window is one {} (count: 1), not {}",
                c.openslo_unit(),
                w.count
            ));
        }
        let cal = w.calendar.as_ref();
        problems.extend(crate::calendar::openslo_problems(
            c,
            cal.and_then(|c| c.start_time.as_deref()),
            cal.and_then(|c| c.time_zone.as_deref()),
            at,
        ));
        return if problems.is_empty() {
            Ok(c.name().to_string())
        } else {
            Err(problems.join("; "))
        };
    }
    let unit = match w.unit.to_ascii_lowercase().as_str() {
        "second" => "s",
        "minute" => "m",
        "hour" => "h",
        "day" => "d",
        "week" => "w",
        _ => {
            return Err(format!(
            "spec.timeWindows[0].unit: {:?} is not supported in a rolling window (Second, Minute, Hour, Day or Week; Month, Week or Day with isRolling: false is a calendar window)",
            w.unit
        ))
        }
    };
    if w.count == 0 {
        return Err("spec.timeWindows[0].count: must be positive".to_string());
    }
    Ok(format!("{}{unit}", w.count))
}

fn query(at: &str, m: &RawOsMetricSource, problems: &mut Vec<String>) -> String {
    if let Some(s) = &m.source {
        if !s.eq_ignore_ascii_case("prometheus") {
            problems.push(format!(
                "{at}.source: {s:?} is not supported (only prometheus)"
            ));
        }
    }
    if let Some(q) = &m.query_type {
        if !q.eq_ignore_ascii_case("promql") {
            problems.push(format!(
                "{at}.queryType: {q:?} is not supported (only promql)"
            ));
        }
    }
    m.query.trim().to_string()
}

impl RawOpenSlo {
    /// The document as a spec of SLOs (one per objective), with the problems found on the
    /// way as (SLO name, message).
    pub fn into_spec(self) -> (RawSpec, Vec<(Option<String>, String)>) {
        let mut problems: Vec<(Option<String>, String)> = Vec::new();
        if self.kind != OPENSLO_SLO_KIND {
            problems.push((
                None,
                format!(
                    "kind: unsupported kind {:?}, expected {OPENSLO_SLO_KIND:?}",
                    self.kind
                ),
            ));
        }
        let spec = self.spec;
        match spec.budgeting_method.as_deref() {
            None | Some("Occurrences") => {}
            Some(other) => problems.push((
                None,
                format!("spec.budgetingMethod: {other:?} is not supported (only Occurrences)"),
            )),
        }
        let period = match spec.time_windows.as_slice() {
            [] => None,
            [w] => match period(w) {
                Ok(p) => Some(p),
                Err(m) => {
                    problems.push((None, m));
                    None
                }
            },
            _ => {
                problems.push((
                    None,
                    "spec.timeWindows: exactly one time window is supported".to_string(),
                ));
                None
            }
        };
        if spec.objectives.is_empty() {
            problems.push((
                None,
                "spec.objectives: the SLO has no objective".to_string(),
            ));
        }
        let mut slos = Vec::new();
        for (i, o) in spec.objectives.into_iter().enumerate() {
            let name = slo_name(&self.metadata.name, i);
            let at = format!("spec.objectives[{i}]");
            let mut msgs = Vec::new();
            if !(o.target > 0.0 && o.target < 1.0) {
                msgs.push(format!(
                    "{at}.target: {} must be strictly between 0 and 1 (a ratio such as 0.999)",
                    o.target
                ));
            }
            let events = match o.ratio_metrics {
                None => {
                    msgs.push(format!(
                        "{at}.ratioMetrics: required (only ratio metrics are supported)"
                    ));
                    None
                }
                Some(r) => {
                    let total = query(&format!("{at}.ratioMetrics.total"), &r.total, &mut msgs);
                    match (r.good, r.bad) {
                        (Some(g), None) => {
                            let good = query(&format!("{at}.ratioMetrics.good"), &g, &mut msgs);
                            Some(RawEvents {
                                error_query: format!("({total}) - ({good})"),
                                total_query: total,
                            })
                        }
                        (None, Some(b)) => Some(RawEvents {
                            error_query: query(&format!("{at}.ratioMetrics.bad"), &b, &mut msgs),
                            total_query: total,
                        }),
                        _ => {
                            msgs.push(format!(
                                "{at}.ratioMetrics: exactly one of good or bad is required"
                            ));
                            None
                        }
                    }
                }
            };
            let ok = msgs.is_empty();
            problems.extend(msgs.into_iter().map(|m| (Some(name.clone()), m)));
            if !ok {
                continue;
            }
            let disabled = RawAlert {
                disable: true,
                ..RawAlert::default()
            };
            slos.push(RawSlo {
                name,
                objective: super::round_sig(o.target * 100.0),
                description: spec.description.clone(),
                labels: Default::default(),
                sli: RawSli {
                    events,
                    ..RawSli::default()
                },
                alerting: RawAlerting {
                    page_alert: disabled,
                    ticket_alert: RawAlert {
                        disable: true,
                        ..RawAlert::default()
                    },
                    ..RawAlerting::default()
                },
                period: period.clone(),
                tiers: None,
                min_events: None,
                vantage: None,
                plugins: None,
            });
        }
        (
            RawSpec {
                version: self.api_version,
                service: spec.service,
                labels: Default::default(),
                region_label: None,
                slo_plugins: None,
                slos,
                object: None,
            },
            problems,
        )
    }
}
