//! The engine against a real Prometheus 2.42 (started by the test on a free port): three
//! days of two-region counters with an outage are backfilled with promtool, the generated
//! rules are loaded, and `eval --at T --output json` is compared with Prometheus' own
//! value of every `slo:sli_error:ratio_rate<w>` rule expression at T, for every window and
//! region, within the core's edge-error bound.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::prom::Prometheus;
use common::*;
use sloguard::sim::{self, CounterScenario, Outage, RegionTraffic};

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;
const START: i64 = 1_790_000_000 / 86_400 * 86_400;
const OUTAGE_AT: i64 = 2 * 86_400 + 3_600;

struct World {
    _dir: tempfile::TempDir,
    prom: Prometheus,
    config: std::path::PathBuf,
    rules: serde_yaml_ng::Value,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    write_specs(&specs, &[("api.yaml", &sloth_spec("api", ERR, TOTAL))]);
    let rules_dir = dir.path().join("rules");
    let o = run(sloguard()
        .arg("generate")
        .arg("--specs")
        .arg(&specs)
        .arg("--out")
        .arg(&rules_dir));
    assert!(o.status.success(), "{}", text(&o));
    let scenario = CounterScenario {
        start: START,
        duration: 3 * 86_400,
        interval: 30,
        job: "api".into(),
        regions: vec![
            RegionTraffic {
                region: "us-east-1".into(),
                rps: 200.0,
                error_ratio: 0.0002,
            },
            RegionTraffic {
                region: "eu-west-1".into(),
                rps: 100.0,
                error_ratio: 0.0005,
            },
        ],
        outages: vec![Outage {
            region: "us-east-1".into(),
            start: OUTAGE_AT,
            duration: 3_600,
            error_ratio: 1.0,
        }],
    };
    let prom = Prometheus::start(
        dir.path(),
        &sim::openmetrics(&scenario),
        &[rules_dir.join("api.yaml")],
    );
    let config = dir.path().join("sloguard.yaml");
    std::fs::write(
        &config,
        format!(
            "specs: specs\nsource: {{thanos: {{url: {}}}}}\nevaluation: {{interval: 30s}}\nregions: {{label: region, active: us-east-1, standby: [eu-west-1]}}\n",
            prom.url
        ),
    )
    .unwrap();
    let rules =
        serde_yaml_ng::from_str(&std::fs::read_to_string(rules_dir.join("api.yaml")).unwrap())
            .unwrap();
    World {
        _dir: dir,
        prom,
        config,
        rules,
    }
}

fn rule_expr(rules: &serde_yaml_ng::Value, record: &str) -> String {
    rules["groups"][0]["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|r| r["record"].as_str() == Some(record))
        .and_then(|r| r["expr"].as_str())
        .unwrap_or_else(|| panic!("no rule {record}"))
        .to_string()
}

fn eval(w: &World, at: i64) -> serde_json::Value {
    eval_config(&w.config, at)
}

/// `sloguard eval --output json --at AT --config CONFIG`.
fn eval_config(config: &std::path::Path, at: i64) -> serde_json::Value {
    let o = run(sloguard()
        .args([
            "eval",
            "--output",
            "json",
            "--at",
            &at.to_string(),
            "--config",
        ])
        .arg(config));
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The same world's config with `evaluation.backfill_points` set.
fn with_backfill_points(w: &World, points: u64) -> std::path::PathBuf {
    let text = std::fs::read_to_string(&w.config).unwrap().replace(
        "evaluation: {interval: 30s}",
        &format!("evaluation: {{interval: 30s, backfill_points: {points}}}"),
    );
    assert!(text.contains("backfill_points"), "{text}");
    let path = w.config.with_file_name(format!("sloguard-{points}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_backfill_in_small_pieces_equals_one_in_whole_segments() {
    // One SLO and 7 points a round: the 6 h at 1 m, 3 days at 5 m and the rest at 1 h
    // come in some 260 rounds instead of 3; the windows must not differ at all.
    let w = world();
    let pieces = with_backfill_points(&w, 7);
    for at in [START + OUTAGE_AT + 1_800, START + 3 * 86_400 - 60] {
        let whole = eval(&w, at);
        let cut = eval_config(&pieces, at);
        assert_eq!(whole["final"], cut["final"], "at {at}");
        let rows = whole["final"].as_array().unwrap();
        assert!(
            rows.iter().any(|r| r["events"].as_u64().unwrap_or(0) > 0),
            "the comparison has data: {rows:?}"
        );
    }
}

#[test]
fn eval_agrees_with_prometheus_rules_within_edge_bound() {
    let w = world();
    let k = 30.0;
    let mut compared = 0;
    let mut worst: f64 = 0.0;
    // Steady baseline, mid-outage, recovery, and the end of the data.
    for at in [
        START + 36 * 3600,
        START + OUTAGE_AT + 1_800,
        START + OUTAGE_AT + 3_600 + 1_200,
        START + 3 * 86_400 - 60,
    ] {
        let report = eval(&w, at);
        for window in ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"] {
            let expr = rule_expr(&w.rules, &format!("slo:sli_error:ratio_rate{window}"));
            let theirs = w.prom.query(&expr, at);
            assert_eq!(
                theirs.len(),
                2,
                "Prometheus has both regions for {window} at {at}"
            );
            for (labels, prom_value) in theirs {
                let region = labels["region"].as_str().unwrap();
                let ours = report["final"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["region"] == region && r["window"] == window)
                    .unwrap_or_else(|| panic!("no row {region} {window}"));
                let ours = ours["error_ratio"].as_f64().unwrap();
                // The rings cover between W - W/K and W: the ratio may differ by up to 1/K
                // of itself, plus the rate estimator's sampling noise at 30 s scrapes.
                let tolerance = (1.0 / k + 0.01) * prom_value.abs().max(ours.abs()) + 2e-5;
                let diff = (ours - prom_value).abs();
                worst = worst.max(diff / prom_value.abs().max(1e-9));
                assert!(
                    diff <= tolerance,
                    "{region} {window} at {at}: sloguard {ours} vs Prometheus {prom_value}"
                );
                compared += 1;
            }
        }
        // Mid-outage the active region burns and the standby is healthy.
        if at == START + OUTAGE_AT + 1_800 {
            let regions = report["regions"].as_array().unwrap();
            let state = |r: &str| {
                regions.iter().find(|x| x["region"] == r).unwrap()["state"]
                    .as_str()
                    .unwrap()
                    .to_string()
            };
            assert_eq!(state("us-east-1"), "burning");
            assert_eq!(state("eu-west-1"), "healthy");
            let page = report["tiers"].as_array().unwrap().iter().any(|t| {
                t["region"] == "us-east-1" && t["severity"] == "page" && t["holds"] == true
            });
            assert!(page);
        }
    }
    assert_eq!(compared, 4 * 8 * 2);
    println!(
        "compared {compared} window ratios with Prometheus; worst relative difference {worst:.4}"
    );
}

#[test]
fn backtest_from_source_finds_the_outage() {
    let w = world();
    let o = run(sloguard()
        .args(["backtest", "--output", "json", "--config"])
        .arg(&w.config)
        .args([
            "--start",
            &(START + OUTAGE_AT - 3_600).to_string(),
            "--end",
            &(START + OUTAGE_AT + 2 * 3_600).to_string(),
        ]));
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let pages: Vec<&serde_json::Value> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["severity"] == "page")
        .collect();
    assert_eq!(pages.len(), 1, "{report}");
    assert_eq!(pages[0]["region"], "us-east-1");
    let fired = humantime::parse_rfc3339(pages[0]["fired_at"].as_str().unwrap())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let delay = fired - (START + OUTAGE_AT);
    assert!(
        (0..=180).contains(&delay),
        "paged {delay}s after the outage began"
    );
}
