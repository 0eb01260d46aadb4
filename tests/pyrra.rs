//! `sloguard import pyrra`: Pyrra `ServiceLevelObjective`s import with the alerts Pyrra
//! gave them. The expected tiers are computed here from Pyrra's window scaling (four
//! tiers defined for 28 days, each window `W / divisor` rounded to the minute), not read
//! from the importer.
// Test harness code; the clock lint guards the library.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::pipeline::import_to_promtool;
use common::*;
use sloguard::slo::{self, Severity};

/// Pyrra's tiers for a window of `days`: (severity, factor, long, short, for) in seconds.
fn pyrra_formula(days: u64) -> Vec<(Severity, f64, u64, u64, u64)> {
    let w = (days * 86_400) as f64;
    // Divisors of the window for 28 days = 1h/5m/2m, 6h/30m/15m, 1d/2h/1h, 4d/6h/3h.
    let minutes = |div: f64| (w / div / 60.0).round() as u64 * 60;
    [
        (Severity::Page, 14.0, 672.0, 8064.0, 20160.0),
        (Severity::Page, 7.0, 112.0, 1344.0, 2688.0),
        (Severity::Ticket, 2.0, 28.0, 336.0, 672.0),
        (Severity::Ticket, 1.0, 7.0, 112.0, 224.0),
    ]
    .into_iter()
    .map(|(s, f, l, sh, fo)| (s, f, minutes(l), minutes(sh), minutes(fo)))
    .collect()
}

#[test]
fn pyrra_alerts_keep_pyrra_windows_at_1w_2w_4w() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = repo().join("tests/data/pyrra/windows.yaml");
    let out = import_to_promtool("pyrra", &[&fixture], tmp.path(), 1);
    let services = slo::load_dir(&out.specs).unwrap();
    assert_eq!(services.len(), 1);
    let shop = &services[0];
    for (name, days) in [
        ("checkout-week", 7),
        ("checkout-fortnight", 14),
        ("checkout-month", 28),
    ] {
        let s = shop.slos.iter().find(|s| s.name == name).unwrap();
        assert_eq!(s.period.secs(), days * 86_400, "{name}");
        let got: Vec<(Severity, f64, u64, u64, u64)> = s
            .tiers
            .iter()
            .map(|t| {
                (
                    t.severity,
                    t.factor,
                    t.long.secs(),
                    t.short.secs(),
                    t.for_.map_or(0, |f| f.secs()),
                )
            })
            .collect();
        assert_eq!(got, pyrra_formula(days), "{name} ({days}d)");
        assert_eq!(s.alerting.page.labels["severity"], "critical");
        assert_eq!(s.alerting.ticket.labels["severity"], "warning");
    }
    // The issue's case: a 2w SLO pages at 14x over 30m and 3m, for 1m.
    assert_eq!(pyrra_formula(14)[0], (Severity::Page, 14.0, 1800, 180, 60));

    // Each tier is its own alert rule with Pyrra's `for:` and threshold (factor x budget).
    let rules = out.rules_of("shop");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&rules).unwrap();
    let group = doc["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "sloguard-slo-shop-checkout-fortnight")
        .unwrap();
    let alerts: Vec<(String, String, String, String)> = group["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|r| r["alert"] == "CheckoutBurn")
        .map(|r| {
            (
                r["labels"]["long"].as_str().unwrap().to_string(),
                r["labels"]["short"].as_str().unwrap().to_string(),
                r["for"].as_str().unwrap().to_string(),
                r["expr"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(alerts.len(), 4, "{rules}");
    assert_eq!(
        (&alerts[0].0[..], &alerts[0].1[..], &alerts[0].2[..]),
        ("30m", "3m", "1m")
    );
    assert!(
        alerts[0].3.contains("slo:sli_error:ratio_rate3m{")
            && alerts[0].3.contains("slo:sli_error:ratio_rate30m{")
            && alerts[0].3.contains("> 0.07)"),
        "{}",
        alerts[0].3
    );
}

#[test]
fn grouping_bool_gauge_and_latency_native_import_as_pyrra_computes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = repo().join("tests/data/pyrra/indicators.yaml");
    // sloguard synthesises no unit test for grouped, bool_gauge or raw SLIs (warned);
    // the promtool test below is written by hand.
    let out = import_to_promtool("pyrra", &[&fixture], tmp.path(), 0);
    let services = slo::load_dir(&out.specs).unwrap();
    let gw = &services[0];
    let by_name = |n: &str| gw.slos.iter().find(|s| s.name == n).unwrap();
    assert_eq!(
        by_name("routes").sli.event_queries().unwrap(),
        (
            r#"sum by (route) (rate(gateway_requests_total{job="gateway",code=~"5.."}[{{.window}}]))"#.to_string(),
            r#"sum by (route) (rate(gateway_requests_total{job="gateway"}[{{.window}}]))"#.to_string()
        )
    );
    assert_eq!(
        by_name("probes").sli.event_queries().unwrap(),
        (
            r#"(sum(count_over_time(probe_success{job="blackbox"}[{{.window}}])) - sum(sum_over_time(probe_success{job="blackbox"}[{{.window}}])))"#.to_string(),
            r#"sum(count_over_time(probe_success{job="blackbox"}[{{.window}}]))"#.to_string()
        )
    );
    match &by_name("connect-latency").sli {
        slo::Sli::Raw { error_ratio_query } => assert_eq!(
            error_ratio_query,
            r#"1 - histogram_fraction(0, 0.5, sum(rate(connect_duration_seconds{job="gateway"}[{{.window}}])))"#
        ),
        other => panic!("{other:?}"),
    }
    // Groups: the route label is kept by every window ratio and so by the alerts.
    let rules = out.rules_of("gateway");
    assert!(
        rules.contains("sum by (route, region) (rate(gateway_requests_total{code=~\"5..\",job=\"gateway\"}[5m]))")
            || rules.contains("sum by (route, region) (rate(gateway_requests_total{job=\"gateway\",code=~\"5..\"}[5m]))"),
        "{rules}"
    );
    // promtool: route /b fails half its requests, /a none; probes fail from 60m. At
    // 90m the page alert (14x over 30m/3m for 1m at 2w; over 1h/5m for 2m at 4w) fires
    // for route /b only, and for the probes.
    let tests = out.rules.join("tests");
    std::fs::create_dir_all(&tests).unwrap();
    std::fs::write(
        tests.join("groups_test.yaml"),
        r#"rule_files: [../gateway.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'gateway_requests_total{job="gateway",route="/a",code="200",region="r1"}'
        values: '0+600x120'
      - series: 'gateway_requests_total{job="gateway",route="/b",code="200",region="r1"}'
        values: '0+600x120'
      - series: 'gateway_requests_total{job="gateway",route="/b",code="500",region="r1"}'
        values: '0+600x120'
      - series: 'probe_success{job="blackbox",instance="x",region="r1"}'
        values: '1x60 0x60'
    promql_expr_test:
      - expr: 'count by (route) (ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",slo="routes",long="30m",severity="critical"})'
        eval_time: 90m
        exp_samples:
          - labels: '{route="/b"}'
            value: 1
      - expr: 'count(ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",slo="probes",long="1h",severity="critical"})'
        eval_time: 90m
        exp_samples:
          - labels: '{}'
            value: 1
      - expr: 'count(ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",slo="probes"})'
        eval_time: 55m
        exp_samples: []
"#,
    )
    .unwrap();
    let o = run(std::process::Command::new(tool("promtool"))
        .args(["test", "rules", "tests/groups_test.yaml"])
        .current_dir(&out.rules));
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn refusals_name_the_feature_file_document_and_slo_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\nmetadata: {name: a, namespace: x}\nspec:\n  target: '99'\n  window: 4w\n  indicator:\n    gauge: {metric: up}\n---\napiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\nmetadata: {name: b, namespace: x}\nspec:\n  target: '99'\n  window: 30m\n  indicator:\n    ratio: {errors: {metric: e_total}, total: {metric: t_total}}\n",
    )
    .unwrap();
    let out = tmp.path().join("specs");
    let o = run(sloguard()
        .args(["import", "pyrra"])
        .arg(&bad)
        .arg("--out")
        .arg(&out));
    let log = text(&o);
    assert_eq!(o.status.code(), Some(1), "{log}");
    for needle in [
        "bad.yaml: document 1: SLO \"a\": spec.indicator: indicator gauge is not supported",
        "bad.yaml: document 2: SLO \"b\": spec.window: window 30m is too short for Pyrra's burn-rate alerts",
    ] {
        assert!(log.contains(needle), "missing `{needle}` in:\n{log}");
    }
    assert!(!out.exists());
}
