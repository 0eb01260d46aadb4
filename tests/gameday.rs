//! Every shipped GameDay scenario (`tests/gameday/*.yaml`) runs through the real engine,
//! policy and dry-run runbook and passes with the decision it expects; the JSON report
//! follows the contract; a failed expectation exits 1.
// Test harness code waits on real servers in wall time; the clock lint guards the
// library below the app layer, not the harness.
#![allow(clippy::disallowed_methods)]

use crate::common;

use common::*;

fn gameday(path: &std::path::Path) -> (i32, serde_json::Value) {
    let o = run(sloguard()
        .args(["gameday", "--output", "json", "--scenario"])
        .arg(path));
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}: {}", path.display(), text(&o)));
    (o.status.code().unwrap_or(-1), v)
}

#[test]
fn every_shipped_scenario_passes() {
    let dir = repo().join("tests/gameday");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let (code, report) = gameday(&e.path());
        assert_eq!(code, 0, "{}: {report:#}", e.path().display());
        assert_eq!(report["passed"], true);
        assert_eq!(report["chaos"], true, "drills are tagged");
        for key in ["scenario", "failovers", "alerts", "actions", "budget"] {
            assert!(report.get(key).is_some(), "{key} missing");
        }
        names.push(report["scenario"].as_str().unwrap().to_string());
    }
    names.sort();
    for want in [
        "database-stop",
        "flapping-errors",
        "global-outage",
        "latency-injection",
        "monitoring-down-during-outage",
        "monitoring-lost",
        "region-down",
        "primary-outage",
        "standby-degraded",
    ] {
        assert!(
            names.contains(&want.to_string()),
            "{want} missing: {names:?}"
        );
    }
}

#[test]
fn primary_outage_report_contract() {
    let (_, r) = gameday(&repo().join("tests/gameday/primary-outage.yaml"));
    let f = &r["failovers"][0];
    assert_eq!(
        (f["from"].as_str(), f["to"].as_str()),
        (Some("us-east-1"), Some("eu-west-1"))
    );
    let at = f["at"].as_i64().unwrap();
    assert!((2400..=2700).contains(&at), "{at}");
    assert!(r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["severity"] == "page" && a["region"] == "us-east-1" && a["firing"] == true));
    assert!(r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action"] == "start_failover" && a["at"] == at));
    // The runbook ran on dry-run backends at the decision's simulated time: each step
    // recorded the exact call it would make, in order.
    let calls = r["calls"].as_array().unwrap();
    let steps: Vec<&str> = calls.iter().map(|c| c["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["page-oncall", "shift-traffic"], "{calls:?}");
    for c in calls {
        assert_eq!(
            (c["status"].as_str(), c["at"].as_i64()),
            (Some("dry_run"), Some(at)),
            "{c}"
        );
    }
    assert!(calls[0]["call"]
        .as_str()
        .unwrap()
        .starts_with("sns:Publish"));
    let burnt = r["budget"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| {
            b["region"] == "us-east-1"
                && b["slo"] == "requests-availability"
                && b["service"] == "checkout"
        })
        .unwrap();
    assert!(
        burnt["consumed"].as_f64().unwrap() > 0.1,
        "30 minutes of 100% errors spend a large share of the budget: {burnt}"
    );
}

#[test]
fn failed_expectation_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("tests/gameday/primary-outage.yaml"))
        .unwrap()
        .replace(
            "specs: ../../slo-specs",
            &format!("specs: {}", repo().join("slo-specs").display()),
        )
        .replace(
            "failover: {from: us-east-1, to: eu-west-1, after: 40m, before: 45m}",
            "failover: none",
        );
    let path = dir.path().join("wrong.yaml");
    std::fs::write(&path, text).unwrap();
    let (code, r) = gameday(&path);
    assert_eq!(code, 1);
    assert_eq!(r["passed"], false);
}

#[test]
fn rehearses_a_real_config_with_its_runbook_recorded() {
    let o = run(sloguard().current_dir(repo()).args([
        "gameday",
        "--output",
        "json",
        "--config",
        "sloguard.example.yaml",
        "--scenario",
        "tests/gameday/primary-outage.yaml",
    ]));
    let r: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(o.status.code(), Some(0), "{r:#}");
    let f = &r["failovers"][0];
    assert_eq!(
        (f["from"].as_str(), f["to"].as_str()),
        (Some("us-east-1"), Some("eu-west-1"))
    );
    // The example config's domain and every step of its runbook, as exact calls.
    let calls = r["calls"].as_array().unwrap();
    let steps: Vec<&str> = calls.iter().map(|c| c["step"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        [
            "page-oncall",
            "promote-database",
            "shift-traffic",
            "shift-traffic-records",
            "tell-slack",
            "argocd-sync",
            "dr-script"
        ],
        "{calls:?}"
    );
    assert!(calls
        .iter()
        .all(|c| c["domain"] == "web" && c["status"] == "dry_run"));
    let call = |i: usize| calls[i]["call"].as_str().unwrap().to_string();
    assert!(
        call(1).starts_with("rds:SwitchoverGlobalCluster"),
        "{}",
        call(1)
    );
    assert!(
        call(1).contains("arn:aws:rds:eu-west-1:123456789012:cluster:saas-euw1"),
        "{}",
        call(1)
    );
    assert!(
        call(3).starts_with("route53:ChangeResourceRecordSets"),
        "{}",
        call(3)
    );

    // The text report lists the recorded calls too.
    let o = run(sloguard().current_dir(repo()).args([
        "gameday",
        "--config",
        "sloguard.example.yaml",
        "--scenario",
        "tests/gameday/primary-outage.yaml",
    ]));
    let out = text(&o);
    assert!(
        out.contains("rds:SwitchoverGlobalCluster") && out.contains("PASSED"),
        "{out}"
    );

    // A config with replicas: the drill says it votes alone.
    let dir = tempfile::tempdir().unwrap();
    let team = std::fs::read_to_string(repo().join("sloguard.example.yaml"))
        .unwrap()
        .replace(
            "specs: slo-specs/",
            &format!("specs: {}/slo-specs/", repo().display()),
        )
        .replace("peers: []", "peers: [http://127.0.0.1:9]")
        .replace("quorum: 1 ", "quorum: 2 ");
    std::fs::write(dir.path().join("team.yaml"), team).unwrap();
    let o = run(sloguard()
        .current_dir(repo())
        .args(["gameday", "--output", "json", "--config"])
        .arg(dir.path().join("team.yaml"))
        .args(["--scenario", "tests/gameday/primary-outage.yaml"]));
    let r: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert!(r["notes"].to_string().contains("quorum 2 -> 1"), "{r:#}");
    assert_eq!(r["passed"], true, "{r:#}");
}

fn scenario_with(config: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("tests/gameday/primary-outage.yaml"))
        .unwrap()
        .replace(
            "specs: ../../slo-specs",
            &format!("specs: {}", repo().join("slo-specs").display()),
        )
        .replace("traffic:", &format!("{config}traffic:"));
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn scenario_config_keys_are_the_engine_configs_and_unknown_ones_are_named() {
    let (_d, path) = scenario_with("config:\n  failover:\n    polcy: {consecutive: 3}\n");
    let o = run(sloguard().args(["gameday", "--scenario"]).arg(&path));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("polcy"), "{}", text(&o));

    // Shorthand and full shape mean the same: the failover waits for 6 evaluations.
    let mut at = Vec::new();
    for config in [
        "config:\n  policy: {consecutive: 6}\n",
        "config:\n  failover: {policy: {consecutive: 6}}\n",
    ] {
        let (_d, path) = scenario_with(config);
        let (code, r) = gameday(&path);
        assert_eq!(code, 0, "{r:#}");
        at.push(r["failovers"][0]["at"].as_i64().unwrap());
    }
    assert_eq!(at[0], at[1]);
    let (_d, path) = scenario_with("");
    let (_, r) = gameday(&path);
    assert_eq!(
        at[0] - r["failovers"][0]["at"].as_i64().unwrap(),
        40,
        "4 more 10 s evaluations"
    );
}

#[test]
fn a_zero_step_or_endless_duration_is_refused() {
    for (from, to) in [
        ("step: 10s", "step: 0s"),
        ("duration: 2h", "duration: 100000y"),
        ("us-east-1: {rps: 200,", "us-east-1: {rps: .nan,"),
        ("eu-west-1: {rps: 200,", "eu-west-1: {rps: -5,"),
        ("error_ratio: 1.0}", "error_ratio: 1e308}"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let scenario = std::fs::read_to_string(repo().join("tests/gameday/primary-outage.yaml"))
            .unwrap()
            .replace(
                "specs: ../../slo-specs",
                &format!("specs: {}", repo().join("slo-specs").display()),
            )
            .replace(from, to);
        let path = dir.path().join("s.yaml");
        std::fs::write(&path, scenario).unwrap();
        let o = run(sloguard().args(["gameday", "--scenario"]).arg(&path));
        assert_eq!(o.status.code(), Some(2), "{to}: {}", text(&o));
        assert_ne!(scenario_text_changed(from), to, "the replacement applies");
        let field = to.split(':').next().unwrap();
        let field = field.rsplit(['{', ' ']).next().unwrap();
        assert!(text(&o).contains(field), "{to}: {}", text(&o));
        assert!(!text(&o).contains("panicked"), "{}", text(&o));
    }
    // The demo's pace is range-checked before anything starts.
    for speed in ["1e-300", "0", "-1", "1e7"] {
        let o = run(sloguard().args([
            "demo",
            "--exit-when-done",
            "--listen",
            "127.0.0.1:0",
            &format!("--speed={speed}"),
        ]));
        assert_eq!(o.status.code(), Some(2), "--speed {speed}: {}", text(&o));
        assert!(
            text(&o).contains("--speed") && !text(&o).contains("panicked"),
            "{}",
            text(&o)
        );
    }
}

/// The shipped scenario contains `from` (so each case above really changes it).
fn scenario_text_changed(from: &str) -> &'static str {
    let text = std::fs::read_to_string(repo().join("tests/gameday/primary-outage.yaml")).unwrap();
    assert!(text.contains(from), "{from} not in the scenario");
    ""
}

/// A team without probes that scrapes blackbox probes of each region from the other one
/// marks that SLO `vantage: external`: when the region and its telemetry vanish, the
/// external SLO still answers, pages, and serves as the evidence that it is down.
#[test]
fn an_external_vantage_slo_confirms_a_region_down_without_probes() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    std::fs::write(
        specs.join("web.yaml"),
        r#"version: sloguard/v1
service: web
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting: {name: WebAvailability}
  - name: blackbox
    objective: 99.9
    vantage: external
    sli:
      events:
        error_query: sum(rate(probe_failures_total[{{.window}}]))
        total_query: sum(rate(probes_total[{{.window}}]))
    alerting: {name: WebBlackbox}
"#,
    )
    .unwrap();
    let scenario = |fault: &str, expect: &str| {
        let p = dir.path().join(format!("{fault}.yaml"));
        std::fs::write(
            &p,
            format!(
                "name: external-{fault}\nduration: 2h\nstep: 30s\nspecs: specs\nconfig:\n  regions: {{down_after: 2m}}\n  slos: [web/availability]\ntraffic:\n  us-east-1: {{rps: 200}}\n  eu-west-1: {{rps: 200}}\nfaults:\n  - {{kind: {fault}, region: us-east-1, start: 40m, duration: 1h}}\nexpect:\n{expect}"
            ),
        )
        .unwrap();
        gameday(&p)
    };
    let (code, r) = scenario(
        "region_down",
        "  failover: {from: us-east-1, to: eu-west-1, after: 40m, before: 50m}\n  max_failovers: 1\n",
    );
    assert_eq!(code, 0, "{r:#}");
    let at = r["failovers"][0]["at"].as_i64().unwrap();
    eprintln!("external vantage: region lost at 2400s, failover decided at {at}s");
    // Telemetry lost only: the external SLO sees the region serving, so no failover.
    let (code, r) = scenario(
        "no_data",
        "  failover: none\n  notices: [{contains: monitoring lost, count: 1}]\n",
    );
    assert_eq!(code, 0, "{r:#}");
}

/// The issue's first finding: two hours of no data for the active region used to end
/// without anything said. Without probes or external SLOs it is monitoring lost (never
/// a failover), and operators hear it once.
#[test]
fn no_data_without_outside_evidence_is_monitoring_lost() {
    let (_dir, path) = scenario_with("");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "  - {kind: errors, region: us-east-1, start: 40m, duration: 30m, error_ratio: 1.0}",
            "  - {kind: no_data, region: us-east-1, start: 10m, duration: 2h}",
        )
        .replace(
            "  failover: {from: us-east-1, to: eu-west-1, after: 40m, before: 45m}",
            "  failover: none\n  notices: [{contains: monitoring lost, count: 1}]",
        );
    std::fs::write(&path, text).unwrap();
    let (code, r) = gameday(&path);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["failovers"].as_array().unwrap().len(), 0);
}
