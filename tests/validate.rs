//! `sloguard validate`: every validation error is reported, all at once, as
//! `file: slo: message`, with exit 1; a valid set exits 0 with a one-line summary.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::*;

const GOOD_ERR: &str = r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#;
const GOOD_TOTAL: &str = r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#;

fn validate(files: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    write_specs(dir.path(), files);
    let o = run(sloguard().arg("validate").arg("--specs").arg(dir.path()));
    (o.status.code().unwrap_or(-1), text(&o))
}

#[test]
fn valid_specs_exit_zero_with_summary() {
    let (code, out) = validate(&[("api.yaml", &sloth_spec("api", GOOD_ERR, GOOD_TOTAL))]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 service(s), 1 SLO(s)"), "{out}");
}

#[test]
fn repository_specs_are_valid() {
    let o = run(sloguard()
        .arg("validate")
        .arg("--specs")
        .arg(repo().join("slo-specs")));
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn bad_yaml_names_line_and_column() {
    let (code, out) = validate(&[(
        "bad.yaml",
        "version: \"prometheus/v1\"\nservice: \"x\nslos: []\n",
    )]);
    assert_eq!(code, 1);
    assert!(out.contains("bad.yaml: -: line "), "{out}");
    assert!(out.contains("column"), "{out}");
}

#[test]
fn unknown_field_is_named_with_its_slo() {
    // Sloth's format is read leniently, as Sloth does: an unknown key is a warning naming
    // the file, the SLO, the line and the key, and the file loads; `--strict` refuses it.
    let spec = sloth_spec("api", GOOD_ERR, GOOD_TOTAL)
        .replace("objective: 99.9", "objective: 99.9\n    objectiv: 1");
    let (code, out) = validate(&[("api.yaml", &spec)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("warning: ")
            && out.contains(
                "api.yaml: availability: line 8: unknown key `slos[0].objectiv` (not part of "
            ),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    write_specs(dir.path(), &[("api.yaml", &spec)]);
    let o = run(sloguard()
        .arg("validate")
        .arg("--strict")
        .arg("--specs")
        .arg(dir.path()));
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("api.yaml: availability: line 8: unknown key `slos[0].objectiv`")
            && out.contains("1 problem(s)"),
        "{out}"
    );
    // The superset stays strict.
    let strict = spec.replace("prometheus/v1", "sloguard/v1");
    let (code, out) = validate(&[("api.yaml", &strict)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("api.yaml: availability: line 8: slos[0].objectiv: unknown field"),
        "{out}"
    );
}

#[test]
fn bad_promql_is_reported() {
    let (code, out) = validate(&[(
        "api.yaml",
        &sloth_spec("api", "sum(rate(x{code=~\"5..\"}[{{.window}}])", GOOD_TOTAL),
    )]);
    assert_eq!(code, 1);
    assert!(
        out.contains("api.yaml: availability: sli.events.error_query: invalid PromQL"),
        "{out}"
    );
}

#[test]
fn objective_out_of_range() {
    for bad in ["100", "0", "-5", "150"] {
        let spec = sloth_spec("api", GOOD_ERR, GOOD_TOTAL)
            .replace("objective: 99.9", &format!("objective: {bad}"));
        let (code, out) = validate(&[("api.yaml", &spec)]);
        assert_eq!(code, 1, "{bad}");
        assert!(
            out.contains("availability: objective:") && out.contains("strictly between 0 and 100"),
            "{out}"
        );
    }
}

#[test]
fn missing_placeholder() {
    let (code, out) = validate(&[(
        "api.yaml",
        &sloth_spec("api", GOOD_ERR, "sum(rate(http_requests_total[5m]))"),
    )]);
    assert_eq!(code, 1);
    assert!(
        out.contains("sli.events.total_query: query has no {{.window}} placeholder"),
        "{out}"
    );
}

#[test]
fn duplicate_slo_and_service_names() {
    let spec = sloth_spec("api", GOOD_ERR, GOOD_TOTAL);
    let slos = spec.split_once("slos:\n").unwrap().1;
    let doubled = format!("{spec}{slos}");
    let web = sloth_spec("web", GOOD_ERR, GOOD_TOTAL);
    let (code, out) = validate(&[
        ("api.yaml", &doubled),
        ("web1.yaml", &web),
        ("web2.yaml", &web),
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("api.yaml: availability: name: duplicate SLO name"),
        "{out}"
    );
    // One service may be split over files, but not define the same SLO twice.
    assert!(
        out.contains(
            "web2.yaml: availability: name: duplicate SLO \"availability\" of service \"web\" (also in "
        ) && out.contains("web1.yaml)"),
        "{out}"
    );
}

#[test]
fn empty_directory() {
    let (code, out) = validate(&[]);
    assert_eq!(code, 1);
    assert!(out.contains("no spec files"), "{out}");
}

#[test]
fn unsafe_region_rewrite_says_why() {
    let (code, out) = validate(&[(
        "api.yaml",
        &sloth_spec(
            "api",
            "sum without (pod) (rate(x{code=~\"5..\"}[{{.window}}]))",
            GOOD_TOTAL,
        ),
    )]);
    assert_eq!(code, 1);
    assert!(
        out.contains("cannot be grouped by the region label `region`")
            && out.contains("without (pod)"),
        "{out}"
    );
}

#[test]
fn every_problem_in_one_run() {
    let bad_obj =
        sloth_spec("one", GOOD_ERR, GOOD_TOTAL).replace("objective: 99.9", "objective: 100");
    let bad_q = sloth_spec("two", GOOD_ERR, "sum(rate(x[5m]))");
    let (code, out) = validate(&[
        ("one.yaml", &bad_obj),
        ("two.yaml", &bad_q),
        ("three.yaml", "version: ["),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("one.yaml: availability: objective"), "{out}");
    assert!(
        out.contains("two.yaml: availability: sli.events.total_query"),
        "{out}"
    );
    assert!(out.contains("three.yaml: -: line"), "{out}");
    assert!(out.contains("3 problem(s)"), "{out}");
}

#[test]
fn sloguard_v1_superset_fields() {
    let spec = r#"version: "sloguard/v1"
service: web
region_label: cluster_region
slos:
  - name: latency
    objective: 99
    period: 28d
    min_events: 50
    tiers:
      - {severity: page, long_window: 1h, short_window: 5m, budget_percent: 2}
      - {severity: ticket, long_window: 5m, short_window: 1h, burn_factor: 1}
      - {severity: loud, long_window: 1x, short_window: 5m, burn_factor: 1}
    sli:
      latency: {metric: http_request_duration_seconds, selector: '{job="web"}', threshold: 0.25}
    alerting: {name: WebLatency}
"#;
    let (code, out) = validate(&[("web.yaml", spec)]);
    assert_eq!(code, 1);
    assert!(
        out.contains("tiers[1]: short window 1h must be shorter than long window 5m"),
        "{out}"
    );
    assert!(out.contains("tiers[2].severity: \"loud\""), "{out}");
    assert!(
        out.contains("tiers[2].long_window: invalid duration \"1x\""),
        "{out}"
    );
    // Sloth's format rejects the superset fields, naming them.
    let sloth = spec.replace("sloguard/v1", "prometheus/v1");
    let (_, out) = validate(&[("web.yaml", &sloth)]);
    assert!(
        out.contains("region_label: only allowed with version \"sloguard/v1\""),
        "{out}"
    );
    assert!(out.contains("period: only allowed"), "{out}");
}

#[test]
fn example_config_is_valid() {
    let cfg = sloguard::config::load(&repo().join("sloguard.example.yaml")).unwrap();
    assert_eq!(cfg.regions.active.as_deref(), Some("us-east-1"));
    assert_eq!(cfg.specs, repo().join("slo-specs/"));
}
