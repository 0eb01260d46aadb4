//! `sloguard backtest`: a 3-day, two-region OpenMetrics file with an outage pages for the
//! failing region only, within one evaluation step of the SRE Workbook detection time, at
//! 100% and at 10% errors of a 99.9% SLO; the JSON contract; clear errors.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::*;
use sloguard::sim::{self, CounterScenario, Outage, RegionTraffic};

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;
const START: i64 = 1_790_000_000 / 86_400 * 86_400;
const OUTAGE_AT: i64 = 2 * 86_400 + 3_600;

fn scenario(error_ratio: f64) -> CounterScenario {
    CounterScenario {
        start: START,
        duration: 3 * 86_400,
        interval: 30,
        job: "api".into(),
        regions: vec![
            RegionTraffic {
                region: "us-east-1".into(),
                rps: 200.0,
                error_ratio: 0.0001,
            },
            RegionTraffic {
                region: "eu-west-1".into(),
                rps: 200.0,
                error_ratio: 0.0001,
            },
        ],
        outages: vec![Outage {
            region: "us-east-1".into(),
            start: OUTAGE_AT,
            duration: 3_600,
            error_ratio,
        }],
    }
}

fn backtest_json(error_ratio: f64) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    write_specs(
        &dir.path().join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let data = dir.path().join("data.om");
    std::fs::write(&data, sim::openmetrics(&scenario(error_ratio))).unwrap();
    let o = run(sloguard()
        .args(["backtest", "--output", "json", "--step", "30s", "--specs"])
        .arg(dir.path().join("specs"))
        .arg("--data")
        .arg(&data));
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn unix(rfc: &str) -> i64 {
    humantime::parse_rfc3339(rfc)
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn first_page(report: &serde_json::Value) -> (String, i64, Option<i64>) {
    let pages: Vec<&serde_json::Value> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["severity"] == "page")
        .collect();
    assert!(!pages.is_empty(), "no page alert: {report}");
    for p in &pages {
        assert_eq!(
            p["region"], "us-east-1",
            "only the failing region pages: {p}"
        );
        assert_eq!(p["service"], "api");
        assert_eq!(p["slo"], "availability");
    }
    let p = pages[0];
    (
        p["region"].as_str().unwrap().to_string(),
        unix(p["fired_at"].as_str().unwrap()),
        p["resolved_at"].as_str().map(unix),
    )
}

#[test]
fn full_outage_pages_within_one_step_of_workbook_detection() {
    let report = backtest_json(1.0);
    let (_, fired, resolved) = first_page(&report);
    // 14.4x over 1h at 99.9%: 0.0144 / 1.0 x 3600 s = 51.84 s.
    let detect = START + OUTAGE_AT + 52;
    assert!(
        (fired - detect).abs() <= 30,
        "fired {}s after the outage began",
        fired - START - OUTAGE_AT
    );
    let resolved = resolved.expect("resolves after the outage");
    assert!(
        resolved > START + OUTAGE_AT + 3_600,
        "resolves after recovery"
    );
}

#[test]
fn ten_percent_outage_pages_within_one_step_of_workbook_detection() {
    let report = backtest_json(0.1);
    let (_, fired, _) = first_page(&report);
    // 0.0144 / 0.1 x 3600 s = 518.4 s.
    let detect = START + OUTAGE_AT + 518;
    assert!(
        (fired - detect).abs() <= 30,
        "fired {}s after the outage began",
        fired - START - OUTAGE_AT
    );
}

#[test]
fn final_rows_follow_the_contract() {
    let report = backtest_json(1.0);
    let rows = report["final"].as_array().unwrap();
    // 2 regions x 8 windows (5m 30m 1h 2h 6h 1d 3d 30d).
    assert_eq!(rows.len(), 16, "{rows:?}");
    for r in rows {
        for k in [
            "service",
            "slo",
            "region",
            "window",
            "error_ratio",
            "burn_rate",
            "events",
        ] {
            assert!(r.get(k).is_some(), "{k} missing in {r}");
        }
    }
    let day = rows
        .iter()
        .find(|r| r["region"] == "us-east-1" && r["window"] == "1d")
        .unwrap();
    // 1h of 100% errors in the last day at a steady rate: ~1/24 of the requests.
    let ratio = day["error_ratio"].as_f64().unwrap();
    assert!((ratio - 1.0 / 24.0).abs() < 0.004, "{ratio}");
    assert!((day["burn_rate"].as_f64().unwrap() - ratio / 0.001).abs() < 1e-6);
    let healthy = rows
        .iter()
        .find(|r| r["region"] == "eu-west-1" && r["window"] == "5m")
        .unwrap();
    assert!(healthy["error_ratio"].as_f64().unwrap() < 0.001);
    assert!(report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["fired_at"].as_str().unwrap().ends_with('Z')));
}

#[test]
fn no_data_is_null_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    write_specs(
        &dir.path().join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let data = dir.path().join("data.om");
    // A region whose counters stop: its short windows have no events at the end.
    let body = format!(
        "# TYPE http_requests counter\n{}{}# EOF\n",
        (0..20)
            .map(|i| format!(
                "http_requests_total{{job=\"api\",code=\"200\",region=\"a\"}} {} {}\n",
                i * 100,
                START + i * 30
            ))
            .collect::<String>(),
        (0..200)
            .map(|i| format!(
                "http_requests_total{{job=\"api\",code=\"200\",region=\"b\"}} {} {}\n",
                i * 100,
                START + i * 30
            ))
            .collect::<String>(),
    );
    std::fs::write(&data, body).unwrap();
    let o = run(sloguard()
        .args(["backtest", "--output", "json", "--specs"])
        .arg(dir.path().join("specs"))
        .arg("--data")
        .arg(&data));
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let a5 = report["final"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "a" && r["window"] == "5m")
        .unwrap();
    assert!(
        a5["error_ratio"].is_null() && a5["burn_rate"].is_null() && a5["events"] == 0,
        "{a5}"
    );
    let b5 = report["final"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "b" && r["window"] == "5m")
        .unwrap();
    assert_eq!(b5["error_ratio"].as_f64(), Some(0.0));
}

#[test]
fn malformed_line_is_an_error_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    write_specs(
        &dir.path().join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let data = dir.path().join("bad.om");
    std::fs::write(
        &data,
        "# TYPE x counter\nx{a=\"1\"} 1 100\nx{a=\"1\" 2 130\n# EOF\n",
    )
    .unwrap();
    let o = run(sloguard()
        .args(["backtest", "--specs"])
        .arg(dir.path().join("specs"))
        .arg("--data")
        .arg(&data));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("line 3: unterminated label set"),
        "{}",
        text(&o)
    );
}

#[test]
fn unsupported_sli_shape_names_the_slo() {
    let dir = tempfile::tempdir().unwrap();
    let raw = "version: \"prometheus/v1\"\nservice: r\nslos:\n  - name: ratio-slo\n    objective: 99\n    sli:\n      raw:\n        error_ratio_query: max(x:ratio_rate{{.window}})\n    alerting: {name: R}\n";
    write_specs(&dir.path().join("specs"), &[("r.yaml", raw)]);
    let data = dir.path().join("d.om");
    std::fs::write(&data, "x 1 1\n").unwrap();
    let o = run(sloguard()
        .args(["backtest", "--specs"])
        .arg(dir.path().join("specs"))
        .arg("--data")
        .arg(&data));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("r.yaml: ratio-slo: cannot be evaluated from raw series"),
        "{}",
        text(&o)
    );
}

#[test]
fn repository_latency_slo_replays_through_good_counting_streams() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("lat.om");
    let mut body =
        String::from("# TYPE nginx_ingress_controller_request_duration_seconds histogram\n");
    for i in 0..200 {
        let slow = if i > 150 { 50 } else { 0 };
        let ts = START + i * 30;
        body += &format!("nginx_ingress_controller_request_duration_seconds_count{{ingress=\"checkout\",region=\"r1\"}} {} {ts}\n", i * 100);
        body += &format!("nginx_ingress_controller_request_duration_seconds_bucket{{ingress=\"checkout\",le=\"0.3\",region=\"r1\"}} {} {ts}\n", i * 100 - slow * (i - 150).max(0));
    }
    body += "# EOF\n";
    std::fs::write(&data, body).unwrap();
    let o = run(sloguard()
        .args(["backtest", "--output", "json", "--specs"])
        .arg(repo().join("slo-specs"))
        .arg("--data")
        .arg(&data));
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let w5 = report["final"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["slo"] == "requests-latency" && r["service"] == "checkout" && r["window"] == "5m"
        })
        .unwrap();
    let ratio = w5["error_ratio"].as_f64().unwrap();
    assert!(
        (ratio - 0.5).abs() < 0.05,
        "half the requests are slow: {w5}"
    );
    assert!(report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["slo"] == "requests-latency" && a["severity"] == "page"));
}

/// Hostile data files (issue: hostile input): absurd timestamps are refused with their
/// line, a span past 400 days is refused before any replay, and counters beyond a
/// bucket's range are counted and reported, never clamped into a wrong ratio. Nothing
/// panics or hangs (each run is bounded by the test's own timeout).
#[test]
fn hostile_data_is_refused_or_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_specs(
        &dir.path().join("specs"),
        &[("api.yaml", &sloth_spec("api", ERR, TOTAL))],
    );
    let backtest = |name: &str, body: &str| {
        let data = dir.path().join(name);
        std::fs::write(
            &data,
            format!("# TYPE http_requests counter\n{body}# EOF\n"),
        )
        .unwrap();
        let mut cmd = sloguard();
        cmd.args(["backtest", "--specs"])
            .arg(dir.path().join("specs"))
            .arg("--data")
            .arg(&data);
        let started = std::time::Instant::now();
        let o = run(&mut cmd);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{name} hung"
        );
        o
    };
    let series = r#"http_requests_total{job="api",code="200",region="us-east-1"}"#;
    for (name, ts) in [
        ("i64-max.om", "9223372036854775000"),
        ("huge.om", "1e300"),
        ("year-3000.om", "32503680000"),
        ("negative.om", "-5"),
    ] {
        let o = backtest(name, &format!("{series} 1 1790000000\n{series} 2 {ts}\n"));
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(
            text(&o).contains("line 3: timestamp") && text(&o).contains("outside"),
            "{name}: {}",
            text(&o)
        );
        assert!(!text(&o).contains("panicked"), "{}", text(&o));
    }
    let o = backtest(
        "span.om",
        &format!(
            "{series} 1 1000000000\n{series} 2 {}\n",
            1_000_000_000 + 401 * 86_400
        ),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("limit is 400 days"), "{}", text(&o));

    // Counters near f64::MAX: every increase is astronomically large.
    let bad = r#"http_requests_total{job="api",code="500",region="us-east-1"}"#;
    let mut body = String::new();
    for i in 0..20 {
        let t = 1_790_000_000 + i * 30;
        body.push_str(&format!("{series} {} {t}\n", 1e307 * (i + 1) as f64));
        body.push_str(&format!("{bad} {} {t}\n", 1e307 * (i + 1) as f64 / 2.0));
    }
    let o = backtest("near-max.om", &body);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("WARNING") && text(&o).contains("out of range"),
        "{}",
        text(&o)
    );
}
