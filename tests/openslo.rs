//! `sloguard import openslo` / `sloguard export openslo`: OpenSLO `openslo/v1` documents
//! to `sloguard/v1` specs and back. The import of a hand-written fixture generates the
//! expected rules; exporting the example specs and importing them back keeps every field
//! the OpenSLO mapping carries.
// Test harness code; the clock lint guards the library.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::path::Path;

use common::*;
use sloguard::slo::{self, Sli};

fn import(files: &[&Path], out: &Path) -> (i32, String) {
    let o = run(sloguard()
        .args(["import", "openslo"])
        .args(files)
        .arg("--out")
        .arg(out));
    (o.status.code().unwrap_or(-1), text(&o))
}

#[test]
fn import_resolves_references_and_generates_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let specs = tmp.path().join("specs");
    let fixture = repo().join("tests/data/openslo/catalog.yaml");
    let (code, log) = import(&[&fixture], &specs);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("wrote 1 spec file(s), 2 SLO(s)"), "{log}");
    let services = slo::load_dir(&specs).unwrap();
    assert_eq!(services.len(), 1);
    let s = &services[0];
    assert_eq!(
        (s.name.as_str(), s.version.as_str()),
        ("catalog", "sloguard/v1")
    );
    assert_eq!(s.region_label, "zone");
    let browse = &s.slos[0];
    assert_eq!(browse.name, "browse");
    assert_eq!(browse.objective, 99.5);
    assert_eq!(browse.period.to_string(), "28d");
    assert_eq!(browse.alerting.name, "CatalogBrowseBurn");
    let tiers: Vec<(String, String, String, f64)> = browse
        .tiers
        .iter()
        .map(|t| {
            (
                t.severity.to_string(),
                t.long.to_string(),
                t.short.to_string(),
                t.factor,
            )
        })
        .collect();
    assert_eq!(
        tiers,
        vec![
            ("page".into(), "1h".into(), "5m".into(), 14.4),
            ("ticket".into(), "3d".into(), "6h".into(), 1.0)
        ]
    );
    let search = &s.slos[1];
    assert_eq!(search.name, "search-errors");
    assert!(search.alerting.page.disable && search.alerting.ticket.disable);

    // The imported specs generate, and promtool accepts, the Sloth rules.
    let out = tmp.path().join("rules");
    let o = run(sloguard()
        .arg("generate")
        .arg("--specs")
        .arg(&specs)
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}", text(&o));
    let rules = std::fs::read_to_string(out.join("catalog.yaml")).unwrap();
    for needle in [
        "sloth_id: catalog-browse",
        "sloth_id: catalog-search-errors",
        "record: slo:sli_error:ratio_rate28d",
        r#"(sum by (zone) (rate(catalog_requests_total[5m]))) - (sum by (zone) (rate(catalog_requests_total{code!~"5.."}[5m])))"#,
        "- alert: CatalogBrowseBurn",
    ] {
        assert!(rules.contains(needle), "missing `{needle}` in:\n{rules}");
    }
    let o = run(std::process::Command::new(tool("promtool"))
        .args(["check", "rules", "catalog.yaml"])
        .current_dir(&out));
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn import_problems_name_the_document_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("tests/data/openslo/catalog.yaml")).unwrap();
    let bad = text
        .replace("indicatorRef: catalog-browse-sli", "indicatorRef: nope")
        .replace("kind: burnrate\n    op", "kind: threshold\n    op");
    let f = tmp.path().join("bad.yaml");
    std::fs::write(&f, bad).unwrap();
    let out = tmp.path().join("specs");
    let (code, log) = import(&[&f], &out);
    assert_eq!(code, 1, "{log}");
    assert!(
        log.contains(
            "bad.yaml: document 5: SLO \"browse\": spec.indicatorRef: no SLI named \"nope\""
        ),
        "{log}"
    );
    assert!(
        log.contains("alertPolicies[0].conditions[0].condition.kind: \"threshold\" is not supported (only burnrate)"),
        "{log}"
    );
    assert!(!out.exists());
}

/// What the OpenSLO mapping carries of an SLO.
fn fields(s: &slo::Service, o: &slo::Slo) -> String {
    let sli = match &o.sli {
        Sli::Raw { error_ratio_query } => format!("raw {error_ratio_query}"),
        other => format!("{:?}", other.event_queries()),
    };
    let tiers: Vec<String> = o
        .tiers
        .iter()
        .map(|t| {
            format!(
                "{} {} {} {} {:?}",
                t.severity, t.long, t.short, t.factor, t.for_
            )
        })
        .collect();
    format!(
        "{} {} {} {} {:?} {} {} page-off:{} ticket-off:{} {sli} {tiers:?}",
        s.name,
        s.region_label,
        o.name,
        o.objective,
        o.description,
        o.period,
        o.alerting.name,
        o.alerting.page.disable,
        o.alerting.ticket.disable
    )
}

#[test]
fn export_then_import_keeps_every_modelled_field() {
    let tmp = tempfile::tempdir().unwrap();
    let exported = tmp.path().join("openslo.yaml");
    let o = run(sloguard()
        .args(["export", "openslo", "--specs"])
        .arg(repo().join("slo-specs"))
        .arg("--out")
        .arg(&exported));
    assert!(o.status.success(), "{}", text(&o));
    let doc = std::fs::read_to_string(&exported).unwrap();
    assert!(doc.contains("apiVersion: openslo/v1\nkind: SLO\n"), "{doc}");
    assert!(doc.contains("kind: burnrate"), "{doc}");
    let specs = tmp.path().join("specs");
    let (code, log) = import(&[&exported], &specs);
    assert_eq!(code, 0, "{log}");
    let before = slo::load_dir(&repo().join("slo-specs")).unwrap();
    let after = slo::load_dir(&specs).unwrap();
    let all = |ss: &[slo::Service]| -> Vec<String> {
        ss.iter()
            .flat_map(|s| s.slos.iter().map(move |o| fields(s, o)))
            .collect()
    };
    assert_eq!(all(&before), all(&after));
    assert!(all(&before).len() >= 4);
}

#[test]
fn pyrra_import_generates_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let specs = tmp.path().join("specs");
    let fixture = repo().join("tests/data/pyrra/api.yaml");
    let o = run(sloguard()
        .args(["import", "pyrra"])
        .arg(&fixture)
        .arg("--out")
        .arg(&specs));
    assert!(o.status.success(), "{}", text(&o));
    let services = slo::load_dir(&specs).unwrap();
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["api", "batch"]);
    let api = &services[0];
    let errors = &api.slos[0];
    assert_eq!(
        (errors.name.as_str(), errors.objective),
        ("api-errors", 99.5)
    );
    assert_eq!(errors.period.to_string(), "28d");
    assert_eq!(errors.alerting.name, "ApiErrorBudgetBurn");
    assert_eq!(
        errors.sli.event_queries().unwrap().0,
        r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#
    );
    let latency = &api.slos[1];
    assert_eq!(
        (latency.name.as_str(), latency.objective),
        ("api-latency", 99.0)
    );
    assert_eq!(latency.alerting.name, "ErrorBudgetBurn");
    assert_eq!(
        latency.sli.event_queries().unwrap().0,
        r#"(sum(rate(http_request_duration_seconds_count{job="api"}[{{.window}}])) - sum(rate(http_request_duration_seconds_bucket{job="api",le="0.5"}[{{.window}}])))"#
    );
    let jobs = &services[1].slos[0];
    assert_eq!(jobs.period.to_string(), "14d");
    assert!(jobs.alerting.page.disable && jobs.alerting.ticket.disable);

    let out = tmp.path().join("rules");
    let o = run(sloguard()
        .arg("generate")
        .arg("--specs")
        .arg(&specs)
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}", text(&o));
    let rules = std::fs::read_to_string(out.join("api.yaml")).unwrap();
    for needle in [
        "sloth_id: api-api-errors",
        "sloth_id: api-api-latency",
        "record: slo:sli_error:ratio_rate28d",
        "- alert: ApiErrorBudgetBurn",
        "- alert: ErrorBudgetBurn",
    ] {
        assert!(rules.contains(needle), "missing `{needle}` in:\n{rules}");
    }
    let o = run(std::process::Command::new(tool("promtool"))
        .args(["check", "rules", "api.yaml", "batch.yaml"])
        .current_dir(&out));
    assert!(o.status.success(), "{}", text(&o));

    // Unsupported indicators are refused, naming the SLO.
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&fixture).unwrap().replace(
            "    ratio:\n      errors:\n        metric: jobs",
            "    gauge:\n      errors:\n        metric: jobs",
        ),
    )
    .unwrap();
    let o = run(sloguard().args(["import", "pyrra"]).arg(&bad));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("bad.yaml: document 3: SLO \"jobs-success\": spec.indicator: indicator gauge is not supported"),
        "{}",
        text(&o)
    );
}
