//! `sloguard lint`: legal but doubtful specs are found and named (`file: slo: message`,
//! exit 1), with and without the traffic of an OpenMetrics file; the repository's own
//! specs are clean.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::*;

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;

fn lint(specs: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let o = run(sloguard().args(["lint", "--specs"]).arg(specs).args(extra));
    (o.status.code().unwrap_or(-1), text(&o))
}

#[test]
fn doubtful_specs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // 90%: the 14.4x page tier's threshold is 1.44, which no error ratio reaches.
    let loose = sloth_spec("loose", ERR, TOTAL).replace("objective: 99.9", "objective: 90");
    write_specs(&dir.path().join("specs"), &[("loose.yaml", &loose)]);
    let (code, out) = lint(&dir.path().join("specs"), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("loose.yaml: availability: page tier 1h/5m (factor 14.4) has threshold 1.44"),
        "{out}"
    );
    // A 2m scrape interval makes the 5m window too short.
    let (_, out) = lint(&dir.path().join("specs"), &["--scrape-interval", "2m"]);
    assert!(
        out.contains("window 5m is shorter than four scrape intervals"),
        "{out}"
    );

    // With traffic: 99.99% over 30d on 100 requests allows 0.01 failures.
    let strict = sloth_spec("strict", ERR, TOTAL).replace("objective: 99.9", "objective: 99.99");
    let specs = dir.path().join("strict-specs");
    write_specs(&specs, &[("strict.yaml", &strict)]);
    let series = r#"http_requests_total{job="api",code="200",region="us-east-1"}"#;
    let mut data = String::from("# TYPE http_requests counter\n");
    for i in 0..=10 {
        data.push_str(&format!("{series} {} {}\n", i * 10, 1_790_000_000 + i * 60));
    }
    data.push_str("# EOF\n");
    std::fs::write(dir.path().join("low.om"), data).unwrap();
    let low = dir.path().join("low.om");
    let (code, out) = lint(&specs, &["--data", low.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("strict.yaml: availability: at the traffic seen (100 events over 30d)"),
        "{out}"
    );
    assert!(out.contains("a single failure exhausts it"), "{out}");
}

#[test]
fn the_repository_specs_are_clean() {
    let (code, out) = lint(&repo().join("slo-specs"), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 finding(s)"), "{out}");
}
