//! `sloguard schema`: the JSON Schema of spec files, generated from the on-disk types.
// Test harness code; the clock lint guards the library.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::*;

fn schema() -> serde_json::Value {
    let o = run(sloguard().arg("schema"));
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).expect("the schema is JSON")
}

#[test]
fn schema_names_the_spec_and_slo_keys() {
    let s = schema();
    assert_eq!(
        s["$schema"].as_str(),
        Some("https://json-schema.org/draft/2020-12/schema")
    );
    for key in [
        "version",
        "service",
        "labels",
        "region_label",
        "slo_plugins",
        "slos",
    ] {
        assert!(s["properties"].get(key).is_some(), "no `{key}` in {s:#}");
    }
    assert_eq!(s["required"], serde_json::json!(["version", "service"]));
    assert_eq!(
        s["properties"]["version"]["enum"],
        serde_json::json!(["sloguard/v1", "prometheus/v1"])
    );
    let slo = &s["$defs"]["Slo"]["properties"];
    for key in [
        "name",
        "objective",
        "description",
        "labels",
        "sli",
        "alerting",
        "period",
        "tiers",
        "min_events",
        "plugins",
    ] {
        assert!(slo.get(key).is_some(), "no SLO key `{key}` in {slo:#}");
    }
    let sli = &s["$defs"]["Sli"]["properties"];
    for key in ["events", "raw", "latency", "plugin"] {
        assert!(sli.get(key).is_some(), "no SLI key `{key}` in {sli:#}");
    }
    for (def, key) in [
        ("Events", "error_query"),
        ("Events", "total_query"),
        ("Ratio", "error_ratio_query"),
        ("Alerting", "page_alert"),
        ("Alerting", "ticket_alert"),
        ("Tier", "burn_factor"),
    ] {
        assert!(
            s["$defs"][def]["properties"].get(key).is_some(),
            "no `{def}.{key}` in {s:#}"
        );
    }
}

/// The Python of the test venv (`scripts/test.sh` installs `jsonschema` and `PyYAML` in
/// it); `SLOGUARD_PYTHON` overrides. A missing interpreter or module fails the test.
fn python() -> std::path::PathBuf {
    std::env::var_os("SLOGUARD_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| repo().join("target/moto-venv/bin/python"))
}

/// The example specs (sloguard/v1 and prometheus/v1) validate against the schema, and a
/// spec without `service` does not (with Python's `jsonschema`, a validator made
/// elsewhere).
#[test]
fn example_specs_validate_against_the_schema() {
    let py = python();
    let probe = std::process::Command::new(&py)
        .args(["-c", "import jsonschema, yaml"])
        .output();
    assert!(
        probe.map(|o| o.status.success()).unwrap_or(false),
        "{} with jsonschema and PyYAML is required: run the README's test command (scripts/test.sh), which installs them",
        py.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let schema_path = dir.path().join("schema.json");
    std::fs::write(&schema_path, serde_json::to_string(&schema()).unwrap()).unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "version: sloguard/v1\nslos: []\n").unwrap();
    let script = r#"
import json, sys, glob, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
files = sorted(glob.glob(sys.argv[2] + "/**/*.yaml", recursive=True))
assert files, "no example specs"
for f in files:
    for doc in yaml.safe_load_all(open(f)):
        errors = list(v.iter_errors(doc))
        assert not errors, (f, [e.message for e in errors])
errors = [e.message for e in v.iter_errors(yaml.safe_load(open(sys.argv[3])))]
assert any("'service' is a required property" in e for e in errors), errors
print("checked", len(files))
"#;
    let o = run(std::process::Command::new(&py)
        .args(["-c", script])
        .arg(&schema_path)
        .arg(repo().join("slo-specs"))
        .arg(&bad));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("checked "), "{}", text(&o));
}
