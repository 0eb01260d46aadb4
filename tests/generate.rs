//! `sloguard generate`: golden files, promtool proving the rules and their unit tests,
//! `--check`, atomicity, the PrometheusRule format, and warnings for untestable SLIs.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::path::Path;

use common::*;

const ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;

fn generate(specs: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    run(sloguard()
        .arg("generate")
        .arg("--specs")
        .arg(specs)
        .arg("--out")
        .arg(out)
        .args(extra))
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for sub in ["", "tests", "alertmanager", "dashboards"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten().filter(|e| e.path().is_file()) {
                v.push(
                    Path::new(sub)
                        .join(e.file_name())
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    v.sort();
    v
}

fn promtool_ok(args: &[&str], cwd: &Path) -> (bool, String) {
    let o = run(std::process::Command::new(tool("promtool"))
        .args(args)
        .current_dir(cwd));
    (o.status.success(), text(&o))
}

#[test]
fn committed_rules_match_a_fresh_generation() {
    let out = tempfile::tempdir().unwrap();
    let o = generate(&repo().join("slo-specs"), out.path(), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let committed = repo().join("rules");
    assert_eq!(files_under(out.path()), files_under(&committed));
    for f in files_under(out.path()) {
        let fresh = std::fs::read_to_string(out.path().join(&f)).unwrap();
        let old = std::fs::read_to_string(committed.join(&f)).unwrap();
        assert!(
            fresh == old,
            "rules/{f} is stale: run `cargo run -- generate` and commit"
        );
    }
    let check = generate(&repo().join("slo-specs"), &committed, &["--check"]);
    assert!(check.status.success(), "{}", text(&check));
}

#[test]
fn promtool_checks_and_tests_committed_rules() {
    let rules = repo().join("rules");
    for f in files_under(&rules)
        .into_iter()
        .filter(|f| !f.starts_with("alertmanager") && !f.starts_with("dashboards"))
    {
        let (ok, out) = if f.starts_with("tests") {
            promtool_ok(&["test", "rules", &f], &rules)
        } else {
            promtool_ok(&["check", "rules", &f], &rules)
        };
        assert!(ok, "promtool on rules/{f}:\n{out}");
    }
}

#[test]
fn page_alert_fires_for_exactly_the_failing_region() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    let out = dir.path().join("rules");
    write_specs(&specs, &[("api.yaml", &sloth_spec("api", ERR, TOTAL))]);
    let o = generate(&specs, &out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("warning"), "{}", text(&o));

    let rules = std::fs::read_to_string(out.join("api.yaml")).unwrap();
    assert!(
        rules
            .contains("sum by (region) (rate(http_requests_total{code=~\"5..\",job=\"api\"}[1h]))"),
        "{rules}"
    );
    assert!(
        rules.contains("> 0.0144)") && !rules.contains("0.014400000000000002"),
        "{rules}"
    );
    assert!(rules.contains("record: slo:sli_error:ratio_rate30d"));
    assert!(rules.contains("alert: apiBurnNoData"));

    let (ok, log) = promtool_ok(&["check", "rules", "api.yaml"], &out);
    assert!(ok, "{log}");
    let (ok, log) = promtool_ok(&["test", "rules", "tests/api_test.yaml"], &out);
    assert!(ok, "{log}");

    // The generated test pins the failing region: claiming the other one must fail.
    let test = std::fs::read_to_string(out.join("tests/api_test.yaml")).unwrap();
    assert!(
        test.contains("region=\"us-east-1\", severity=\"critical\""),
        "{test}"
    );
    std::fs::write(
        out.join("tests/api_test.yaml"),
        test.replace(
            "region=\"us-east-1\", severity",
            "region=\"eu-west-1\", severity",
        ),
    )
    .unwrap();
    let (ok, log) = promtool_ok(&["test", "rules", "tests/api_test.yaml"], &out);
    assert!(
        !ok,
        "a test expecting the healthy region to page must fail:\n{log}"
    );
    std::fs::write(out.join("tests/api_test.yaml"), &test).unwrap();

    // And rules that page too late must fail it: raise both page thresholds.
    std::fs::write(
        out.join("api.yaml"),
        rules
            .replace("> 0.0144)", "> 0.5)")
            .replace("> 0.006)", "> 0.5)"),
    )
    .unwrap();
    let (ok, log) = promtool_ok(&["test", "rules", "tests/api_test.yaml"], &out);
    assert!(
        !ok,
        "a page alert that fires too late must fail the test:\n{log}"
    );
}

#[test]
fn check_names_every_changed_and_stale_file() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    let out = dir.path().join("rules");
    write_specs(
        &specs,
        &[
            ("a.yaml", &sloth_spec("a", ERR, TOTAL)),
            ("b.yaml", &sloth_spec("b", ERR, TOTAL)),
        ],
    );
    let o = generate(&specs, &out, &["--check"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    for f in ["a.yaml", "b.yaml", "tests/a_test.yaml", "tests/b_test.yaml"] {
        assert!(
            t.contains(&format!("would change: {}", out.join(f).display())),
            "{t}"
        );
    }
    assert!(!out.exists(), "--check must not write");
    assert!(generate(&specs, &out, &[]).status.success());
    assert!(generate(&specs, &out, &["--check"]).status.success());

    std::fs::remove_file(specs.join("b.yaml")).unwrap();
    let o = generate(&specs, &out, &["--check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(&format!("would remove: {}", out.join("b.yaml").display())),
        "{}",
        text(&o)
    );
    assert!(generate(&specs, &out, &[]).status.success());
    assert!(!out.join("b.yaml").exists() && !out.join("tests/b_test.yaml").exists());
}

#[test]
fn failing_run_leaves_rules_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    let out = dir.path().join("rules");
    write_specs(&specs, &[("a.yaml", &sloth_spec("a", ERR, TOTAL))]);
    assert!(generate(&specs, &out, &[]).status.success());
    let before = std::fs::read_to_string(out.join("a.yaml")).unwrap();
    write_specs(
        &specs,
        &[
            (
                "a.yaml",
                &sloth_spec("a", ERR, TOTAL).replace("99.9", "99.5"),
            ),
            ("bad.yaml", "version: ["),
        ],
    );
    let o = generate(&specs, &out, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(out.join("a.yaml")).unwrap(), before);
}

#[test]
fn prometheus_operator_format() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    let out = dir.path().join("rules");
    write_specs(&specs, &[("api.yaml", &sloth_spec("api", ERR, TOTAL))]);
    let o = generate(
        &specs,
        &out,
        &[
            "--format",
            "prometheus-operator",
            "--sync-wave",
            "-1",
            "--namespace",
            "monitoring",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(out.join("api.yaml")).unwrap()).unwrap();
    assert_eq!(doc["apiVersion"].as_str(), Some("monitoring.coreos.com/v1"));
    assert_eq!(doc["kind"].as_str(), Some("PrometheusRule"));
    assert_eq!(doc["metadata"]["namespace"].as_str(), Some("monitoring"));
    assert_eq!(
        doc["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"].as_str(),
        Some("-1")
    );
    assert!(doc["spec"]["groups"][0]["rules"]
        .as_sequence()
        .is_some_and(|r| r.len() > 10));
}

#[test]
fn untestable_sli_is_a_warning_naming_the_slo() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    let out = dir.path().join("rules");
    let raw = r#"version: "prometheus/v1"
service: ratio
slos:
  - name: from-recording
    objective: 99.5
    sli:
      raw:
        error_ratio_query: max(job:errors:ratio_rate{{.window}})
    alerting: {name: RatioBurn}
"#;
    write_specs(&specs, &[("ratio.yaml", raw)]);
    let o = generate(&specs, &out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("warning:")
            && t.contains("ratio.yaml: from-recording: no promtool unit test generated"),
        "{t}"
    );
    assert!(out.join("ratio.yaml").exists());
    let (ok, log) = promtool_ok(&["check", "rules", "ratio.yaml"], &out);
    assert!(ok, "{log}");
}

#[test]
fn explain_prints_workbook_figures() {
    let o = run(sloguard()
        .arg("explain")
        .arg("--specs")
        .arg(repo().join("slo-specs")));
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    // payments/requests-latency is 99.9%: 14.4x over 1h/5m detects a full outage in 51.8s.
    let block = t.split("payments / requests-latency").nth(1).unwrap();
    let page = block.lines().find(|l| l.contains("1h/5m")).unwrap();
    for want in ["14.4", "0.0144", "2%", "51.8s", "8.6m", "4.9m"] {
        assert!(page.contains(want), "{page}");
    }
    // The failover decision table, with the healthy-target rule.
    assert!(
        t.contains("failover decision") && t.contains("target_max_burn"),
        "{t}"
    );
}
