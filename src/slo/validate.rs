//! One SLO of a spec, validated: its name, objective, labels, plugins, the fields only
//! `sloguard/v1` allows, alerting and `min_events`; the parts that are normalised while
//! they are checked (period, SLI, its regional form, tiers) come from
//! [`super::normalise`]. Every problem is reported, never just the first.

use super::normalise::{period, regional_sli, sli, tiers};
use super::{compat, raw, AlertSpec, Alerting, LabelMap, Sli, Slo, SLOGUARD_VERSION};

/// What an SLO's validation needs from its service.
pub(super) struct SloContext<'a> {
    pub is_sloguard: bool,
    /// OpenSLO sets the period from its time window.
    pub period_allowed: bool,
    pub region_label: &'a str,
    pub service_labels: &'a LabelMap,
}

/// A Prometheus label name (not reserved with `__`).
pub(super) fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

/// A name that can be a file name and a rule-group name.
pub(super) fn is_file_safe_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The SLO, or None when `p` was given any problem.
pub(super) fn build_slo(
    rs: raw::RawSlo,
    how: &SloContext,
    p: &mut dyn FnMut(String),
) -> Option<Slo> {
    let mut count = 0usize;
    let mut err = |m: String| {
        count += 1;
        p(m)
    };
    field_problems(&rs, how, &mut err);
    let (period, calendar, budget_period) = period(rs.period.as_deref(), &mut err);
    let sli = sli(&rs.sli, &mut err);
    let regional = sli
        .as_ref()
        .and_then(|s| regional_sli(s, how.region_label, &mut err));
    let tiers = tiers(rs.tiers, period, budget_period, &mut err);
    let alerting = alerting(rs.alerting, &mut err);
    let min_events = rs.min_events.unwrap_or(0);
    if min_events > 0 && matches!(sli, Some(Sli::Raw { .. })) {
        err(
            "min_events: needs an events or latency SLI (a raw ratio has no event count)"
                .to_string(),
        );
    }
    if count > 0 {
        return None;
    }
    let mut labels = how.service_labels.clone();
    labels.extend(rs.labels);
    Some(Slo {
        name: rs.name,
        objective: rs.objective,
        description: rs.description,
        labels,
        sli: sli?,
        regional: regional?,
        alerting,
        period,
        calendar,
        tiers,
        min_events,
        vantage: rs.vantage.unwrap_or_default(),
    })
}

/// The name, objective, labels, plugins, and fields only `sloguard/v1` allows.
fn field_problems(rs: &raw::RawSlo, how: &SloContext, err: &mut dyn FnMut(String)) {
    if !is_file_safe_name(&rs.name) {
        err(format!(
            "name: {:?} must be non-empty and use only letters, digits, '-', '_' and '.'",
            rs.name
        ));
    }
    if !(rs.objective > 0.0 && rs.objective < 100.0) {
        err(format!(
            "objective: {} must be strictly between 0 and 100 (a percentage such as 99.9)",
            rs.objective
        ));
    }
    for k in rs.labels.keys() {
        if !is_label_name(k) {
            err(format!("labels: {k:?} is not a valid label name"));
        } else if k == how.region_label || k.starts_with("sloth_") {
            err(format!("labels: {k:?} is reserved by sloguard"));
        }
    }
    if let Some(plugins) = &rs.plugins {
        for m in compat::plugin_problems("plugins", &plugins.chain) {
            err(m);
        }
    }
    if !how.is_sloguard {
        for (field, set) in [
            ("period", rs.period.is_some() && !how.period_allowed),
            ("tiers", rs.tiers.is_some()),
            ("min_events", rs.min_events.is_some()),
            ("vantage", rs.vantage.is_some()),
            ("sli.latency", rs.sli.latency.is_some()),
        ] {
            if set {
                err(format!(
                    "{field}: only allowed with version {SLOGUARD_VERSION:?}"
                ));
            }
        }
    }
}

/// The alerting section: a name whenever an alert is generated, valid label names.
fn alerting(a: raw::RawAlerting, err: &mut dyn FnMut(String)) -> Alerting {
    let alert_name = a.name.unwrap_or_default();
    if alert_name.is_empty() && !(a.page_alert.disable && a.ticket_alert.disable) {
        err("alerting.name: required to generate alerts".to_string());
    }
    for (field, labels) in [
        ("alerting.labels", &a.labels),
        ("alerting.page_alert.labels", &a.page_alert.labels),
        ("alerting.ticket_alert.labels", &a.ticket_alert.labels),
    ] {
        for k in labels.keys() {
            if !is_label_name(k) {
                err(format!("{field}: {k:?} is not a valid label name"));
            }
        }
    }
    Alerting {
        name: alert_name,
        labels: a.labels,
        annotations: a.annotations,
        page: AlertSpec {
            disable: a.page_alert.disable,
            labels: a.page_alert.labels,
            annotations: a.page_alert.annotations,
        },
        ticket: AlertSpec {
            disable: a.ticket_alert.disable,
            labels: a.ticket_alert.labels,
            annotations: a.ticket_alert.annotations,
        },
    }
}
