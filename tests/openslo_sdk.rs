//! `sloguard import openslo` on OpenSLO files in the forms the OpenSLO SDK and the oslo
//! tool write (top-level lists, mixed kinds, bare-name references, counter SLIs of bare
//! selectors, DataSources), through import → validate → generate → promtool; problems
//! reported all at once, naming the document and SLO, with nothing written; a file with
//! no SLO; Sloth's openslo/v1alpha without `isRolling` next to a `Service`; and
//! export → import keeping tiers whose short window is not long / 12 and their `for:`.
// Test harness code; the clock lint guards the library.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::path::Path;

use common::pipeline::import_to_promtool;
use common::*;
use sloguard::slo;

/// (severity, long, short, factor, for) of every tier.
fn tiers(s: &slo::Slo) -> Vec<(String, String, String, f64, String)> {
    s.tiers
        .iter()
        .map(|t| {
            (
                t.severity.to_string(),
                t.long.to_string(),
                t.short.to_string(),
                t.factor,
                t.for_.map(|f| f.to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

fn t(
    sev: &str,
    long: &str,
    short: &str,
    f: f64,
    for_: &str,
) -> (String, String, String, f64, String) {
    (sev.into(), long.into(), short.into(), f, for_.into())
}

#[test]
fn sdk_top_level_list_imports_through_promtool() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = repo().join("tests/data/openslo/sdk-list.yaml");
    let out = import_to_promtool("openslo", &[&fixture], tmp.path(), 1);
    for note in [
        "sdk-list.yaml: document 1: Service \"payments\" skipped",
        "sdk-list.yaml: document 3: AlertNotificationTarget \"oncall\" skipped",
    ] {
        assert!(
            out.log.contains(note),
            "missing note `{note}` in:\n{}",
            out.log
        );
    }
    let services = slo::load_dir(&out.specs).unwrap();
    let s = &services[0];
    assert_eq!(s.name, "payments");
    let checkout = &s.slos[0];
    assert_eq!(checkout.period.to_string(), "30d");
    assert_eq!(checkout.alerting.name, "PaymentsBurn");
    // alertAfter is the alert's `for:`; the short window is long / 12.
    assert_eq!(
        tiers(checkout),
        vec![
            t("page", "1h", "5m", 14.4, "2m"),
            t("ticket", "3d", "6h", 1.0, "")
        ]
    );
    let (e, total) = checkout.sli.event_queries().unwrap();
    assert_eq!(total, "sum(rate(payments_requests_total[{{.window}}]))");
    assert_eq!(
        e,
        r#"sum(rate(payments_requests_total{code=~"5.."}[{{.window}}]))"#
    );
    let rules = out.rules_of("payments");
    assert!(rules.contains("for: '2m'"), "{rules}");
}

#[test]
fn multi_document_mixed_kinds_inline_policy_rolling_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = repo().join("tests/data/openslo/mixed.yaml");
    let out = import_to_promtool("openslo", &[&fixture], tmp.path(), 1);
    let services = slo::load_dir(&out.specs).unwrap();
    let search = &services[0].slos[0];
    assert_eq!(search.period.to_string(), "28d");
    assert_eq!(search.alerting.name, "SearchBurn");
    assert_eq!(tiers(search), vec![t("page", "6h", "30m", 6.0, "")]);
    assert!(search.alerting.ticket.disable);
}

#[test]
fn every_problem_of_every_document_is_reported_and_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    let doc = std::fs::read_to_string(repo().join("tests/data/openslo/sdk-list.yaml"))
        .unwrap()
        .replace("      - payments-burn\n", "      - payments-page\n")
        .replace(
            "    budgetingMethod: Occurrences\n",
            "    budgetingMethod: Timeslices\n",
        )
        .replace("kind: DataSource", "kind: Dashboard");
    std::fs::write(&bad, doc).unwrap();
    let other = tmp.path().join("other.yaml");
    std::fs::write(
        &other,
        "apiVersion: openslo/v2\nkind: SLO\nmetadata: {name: x}\nspec: {}\n",
    )
    .unwrap();
    let out = tmp.path().join("specs");
    let o = run(sloguard()
        .args(["import", "openslo"])
        .arg(&bad)
        .arg(&other)
        .arg("--out")
        .arg(&out));
    let log = text(&o);
    assert_eq!(o.status.code(), Some(1), "{log}");
    for needle in [
        "bad.yaml: document 2: kind: \"Dashboard\" (\"prom\") is not an OpenSLO v1 kind",
        "bad.yaml: document 4: SLO \"checkout\": spec.budgetingMethod: \"Timeslices\" is not supported (only Occurrences)",
        "bad.yaml: document 4: SLO \"checkout\": alertPolicies[0]: no AlertPolicy named \"payments-page\"",
        "other.yaml: document 1: SLO \"x\": apiVersion \"openslo/v2\" is not supported",
    ] {
        assert!(log.contains(needle), "missing `{needle}` in:\n{log}");
    }
    assert!(!out.exists());
}

#[test]
fn a_file_without_slo_says_so_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("services.yaml");
    std::fs::write(
        &f,
        "- apiVersion: openslo/v1\n  kind: Service\n  metadata: {name: a}\n  spec: {}\n- apiVersion: openslo/v1\n  kind: DataSource\n  metadata: {name: p}\n  spec: {type: Prometheus}\n",
    )
    .unwrap();
    let out = tmp.path().join("specs");
    let o = run(sloguard()
        .args(["import", "openslo"])
        .arg(&f)
        .arg("--out")
        .arg(&out));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("no OpenSLO SLO document found"),
        "{}",
        text(&o)
    );
    assert!(!out.exists());
}

#[test]
fn v1alpha_without_is_rolling_and_with_a_service_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let specs = tmp.path().join("specs");
    write_specs(
        &specs,
        &[(
            "home.yaml",
            r#"apiVersion: openslo/v1alpha
kind: Service
metadata:
  name: home
spec:
  description: Home page
---
apiVersion: openslo/v1alpha
kind: SLO
metadata:
  name: availability
spec:
  service: home
  budgetingMethod: Occurrences
  timeWindows:
    - count: 28
      unit: Day
  objectives:
    - target: 0.99
      ratioMetrics:
        good:
          source: prometheus
          queryType: promql
          query: sum(rate(home_requests_total{code!~"5.."}[{{.window}}]))
        total:
          source: prometheus
          queryType: promql
          query: sum(rate(home_requests_total[{{.window}}]))
"#,
        )],
    );
    let o = run(sloguard()
        .arg("validate")
        .arg("--specs")
        .arg(&specs)
        .arg("--strict"));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("document 1 (line 1): Service \"home\" skipped"),
        "{}",
        text(&o)
    );
    let services = slo::load_dir(&specs).unwrap();
    assert_eq!(services[0].slos[0].period.to_string(), "28d");
    let rules = tmp.path().join("rules");
    let o = run(sloguard()
        .arg("generate")
        .arg("--specs")
        .arg(&specs)
        .arg("--out")
        .arg(&rules));
    assert!(o.status.success(), "{}", text(&o));
    let o = run(std::process::Command::new(tool("promtool"))
        .args(["check", "rules", "home.yaml"])
        .current_dir(&rules));
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn export_then_import_keeps_short_windows_and_for() {
    let tmp = tempfile::tempdir().unwrap();
    let specs = tmp.path().join("specs");
    write_specs(
        &specs,
        &[(
            "web.yaml",
            r#"version: sloguard/v1
service: web
slos:
  - name: pages
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(web_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(web_requests_total[{{.window}}]))
    tiers:
      - {severity: page, long_window: 1h, short_window: 10m, burn_factor: 14.4, for: 2m}
      - {severity: ticket, long_window: 1d, short_window: 2h, burn_factor: 3}
    alerting:
      name: WebBurn
"#,
        )],
    );
    let exported = tmp.path().join("openslo.yaml");
    let o = run(sloguard()
        .args(["export", "openslo", "--specs"])
        .arg(&specs)
        .arg("--out")
        .arg(&exported));
    assert!(o.status.success(), "{}", text(&o));
    let dir = tmp.path().join("back");
    std::fs::create_dir_all(&dir).unwrap();
    let out = import_to_promtool("openslo", &[Path::new(&exported)], &dir, 1);
    let back = slo::load_dir(&out.specs).unwrap();
    let before = slo::load_dir(&specs).unwrap();
    assert_eq!(tiers(&back[0].slos[0]), tiers(&before[0].slos[0]));
    assert_eq!(
        tiers(&back[0].slos[0]),
        vec![
            t("page", "1h", "10m", 14.4, "2m"),
            t("ticket", "1d", "2h", 3.0, "")
        ]
    );
}
