//! OpenSLO `alertPolicies` of an SLO read into `sloguard/v1` tiers and alert settings.
//!
//! An `alertPolicies` entry is an inline `AlertPolicy`, an `{alertPolicyRef: name}`, or a
//! bare name (a reference, as the OpenSLO SDK writes it); its `conditions` likewise
//! (inline `AlertCondition`, `{conditionRef: name}` or a bare name). A reference to no
//! document of the files given is an error naming it. Each `burnrate` condition is a
//! tier: `severity` (page: `page`, `critical`, `high`; ticket: `ticket`, `warning`,
//! `medium`, `low`, `info`), `threshold` the burn factor, `lookbackWindow` the long
//! window, and `alertAfter`, as OpenSLO means it, how long the condition must hold before
//! the alert fires (the tier's `for:`). OpenSLO has no field for the short window: it is
//! the SRE Workbook's long / 12 (1h → 5m, 6h → 30m, 1d → 2h, 3d → 6h), unless the
//! condition carries sloguard's `sloguard.dev/short-window` annotation, which `export
//! openslo` writes so that export → import gives back the same tiers.

use std::collections::HashMap;

use serde_yaml_ng::Value;

use super::{camel_case, get, get_str, AlertingOut, DisableOut, TierOut};
use crate::slo::LabelMap;
use crate::window::Window;

/// The `AlertCondition` annotation of a tier whose severity's alert is disabled (the
/// tier is kept: the engine evaluates it).
pub const ALERT_DISABLED_ANNOTATION: &str = "sloguard.dev/alert-disabled";
/// The `AlertCondition` annotation that carries the tier's short window.
pub const SHORT_WINDOW_ANNOTATION: &str = "sloguard.dev/short-window";
/// The SRE Workbook's ratio of a tier's long window to its short window.
pub const LONG_TO_SHORT: u64 = 12;

/// The `AlertPolicy` and `AlertCondition` documents of the files, by name.
#[derive(Default)]
pub struct AlertDocs<'a> {
    pub policies: HashMap<String, &'a Value>,
    pub conditions: HashMap<String, &'a Value>,
}

fn severity(s: &str) -> Option<&'static str> {
    match s.to_ascii_lowercase().as_str() {
        "page" | "critical" | "high" => Some("page"),
        "ticket" | "warning" | "medium" | "low" | "info" => Some("ticket"),
        _ => None,
    }
}

pub(crate) fn is_alert_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The name an entry refers to: a bare string, or the value of `key`.
fn reference(entry: &Value, key: &str) -> Option<String> {
    entry
        .as_str()
        .map(str::to_string)
        .or_else(|| get_str(entry, &[key]))
}

fn annotation<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    get(doc, &["metadata", "annotations"])
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// One condition as a tier; whether its alert is enabled.
fn tier(cond: &Value, at: &str, errs: &mut Vec<String>) -> Option<(TierOut, bool)> {
    let kind = get_str(cond, &["spec", "condition", "kind"]).unwrap_or_default();
    if !kind.eq_ignore_ascii_case("burnrate") {
        errs.push(format!(
            "{at}.condition.kind: {kind:?} is not supported (only burnrate)"
        ));
        return None;
    }
    let sev = get_str(cond, &["spec", "severity"]).unwrap_or_default();
    let Some(severity) = severity(&sev) else {
        errs.push(format!(
            "{at}.severity: {sev:?} must be page or ticket (or critical/high, warning/medium/low/info)"
        ));
        return None;
    };
    let threshold = get(cond, &["spec", "condition", "threshold"]).and_then(Value::as_f64);
    let long = get_str(cond, &["spec", "condition", "lookbackWindow"]);
    let (Some(threshold), Some(long)) = (threshold, long) else {
        errs.push(format!(
            "{at}.condition: threshold and lookbackWindow are required"
        ));
        return None;
    };
    let short = match annotation(cond, SHORT_WINDOW_ANNOTATION) {
        Some(s) => s.to_string(),
        None => match Window::parse(&long) {
            Ok(l) if l.secs() >= LONG_TO_SHORT => {
                Window::from_secs(l.secs() / LONG_TO_SHORT).to_string()
            }
            Ok(l) => {
                errs.push(format!(
                    "{at}.condition.lookbackWindow: {l} is too short to derive a short window (long / {LONG_TO_SHORT})"
                ));
                return None;
            }
            Err(e) => {
                errs.push(format!("{at}.condition.lookbackWindow: {e}"));
                return None;
            }
        },
    };
    let for_ = get_str(cond, &["spec", "condition", "alertAfter"]);
    let enabled = annotation(cond, ALERT_DISABLED_ANNOTATION) != Some("true");
    Some((
        TierOut {
            severity: severity.to_string(),
            long_window: long,
            short_window: short,
            burn_factor: threshold,
            for_,
        },
        enabled,
    ))
}

/// The tiers and alert name of an SLO's `alertPolicies`; problems go to `errs`.
pub fn alerting(
    docs: &AlertDocs<'_>,
    policies: &[Value],
    errs: &mut Vec<String>,
) -> (Option<Vec<TierOut>>, AlertingOut) {
    let mut tiers = Vec::new();
    // Severities with a condition whose alert is not disabled.
    let mut enabled: Vec<String> = Vec::new();
    let mut name = None;
    for (i, p) in policies.iter().enumerate() {
        let policy = match reference(p, "alertPolicyRef") {
            Some(r) => match docs.policies.get(&r) {
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
        if conditions.is_empty() {
            errs.push(format!("alertPolicies[{i}].conditions: none"));
        }
        for (j, c) in conditions.iter().enumerate() {
            let at = format!("alertPolicies[{i}].conditions[{j}]");
            let cond = match reference(c, "conditionRef") {
                Some(r) => match docs.conditions.get(&r) {
                    Some(c) => *c,
                    None => {
                        errs.push(format!("{at}: no AlertCondition named {r:?}"));
                        continue;
                    }
                },
                None => c,
            };
            if let Some((t, on)) = tier(cond, &at, errs) {
                if on {
                    enabled.push(t.severity.clone());
                }
                tiers.push(t);
            }
        }
    }
    if tiers.is_empty() {
        return (
            None,
            AlertingOut {
                name: None,
                labels: LabelMap::new(),
                page_alert: Some(DisableOut::off()),
                ticket_alert: Some(DisableOut::off()),
            },
        );
    }
    let on = |s: &str| enabled.iter().any(|e| e == s);
    (
        Some(tiers),
        AlertingOut {
            name,
            labels: LabelMap::new(),
            page_alert: (!on("page")).then(DisableOut::off),
            ticket_alert: (!on("ticket")).then(DisableOut::off),
        },
    )
}
