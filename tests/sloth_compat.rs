//! Drop-in for Sloth users (issue 14): the forms real Sloth spec files use load unchanged.
//! Each test loads one fixture directory of `tests/data/sloth-compat/`, generates the
//! rules, checks the recording rules and alerts Sloth users rely on (names, `sloth_*`
//! labels, thresholds), and has promtool check and unit-test what was generated.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::path::{Path, PathBuf};

use common::*;

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/data/sloth-compat").join(name)
}

/// Runs `sloguard generate` on `specs` into a fresh directory: (output dir, exit code,
/// stdout + stderr).
fn generate(specs: &Path) -> (tempfile::TempDir, i32, String) {
    let out = tempfile::tempdir().unwrap();
    let o = run(sloguard()
        .arg("generate")
        .arg("--specs")
        .arg(specs)
        .arg("--out")
        .arg(out.path()));
    (out, o.status.code().unwrap_or(-1), text(&o))
}

fn validate(specs: &Path, extra: &[&str]) -> (i32, String) {
    let o = run(sloguard()
        .arg("validate")
        .args(extra)
        .arg("--specs")
        .arg(specs));
    (o.status.code().unwrap_or(-1), text(&o))
}

/// Generates, asserts success, promtool-checks every rule file and runs every generated
/// unit test; returns the output directory.
fn generate_ok(specs: &Path) -> tempfile::TempDir {
    let (out, code, log) = generate(specs);
    assert_eq!(code, 0, "{log}");
    let promtool = tool("promtool");
    for e in std::fs::read_dir(out.path()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".yaml") {
            continue;
        }
        let o = run(std::process::Command::new(&promtool)
            .args(["check", "rules", &name])
            .current_dir(out.path()));
        assert!(o.status.success(), "promtool check {name}: {}", text(&o));
        let test = format!("tests/{}_test.yaml", name.trim_end_matches(".yaml"));
        if out.path().join(&test).exists() {
            let o = run(std::process::Command::new(&promtool)
                .args(["test", "rules", &test])
                .current_dir(out.path()));
            assert!(o.status.success(), "promtool test {test}: {}", text(&o));
        }
    }
    out
}

fn rules(out: &Path, service: &str) -> String {
    std::fs::read_to_string(out.join(format!("{service}.yaml")))
        .unwrap_or_else(|e| panic!("{service}.yaml was not generated: {e}"))
}

/// The Sloth recording rules and identity labels of one SLO are in `rules`.
fn assert_sloth_slo(rules: &str, service: &str, slo: &str) {
    let id = format!("{service}-{slo}");
    for needle in [
        format!("name: sloguard-slo-{id}"),
        "record: slo:sli_error:ratio_rate5m".to_string(),
        "record: slo:sli_error:ratio_rate1h".to_string(),
        "record: slo:sli_error:ratio_rate30d".to_string(),
        "sloth_window: '5m'".to_string(),
        format!("sloth_id: {id}"),
        format!("sloth_service: {service}"),
        format!("sloth_slo: {slo}"),
        "record: sloth_slo_info".to_string(),
    ] {
        assert!(rules.contains(&needle), "missing `{needle}` in:\n{rules}");
    }
}

/// The page alert of an SLO, with the 14.4× and 6× thresholds of its budget.
fn assert_page_alert(rules: &str, alert: &str, t14: &str, t6: &str) {
    let at = rules
        .find(&format!("- alert: {alert}\n"))
        .unwrap_or_else(|| panic!("no alert {alert} in:\n{rules}"));
    let body = &rules[at..];
    let expr = body.lines().nth(1).unwrap_or_default();
    assert!(
        expr.contains(&format!("> {t14})")) && expr.contains(&format!("> {t6})")),
        "{alert}: {expr}"
    );
    assert!(body.contains("sloth_severity: page"), "{body}");
}

#[test]
fn multi_document_file_loads_every_document() {
    let out = generate_ok(&fixture("multi-doc"));
    let cart = rules(out.path(), "cart");
    assert_sloth_slo(&cart, "cart", "add-item");
    // 99.5 %: budget 0.005, page at 14.4× = 0.072 and 6× = 0.03.
    assert_page_alert(&cart, "CartAddItemErrors", "0.072", "0.03");
    assert!(cart.contains("- alert: CartAddItemErrors\n"), "{cart}");
    let pricing = rules(out.path(), "pricing");
    assert_sloth_slo(&pricing, "pricing", "quote");
    assert_page_alert(&pricing, "PricingQuoteErrors", "0.0144", "0.006");
}

#[test]
fn multi_document_problem_names_document_and_line() {
    let text = std::fs::read_to_string(fixture("multi-doc/shop.yaml")).unwrap();
    let bad = text.replace("objective: 99.9\n", "objective: 100\n");
    let dir = tempfile::tempdir().unwrap();
    write_specs(dir.path(), &[("shop.yaml", &bad)]);
    let (code, out) = validate(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    // The second document starts at line 22 (its `---`).
    assert!(
        out.contains("shop.yaml: quote: document 2 (line 22): objective: 100 must be strictly"),
        "{out}"
    );
    // A YAML error inside a document is placed on the file's line.
    let broken = text.replace("service: \"pricing\"", "service: [pricing");
    write_specs(dir.path(), &[("shop.yaml", &broken)]);
    let (code, out) = validate(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("shop.yaml: -: document 2 (line 22): line 2"),
        "{out}"
    );
}

#[test]
fn window_placeholder_with_spaces_is_normalised() {
    let out = generate_ok(&fixture("window-spaces"));
    let gw = rules(out.path(), "gateway");
    assert_sloth_slo(&gw, "gateway", "requests");
    assert_sloth_slo(&gw, "gateway", "ratio");
    assert!(
        gw.contains(r#"rate(gw_requests_total{code=~"5.."}[5m])"#),
        "{gw}"
    );
    assert!(gw.contains("rate(gw_failed_total[1h])"), "{gw}");
    assert!(!gw.contains(".window"), "a placeholder was left in:\n{gw}");
    assert_page_alert(&gw, "GatewayErrors", "0.0144", "0.006");
    assert_page_alert(&gw, "GatewayRatio", "0.144", "0.06");
}

#[test]
fn error_query_or_vector0_is_accepted() {
    let out = generate_ok(&fixture("or-vector0"));
    let login = rules(out.path(), "login");
    assert_sloth_slo(&login, "login", "sign-in");
    assert_sloth_slo(&login, "login", "token");
    // The clause is dropped: sloguard's own `or (0 * total)` reads no errors as 0.
    assert!(!login.contains("vector(0)"), "{login}");
    assert!(
        login.contains(r#"((sum by (region) (rate(login_attempts_total{result="error"}[5m]))) or (0 * (sum by (region) (rate(login_attempts_total[5m])))))"#),
        "{login}"
    );
    // 99.95 %: budget 0.0005.
    assert_page_alert(&login, "LoginErrors", "0.0072", "0.003");
    assert_page_alert(&login, "LoginTokenErrors", "0.0144", "0.006");
}

#[test]
fn subdirectories_are_read_recursively_in_order() {
    let dir = fixture("nested");
    let (code, out) = validate(&dir, &[]);
    assert_eq!(code, 0, "{out}");
    // `.drafts/broken.yaml` is hidden and `notes.txt` is not a spec.
    assert!(out.contains("2 service(s), 2 SLO(s)"), "{out}");
    let out = generate_ok(&dir);
    assert_sloth_slo(&rules(out.path(), "search"), "search", "query");
    assert_sloth_slo(&rules(out.path(), "mailer"), "mailer", "delivery");
    // The order is by path: a problem in each file is listed in that order.
    let tmp = tempfile::tempdir().unwrap();
    for (sub, name) in [("b/c", "z.yaml"), ("a", "y.yml"), ("", "x.yaml")] {
        std::fs::create_dir_all(tmp.path().join(sub)).unwrap();
        std::fs::write(tmp.path().join(sub).join(name), "version: [").unwrap();
    }
    let (code, out) = validate(tmp.path(), &[]);
    assert_eq!(code, 1, "{out}");
    let pos = |f: &str| out.find(f).unwrap_or_else(|| panic!("{f} not in {out}"));
    assert!(pos("a/y.yml") < pos("b/c/z.yaml") && pos("b/c/z.yaml") < pos("x.yaml"));
}

#[test]
fn service_split_over_files_is_merged() {
    let (code, out) = validate(&fixture("split"), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 service(s), 2 SLO(s)"), "{out}");
    let out = generate_ok(&fixture("split"));
    let web = rules(out.path(), "web");
    assert_sloth_slo(&web, "web", "availability");
    assert_sloth_slo(&web, "web", "latency");
    assert_page_alert(&web, "WebAvailability", "0.0144", "0.006");
    assert_page_alert(&web, "WebLatency", "0.144", "0.06");
}

#[test]
fn duplicate_slo_of_a_split_service_names_both_files() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(fixture("split/web-availability.yaml")).unwrap();
    std::fs::create_dir_all(tmp.path().join("more")).unwrap();
    std::fs::write(tmp.path().join("a.yaml"), &spec).unwrap();
    std::fs::write(tmp.path().join("more/b.yaml"), &spec).unwrap();
    let (code, out) = validate(tmp.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("more/b.yaml: availability: name: duplicate SLO \"availability\" of service \"web\" (also in ")
            && out.contains("a.yaml)"),
        "{out}"
    );
}

#[test]
fn unknown_keys_of_sloth_format_are_warnings() {
    let dir = fixture("lenient");
    let (code, out) = validate(&dir, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("warning: ")
            && out.contains("orders.yaml: -: line 3: unknown key `team` (not part of \"prometheus/v1\"; ignored unless --strict)"),
        "{out}"
    );
    assert!(
        out.contains(
            "orders.yaml: create: line 13: unknown key `slos[0].alerting.pageAlert` (not part of "
        ),
        "{out}"
    );
    let (code, out) = validate(&dir, &["--strict"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("2 problem(s)"), "{out}");
    // `generate` prints the warnings too and still writes the rules.
    let (gen, code, log) = generate(&dir);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("warning: ") && log.contains("pageAlert"),
        "{log}"
    );
    let orders = rules(gen.path(), "orders");
    assert_sloth_slo(&orders, "orders", "create");
    // The ignored `pageAlert` set nothing; `ticket_alert` did.
    assert!(!orders.contains("severity: critical"), "{orders}");
    assert!(orders.contains("severity: warning"), "{orders}");
    generate_ok(&dir);
}

#[test]
fn unknown_keys_of_sloguard_format_stay_errors() {
    let text = std::fs::read_to_string(fixture("lenient/orders.yaml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write_specs(
        tmp.path(),
        &[("orders.yaml", &text.replace("prometheus/v1", "sloguard/v1"))],
    );
    let (code, out) = validate(tmp.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("orders.yaml: -: line 3: team: unknown field"),
        "{out}"
    );
    assert!(
        out.contains("orders.yaml: create: line 13: slos[0].alerting.pageAlert: unknown field"),
        "{out}"
    );
}

#[test]
fn slo_info_carries_the_spec_labels() {
    let out = generate_ok(&fixture("labels"));
    let billing = rules(out.path(), "billing");
    assert_sloth_slo(&billing, "billing", "invoice");
    let at = billing.find("- record: sloth_slo_info").unwrap();
    let info: String = billing[at..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("- "))
        .collect::<Vec<_>>()
        .join("\n");
    // Service labels, overridden by the SLO's own, as on every recording rule.
    for needle in [
        "owner: billing-team",
        "category: availability",
        "tier: '0'",
        "sloth_id: billing-invoice",
        "sloth_spec: prometheus/v1",
    ] {
        assert!(info.contains(needle), "missing `{needle}` in:\n{info}");
    }
}

#[test]
fn kubernetes_form_loads_like_prometheus_v1() {
    let dir = fixture("kubernetes");
    let (code, out) = validate(&dir, &["--strict"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 service(s), 2 SLO(s)"), "{out}");
    let gen = generate_ok(&dir);
    let s = rules(gen.path(), "streaming");
    assert_sloth_slo(&s, "streaming", "playback-start");
    assert_sloth_slo(&s, "streaming", "segment-fetch");
    assert!(s.contains("sloth_spec: sloth.slok.dev/v1"), "{s}");
    // camelCase keys are read: the queries, and the page/ticket alert labels.
    assert!(
        s.contains(r#"rate(playback_starts_total{result="error"}[5m])"#),
        "{s}"
    );
    assert!(s.contains("rate(segments_failed_total[5m])"), "{s}");
    assert_page_alert(&s, "StreamingPlaybackErrors", "0.072", "0.03");
    assert_page_alert(&s, "StreamingSegmentErrors", "0.144", "0.06");
    assert!(
        s.contains("severity: critical") && s.contains("severity: warning"),
        "{s}"
    );
    // `ticketAlert.disable` disabled the ticket alert of segment-fetch only.
    assert_eq!(
        s.matches("- alert: StreamingSegmentErrors\n").count(),
        1,
        "{s}"
    );
    assert_eq!(
        s.matches("- alert: StreamingPlaybackErrors\n").count(),
        2,
        "{s}"
    );
}

/// `generate --format prometheus-operator` writes each `PrometheusServiceLevel` back as a
/// `PrometheusRule` with the object's own name and namespace (`--namespace` only fills in
/// for specs that are not Kubernetes objects).
#[test]
fn kubernetes_form_is_written_back_under_its_own_name_and_namespace() {
    let out = tempfile::tempdir().unwrap();
    let o = run(sloguard()
        .args([
            "generate",
            "--format",
            "prometheus-operator",
            "--namespace",
            "other",
            "--specs",
        ])
        .arg(fixture("kubernetes"))
        .arg("--out")
        .arg(out.path()));
    assert!(o.status.success(), "{}", text(&o));
    let obj: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(out.path().join("streaming.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(obj["kind"].as_str(), Some("PrometheusRule"));
    assert_eq!(
        obj["metadata"]["name"].as_str(),
        Some("streaming-slos"),
        "{obj:?}"
    );
    assert_eq!(
        obj["metadata"]["namespace"].as_str(),
        Some("monitoring"),
        "{obj:?}"
    );
}

#[test]
fn kubernetes_form_unknown_keys_and_kind() {
    let text = std::fs::read_to_string(fixture("kubernetes/streaming.yaml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let extra = text.replace(
        "  service: \"streaming\"",
        "  service: \"streaming\"\n  owner: x",
    );
    write_specs(tmp.path(), &[("s.yaml", &extra)]);
    let (code, out) = validate(tmp.path(), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "s.yaml: -: line 11: unknown key `spec.owner` (not part of \"sloth.slok.dev/v1\""
        ),
        "{out}"
    );
    let wrong = text.replace("kind: PrometheusServiceLevel", "kind: ServiceLevel");
    write_specs(tmp.path(), &[("s.yaml", &wrong)]);
    let (code, out) = validate(tmp.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "kind: unsupported kind \"ServiceLevel\", expected \"PrometheusServiceLevel\""
        ),
        "{out}"
    );
}

#[test]
fn builtin_slo_plugins_load_with_no_effect() {
    let dir = fixture("plugins");
    // `--strict`: the chains are part of the format, not unknown keys.
    let (code, out) = validate(&dir, &["--strict"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 service(s), 2 SLO(s)"), "{out}");
    let gen = generate_ok(&dir);
    let c = rules(gen.path(), "checkout");
    assert_sloth_slo(&c, "checkout", "pay");
    assert_page_alert(&c, "CheckoutPayErrors", "0.0144", "0.006");
    let cart = rules(gen.path(), "cart");
    assert_sloth_slo(&cart, "cart", "add");
    assert_page_alert(&cart, "CartAddErrors", "0.144", "0.06");
}

#[test]
fn other_plugins_are_refused_naming_their_id() {
    let text = std::fs::read_to_string(fixture("plugins/checkout.yaml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let bad = text
        .replace(
            "    - id: \"sloth.dev/core/validate/v1\"",
            "    - id: \"acme.dev/slo/extra_labels/v1\"",
        )
        .replace(
            "        - id: \"sloth.dev/core/debug/noop/v1\"",
            "        - id: \"acme.dev/slo/custom_alerts/v1\"",
        )
        .replace(
            "          - id: \"sloth.dev/core/alert_rules/v1\"",
            "          - id: \"sloth.dev/contrib/rule_filter/v1\"",
        );
    write_specs(tmp.path(), &[("checkout.yaml", &bad)]);
    let (code, out) = validate(tmp.path(), &[]);
    assert_eq!(code, 1, "{out}");
    for needle in [
        "checkout.yaml: -: document 1 (line 1): slo_plugins.chain[0].id: SLO plugin \"acme.dev/slo/extra_labels/v1\" is not supported",
        "checkout.yaml: pay: document 1 (line 1): plugins.chain[0].id: SLO plugin \"acme.dev/slo/custom_alerts/v1\" is not supported",
        "checkout.yaml: add: document 2 (line 27): plugins.chain[0].id: SLO plugin \"sloth.dev/contrib/rule_filter/v1\" is not supported",
    ] {
        assert!(out.contains(needle), "missing `{needle}` in:\n{out}");
    }
    assert!(out.contains("3 problem(s)"), "{out}");
}

#[test]
fn sli_plugin_is_refused_showing_the_events_form() {
    let spec = r#"version: "prometheus/v1"
service: "auth"
slos:
  - name: "login"
    objective: 99.9
    sli:
      plugin:
        id: "sloth-common/kubernetes/apiserver/availability"
        options:
          filter: verb="GET"
    alerting:
      name: AuthLogin
"#;
    let tmp = tempfile::tempdir().unwrap();
    write_specs(tmp.path(), &[("auth.yaml", spec)]);
    let (code, out) = validate(tmp.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("auth.yaml: login: sli.plugin: SLI plugin \"sloth-common/kubernetes/apiserver/availability\" is not supported")
            && out.contains("sli: events: {error_query: ")
            && out.contains("total_query: "),
        "{out}"
    );
}

#[test]
fn openslo_v1alpha_loads_as_sloth_reads_it() {
    let dir = fixture("openslo");
    let (code, out) = validate(&dir, &["--strict"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 service(s), 2 SLO(s)"), "{out}");
    let gen = generate_ok(&dir);
    let inv = rules(gen.path(), "inventory");
    for slo in ["stock-lookup-0", "stock-lookup-1"] {
        let id = format!("inventory-{slo}");
        for needle in [
            format!("name: sloguard-slo-{id}"),
            "record: slo:sli_error:ratio_rate5m".to_string(),
            "record: slo:sli_error:ratio_rate1h".to_string(),
            // The period is the rolling time window.
            "record: slo:sli_error:ratio_rate28d".to_string(),
            format!("sloth_id: {id}"),
            "sloth_service: inventory".to_string(),
            format!("sloth_slo: {slo}"),
            "sloth_spec: openslo/v1alpha".to_string(),
        ] {
            assert!(inv.contains(&needle), "missing `{needle}` in:\n{inv}");
        }
    }
    assert!(
        !inv.contains("record: slo:sli_error:ratio_rate30d"),
        "{inv}"
    );
    // good/total: errors are total - good; bad/total: bad as it is.
    assert!(
        inv.contains(r#"(sum by (region) (rate(stock_lookups_total[5m]))) - (sum by (region) (rate(stock_lookups_total{code!~"5.."}[5m])))"#),
        "{inv}"
    );
    assert!(
        inv.contains("sum by (region) (rate(stock_lookups_failed_total[5m]))"),
        "{inv}"
    );
    // Objectives: 0.999 and 0.99 as 99.9 % and 99 %.
    for needle in [
        "expr: 'vector(0.999)'",
        "sloth_objective: '99.9'",
        "expr: 'vector(0.99)'",
        "sloth_objective: '99'",
    ] {
        assert!(inv.contains(needle), "missing `{needle}` in:\n{inv}");
    }
    // OpenSLO has no alerting: no alerts, as with Sloth.
    assert!(!inv.contains("- alert:"), "{inv}");
}

#[test]
fn openslo_v1alpha_problems_and_unknown_keys() {
    let text = std::fs::read_to_string(fixture("openslo/inventory.yaml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let extra = text.replace(
        "      target: 0.99\n",
        "      target: 0.99\n      op: lte\n",
    );
    write_specs(tmp.path(), &[("i.yaml", &extra)]);
    let (code, out) = validate(tmp.path(), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("i.yaml: stock-lookup-1: line 25: unknown key `spec.objectives[1].op` (not part of \"openslo/v1alpha\""),
        "{out}"
    );
    let bad = text
        .replace(
            "budgetingMethod: Occurrences",
            "budgetingMethod: Timeslices",
        )
        .replace("target: 0.999", "target: 99.9")
        .replace("isRolling: true", "isRolling: false");
    write_specs(tmp.path(), &[("i.yaml", &bad)]);
    let (code, out) = validate(tmp.path(), &[]);
    assert_eq!(code, 1, "{out}");
    for needle in [
        "i.yaml: -: spec.budgetingMethod: \"Timeslices\" is not supported (only Occurrences)",
        // isRolling: false is a calendar window: one Day, Week or Month only.
        "i.yaml: -: spec.timeWindows[0].count: a calendar window is one Day (count: 1), not 28",
        "i.yaml: stock-lookup-0: spec.objectives[0].target: 99.9 must be strictly between 0 and 1",
    ] {
        assert!(out.contains(needle), "missing `{needle}` in:\n{out}");
    }
}
