//! The records path (issue 21.3) against a real Prometheus 2.42: `generate` writes the
//! per-SLO event-rate records, `promtool tsdb create-blocks-from rules` backfills them,
//! and the engine reading them with one selector gives the burn rates of the direct path
//! within the edge bound (the records' 2-minute rates averaged over each window).
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::path::Path;
use std::process::Command;

use common::prom::{free_port, Prometheus};
use common::*;

const JOBS: usize = 4;

fn counters(end: i64) -> String {
    let start = end - 6 * 3600;
    let mut out = String::from("# TYPE http_requests_total counter\n");
    for j in 0..JOBS {
        for (ri, r) in ["us-east-1", "eu-west-1"].iter().enumerate() {
            for (code, base) in [("200", 5.0 + j as f64), ("503", 0.02 * (1 + j + ri) as f64)] {
                let mut v = 0.0;
                let mut t = start;
                while t <= end {
                    v += 60.0 * base;
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

fn specs(dir: &Path) {
    let mut s = String::from("version: \"prometheus/v1\"\nservice: app\nslos:\n");
    for j in 0..JOBS {
        s.push_str(&format!(
            "  - name: s{j}\n    objective: 99.9\n    sli:\n      events:\n        error_query: sum(rate(http_requests_total{{job=\"j{j}\",code=~\"5..\"}}[{{{{.window}}}}]))\n        total_query: sum(rate(http_requests_total{{job=\"j{j}\"}}[{{{{.window}}}}]))\n    alerting: {{name: S{j}Burn}}\n"
        ));
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("app.yaml"), s).unwrap();
}

fn eval(dir: &Path, prom: &str, records: bool, at: i64) -> serde_json::Value {
    let cfg = dir.join(format!("records-{records}.yaml"));
    std::fs::write(
        &cfg,
        format!(
            "specs: specs\nsource: {{records: {records}, thanos: {{url: {prom}}}}}\nevaluation: {{interval: 30s}}\nregions: {{active: us-east-1, standby: [eu-west-1]}}\nserver: {{listen: 127.0.0.1:{}}}\n",
            free_port()
        ),
    )
    .unwrap();
    let o = run(sloguard().args(["eval", "--config"]).arg(&cfg).args([
        "--at",
        &at.to_string(),
        "--output",
        "json",
    ]));
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn records_give_the_direct_paths_burn_rates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 60
        * 60;
    specs(&d.join("specs"));
    let o = run(sloguard()
        .args(["generate", "--specs"])
        .arg(d.join("specs"))
        .arg("--out")
        .arg(d.join("rules")));
    assert!(o.status.success(), "{}", text(&o));
    // Only the event-rate records: promtool backfills recording rules one by one.
    let rules: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(d.join("rules/app.yaml")).unwrap())
            .unwrap();
    let mut records = Vec::new();
    for g in rules["groups"].as_sequence().unwrap() {
        for r in g["rules"].as_sequence().unwrap() {
            if r["record"].as_str() == Some("sloguard:sli_events:rate2m") {
                records.push(r.clone());
            }
        }
    }
    assert_eq!(
        records.len(),
        2 * JOBS,
        "an error and a total record per SLO"
    );
    let file = serde_yaml_ng::to_string(&serde_yaml_ng::Value::Mapping(
        [(
            "groups".into(),
            serde_yaml_ng::Value::Sequence(vec![serde_yaml_ng::Value::Mapping(
                [
                    ("name".into(), "records".into()),
                    ("rules".into(), serde_yaml_ng::Value::Sequence(records)),
                ]
                .into_iter()
                .collect(),
            )]),
        )]
        .into_iter()
        .collect(),
    ))
    .unwrap();
    std::fs::write(d.join("records.yaml"), file).unwrap();
    let data = counters(end);
    std::fs::create_dir_all(d.join("a")).unwrap();
    let a = Prometheus::start(&d.join("a"), &data, &[]);
    let o = Command::new(tool("promtool"))
        .args(["tsdb", "create-blocks-from", "rules"])
        .args(["--start", &(end - 6 * 3600 + 300).to_string()])
        .args(["--end", &end.to_string()])
        .args(["--url", &a.url, "--eval-interval", "60s"])
        .arg("--output-dir")
        .arg(d.join("recorded"))
        .arg(d.join("records.yaml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    drop(a);
    std::fs::create_dir_all(d.join("b")).unwrap();
    let b = Prometheus::start_with_blocks(&d.join("b"), &data, &[], "", Some(&d.join("recorded")));
    let listing: Vec<String> = std::fs::read_dir(d.join("recorded"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !listing.is_empty(),
        "promtool wrote no blocks: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let seen = b.query("count_over_time(sloguard:sli_events:rate2m[10m])", end);
    assert!(
        !seen.is_empty(),
        "the backfilled records are not in Prometheus (blocks {listing:?}; promtool: {})",
        String::from_utf8_lossy(&o.stdout)
    );
    let direct = eval(d, &b.url, false, end);
    let recorded = eval(d, &b.url, true, end);
    assert_eq!(
        recorded["queries_per_evaluation"], 1,
        "{}",
        recorded["query_plan"]
    );
    assert_eq!(recorded["query_plan"]["records_templates"], 2 * JOBS as u64);
    assert_eq!(
        recorded["query_plan"]["records_missing"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let rows = |v: &serde_json::Value| -> std::collections::BTreeMap<String, f64> {
        v["final"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| {
                Some((
                    format!("{}/{}/{}", r["slo"], r["region"], r["window"]),
                    r["burn_rate"].as_f64()?,
                ))
            })
            .collect()
    };
    let (dr, rr) = (rows(&direct), rows(&recorded));
    let mut compared = 0;
    for (k, want) in &dr {
        if !(k.ends_with("\"5m\"") || k.ends_with("\"1h\"") || k.ends_with("\"6h\"")) {
            continue;
        }
        let got = rr.get(k).copied().unwrap_or(f64::NAN);
        assert!(
            (got - want).abs() <= 0.05 * want.abs() + 0.05,
            "{k}: records {got} vs direct {want}"
        );
        compared += 1;
    }
    assert!(compared >= 3 * JOBS * 2, "{compared} windows compared");
}
