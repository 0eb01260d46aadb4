//! Batched queries (issue 21.1) against a real Prometheus 2.42: the numbers of the batched
//! path equal one query per SLO (a property test over generated spec sets), with far
//! fewer queries; a batch that fails degrades only the SLOs it served.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::prom::{free_port, Prometheus};
use common::*;
use proptest::prelude::*;
use sloguard::app::{App, Purpose};
use sloguard::query::{MetricsSource, QueryError, QueryResult};
use sloguard::snapshot::DataStatus;

const JOBS: usize = 6;
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// 6 h of 60 s counters ending at `end`: per job and region a 2xx and a 5xx series
/// whose rates differ per job, region and hour (so every window has its own ratio).
fn counters(end: i64) -> String {
    let start = end - 6 * 3600;
    let mut out = String::from("# TYPE http_requests_total counter\n");
    for j in 0..JOBS {
        for (ri, r) in REGIONS.iter().enumerate() {
            for (code, base) in [("200", 5.0 + j as f64), ("503", 0.01 * (1 + j + ri) as f64)] {
                let mut v = 0.0;
                let mut t = start;
                while t <= end {
                    let hour = ((t - start) / 3600) as f64;
                    v += 60.0 * base * (1.0 + 0.3 * ((hour + ri as f64) % 3.0));
                    out.push_str(&format!(
                        "http_requests_total{{code=\"{code}\",job=\"j{j}\",region=\"{r}\"}} {v:.3} {t}\n"
                    ));
                    t += 60;
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// A spec file of the SLOs over the given jobs (one batchable shape) plus one SLO of
/// another shape (a ratio of sums), which cannot batch.
fn specs(dir: &Path, jobs: &[usize], objective: f64) {
    let mut s = String::from("version: \"prometheus/v1\"\nservice: app\nslos:\n");
    for j in jobs {
        s.push_str(&format!(
            "  - name: s{j}\n    objective: {objective}\n    sli:\n      events:\n        error_query: sum(rate(http_requests_total{{job=\"j{j}\",code=~\"5..\"}}[{{{{.window}}}}]))\n        total_query: sum(rate(http_requests_total{{job=\"j{j}\"}}[{{{{.window}}}}]))\n    alerting: {{name: S{j}Burn}}\n"
        ));
    }
    s.push_str("  - name: mixed\n    objective: 99\n    sli:\n      events:\n        error_query: sum(rate(http_requests_total{job=\"j0\",code=~\"5..\"}[{{.window}}])) + sum(rate(http_requests_total{job=\"j1\",code=~\"5..\"}[{{.window}}]))\n        total_query: sum(rate(http_requests_total{job=~\"j0|j1\"}[{{.window}}]))\n    alerting: {name: MixedBurn}\n");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("app.yaml"), s).unwrap();
}

fn config(dir: &Path, prom: &str, batch: bool) -> std::path::PathBuf {
    let path = dir.join(format!("batch-{batch}.yaml"));
    std::fs::write(
        &path,
        format!(
            "specs: specs\nsource: {{batch: {batch}, thanos: {{url: {prom}}}}}\nevaluation: {{interval: 30s}}\nregions: {{active: us-east-1, standby: [eu-west-1]}}\nserver: {{listen: 127.0.0.1:{}}}\n",
            free_port()
        ),
    )
    .unwrap();
    path
}

fn eval(config: &Path, at: i64) -> serde_json::Value {
    let o = run(sloguard().args(["eval", "--config"]).arg(config).args([
        "--at",
        &at.to_string(),
        "--output",
        "json",
    ]));
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn rows(v: &serde_json::Value) -> BTreeMap<String, (Option<f64>, u64)> {
    v["final"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{}/{}/{}/{}",
                    r["service"], r["slo"], r["region"], r["window"]
                ),
                (r["error_ratio"].as_f64(), r["events"].as_u64().unwrap()),
            )
        })
        .collect()
}

#[test]
fn batched_numbers_equal_one_query_per_slo() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 60
        * 60;
    let prom = Prometheus::start(d, &counters(end), &[]);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 4,
        ..ProptestConfig::default()
    });
    let jobs = proptest::sample::subsequence((0..JOBS).collect::<Vec<_>>(), 2..=JOBS);
    runner
        .run(
            &(jobs, prop_oneof![Just(99.0), Just(99.9)]),
            |(jobs, objective)| {
                specs(&d.join("specs"), &jobs, objective);
                let batched = eval(&config(d, &prom.url, true), end);
                let single = eval(&config(d, &prom.url, false), end);
                let (b, s) = (rows(&batched), rows(&single));
                prop_assert_eq!(b.len(), s.len());
                for (k, (br, be)) in &b {
                    let (sr, se) = s[k];
                    prop_assert_eq!(*be, se, "{} events", k);
                    match (br, sr) {
                        (Some(x), Some(y)) => prop_assert!(
                            (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                            "{}: {} vs {}",
                            k,
                            x,
                            y
                        ),
                        (x, y) => prop_assert_eq!(*x, y, "{}", k),
                    }
                }
                let (qb, qs) = (
                    batched["queries_per_evaluation"].as_u64().unwrap(),
                    single["queries_per_evaluation"].as_u64().unwrap(),
                );
                // The batchable SLOs share one error and one total query; "mixed" asks twice.
                prop_assert_eq!(qb, 4, "{:?}", batched["query_plan"]);
                prop_assert_eq!(qs, 2 * (jobs.len() as u64 + 1));
                Ok(())
            },
        )
        .unwrap();
}

/// The real Prometheus behind a switch that fails every batched query (a regex union of
/// jobs): the SLOs it served are degraded, the one asked on its own is complete.
struct FailBatches<S>(S);

impl<S: MetricsSource> MetricsSource for FailBatches<S> {
    async fn instant(
        &self,
        query: &str,
        at: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        if query.contains("job=~\"j") && query.contains("sum by (region, job)") {
            return Err(QueryError::Connect {
                url: "test://batch".into(),
                message: "refused (test)".into(),
            });
        }
        self.0.instant(query, at, decision).await
    }
    async fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        decision: bool,
    ) -> Result<QueryResult, QueryError> {
        self.0.range(query, start, end, step, decision).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_degrades_only_the_slos_it_served() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 60
        * 60;
    let prom = Prometheus::start(d, &counters(end), &[]);
    specs(&d.join("specs"), &[0, 1, 2], 99.9);
    let cfg = sloguard::config::load(&config(d, &prom.url, true)).unwrap();
    let services = sloguard::slo::load_dir(&cfg.specs).unwrap();
    let source = FailBatches(sloguard::query::regional::Configured::from_config(&cfg).unwrap());
    let clock: std::sync::Arc<dyn sloguard::clock::Clock> =
        std::sync::Arc::new(sloguard::clock::FixedClock(end));
    let mut app = App::from_config(&cfg, &services, source, clock, Purpose::Evaluate)
        .await
        .unwrap();
    app.start(|_, _| {}).await;
    let out = app.evaluate(false).await;
    let snap = out.snapshot.unwrap();
    for s in &snap.streams {
        if s.slo == "mixed" {
            assert_eq!(s.data, DataStatus::Complete, "{s:?}");
        } else {
            assert!(matches!(s.data, DataStatus::Degraded(_)), "{s:?}");
        }
    }
}
