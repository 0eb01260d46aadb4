//! Calendar periods (issue 22, item 4): a calendar-month SLO's budget resets on the 1st
//! at 00:00 UTC in the generated rules (a hand-written promtool test across a month
//! boundary) and in the core (a backtest across one), while the burn-rate windows stay
//! rolling; OpenSLO calendar windows import, validate, generate and export back; what is
//! not supported (other time zones, quarters, unaligned starts) is refused by name.
// Test harness code runs external tools in wall time.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::pipeline::import_to_promtool;
use common::*;
use sloguard::sim::{self, CounterScenario, Outage, RegionTraffic};
use sloguard::slo::{self, Calendar};

#[test]
fn month_budget_resets_at_the_boundary_in_the_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules");
    let o = run(sloguard()
        .arg("generate")
        .arg("--specs")
        .arg(repo().join("tests/data/calendar/specs"))
        .arg("--out")
        .arg(&rules));
    assert!(o.status.success(), "{}", text(&o));
    let o = run(std::process::Command::new(tool("promtool"))
        .args(["check", "rules", "checkout.yaml"])
        .current_dir(&rules));
    assert!(o.status.success(), "{}", text(&o));
    let generated = std::fs::read_to_string(rules.join("checkout.yaml")).unwrap();
    // The alert tiers keep their rolling windows; no rolling 31d ratio is recorded.
    assert!(
        generated.contains("slo:sli_error:ratio_rate3d"),
        "{generated}"
    );
    assert!(!generated.contains("ratio_rate31d"), "{generated}");
    let test = std::fs::read_to_string(repo().join("tests/data/calendar/month_boundary_test.yaml"))
        .unwrap()
        .replace(
            "sloguard-VERSION",
            &format!("sloguard-{}", env!("CARGO_PKG_VERSION")),
        );
    std::fs::write(rules.join("tests/month_boundary_test.yaml"), test).unwrap();
    for t in ["tests/month_boundary_test.yaml", "tests/checkout_test.yaml"] {
        let o = run(std::process::Command::new(tool("promtool"))
            .args(["test", "rules", t])
            .current_dir(&rules));
        assert!(o.status.success(), "{t}: {}", text(&o));
    }
}

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;

/// 2025-01-30 00:00 UTC.
const JAN_30: i64 = 1_738_195_200;
const FEB_1: i64 = JAN_30 + 2 * 86_400;

fn calendar_spec() -> String {
    format!(
        r#"version: sloguard/v1
service: api
slos:
  - name: availability
    objective: 99
    period: 1M
    sli:
      events:
        error_query: '{ERR}'
        total_query: '{TOTAL}'
    alerting:
      name: ApiAvailability
"#
    )
}

/// Backtests 100 rps with a 2h outage at 50% errors on January 30th, up to `hours`
/// after January 30th 00:00 UTC, and returns the final rows of the region.
fn backtest_rows(hours: i64) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    write_specs(&dir.path().join("specs"), &[("api.yaml", &calendar_spec())]);
    let scenario = CounterScenario {
        start: JAN_30,
        duration: hours * 3_600,
        interval: 60,
        job: "api".into(),
        regions: vec![RegionTraffic {
            region: "eu-west-1".into(),
            rps: 100.0,
            error_ratio: 0.0,
        }],
        outages: vec![Outage {
            region: "eu-west-1".into(),
            start: 10 * 3_600,
            duration: 2 * 3_600,
            error_ratio: 0.5,
        }],
    };
    let data = dir.path().join("data.om");
    std::fs::write(&data, sim::openmetrics(&scenario)).unwrap();
    let o = run(sloguard()
        .args(["backtest", "--output", "json", "--step", "60s", "--specs"])
        .arg(dir.path().join("specs"))
        .arg("--data")
        .arg(&data));
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["final"].as_array().unwrap().clone()
}

fn row<'a>(rows: &'a [serde_json::Value], window: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["window"] == window)
        .unwrap_or_else(|| panic!("no {window} row in {rows:?}"))
}

#[test]
fn month_budget_resets_at_the_boundary_in_the_core() {
    // Before the boundary (January 31st, 23:00): the outage's errors (1h of 100 rps
    // failing: 2h at 50%) are in the January period.
    let jan = backtest_rows(47);
    let p = row(&jan, "calendar_month");
    assert_eq!(p["period_start"], "2025-01-01T00:00:00Z", "{p}");
    let burn = p["burn_rate"].as_f64().unwrap();
    // 360,000 errors of 47h × 360,000 events per hour, over a 1% budget.
    let expected = 360_000.0 / (47.0 * 360_000.0) / 0.01;
    assert!(
        (burn - expected).abs() < 0.05 * expected,
        "{burn} vs {expected}: {p}"
    );
    // After it (February 1st, 12:00): the period restarted, no error counted, only
    // February's events; the rolling windows still hold the outage.
    let feb = backtest_rows(60);
    let p = row(&feb, "calendar_month");
    assert_eq!(p["period_start"], "2025-02-01T00:00:00Z", "{p}");
    assert_eq!(p["error_ratio"].as_f64(), Some(0.0), "{p}");
    assert_eq!(p["burn_rate"].as_f64(), Some(0.0), "{p}");
    let events = p["events"].as_u64().unwrap();
    assert!(
        (12 * 360_000 - 6_000..=12 * 360_000 + 6_000).contains(&events),
        "{events} events since February 1st: {p}"
    );
    let rolling = row(&feb, "3d");
    assert!(rolling["error_ratio"].as_f64().unwrap() > 0.0, "{rolling}");
    assert!(row(&feb, "31d")["events"].as_u64().unwrap() > events);
    // The tally's boundary is the calendar's.
    assert_eq!(Calendar::Month.start(FEB_1 + 3_600), FEB_1);
}

#[test]
fn openslo_calendar_windows_import_generate_and_export_back() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = repo().join("tests/data/openslo/calendar.yaml");
    let out = import_to_promtool("openslo", &[&fixture], tmp.path(), 1);
    let services = slo::load_dir(&out.specs).unwrap();
    let by_name = |n: &str| {
        services
            .iter()
            .flat_map(|s| &s.slos)
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("no SLO {n}"))
    };
    assert_eq!(by_name("orders-monthly").calendar, Some(Calendar::Month));
    assert_eq!(by_name("orders-weekly").calendar, Some(Calendar::Week));
    assert_eq!(by_name("orders-daily").calendar, Some(Calendar::Day));
    assert_eq!(by_name("orders-rolling").calendar, None);
    // Alert tiers keep their rolling windows (the condition's lookback window).
    assert_eq!(by_name("orders-monthly").tiers[0].long.to_string(), "1h");
    let rules = out.rules_of("orders");
    assert!(rules.contains("sloguard_period: calendar_week"), "{rules}");
    assert!(
        rules.contains("[7d:1h]") && rules.contains("[1d:5m]"),
        "{rules}"
    );

    // Export writes calendar windows; importing the export gives the same periods back.
    let exported = tmp.path().join("exported.yaml");
    let o = run(sloguard()
        .args(["export", "openslo", "--specs"])
        .arg(&out.specs)
        .arg("--out")
        .arg(&exported));
    assert!(o.status.success(), "{}", text(&o));
    let text_out = std::fs::read_to_string(&exported).unwrap();
    assert!(text_out.contains("duration: 1M"), "{text_out}");
    assert!(text_out.contains("isRolling: false"), "{text_out}");
    assert!(text_out.contains("timeZone: UTC"), "{text_out}");
    let again = import_to_promtool("openslo", &[&exported], &tmp.path().join("again"), 1);
    let back = slo::load_dir(&again.specs).unwrap();
    let periods = |ss: &[slo::Service]| {
        let mut v: Vec<(String, Option<Calendar>)> = ss
            .iter()
            .flat_map(|s| &s.slos)
            .map(|s| (s.name.clone(), s.calendar))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(periods(&back), periods(&services));
}

#[test]
fn unsupported_calendar_windows_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: berlin
spec:
  service: orders
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 1M
      isRolling: false
      calendar:
        startTime: "2024-01-01 00:00:00"
        timeZone: Europe/Berlin
  indicator:
    metadata:
      name: orders-errors
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: orders_errors_total
        total:
          metricSource:
            type: Prometheus
            spec:
              query: orders_total
  objectives:
    - target: 0.99
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: quarterly
spec:
  service: orders
  timeWindow:
    - duration: 1Q
      isRolling: false
  indicatorRef: orders-errors
  objectives:
    - target: 0.99
"#,
    )
    .unwrap();
    let specs = tmp.path().join("specs");
    let o = run(sloguard()
        .args(["import", "openslo"])
        .arg(&bad)
        .arg("--out")
        .arg(&specs));
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("Europe/Berlin") && t.contains("UTC only"), "{t}");
    assert!(t.contains("\"1Q\"") && t.contains("document 2"), "{t}");
    assert!(!specs.exists() || std::fs::read_dir(&specs).unwrap().next().is_none());

    // openslo/v1alpha, read directly by validate: a calendar month validates; a zone
    // other than UTC and a start that is not the 1st are refused.
    let dir = tmp.path().join("v1alpha");
    let doc = |name: &str, unit: &str, start: &str, tz: &str| {
        format!(
            r#"apiVersion: openslo/v1alpha
kind: SLO
metadata:
  name: {name}
spec:
  service: shop
  budgetingMethod: Occurrences
  timeWindows:
    - unit: {unit}
      count: 1
      isRolling: false
      calendar:
        startTime: "{start}"
        timeZone: {tz}
  objectives:
    - target: 0.999
      ratioMetrics:
        good:
          source: prometheus
          queryType: promql
          query: sum(rate(shop_requests_total{{code!~"5.."}}[{{{{.window}}}}]))
        total:
          source: prometheus
          queryType: promql
          query: sum(rate(shop_requests_total[{{{{.window}}}}]))
"#
        )
    };
    write_specs(
        &dir,
        &[(
            "ok.yaml",
            &doc("monthly", "Month", "2024-01-01 00:00:00", "UTC"),
        )],
    );
    let o = run(sloguard().arg("validate").arg("--specs").arg(&dir));
    assert!(o.status.success(), "{}", text(&o));
    let services = slo::load_dir(&dir).unwrap();
    assert_eq!(services[0].slos[0].calendar, Some(Calendar::Month));
    write_specs(
        &dir,
        &[
            (
                "tz.yaml",
                &doc("nyc", "Month", "2024-01-01 00:00:00", "America/New_York"),
            ),
            (
                "start.yaml",
                &doc("mid", "Week", "2024-01-03 00:00:00", "UTC"),
            ),
        ],
    );
    let o = run(sloguard().arg("validate").arg("--specs").arg(&dir));
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("America/New_York"), "{t}");
    assert!(t.contains("not the start of a UTC week"), "{t}");

    // sloguard/v1: `2M` is no period; the message says what a calendar period is.
    let dir = tmp.path().join("v1");
    write_specs(
        &dir,
        &[(
            "api.yaml",
            &calendar_spec().replace("period: 1M", "period: 2M"),
        )],
    );
    let o = run(sloguard().arg("validate").arg("--specs").arg(&dir));
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("a calendar month is exactly `1M`"), "{t}");
}
