//! Grafana 10+ dashboard JSON per service: burn rate per window and region, error budget
//! remaining, alert state, and failover events, from the generated rules and sloguard's
//! own `/metrics`. Pure: returns the JSON text.

use serde_json::{json, Value};

use crate::slo::Service;

fn panel(
    id: u32,
    title: &str,
    kind: &str,
    (x, y, w, h): (u32, u32, u32, u32),
    targets: Vec<(String, String)>,
    unit: &str,
) -> Value {
    json!({
        "id": id,
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right"}},
        "targets": targets.into_iter().enumerate().map(|(i, (expr, legend))| json!({
            "refId": char::from(b'A' + i as u8).to_string(),
            "expr": expr,
            "legendFormat": legend,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
        })).collect::<Vec<_>>(),
    })
}

/// The dashboard of one service.
pub fn dashboard(service: &Service) -> String {
    let rl = &service.region_label;
    let sel = format!("service=\"{}\", slo=~\"$slo\"", service.name);
    let sloth = format!("sloth_service=\"{}\", sloth_slo=~\"$slo\"", service.name);
    let panels = vec![
        panel(
            1,
            "Burn rate per window and region",
            "timeseries",
            (0, 0, 16, 9),
            vec![(
                format!("sloguard_burn_rate{{{sel}}}"),
                "{{slo}} {{region}} {{window}}".into(),
            )],
            "x",
        ),
        panel(
            2,
            "Error budget remaining (period)",
            "stat",
            (16, 0, 8, 9),
            vec![(
                format!("slo:period_error_budget_remaining:ratio{{{sloth}}}"),
                format!("{{{{sloth_slo}}}} {{{{{rl}}}}}"),
            )],
            "percentunit",
        ),
        panel(
            3,
            "Error ratio (rules, 5m and 1h)",
            "timeseries",
            (0, 9, 12, 8),
            vec![
                (
                    format!("slo:sli_error:ratio_rate5m{{{sloth}}}"),
                    format!("{{{{sloth_slo}}}} {{{{{rl}}}}} 5m"),
                ),
                (
                    format!("slo:sli_error:ratio_rate1h{{{sloth}}}"),
                    format!("{{{{sloth_slo}}}} {{{{{rl}}}}} 1h"),
                ),
            ],
            "percentunit",
        ),
        panel(
            4,
            "Alerts firing",
            "state-timeline",
            (12, 9, 12, 8),
            vec![(
                format!("sloguard_alert_firing{{{sel}}}"),
                "{{slo}} {{region}} {{severity}}".into(),
            )],
            "bool",
        ),
        panel(
            5,
            "Region state and failovers",
            "state-timeline",
            (0, 17, 24, 7),
            vec![
                (
                    "sloguard_region_state == 1".into(),
                    "{{region}} {{state}}".into(),
                ),
                (
                    "sloguard_active_region == 1".into(),
                    "active {{region}}".into(),
                ),
            ],
            "none",
        ),
    ];
    let uid: String = format!("sloguard-{}", service.name)
        .chars()
        .take(40)
        .collect();
    let d = json!({
        "uid": uid,
        "title": format!("SLOs / {}", service.name),
        "tags": ["sloguard", "slo"],
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": [
            {"type": "datasource", "name": "datasource", "label": "Prometheus", "query": "prometheus"},
            {"type": "query", "name": "slo", "label": "SLO", "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "query": format!("label_values(slo:objective:ratio{{sloth_service=\"{}\"}}, sloth_slo)", service.name),
             "includeAll": true, "multi": true, "current": {"text": "All", "value": "$__all"}, "refresh": 2},
        ]},
        "panels": panels,
    });
    serde_json::to_string_pretty(&d).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboards_are_well_formed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("slo-specs");
        for s in crate::slo::load_dir(&dir).unwrap() {
            let v: Value = serde_json::from_str(&dashboard(&s)).unwrap();
            assert!(v["schemaVersion"].as_u64().unwrap() >= 36);
            assert!(v["uid"].as_str().unwrap().len() <= 40);
            let panels = v["panels"].as_array().unwrap();
            let mut ids: Vec<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
            ids.dedup();
            assert_eq!(ids.len(), panels.len(), "unique panel ids");
            for p in panels {
                assert!(
                    p["gridPos"]["w"].as_u64().unwrap() > 0
                        && p["targets"].as_array().is_some_and(|t| !t.is_empty())
                );
                for t in p["targets"].as_array().unwrap() {
                    let expr = t["expr"].as_str().unwrap();
                    assert!(
                        promql_parser::parser::parse(&expr.replace("$slo", ".*")).is_ok(),
                        "{expr}"
                    );
                }
            }
            let text = v.to_string();
            for metric in [
                "sloguard_burn_rate",
                "slo:period_error_budget_remaining:ratio",
                "sloguard_alert_firing",
                "sloguard_active_region",
            ] {
                assert!(text.contains(metric), "{metric}");
            }
        }
    }
}
