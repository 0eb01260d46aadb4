//! A small YAML writer for the two documents `generate` writes thousands of times: rule
//! files and promtool test files. libyaml's emitter was most of `generate`'s run time;
//! these documents have a fixed shape, so they are written directly. Strings are plain
//! only when no YAML reader could take them for anything else; otherwise they are
//! double-quoted (JSON escaping is valid YAML), and multi-line expressions are literal
//! blocks. A test re-reads every output and compares it with serde's rendering.

use std::fmt::Write;

use super::unittest::TestFile;
use super::{Rule, RuleFile};
use crate::slo::LabelMap;

fn is_plain_safe(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
    first_ok
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | ':'))
        && !s.ends_with(':')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "nan" | "inf"
        )
}

fn push_scalar(out: &mut String, s: &str) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if !s.chars().any(char::is_control) {
        // Single quotes keep PromQL's double quotes readable; only `'` is escaped.
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    } else {
        // serde_json never fails on a &str; JSON escaping is valid double-quoted YAML.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

/// `key: value` for a possibly multi-line string, at the given indentation.
fn push_field(out: &mut String, indent: &str, key: &str, value: &str) {
    out.push_str(indent);
    out.push_str(key);
    out.push(':');
    let body = value.strip_suffix('\n').unwrap_or(value);
    let multi_line = body.contains('\n')
        && !body
            .lines()
            .any(|l| l.starts_with(' ') || l.ends_with(' ') || l.is_empty())
        && !body.contains(['\r', '\t']);
    if multi_line {
        out.push_str(if value.ends_with('\n') {
            " |\n"
        } else {
            " |-\n"
        });
        for line in body.lines() {
            out.push_str(indent);
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    } else {
        out.push(' ');
        push_scalar(out, value);
        out.push('\n');
    }
}

fn push_map(out: &mut String, indent: &str, key: &str, map: &LabelMap) {
    if map.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}{key}:");
    let inner = format!("{indent}  ");
    for (k, v) in map {
        push_field(out, &inner, k, v);
    }
}

fn push_rule(out: &mut String, rule: &Rule) {
    let (kind, name) = match (&rule.record, &rule.alert) {
        (Some(r), _) => ("record", r),
        (None, Some(a)) => ("alert", a),
        (None, None) => ("record", &String::new()),
    };
    out.push_str("  - ");
    push_field(out, "", kind, name);
    push_field(out, "    ", "expr", &rule.expr);
    if let Some(f) = &rule.for_ {
        push_field(out, "    ", "for", f);
    }
    push_map(out, "    ", "labels", &rule.labels);
    push_map(out, "    ", "annotations", &rule.annotations);
}

pub fn rule_file(file: &RuleFile) -> String {
    let mut out = String::with_capacity(4096 * file.groups.len().max(1));
    out.push_str("groups:\n");
    for g in &file.groups {
        out.push_str("- ");
        push_field(&mut out, "", "name", &g.name);
        out.push_str("  rules:\n");
        for r in &g.rules {
            push_rule(&mut out, r);
        }
    }
    out
}

pub fn test_file(file: &TestFile) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("rule_files:\n");
    for f in &file.rule_files {
        out.push_str("- ");
        push_scalar(&mut out, f);
        out.push('\n');
    }
    push_field(
        &mut out,
        "",
        "evaluation_interval",
        &file.evaluation_interval,
    );
    out.push_str("tests:\n");
    for t in &file.tests {
        out.push_str("- ");
        push_field(&mut out, "", "name", &t.name);
        push_field(&mut out, "  ", "interval", &t.interval);
        out.push_str("  input_series:\n");
        for s in &t.input_series {
            out.push_str("  - ");
            push_field(&mut out, "", "series", &s.series);
            push_field(&mut out, "    ", "values", &s.values);
        }
        if !t.alert_rule_test.is_empty() {
            out.push_str("  alert_rule_test:\n");
            for a in &t.alert_rule_test {
                out.push_str("  - ");
                push_field(&mut out, "", "eval_time", &a.eval_time);
                push_field(&mut out, "    ", "alertname", &a.alertname);
                // Only "no alert" expectations are generated (firing ones go through ALERTS).
                out.push_str("    exp_alerts: []\n");
            }
        }
        if !t.promql_expr_test.is_empty() {
            out.push_str("  promql_expr_test:\n");
            for p in &t.promql_expr_test {
                out.push_str("  - ");
                push_field(&mut out, "", "expr", &p.expr);
                push_field(&mut out, "    ", "eval_time", &p.eval_time);
                if p.exp_samples.is_empty() {
                    out.push_str("    exp_samples: []\n");
                } else {
                    out.push_str("    exp_samples:\n");
                    for s in &p.exp_samples {
                        out.push_str("    - ");
                        push_field(&mut out, "", "labels", &s.labels);
                        let _ = writeln!(out, "      value: {:?}", s.value);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reparse(s: &str) -> serde_yaml_ng::Value {
        serde_yaml_ng::from_str(s).unwrap_or_else(|e| panic!("{e}\n{s}"))
    }

    #[test]
    fn scalars_round_trip() {
        for s in [
            "plain",
            "1",
            "true",
            "on",
            "a: b",
            "# x",
            "- x",
            "{{$labels.x}} y",
            "\"q\"",
            "x\ny",
            "  lead",
            "",
            "99.9",
            "sum by (region) (rate(x{a=\"b\"}[5m])) / 1",
            "ünï",
            "@x",
            "*x",
            "x # y",
        ] {
            let mut out = String::new();
            push_field(&mut out, "", "k", s);
            let v = reparse(&out);
            assert_eq!(v["k"].as_str(), Some(s), "{out}");
        }
    }

    #[test]
    fn rule_and_test_files_match_serde() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("slo-specs");
        let services = crate::slo::load_dir(&dir).unwrap();
        for service in &services {
            let rules = super::super::service_rules(service);
            let ours = reparse(&rule_file(&rules));
            let theirs = reparse(&serde_yaml_ng::to_string(&rules).unwrap());
            assert_eq!(ours, theirs, "{}", service.name);
            let (tests, _) = super::super::unittest::service_tests(service, "../x.yaml");
            let tests = tests.unwrap();
            assert_eq!(
                reparse(&test_file(&tests)),
                reparse(&serde_yaml_ng::to_string(&tests).unwrap())
            );
        }
    }
}
